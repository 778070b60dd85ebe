"""transfer: move a whole Bintray organisation into JFrog Artifactory.

The public façade. Everything not listed in ``__all__`` is private and may change.
"""

from transfer.errors import (
    EXIT_AUTH,
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    ConfigError,
    IntegrityError,
    TransferError,
)
from transfer.models import Checksums, ItemState, SourceFile

__version__ = "0.1.0"

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILURES",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "Checksums",
    "ConfigError",
    "IntegrityError",
    "ItemState",
    "SourceFile",
    "TransferError",
    "__version__",
]
