"""structlog, configured once at the edge (STYLE #12): human lines on stderr, JSON lines in a file.

Both outputs go through the standard library's ``logging`` (structlog's ``ProcessorFormatter``),
so aiohttp's and asyncio's own log records get the same treatment. Per-item context travels in
structlog's contextvars: ``with structlog.contextvars.bound_contextvars(repo=..., path=...):``
adds those keys to every line logged inside, in both outputs.

Every line is scrubbed by :func:`redact_secrets` just before rendering:

* a :class:`~transfer.redaction.Secret` value, wherever it sits, becomes ``***``;
* a key named like a credential (``password``, ``api_key``, ``token``, ``secret``,
  ``authorization``, ``cookie``, ``X-JFrog-Art-Api``, in any case or spelling with ``-``/``_``)
  has its value replaced by ``***``, at any depth of nested dicts;
* every string registered with :func:`~transfer.redaction.register_secret` is replaced by
  ``***`` inside any string (the message, values, exception text), as are ``Bearer <token>``,
  ``Basic <user:pass in base64>`` and ``user:password@`` in URLs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Final, TextIO

import structlog

from transfer.errors import ConfigError
from transfer.localfiles import check_regular_file
from transfer.redaction import REDACTED, REGISTRY, Secret, SecretRegistry, register_secret
from transfer.reporting.events import Event, ItemFinished, StoreOutage, Subscriber

__all__ = [
    "EVENTS_LOGGER",
    "configure_logging",
    "event_logger",
    "redact_secrets",
    "shutdown_logging",
]

_MAX_DEPTH: Final = 8
EVENTS_LOGGER: Final = "transfer.events"
"""Progress events are logged under this name: to the JSON file, not the console."""

_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "error": logging.ERROR}  # fmt: skip
_SENSITIVE_KEY = re.compile(
    r"(password|passwd|passphrase|apikey|token|secret|authorization|cookie|xjfrogartapi|privatekey)$"
)


def _sensitive(key: object) -> bool:
    return isinstance(key, str) and bool(_SENSITIVE_KEY.search(re.sub(r"[^a-z]", "", key.lower())))


def _scrub(value: Any, registry: SecretRegistry, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, str):
        return registry.scrub(value)
    if depth >= _MAX_DEPTH:
        return registry.scrub(repr(value))
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED
            if _sensitive(k) and v not in (None, "")
            else _scrub(v, registry, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, registry, depth + 1) for v in value]
    if isinstance(value, BaseException):
        return registry.scrub(f"{type(value).__name__}: {value}")
    if isinstance(value, enum.Enum):
        return _scrub(value.value, registry, depth + 1)
    if isinstance(value, Path):
        return registry.scrub(str(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return registry.scrub(repr(value))


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: scrub secrets from every key and value (see the module docstring).

    Also leaves every value JSON-serialisable (unknown objects become their scrubbed repr).
    """
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # ProcessorFormatter's private keys (the LogRecord)
            continue
        if _sensitive(key) and value not in (None, ""):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(value, REGISTRY)
    return event_dict


# --------------------------------------------------------------------------- configuration

_handlers: list[logging.Handler] = []


class _ConsoleFilter(logging.Filter):
    """Keep progress events off the console: the progress display draws them, and failures
    are summarised there once per cause, not once per file. At debug level (``-vv``) every
    failed file gets its own line as well. A store outage (one line when it starts, one when
    it ends) is always shown: a run that seems to stall says why."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(EVENTS_LOGGER):
            return True
        if isinstance(record.msg, dict) and record.msg.get("event") == StoreOutage.kind:
            return True
        return record.levelno >= logging.WARNING and logging.getLogger().level <= logging.DEBUG


def configure_logging(
    *,
    level: str = "info",
    json_file: Path | None = None,
    console: bool = True,
    stream: TextIO | None = None,
    colors: bool | None = None,
    secrets: Iterable[str | Secret] = (),
) -> None:
    """Set up structlog and ``logging`` for the whole process; calling it again replaces the
    previous setup (and closes its file).

    ``stream`` defaults to ``sys.stderr`` at call time; ``colors`` defaults to whether it is a
    terminal (and ``NO_COLOR`` unset). ``json_file`` gets one JSON object per line, appended.
    ``secrets`` are registered with :func:`register_secret`.
    """
    if level not in _LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(_LEVELS)}, got {level!r}")
    for secret in secrets:
        register_secret(secret)
    shutdown_logging()

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    foreign = [*shared, structlog.processors.format_exc_info]
    handlers: list[logging.Handler] = []
    if console:
        out = stream if stream is not None else sys.stderr
        use_colors = out.isatty() and "NO_COLOR" not in os.environ if colors is None else colors
        renderer = structlog.dev.ConsoleRenderer(
            colors=use_colors, exception_formatter=structlog.dev.plain_traceback
        )
        handler: logging.Handler = logging.StreamHandler(out)
        handler.setFormatter(_formatter(renderer, foreign))
        handler.addFilter(_ConsoleFilter())
        handlers.append(handler)
    if json_file is not None:
        handler = _open_json_log(json_file)
        handler.setFormatter(_formatter(structlog.processors.JSONRenderer(), foreign))
        handlers.append(handler)

    root = logging.getLogger()
    root.setLevel(_LEVELS[level])
    for handler in handlers:
        root.addHandler(handler)
        _handlers.append(handler)
    # One line per HTTP request served by the emulators is noise, whatever the level.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Info-level events only ever reach the JSON file: without one, do not even build them.
    logging.getLogger(EVENTS_LOGGER).setLevel(logging.NOTSET if json_file else logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: loggers bound at import time must follow a later reconfiguration.
        cache_logger_on_first_use=False,
    )


class _JsonLogHandler(logging.FileHandler):
    """A JSON-lines file that, when a write fails (the disk filled up), says so once on stderr
    and stops writing, instead of a traceback per log line."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or str(error)
        print(
            f"transfer: warning: cannot write the JSON log {self.baseFilename}: {reason}; "
            "no more lines go to it",
            file=sys.stderr,
            flush=True,
        )
        logging.getLogger().removeHandler(self)
        with contextlib.suppress(OSError):
            self.close()


def _open_json_log(path: Path) -> logging.Handler:
    """The handler of ``--log-json`` / ``logging.json_file``: a regular file on a file system
    with room left, or one ``ConfigError`` line."""
    check_regular_file(path, "log file", missing_ok=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        space = os.statvfs(path.parent) if hasattr(os, "statvfs") else None
        if space is not None and space.f_bavail == 0 and space.f_blocks > 0:
            raise ConfigError(f"cannot write log file {path}: no space left on the device")
        return _JsonLogHandler(path, mode="a", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot open log file {path}: {exc.strerror}") from None


def _formatter(renderer: Any, foreign: list[Any]) -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_secrets,
            renderer,
        ],
        foreign_pre_chain=foreign,
    )


def shutdown_logging() -> None:
    """Remove and close the handlers :func:`configure_logging` installed (flushing the file)."""
    root = logging.getLogger()
    while _handlers:
        handler = _handlers.pop()
        root.removeHandler(handler)
        handler.close()


def event_logger(logger: Any | None = None) -> Subscriber:
    """An :class:`~transfer.reporting.events.EventBus` subscriber that logs each event as one
    structured line named after its kind (``item_finished``), under :data:`EVENTS_LOGGER`.

    Failed items and store outages are warnings (shown on the console); everything else is
    info. The console filters these lines out
    below warning level, so with ``--log-json`` they land in the JSON file only.
    """
    log = logger if logger is not None else structlog.get_logger(EVENTS_LOGGER)
    gate = logging.getLogger(EVENTS_LOGGER)

    def write(event: Event) -> None:
        failed = isinstance(event, StoreOutage) or (
            isinstance(event, ItemFinished) and event.state == "failed"
        )
        if not gate.isEnabledFor(logging.WARNING if failed else logging.INFO):
            return  # a line per file costs ~0.1 ms to build: skip it when nobody keeps it
        fields = event.as_dict()
        kind = fields.pop("kind")
        method: Callable[..., Any] = log.warning if failed else log.info
        method(kind, **fields)

    return write
