"""The emulator object: two aiohttp applications (API host, download host) over one model."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from transfer.sandbox.bintray import (
    downloads,
    mutate,
    routes_content,
    routes_eulas,
    routes_files,
    routes_find,
    routes_keys,
    routes_manage,
    routes_notes,
    routes_org_reads,
    routes_packages,
    routes_repos,
    routes_search,
    routes_signing,
    routes_stream,
    routes_subjects,
)
from transfer.sandbox.bintray.auth import (
    ANONYMOUS,
    Caller,
    InvalidCredentials,
    Rights,
    authenticate,
)
from transfer.sandbox.bintray.options import BintrayOptions
from transfer.sandbox.bintray.state import (
    CALLER,
    STATE,
    ApiError,
    EmulatorState,
    Handler,
    Route,
    json_response,
    state,
)
from transfer.sandbox.faults import FaultInjector
from transfer.sandbox.orgdata import Organization
from transfer.sandbox.requestlog import REQUEST_LOG_LIMIT, RequestLog

__all__ = ["BintrayEmulator"]

API_ROUTES: list[Route] = [
    *routes_subjects.ROUTES,
    *routes_repos.ROUTES,
    *routes_packages.ROUTES,
    *routes_search.ROUTES,
    *routes_files.ROUTES,
    *routes_content.ROUTES,
    *routes_manage.ROUTES,
    *routes_keys.ROUTES,
    *routes_signing.ROUTES,
    *routes_find.ROUTES,
    *routes_org_reads.ROUTES,
    *routes_notes.ROUTES,
    *routes_eulas.ROUTES,
    *routes_stream.ROUTES,
]
_EXHAUSTED = "You have exceeded your API call limit. Please try again later."


@web.middleware
async def _log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every request, including the ones faults or errors cut short."""
    st = state(request)
    response: web.StreamResponse | None = None
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if response is None and downloads.STATUS in request:
            status = request[downloads.STATUS]
        if downloads.BYTES_OUT in request:
            bytes_out = request[downloads.BYTES_OUT]
        elif isinstance(response, web.Response) and isinstance(response.body, bytes):
            bytes_out = 0 if request.method == "HEAD" else len(response.body)
        else:
            bytes_out = 0
        caller: Caller = request.get(CALLER, ANONYMOUS)
        st.request_log.add(
            request.method,
            request.path,
            status,
            bytes_in=request.content_length or 0,
            bytes_out=bytes_out,
            user=Rights(st.org, caller).display_name,
        )


def _rate_headers(st: EmulatorState) -> dict[str, str]:
    limit = st.options.rate_limit
    budget = st.options.rate_limit_budget
    remaining = limit if budget is None else max(0, min(limit, budget - st.api_calls))
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)}


def _admit(request: web.Request, st: EmulatorState) -> None:
    """Charge the call to the budget and authenticate it; raises :class:`ApiError`."""
    st.api_calls += 1
    budget = st.options.rate_limit_budget
    if budget is not None and st.api_calls > budget:
        raise ApiError(st.options.rate_limit_exhausted_status, _EXHAUSTED)
    try:
        request[CALLER] = authenticate(st.org, request.headers.get("Authorization"), st.clock())
    except InvalidCredentials as exc:
        raise ApiError(401, "This resource requires authentication") from exc


@web.middleware
async def _api(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limiting, Basic authentication and ``{"message": ...}`` errors for the API host."""
    st = state(request)
    response: web.StreamResponse
    try:
        _admit(request, st)
        response = await handler(request)
    except ApiError as exc:
        response = json_response({"message": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        message = "Not Found" if exc.status == 404 else exc.reason
        response = json_response({"message": message}, status=exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
    response.headers.update(_rate_headers(st))
    return response


def _download_error(status: int, message: str) -> web.Response:
    """Injected download-host errors are plain text, like the real host's."""
    return web.Response(status=status, text=message)


def _add_routes(app: web.Application, routes: list[Route], prefixes: tuple[str, ...]) -> None:
    for prefix in prefixes:
        for method, path, handler in routes:
            if method == "GET":
                app.router.add_get(prefix + path, handler)
            else:
                app.router.add_route(method, prefix + path, handler)


class BintrayEmulator:
    """A Bintray REST API host and download host serving one :class:`Organization`.

    ``api_app`` answers every route at ``/`` and under ``/api/v1``; ``download_app`` serves
    ``/:subject/:repo/:path`` and its CDN redirect target. Set ``download_base_url`` to where
    ``download_app`` listens so signed URLs point at it. ``request_log`` holds both hosts'
    newest ``request_log_limit`` requests.
    """

    def __init__(
        self,
        org: Organization,
        *,
        options: BintrayOptions | None = None,
        faults: FaultInjector | None = None,
        clock: Callable[[], float] = time.time,
        request_log_limit: int = REQUEST_LOG_LIMIT,
    ) -> None:
        self.request_log = RequestLog(request_log_limit)
        self._state = EmulatorState(
            org=org,
            options=options or BintrayOptions(),
            clock=clock,
            faults=faults,
            request_log=self.request_log,
        )
        self.api_app = self._build(API_ROUTES, ("", "/api/v1"), _api, "api")
        self.download_app = self._build(downloads.ROUTES, ("",), None, "download")

    def _build(
        self,
        routes: list[Route],
        prefixes: tuple[str, ...],
        inner: Callable[..., object] | None,
        family: str,
    ) -> web.Application:
        middlewares: list[Callable[..., object]] = [_log_requests]
        faults = self._state.faults
        if faults is not None:
            error_body = self._api_error if family == "api" else _download_error
            middlewares.append(faults.middleware(lambda _r: family, error_body=error_body))
        if inner is not None:
            middlewares.append(inner)
        app = web.Application(middlewares=middlewares)  # type: ignore[arg-type]
        app[STATE] = self._state
        if faults is not None:
            app.on_shutdown.append(faults.on_shutdown)
        _add_routes(app, routes, prefixes)
        return app

    def _api_error(self, status: int, message: str) -> web.Response:
        """Injected API errors look like Bintray's, rate-limit headers included."""
        return json_response(
            {"message": message}, status=status, headers=_rate_headers(self._state)
        )

    @property
    def org(self) -> Organization:
        """The organisation being served (mutations show up in later responses)."""
        return self._state.org

    def replace_file(self, repo: str, path: str, data: bytes) -> None:
        """Re-upload the file at ``path`` with ``data`` (see :mod:`.mutate`)."""
        mutate.replace_file(self.org, repo, path, data)

    def delete_file(self, repo: str, path: str) -> None:
        """Delete one file."""
        mutate.delete_file(self.org, repo, path)

    def delete_version(self, repo: str, package: str, version: str) -> None:
        """Delete a version and its files."""
        mutate.delete_version(self.org, repo, package, version)

    def delete_package(self, repo: str, package: str) -> None:
        """Delete a package, its versions and files."""
        mutate.delete_package(self.org, repo, package)

    def rename_repository(self, old: str, new: str) -> None:
        """Rename a repository: the old name answers 404 from now on."""
        mutate.rename_repository(self.org, old, new)

    def make_private(self, repo: str) -> None:
        """Make a repository private."""
        mutate.make_private(self.org, repo)

    @property
    def options(self) -> BintrayOptions:
        """The behaviour options in force."""
        return self._state.options

    @property
    def download_base_url(self) -> str:
        """Base URL of the download host, used to build signed URLs."""
        return self._state.download_base_url

    @download_base_url.setter
    def download_base_url(self, value: str) -> None:
        self._state.download_base_url = value.rstrip("/")
