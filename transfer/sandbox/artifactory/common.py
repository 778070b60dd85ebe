"""Response helpers shared by every handler: the standard error body, JSON, timestamps, URLs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

__all__ = [
    "CHALLENGE",
    "ApiError",
    "art_base",
    "error_response",
    "iso",
    "json_object",
    "json_response",
    "server_root",
    "text_response",
    "without_nulls",
]

CHALLENGE = 'Basic realm="Artifactory Realm"'


class ApiError(Exception):
    """An error answer; the error middleware renders it (standard body unless ``body`` is given)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.body = body

    def response(self) -> web.Response:
        """The HTTP answer for this error."""
        if self.body is not None:
            return json_response(self.body, status=self.status, headers=self.headers)
        return error_response(self.status, self.message, headers=self.headers)


def json_response(
    data: Any,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON answer; null fields are the caller's to omit (Artifactory omits them)."""
    body = orjson.dumps(data, option=orjson.OPT_INDENT_2)  # json.dumps(indent=2)'s text, faster
    return web.Response(body=body, status=status, headers=headers, content_type=content_type)


def error_response(
    status: int, message: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The standard error body ``{"errors": [{"status": n, "message": "..."}]}``."""
    return json_response(
        {"errors": [{"status": status, "message": message}]}, status=status, headers=headers
    )


def without_nulls(value: Any) -> Any:
    """``value`` with every ``null`` object member dropped, at any depth.

    Artifactory binds request bodies with Jackson: a member sent as ``null`` leaves the field at
    its default (or, on a partial update, unchanged), and unknown members are ignored. Published
    clients (pyartifactory, for one) send ``null`` for every optional field they were not given.
    """
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


async def json_object(request: web.Request, what: str = "Body") -> dict[str, Any]:
    """The request's JSON object with ``null`` members dropped (400 when malformed or not an
    object)."""
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ApiError(400, "Malformed JSON body") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return without_nulls(data)  # type: ignore[no-any-return]


def text_response(text: str, *, status: int = 200) -> web.Response:
    """A short text/plain answer (repository and user CRUD confirmations)."""
    return web.Response(text=text, status=status, content_type="text/plain")


def iso(ts: float) -> str:
    """ISO-8601 with milliseconds and ``Z``, as Artifactory prints timestamps."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def server_root(request: web.Request, configured: str | None) -> str:
    """Scheme and host every returned URI starts with (no trailing slash)."""
    if configured:
        root = configured.rstrip("/")
        return root.removesuffix("/artifactory")
    return f"{request.scheme}://{request.host}"


def art_base(request: web.Request, configured: str | None) -> str:
    """The Artifactory base URL, ``{root}/artifactory``."""
    return server_root(request, configured) + "/artifactory"
