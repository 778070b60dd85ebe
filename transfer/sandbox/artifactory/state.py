"""The emulator's shared state and the per-request helpers every handler module uses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from .common import CHALLENGE, ApiError, art_base
from .security import ANONYMOUS, Principal

if TYPE_CHECKING:
    from ..faults import FaultInjector
    from .options import ArtifactoryOptions
    from .security import SecurityStore
    from .storage import BlobStore
    from .token_store import TokenStore
    from .tree import RepositoryStore
    from .url_signer import UrlSigner

__all__ = [
    "BYTES_OUT",
    "PRINCIPAL",
    "STATE",
    "State",
    "base",
    "deny",
    "principal_of",
    "require_admin",
    "require_user",
    "state_of",
]


@dataclass(slots=True)
class State:
    """Everything the handlers share; one per emulator instance."""

    options: ArtifactoryOptions
    clock: Callable[[], float]
    blobs: BlobStore
    repos: RepositoryStore
    security: SecurityStore
    tokens: TokenStore
    signer: UrlSigner
    faults: FaultInjector | None
    # a new one per instance, as a re-installed Artifactory gets (``jfrt@<id>`` since 5.5.2)
    service_id: str = field(default_factory=lambda: f"jfrt@{uuid.uuid4().hex[:26]}")


STATE = web.AppKey("artifactory_state", State)
PRINCIPAL = web.RequestKey("artifactory_principal", Principal)
BYTES_OUT = web.RequestKey("artifactory_bytes_out", int)


def state_of(request: web.Request) -> State:
    """The emulator state of the app serving the request."""
    return request.app[STATE]


def principal_of(request: web.Request) -> Principal:
    """Who the request acts as (set by the auth middleware)."""
    principal: Principal = request.get(PRINCIPAL, ANONYMOUS)
    return principal


def base(request: web.Request) -> str:
    """The Artifactory base URL for URIs in responses."""
    return art_base(request, state_of(request).options.base_url)


def deny(request: web.Request, message: str) -> ApiError:
    """The error for a missing right: 401 + challenge if anonymous, 404 when hiding, else 403."""
    if principal_of(request).anonymous:
        return ApiError(401, "Bad credentials", headers={"WWW-Authenticate": CHALLENGE})
    if state_of(request).options.hide_unauthorized:
        return ApiError(404, "Unable to find item")
    return ApiError(403, message)


def require_admin(request: web.Request) -> Principal:
    """The principal, or an error unless it is an admin."""
    principal = principal_of(request)
    if not principal.admin:
        if principal.anonymous:
            raise ApiError(401, "Bad credentials", headers={"WWW-Authenticate": CHALLENGE})
        raise ApiError(403, "Only administrators are allowed to perform this operation")
    return principal


def require_user(request: web.Request) -> Principal:
    """The principal, or 401 + challenge when anonymous."""
    principal = principal_of(request)
    if principal.anonymous:
        raise ApiError(401, "Bad credentials", headers={"WWW-Authenticate": CHALLENGE})
    return principal
