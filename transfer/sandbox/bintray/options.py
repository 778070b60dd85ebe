"""Knobs of the Bintray emulator that pick between behaviours the reference leaves open."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BintrayOptions"]


@dataclass
class BintrayOptions:
    """How the emulator behaves where Bintray varied or the reference is uncertain.

    ``rate_limit_budget`` is the number of API calls served before every further call is refused
    with ``rate_limit_exhausted_status``; ``None`` means unlimited, as for an organisation crawling
    its own resources (``X-RateLimit-Remaining`` then stays at ``rate_limit``).
    ``redirect_downloads`` answers file downloads with a 302 to a short-lived CDN-like path that
    honours ``Range``; ``redirect_private`` extends that to private repositories.
    ``entitlement_search_scope`` adds ``package`` and ``version`` to entitlement search results
    (off: the documented ``{id, repo, path, access, access_keys, tags}``, so a client must list
    entitlements per package and version to learn a scoped one's package).
    ``stream_keepalive`` is the seconds between the event stream's empty keep-alive lines and
    ``stream_max_connections`` how many streams a subject may hold open before 429.
    """

    page_size: int = 50
    rate_limit: int = 1440
    rate_limit_exhausted_status: int = 429
    rate_limit_budget: int | None = None
    report_debian_as_deb: bool = False
    redirect_downloads: bool = True
    redirect_private: bool = True
    cdn_token_ttl: float = 60.0
    anonymous_package_cap: int = 50
    entitlement_search_scope: bool = False
    stream_keepalive: float = 30.0
    stream_max_connections: int = 3
