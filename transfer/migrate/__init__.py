"""The side phases of a migration (layer 4): repositories, identity and access, metadata as
properties, and what cannot move.

* :mod:`~transfer.migrate.repositories` — repository plans (pure): package types, layouts,
  CDN redirect, the anonymous-read permission target;
* :mod:`~transfer.migrate.repositories_phase` — the repositories phase carried out;
* :mod:`~transfer.migrate.access`, :mod:`~transfer.migrate.keys`,
  :mod:`~transfer.migrate.security` — members, teams, permissions and access keys as users,
  groups, permission targets and tokens (pure planning);
* :mod:`~transfer.migrate.security_phase` — the security phase carried out;
* :mod:`~transfer.migrate.secrets` — the 0600 file of generated passwords and tokens;
* :mod:`~transfer.migrate.signed_urls` — Artifactory signed URLs for Bintray ones;
* :mod:`~transfer.migrate.urlmap` — the old → new URL map of every migrated file;
* :mod:`~transfer.migrate.geo` — geo and IP restrictions as a checklist for the MyJFrog portal;
* :mod:`~transfer.migrate.properties` — how attributes and Bintray metadata become properties
  (pure rules);
* :mod:`~transfer.migrate.metadata` — the discovery hook computing each file's properties, and
  the properties phase for files whose properties did not travel with their deploy;
* :mod:`~transfer.migrate.unmigratable` — report entries for what has no Artifactory equivalent.
"""
