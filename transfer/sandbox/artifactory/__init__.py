"""A faithful emulator of the JFrog Artifactory (Cloud, 7.x) REST API subset a migration uses.

See ``/work/shared/reference/artifactory-api.md``. Public names: :class:`ArtifactoryOptions`,
:class:`ArtifactoryEmulator` (its ``app`` serves ``/artifactory/...`` and ``/access/...``),
:class:`ItemInfo` (what :meth:`ArtifactoryEmulator.item` returns) and :func:`family_of`
(the fault route family of a request).
"""

from __future__ import annotations

from .app import ArtifactoryEmulator, ItemInfo, family_of
from .options import ArtifactoryOptions

__all__ = ["ArtifactoryEmulator", "ArtifactoryOptions", "ItemInfo", "family_of"]
