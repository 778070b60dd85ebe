"""One error tree for the whole engine, classified by what to do about it.

Every error knows whether retrying can help (``retryable``) and which process exit code it
maps to when it ends a run (``exit_code``).  aiohttp/asyncio exceptions are mapped into this
tree once, in :mod:`transfer.http.error_mapping`; nothing above that layer sees a raw library
exception.  Every subclass of :class:`TransferError` lives here::

    TransferError                      exit 1, not retried
    ├── ConfigError                    exit 2: fix the configuration or the command line
    │   └── ConfigFieldError           one settings field is invalid (names its key)
    ├── StoreError                     exit 2: the checkpoint store cannot be used
    │   ├── IllegalTransition          a write asked for a forbidden state change
    │   └── StoreUnreachable           exit 3: the store's server is down or refused us
    ├── StopRequested                  exit 4: a limit or a signal; resumable
    ├── UnsafePathError                a source path cannot be written safely
    ├── SourceChanged                  a local file changed between listing and reading
    ├── UnreadableFile                 a local file cannot be opened or read
    ├── RemoteError                    a service answered with an error (or not at all)
    │   ├── TransientError             retried; exit 3 when it ends a run
    │   │   ├── RateLimited            retried after slowing down
    │   │   └── UnreachableError       retried; DNS, refused, TLS
    │   │       └── TlsVerificationError   not retried: the certificate stays bad
    │   ├── UnusableService            exit 3: not the service we need
    │   │   └── AnswerTooLarge         an answer larger than the call reads
    │   ├── QuotaExceeded              exit 3: the target's storage is full (413/507)
    │   ├── FileTooLarge               413 for one file: larger than the target accepts
    │   ├── AuthError                  exit 3: 401, credentials refused
    │   │   └── TokenExpired           exit 3: 401, the access token has expired
    │   ├── PermissionDenied           403
    │   ├── NotFoundError              404
    │   └── ConflictError              409, or a different file already there
    │       └── PomRejected            409: a Maven repository's POM consistency check
    └── IntegrityError                 retried: bytes did not match what was declared
        ├── ChecksumMismatch
        └── SizeMismatch
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from transfer.models import Rejection

__all__ = [
    "EXIT_FAILURES",
    "EXIT_OK",
    "EXIT_SERVICE",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "AnswerTooLarge",
    "AuthError",
    "ChecksumMismatch",
    "ConfigError",
    "ConfigFieldError",
    "ConflictError",
    "FileTooLarge",
    "IllegalTransition",
    "IntegrityError",
    "NotFoundError",
    "PermissionDenied",
    "PomRejected",
    "QuotaExceeded",
    "RateLimited",
    "RemoteError",
    "SizeMismatch",
    "SourceChanged",
    "StopRequested",
    "StoreError",
    "StoreUnreachable",
    "TlsVerificationError",
    "TokenExpired",
    "TransferError",
    "TransientError",
    "UnreachableError",
    "UnreadableFile",
    "UnsafePathError",
    "UnusableService",
    "first_transfer_error",
]

EXIT_OK = 0
"""Everything asked for is done."""
EXIT_FAILURES = 1
"""The run finished, but some items ended ``failed`` or ``conflict``."""
EXIT_USAGE = 2
"""Bad command line, configuration or local state (store): nothing was attempted."""
EXIT_SERVICE = 3
"""A service could not be reached, refused our credentials, or cannot be used (not the
service expected, too old, answers that are not its API's)."""
EXIT_STOPPED = 4
"""Stopped early by a limit or a signal; running the same command again resumes."""


class TransferError(Exception):
    """Base of every error this package raises on purpose."""

    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = EXIT_FAILURES


class ConfigError(TransferError):
    """The configuration or the command line is wrong; the message says how to fix it."""

    exit_code = EXIT_USAGE


class ConfigFieldError(ConfigError):
    """A field is invalid; ``key`` is relative to the settings class that raised it.

    :mod:`transfer.config_load` re-raises it with the full dotted key (``transfer.workers``).
    """

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key} {problem}" if key else problem)
        self.key = key
        self.problem = problem


class StoreError(TransferError):
    """The checkpoint store cannot be opened or written (read-only, locked, corrupt, too new)."""

    exit_code = EXIT_USAGE


class IllegalTransition(StoreError):
    """A write asked for a state change that :data:`~transfer.models.LEGAL_TRANSITIONS` forbids;
    nothing was written.

    Raised directly by calls that validate before writing (``reset``), and for batched
    ``record`` calls by the next ``record``, ``flush`` or ``close`` of the same store.
    """

    def __init__(self, rejections: Sequence[Rejection]) -> None:
        shown = "; ".join(str(r) for r in rejections[:5])
        more = f" (+{len(rejections) - 5} more)" if len(rejections) > 5 else ""
        super().__init__(f"illegal item state change refused: {shown}{more}")
        self.rejections = list(rejections)


class StoreUnreachable(StoreError):
    """The store's server cannot be reached, or refused the credentials (exit code 3).

    The message names the server (never a password) and says what went wrong, in one line.
    """

    exit_code = EXIT_SERVICE


class StopRequested(TransferError):
    """A limit or a signal asked the run to stop; the run is resumable."""

    exit_code = EXIT_STOPPED


class UnsafePathError(TransferError):
    """A source path cannot be written safely to the target (``..``, absolute, control chars)."""


class SourceChanged(TransferError):
    """A local source file is no longer what the listing saw (size or modification time).

    Not retried: the item's facts are stale, so the same run cannot copy it; the next run's
    discovery lists the file anew and re-opens the item.
    """


class UnreadableFile(TransferError):
    """A local source file cannot be opened or read (permissions, an I/O error).

    Not a service failing (the circuit breaker ignores it) and not retried within the run:
    ``--retry-failed`` tries again once the file is readable.
    """


class RemoteError(TransferError):
    """A remote service answered with an error status.

    ``status`` is the HTTP status (0 when there was no response at all), ``url`` is the request
    URL with credentials removed, and ``retry_after`` the server's requested delay in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.url = url
        self.retry_after = retry_after


class TransientError(RemoteError):
    """Worth retrying: 5xx, connection resets, timeouts, truncated bodies. When it persists
    past the retries and ends a run, the service could not be reached in a usable way: exit 3.
    (An item failing this way is recorded ``failed``; only an error that ends the run uses
    this exit code.)"""

    retryable = True
    exit_code = EXIT_SERVICE


class RateLimited(TransientError):
    """429 (or 403 with an exhausted rate limit): slow down, then retry."""


class UnreachableError(TransientError):
    """The host cannot be reached at all (DNS, refused, TLS). Retryable, but ends a run
    with exit code 3 when it persists."""

    exit_code = EXIT_SERVICE


class TlsVerificationError(UnreachableError):
    """The server's TLS certificate could not be verified.

    Not retryable: the same certificate fails the same way every time.  Ends a run with exit
    code 3 like any :class:`UnreachableError`.
    """

    retryable = False


class UnusableService(RemoteError):
    """The service answered, but not as the one we need: not Artifactory (an HTML login page,
    a wrong URL), a version too old, or a body that is not the JSON its API promises. Not
    retried; ends a run with exit code 3 — check the URL and what answers there."""

    exit_code = EXIT_SERVICE


class AnswerTooLarge(UnusableService):
    """An answer larger than the call reads (``max_body`` of
    :meth:`~transfer.http.client.HttpClient.request_json`): not read on.  A caller that can do
    without the whole answer (a folder listing: probe path by path) catches this one."""


class AuthError(RemoteError):
    """401: the credentials are wrong. Never retried."""

    exit_code = EXIT_SERVICE


class TokenExpired(AuthError):
    """401 saying the access token has expired: every later call fails the same way, so the
    run stops at once (exit 3) and resumes with a new token. Never retried."""


class QuotaExceeded(RemoteError):
    """The target refuses to store more (Artifactory's storage quota, 413 with a disk-space
    message, or 507): no file can land until space is freed or the quota grows, so the run
    stops at once with exit 3 and resumes afterwards. Never retried."""

    exit_code = EXIT_SERVICE


class FileTooLarge(RemoteError):
    """413 for one file: it is larger than the target accepts in one upload. The file fails
    with this reason; the others go on."""


class PermissionDenied(RemoteError):
    """403: the credentials are right but not allowed to do this."""


class NotFoundError(RemoteError):
    """404 on something that was expected to exist."""


class ConflictError(RemoteError):
    """The target already holds a different file at this path (or answered 409)."""


class PomRejected(ConflictError):
    """The target refused a Maven POM (409: its coordinates do not match its path, or it does
    not parse) — Artifactory's POM consistency check. The message starts with the failure
    category ``pom_rejected`` and carries the server's reason."""


class IntegrityError(TransferError):
    """Bytes did not match what was declared. Retryable: the next download may be intact."""

    retryable = True

    def __init__(self, what: str, expected: str, actual: str, *, path: str = "") -> None:
        where = f" for {path}" if path else ""
        super().__init__(f"{what} mismatch{where}: expected {expected}, got {actual}")
        self.what = what
        self.expected = expected
        self.actual = actual
        self.path = path


class ChecksumMismatch(IntegrityError):
    """A checksum differs from the declared or target-reported one."""


class SizeMismatch(IntegrityError):
    """The byte count differs from the declared size (truncated or padded body)."""


def first_transfer_error(error: BaseException) -> BaseException:
    """The first TransferError inside (possibly nested) exception groups, else ``error``."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = first_transfer_error(inner)
            if isinstance(found, TransferError):
                return found
        return first_transfer_error(error.exceptions[0])
    return error
