"""State shared by the handlers of both hosts, the JSON error type and response helpers."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from transfer.sandbox.bintray.auth import ANONYMOUS, Caller, Rights
from transfer.sandbox.bintray.fileindex import FileIndex
from transfer.sandbox.bintray.options import BintrayOptions
from transfer.sandbox.faults import FaultInjector
from transfer.sandbox.orgdata import Organization
from transfer.sandbox.requestlog import RequestLog

__all__ = [
    "CALLER",
    "STATE",
    "ApiError",
    "EmulatorState",
    "Handler",
    "Route",
    "flag",
    "json_response",
    "read_json",
    "require_admin",
    "require_user",
    "rights",
    "state",
    "success",
]


@dataclass
class EmulatorState:
    """Everything a handler needs besides the request: the model, options, clock and secrets."""

    org: Organization
    options: BintrayOptions
    clock: Callable[[], float]
    faults: FaultInjector | None
    request_log: RequestLog
    download_base_url: str = "http://dl.invalid"
    # signs the short-lived CDN tokens; never leaves the emulator
    cdn_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    api_calls: int = 0
    open_streams: int = 0  # connections to /stream/:subject being served
    files: FileIndex = field(default_factory=FileIndex)


STATE = web.AppKey("bintray_state", EmulatorState)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (method, path pattern, handler); GET routes also answer HEAD
Route = tuple[str, str, Handler]
CALLER = web.RequestKey("bintray_caller", Caller)


class ApiError(Exception):
    """An error answered as ``{"message": ...}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def state(request: web.Request) -> EmulatorState:
    """The emulator state of the app serving ``request``."""
    return request.app[STATE]


def rights(request: web.Request) -> Rights:
    """The rights of the caller authenticated by the middleware."""
    caller: Caller = request.get(CALLER, ANONYMOUS)
    return Rights(state(request).org, caller)


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response rendered with orjson."""
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def success(status: int = 200) -> web.Response:
    """The ``{"message":"success"}`` answer of most mutating calls."""
    return json_response({"message": "success"}, status=status)


def flag(request: web.Request, name: str) -> bool:
    """A 0/1 (or true/false) query flag."""
    return request.query.get(name, "0").strip().lower() in ("1", "true", "yes")


async def read_json(request: web.Request) -> Any:
    """The JSON request body; an empty body reads as an empty object."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "Unable to parse JSON body") from exc


def require_user(request: web.Request) -> Rights:
    """Rights of an authenticated caller; anonymous callers get 401."""
    who = rights(request)
    if who.caller.anonymous:
        raise ApiError(401, "This resource requires authentication")
    return who


def require_admin(request: web.Request) -> Rights:
    """Rights of an org admin; 401 for anonymous, 403 ``forbidden`` for everyone else."""
    who = require_user(request)
    if not who.is_admin:
        raise ApiError(403, "forbidden")
    return who
