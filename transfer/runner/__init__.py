"""Use cases (layer 5): plan, migrate, status, verify, report, signed URLs.

Each builds the clients and the store from :class:`~transfer.settings.Settings`, runs, and
returns plain summaries. Nothing here prints: progress goes out as events on the
:class:`~transfer.reporting.events.EventBus` the caller passes in.

* :mod:`~transfer.runner.wiring` — clients and store from settings; worker names;
* :mod:`~transfer.runner.migration` — ``migrate`` and its phases;
* :mod:`~transfer.runner.planning` — ``plan`` and ``security_plan``;
* :mod:`~transfer.runner.inspection` — ``status`` (and its live page), ``verify``, ``report``;
* :mod:`~transfer.runner.signing` — ``signed_urls``.
"""

from transfer.runner.inspection import (
    RunStatus,
    report,
    serve_live_report,
    service_hosts,
    status,
    store_counts,
    verify,
)
from transfer.runner.migration import PHASES, MigrationSummary, migrate
from transfer.runner.planning import PlanSummary, plan, security_plan
from transfer.runner.signing import SignedUrlsResult, signed_urls
from transfer.runner.wiring import (
    open_source,
    open_store,
    open_target,
    reap_dead_workers,
    worker_id,
)

__all__ = [
    "PHASES",
    "MigrationSummary",
    "PlanSummary",
    "RunStatus",
    "SignedUrlsResult",
    "migrate",
    "open_source",
    "open_store",
    "open_target",
    "plan",
    "reap_dead_workers",
    "report",
    "security_plan",
    "serve_live_report",
    "service_hosts",
    "signed_urls",
    "status",
    "store_counts",
    "verify",
    "worker_id",
]
