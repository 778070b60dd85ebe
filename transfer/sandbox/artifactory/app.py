"""The emulator: stores, middlewares (log, faults, rate limit, errors, auth) and routes."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ..faults import FaultInjector
from ..requestlog import REQUEST_LOG_LIMIT, RequestLog
from . import (
    aql,
    copymove,
    deploy,
    permissions_api,
    repositories,
    security_api,
    signed_urls,
    storage_api,
    system,
    tokens,
)
from .auth import authenticate
from .common import ApiError, error_response
from .options import ArtifactoryOptions
from .security import SecurityStore
from .state import BYTES_OUT, PRINCIPAL, STATE, State
from .storage import BlobStore
from .token_store import TokenStore
from .tree import RepositoryStore, RepoTree, normalize_path
from .url_signer import UrlSigner

__all__ = ["ArtifactoryEmulator", "ItemInfo", "family_of"]

PREFIX = "/artifactory"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """A read-only snapshot of one stored item, for tests and benchmarks."""

    repo: str
    path: str
    folder: bool
    size: int
    sha1: str | None
    sha256: str | None
    md5: str | None
    created_by: str
    properties: dict[str, list[str]]


def family_of(request: web.Request) -> str:
    """Fault route family: ``deploy``, ``download``, ``metadata`` (setting properties),
    ``storage`` or ``api``."""
    path = request.path
    if path.startswith(f"{PREFIX}/api/metadata/") and request.method == "PATCH":
        return "metadata"
    if path.startswith((f"{PREFIX}/api/storage/", f"{PREFIX}/api/metadata/")):
        return "storage"
    if path.startswith((f"{PREFIX}/api/", "/access/")) or not path.startswith(f"{PREFIX}/"):
        return "api"
    if request.method == "PUT":
        return "deploy"
    if request.method in ("GET", "HEAD"):
        return "download"
    return "api"


class _RateLimiter:
    """Token bucket: ``rps`` requests per second, bursts up to ``max(1, rps)``."""

    def __init__(self, rps: float, clock: Callable[[], float]) -> None:
        self.rps = rps
        self.capacity = max(1.0, rps)
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()

    def wait(self) -> float:
        """0 when the request may pass, else seconds until it could."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rps)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rps


def _middlewares(state: State, log: RequestLog) -> list[Any]:
    limiter = None
    if state.options.rate_limit_rps is not None:
        limiter = _RateLimiter(state.options.rate_limit_rps, state.clock)

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        status = 500
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            out = request.get(BYTES_OUT)
            if out is None and isinstance(response, web.Response) and response.body is not None:
                out = len(response.body)  # type: ignore[arg-type]
            log.add(
                request.method,
                deploy.clean_path(request.rel_url.raw_path),
                status,
                bytes_in=request.content.total_bytes,
                bytes_out=int(out or 0),
                user=principal.name if (principal := request.get(PRINCIPAL)) else "",
            )

    @web.middleware
    async def throttle(request: web.Request, handler: Handler) -> web.StreamResponse:
        read_only = state.options.read_only_retry_after
        if read_only is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            return error_response(
                503,
                "Artifactory is in maintenance: read-only, try again later",
                headers={"Retry-After": str(read_only)},
            )
        if limiter is not None:
            wait = limiter.wait()
            if wait > 0:
                return error_response(
                    429, "Too Many Requests", headers={"Retry-After": str(max(1, math.ceil(wait)))}
                )
        return await handler(request)

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            request[PRINCIPAL] = authenticate(request, state)
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            if exc.status in (404, 405):
                allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
                return error_response(exc.status, exc.reason, headers=allow)
            raise

    chain: list[Any] = [record]
    if state.faults is not None:
        chain.append(state.faults.middleware(family_of, error_body=error_response))
    chain += [throttle, errors]
    return chain


async def _version_headers(request: web.Request, response: web.StreamResponse) -> None:
    state = request.app[STATE]
    response.headers.setdefault(
        "X-JFrog-Version",
        f"Artifactory/{state.options.version} {system.revision(state.options.version)}",
    )
    response.headers.setdefault("X-Artifactory-Id", "emulator0000000000000000000000000000000000")
    response.headers.setdefault("X-Artifactory-Node-Id", "emulator-node-1")


class ArtifactoryEmulator:
    """An in-process JFrog Artifactory 7.x (Cloud) serving ``/artifactory/...`` and ``/access/...``.

    Serve ``emulator.app`` with aiohttp (``TestServer``, ``AppRunner``). State lives in memory;
    binaries live under ``storage_dir`` (a temporary directory removed by :meth:`close` unless
    given). The admin user is ``options.admin_user`` with ``options.admin_password`` and the API
    key :attr:`admin_api_key`. No other users, groups or permission targets exist at start.

    Read-only helpers for tests and benchmarks: :meth:`item`, :meth:`properties`, :meth:`files`,
    :meth:`repositories`, :meth:`blob_count`, :meth:`blob_path`, :attr:`bytes_received`,
    :attr:`storage_dir`; and :meth:`create_repository` to seed a repository without HTTP.
    ``request_log`` holds the newest ``request_log_limit`` requests.
    """

    def __init__(
        self,
        options: ArtifactoryOptions | None = None,
        *,
        faults: FaultInjector | None = None,
        clock: Callable[[], float] = time.time,
        request_log_limit: int = REQUEST_LOG_LIMIT,
    ) -> None:
        self.options = options or ArtifactoryOptions()
        self.request_log = RequestLog(request_log_limit)
        self._state = State(
            options=self.options,
            clock=clock,
            blobs=BlobStore(self.options.storage_dir, sink=self.options.sink),
            repos=RepositoryStore(),
            security=SecurityStore(self.options.admin_user, self.options.admin_password),
            tokens=TokenStore(self.options.token_persistency_threshold),
            signer=UrlSigner(),
            faults=faults,
        )
        self.app = web.Application(middlewares=_middlewares(self._state, self.request_log))
        self.app[STATE] = self._state
        self.app.on_response_prepare.append(_version_headers)
        if faults is not None:
            self.app.on_shutdown.append(faults.on_shutdown)
        self.app.add_routes(
            [
                *system.routes(PREFIX),
                *repositories.routes(PREFIX),
                *storage_api.routes(PREFIX),
                *copymove.routes(PREFIX),
                *aql.routes(PREFIX),
                *security_api.routes(PREFIX),
                *permissions_api.routes(PREFIX),
                *tokens.routes(PREFIX),
                *signed_urls.routes(PREFIX),
                *deploy.routes(),
            ]
        )

    @property
    def admin_api_key(self) -> str:
        """The admin user's API key (for ``X-JFrog-Art-Api`` or as a Basic password)."""
        key = self._state.security.users[self.options.admin_user].api_key
        assert key is not None
        return key

    def issue_admin_token(self, *, expires_in: int = 0) -> str:
        """An admin-scoped access token of the admin user, minted without HTTP: what JFrog
        Cloud's UI hands an administrator, and what a migration signs in with when token
        generation via API is off (``expires_in`` 0: never expires)."""
        state = self._state
        record = state.tokens.issue(
            self.options.admin_user,
            "applied-permissions/admin",
            groups=None,
            admin_scope=True,
            expires_in=expires_in,
            refreshable=False,
            now=state.clock(),
            transient=False,
            description="admin token",
        )
        return record.access_token

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now: the next call with one answers 401
        "Token has expired" (what a migration meets when its token's lifetime ends mid-run)."""
        self._state.tokens.expire_all(self._state.clock())

    @property
    def storage_dir(self) -> Path:
        """Where blobs are stored."""
        return self._state.blobs.root

    def create_repository(
        self, key: str, package_type: str = "generic", rclass: str = "local", **fields: Any
    ) -> None:
        """Add a repository without HTTP (defaults filled as by ``PUT /api/repositories``)."""
        config = repositories.default_config(key, rclass, package_type.lower())
        config.update(fields)
        self._state.repos.configs[key] = config
        if rclass != "virtual":
            self._state.repos.trees[key] = RepoTree(self._state.clock(), self.options.admin_user)

    def repositories(self) -> dict[str, dict[str, Any]]:
        """Every repository configuration by key (copies)."""
        return {k: dict(v) for k, v in self._state.repos.configs.items()}

    def item(self, repo: str, path: str) -> ItemInfo | None:
        """The stored file or folder at ``repo/path``, or None."""
        tree = self._state.repos.trees.get(repo)
        found = None if tree is None else tree.get(normalize_path(path))
        if found is None:
            return None
        blob = found.blob
        return ItemInfo(
            repo,
            found.path,
            found.folder,
            -1 if blob is None else blob.size,
            None if blob is None else blob.sha1,
            None if blob is None else blob.sha256,
            None if blob is None else blob.md5,
            found.created_by,
            {k: list(v) for k, v in found.properties.items()},
        )

    def properties(self, repo: str, path: str) -> dict[str, list[str]]:
        """Properties of an item ({} when it has none or does not exist)."""
        info = self.item(repo, path)
        return {} if info is None else info.properties

    def files(self, repo: str) -> list[str]:
        """Paths of every file in a repository, sorted."""
        tree = self._state.repos.trees.get(repo)
        return [] if tree is None else [i.path for i in tree.walk("") if not i.folder]

    def blob_count(self) -> int:
        """Distinct binaries stored (dedup makes this smaller than the file count)."""
        return self._state.blobs.blob_count()

    @property
    def bytes_received(self) -> int:
        """Upload body bytes received so far, counted as they arrive, cut uploads included
        (the request log only has a request's bytes once it ends)."""
        return self._state.blobs.received

    def blob_path(self, sha1: str) -> Path | None:
        """Where a binary's bytes are on disk (None in sink mode or when unknown)."""
        return self._state.blobs.path(sha1)

    def close(self) -> None:
        """Remove the temporary storage directory (if the emulator created it)."""
        self._state.blobs.close()
