"""Settings pointing at a running sandbox, shared by the functional and reliability tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transfer.config_load import settings_from_mapping
from transfer.redaction import Secret
from transfer.sandbox.serve import Sandbox
from transfer.settings import Settings

__all__ = ["sandbox_settings"]


def sandbox_settings(
    sandbox: Sandbox,
    workdir: Path,
    *,
    timeouts: dict[str, Any] | None = None,
    **transfer: Any,
) -> Settings:
    """Settings pointing at ``sandbox``; store, report and secrets under ``workdir``.

    ``timeouts`` (``{"connect": .., "read": ..}``) applies to both source and target.
    """
    e = sandbox.endpoints
    data: dict[str, Any] = {
        "source": {
            "api_url": e.bintray_api_url,
            "download_url": e.bintray_download_url,
            "subject": e.org_name,
            "user": e.bintray_user,
            "api_key": Secret(e.bintray_api_key),
        },
        "target": {
            "url": e.artifactory_url,
            "user": e.artifactory_user,
            "password": Secret(e.artifactory_password),
        },
        "store": {"path": str(workdir / "state.db")},
        "report": {"output_dir": str(workdir / "report")},
        "security": {"secrets_file": str(workdir / "secrets.json")},
        # one process: run in the test's own event loop beside the emulators serving it, the
        # loop looks saturated to "auto" (the default), which would add a copy process at
        # random; the tests of "auto" ask for it, and the CLI tests run migrate on its own
        "transfer": {
            "workers": 4,
            "processes": 1,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            **transfer,
        },
    }
    if timeouts:
        data["source"]["timeouts"] = dict(timeouts)
        data["target"]["timeouts"] = dict(timeouts)
    return settings_from_mapping(data, base_dir=workdir)
