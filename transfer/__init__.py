"""transfer: move a whole Bintray organisation into JFrog Artifactory.

The public façade: the use cases (``plan``, ``migrate``, ``verify``, ``report``,
``store_counts``), their settings, and the types they return. Everything not listed in
``__all__`` is private and may change.

Example::

    import anyio
    import transfer

    settings = transfer.load_settings(Path("transfer.toml"))
    summary = anyio.run(lambda: transfer.migrate(
        settings, bus=transfer.EventBus(), stop=transfer.StopControl()))
"""

from transfer.config_load import load_settings
from transfer.errors import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_STOPPED,
    EXIT_USAGE,
    AuthError,
    ConfigError,
    IntegrityError,
    RemoteError,
    StoreError,
    TransferError,
)
from transfer.models import Checksums, ItemState, SourceFile
from transfer.pipeline.engine import StopControl
from transfer.redaction import Secret
from transfer.reporting.events import EventBus
from transfer.runner import (
    PHASES,
    MigrationSummary,
    PlanSummary,
    migrate,
    plan,
    report,
    store_counts,
    verify,
)
from transfer.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "EXIT_FAILURES",
    "EXIT_OK",
    "EXIT_SERVICE",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "PHASES",
    "AuthError",
    "Checksums",
    "ConfigError",
    "EventBus",
    "IntegrityError",
    "ItemState",
    "MigrationSummary",
    "PlanSummary",
    "RemoteError",
    "Secret",
    "Settings",
    "SourceFile",
    "StopControl",
    "StoreError",
    "TransferError",
    "__version__",
    "load_settings",
    "migrate",
    "plan",
    "report",
    "store_counts",
    "verify",
]
