"""The side phases of a migration (layer 4): repositories, metadata as properties, and what
cannot move.

* :mod:`~transfer.migrate.repositories` — repository plans (pure): package types, layouts,
  CDN redirect, the anonymous-read permission target;
* :mod:`~transfer.migrate.repositories_phase` — the repositories phase carried out;
* :mod:`~transfer.migrate.properties` — how attributes and Bintray metadata become properties
  (pure rules);
* :mod:`~transfer.migrate.metadata` — the discovery hook computing each file's properties, and
  the properties phase for files whose properties did not travel with their deploy;
* :mod:`~transfer.migrate.unmigratable` — report entries for what has no Artifactory equivalent.
"""
