"""Seeded fault injection for the emulators.

Both emulators route every request through :meth:`FaultInjector.middleware` and stream every
large body through :meth:`FaultInjector.stream_response` / :meth:`FaultInjector.read_request_body`.
A request belongs to a *route family* (a short name chosen by the emulator: Bintray ``api``,
``download``; Artifactory ``deploy``, ``download``, ``storage``, ``api``); faults are configured
per family with the spec grammar of :mod:`transfer.sandbox.faultspec`, e.g.
``"download:reset_mid_body=0.05,corrupt=0.02;deploy:503=0.1,429=0.05@2;*:latency=0.01-0.05"``.

Decisions come from ``random.Random`` streams seeded by (seed, service, family), so for a given
seed the n-th request of a family always meets the same fate. Per request at most one *answer
fault* applies (hang, reset, redirect_loop, 429, status codes, in that priority) and at most one
*body fault* (reset_mid_body, truncate, corrupt); latency and bandwidth add to either.

Error bodies come from the emulator's ``error_body(status, message)`` hook given to
:meth:`FaultInjector.middleware`, else ``{"message": ...}`` JSON; 502 and 504 are always
nginx-style HTML because real proxies answer so (clients must not assume JSON). A reset sends a
TCP RST; a truncation sends fewer bytes than announced then a clean FIN. Body faults need a body
of at least two bytes; on a response without ``Content-Length`` they strike inside the first
chunk. ``truncate`` applies to responses only. A request with no fault costs one dict lookup;
bodies are never copied except the one chunk a ``corrupt`` fault flips.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from aiohttp import web

from transfer.sandbox.faultspec import (
    ANSWER_ORDER,
    BODY_KINDS,
    PRESETS,
    FaultRule,
    is_status,
    parse_spec,
)
from transfer.sandbox.faultwire import (
    ErrorBody,
    Pacer,
    error_response,
    redirect,
    reset,
    strike_at,
    write,
)

__all__ = [
    "NO_FAULT",
    "PRESETS",
    "ErrorBody",
    "FaultDecision",
    "FaultInjector",
    "FaultRule",
    "parse_spec",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DEFAULT_HANG = 300.0
_DEFAULT_HOPS = 50
_RANDOM_5XX = (500, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one request; the default does nothing.

    ``cut_at`` (in [0, 1)) places a body fault within the body; ``family`` is the route family
    the decision was drawn for; ``answer`` the kind of the rule that replaces the answer
    (``hang``, ``reset``, ``redirect_loop``, ``429``, ``5xx``, ``503``...), if any.
    """

    latency: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    reset_before_body: bool = False
    reset_mid_body: bool = False
    truncate: bool = False
    corrupt: bool = False
    bandwidth: float | None = None  # bytes per second
    hang: bool = False
    redirect_loop: bool = False
    hang_for: float = 0.0
    redirect_hops: int = 0
    cut_at: float = 0.5
    family: str = ""
    answer: str = ""

    @property
    def body_fault(self) -> str | None:
        """``reset_mid_body``, ``truncate``, ``corrupt`` or None."""
        if self.reset_mid_body:
            return "reset_mid_body"
        if self.truncate:
            return "truncate"
        return "corrupt" if self.corrupt else None


NO_FAULT = FaultDecision()


@dataclass
class _Shared:
    """State every scoped view of one injector shares: switch, counters, hang release."""

    enabled: bool = True
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)
    fired: Counter[FaultRule] = field(default_factory=Counter)
    loops: dict[str, int] = field(default_factory=dict)
    release: asyncio.Event | None = None


@dataclass
class _Plan:
    """The merged rules of one family, in evaluation order, with their random stream."""

    rules: tuple[FaultRule, ...]
    rng: random.Random
    by_kind: dict[str, FaultRule]


def _order(rule: FaultRule) -> tuple[int, str]:
    if rule.kind in ANSWER_ORDER:
        return (ANSWER_ORDER.index(rule.kind), "")
    if is_status(rule.kind):
        return (len(ANSWER_ORDER), rule.kind)
    if rule.kind in BODY_KINDS:
        return (10 + BODY_KINDS.index(rule.kind), "")
    return (20, rule.kind)


class FaultInjector:
    """Decides, from a seed and a per-family spec, which faults hit which request.

    ``injected`` counts applied faults per ``(family, kind)`` (family prefixed ``service.`` on a
    :meth:`scoped` view); ``enabled`` switches every view on or off at runtime.
    """

    KEY = web.RequestKey("fault_decision", FaultDecision)

    def __init__(self, spec: str = "", *, seed: int = 0) -> None:
        self.rules: tuple[FaultRule, ...] = tuple(parse_spec(spec))
        self.spec = spec
        self.seed = seed
        self.service = ""
        self._shared = _Shared()
        self._plans: dict[str, _Plan] = {}

    @classmethod
    def from_rules(cls, rules: Iterable[FaultRule], *, seed: int = 0) -> FaultInjector:
        """An injector from rule objects instead of a spec string."""
        injector = cls(seed=seed)
        injector.rules = tuple(rules)
        injector.spec = ";".join(str(rule) for rule in injector.rules)
        return injector

    def scoped(self, service: str) -> FaultInjector:
        """A view for one emulator: matches ``service.family`` rules, shares switch and counters."""
        view = FaultInjector(seed=self.seed)
        view.rules, view.spec, view.service = self.rules, self.spec, service
        view._shared = self._shared
        return view

    # -- switch and counters -------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether faults are injected at all (shared by every scoped view)."""
        return self._shared.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._shared.enabled = value
        if not value:
            self._shared.loops.clear()

    def enable(self) -> None:
        """Turn fault injection on."""
        self.enabled = True

    def disable(self) -> None:
        """Turn fault injection off (requests already decided keep their fate)."""
        self.enabled = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Within the block, inject nothing."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before

    @property
    def injected(self) -> Counter[tuple[str, str]]:
        """Applied faults per ``(family, kind)``; status faults count under their code."""
        return self._shared.injected

    def count(self, kind: str | None = None, family: str | None = None) -> int:
        """Applied faults of ``kind`` on ``family`` (either None = any; ``download`` also
        matches ``bintray.download``)."""
        return sum(
            n
            for (fam, knd), n in self._shared.injected.items()
            if (kind is None or knd == kind)
            and (family is None or fam == family or fam.endswith("." + family))
        )

    def release_hangs(self) -> None:
        """Wake every hanging request now (they then reset); call before stopping a server."""
        if self._shared.release is None:
            self._shared.release = asyncio.Event()
        self._shared.release.set()

    async def on_shutdown(self, app: web.Application) -> None:
        """``app.on_shutdown`` hook: releases hangs so the server stops without waiting."""
        self.release_hangs()

    # -- decisions -----------------------------------------------------------------------

    def _plan(self, family: str) -> _Plan:
        plan = self._plans.get(family)
        if plan is None:
            names = ["*", f"{self.service}.*", family, f"{self.service}.{family}"]
            merged: dict[str, FaultRule] = {}
            for name in names if self.service else names[::2]:
                merged.update((r.kind, r) for r in self.rules if r.family == name)
            rules = tuple(sorted(merged.values(), key=_order))
            rng = random.Random(f"{self.seed}/{self.service}/{family}")
            plan = self._plans[family] = _Plan(rules, rng, merged)
        return plan

    def _room(self, rule: FaultRule) -> bool:
        return rule.limit is None or self._shared.fired[rule] < rule.limit

    def decide(self, family: str) -> FaultDecision:
        """The faults for the next request of ``family`` (:data:`NO_FAULT` when none)."""
        if not self._shared.enabled or not self.rules:
            return NO_FAULT
        plan = self._plan(family)
        if not plan.rules:
            return NO_FAULT
        answer: FaultRule | None = None
        body: FaultRule | None = None
        fields: dict[str, object] = {}
        for rule in plan.rules:
            # Two draws per rule whatever happens, so one rule firing never shifts the others.
            hit, extra = plan.rng.random(), plan.rng.random()
            if hit >= rule.probability or not self._room(rule):
                continue
            if rule.kind == "latency":
                high = rule.value_max if rule.value_max is not None else rule.value
                assert rule.value is not None
                assert high is not None
                fields["latency"] = rule.value + (high - rule.value) * extra
            elif rule.kind == "bandwidth":
                fields["bandwidth"] = rule.value
            elif rule.kind in BODY_KINDS:
                if body is None:
                    body = rule
                    fields[rule.kind] = True
                    fields["cut_at"] = extra
            elif answer is None:
                answer = rule
                fields["answer"] = rule.kind
                if rule.kind == "5xx":
                    fields["status"] = _RANDOM_5XX[int(extra * len(_RANDOM_5XX))]
                elif rule.kind == "429":
                    fields.update(status=429, retry_after=rule.value)
                elif is_status(rule.kind):
                    fields["status"] = int(rule.kind)
                elif rule.kind == "hang":
                    fields.update(hang=True, hang_for=rule.value or _DEFAULT_HANG)
                elif rule.kind == "reset":
                    fields["reset_before_body"] = True
                else:
                    fields.update(
                        redirect_loop=True, redirect_hops=int(rule.value or _DEFAULT_HOPS)
                    )
        if not fields:
            return NO_FAULT
        return FaultDecision(family=family, **fields)  # type: ignore[arg-type]

    def _take(self, family: str, kind: str, counter_kind: str | None = None) -> bool:
        """Count one applied fault of ``kind``; False when its rule's cap is already used up."""
        rule = self._plan(family).by_kind.get(kind)
        if rule is not None:
            if not self._room(rule):
                return False
            self._shared.fired[rule] += 1
        name = f"{self.service}.{family}" if self.service else family
        self._shared.injected[(name, counter_kind or kind)] += 1
        return True

    @classmethod
    def decision_for(cls, request: web.BaseRequest) -> FaultDecision:
        """The decision the middleware stored on ``request`` (:data:`NO_FAULT` if none)."""
        decision: FaultDecision = request.get(cls.KEY, NO_FAULT)
        return decision

    # -- the pre-response part: middleware -----------------------------------------------

    def middleware(
        self, family_of: Callable[[web.Request], str], *, error_body: ErrorBody | None = None
    ) -> Callable[..., Awaitable[web.StreamResponse]]:
        """aiohttp middleware applying pre-response faults; stores the decision on the request.

        ``error_body(status, message)`` renders 5xx/429 bodies in the emulator's error style.
        """

        @web.middleware
        async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if not self.rules:
                return await handler(request)
            shared = self._shared
            if shared.loops and shared.enabled:
                looping = self._follow_loop(request)
                if looping is not None:
                    return looping
            decision = self.decide(family_of(request))
            if decision is NO_FAULT:
                return await handler(request)
            request[self.KEY] = decision
            return await self._apply(request, handler, decision, error_body)

        return _middleware

    async def _apply(
        self,
        request: web.Request,
        handler: Handler,
        decision: FaultDecision,
        error_body: ErrorBody | None,
    ) -> web.StreamResponse:
        family = decision.family
        if decision.latency > 0 and self._take(family, "latency"):
            await asyncio.sleep(decision.latency)
        if decision.hang and self._take(family, "hang"):
            await self._hang(decision.hang_for)
            return reset(request)
        if decision.reset_before_body and self._take(family, "reset"):
            return reset(request)
        if decision.redirect_loop and self._take(family, "redirect_loop"):
            self._shared.loops[str(request.url)] = decision.redirect_hops - 1
            return redirect(request)
        status = decision.status
        if status is not None and self._take(family, decision.answer, str(status)):
            return error_response(status, decision.retry_after, error_body)
        return await handler(request)

    def _follow_loop(self, request: web.Request) -> web.StreamResponse | None:
        url = str(request.url)
        hops = self._shared.loops.get(url)
        if hops is None:
            return None
        if hops <= 1:
            del self._shared.loops[url]
        else:
            self._shared.loops[url] = hops - 1
        return redirect(request)

    async def _hang(self, seconds: float) -> None:
        if self._shared.release is None:
            self._shared.release = asyncio.Event()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._shared.release.wait(), timeout=seconds)

    # -- the body part -------------------------------------------------------------------

    async def stream_response(
        self,
        request: web.Request,
        response: web.StreamResponse,
        chunks: Iterable[bytes | memoryview],
    ) -> web.StreamResponse:
        """Write ``chunks`` to ``response`` (prepared here if needed) and finish it, applying
        bandwidth and mid-body faults. After a mid-body fault the connection is gone and the
        response is returned as is; aiohttp then drops it quietly."""
        if not response.prepared:
            await response.prepare(request)
        decision = self.decision_for(request)
        if decision is NO_FAULT or request.method == "HEAD":
            for chunk in chunks:
                await response.write(chunk)
            await response.write_eof()
            return response
        pacer = Pacer(decision.bandwidth) if decision.bandwidth else None
        fault = decision.body_fault
        length = response.content_length
        strike: int | None = None
        pos = 0
        for chunk in chunks:
            size = len(chunk)
            if fault is not None and strike is None:
                strike = strike_at(length if length is not None else size, decision.cut_at, fault)
                if strike is None or not self._take(decision.family, fault):
                    fault = None
            if fault is not None and strike is not None and pos <= strike < pos + size:
                offset = strike - pos
                if fault == "corrupt":
                    flipped = bytearray(chunk)
                    flipped[offset] ^= 0xFF
                    await write(response, flipped, pacer)
                    fault = None
                else:
                    if offset:
                        await write(response, memoryview(chunk)[:offset], pacer)
                    if fault == "truncate":
                        if request.transport is not None:
                            request.transport.close()
                    else:
                        reset(request)
                    return response
            else:
                await write(response, chunk, pacer)
            pos += size
        await response.write_eof()
        return response

    async def read_request_body(self, request: web.Request) -> AsyncIterator[bytes]:
        """Yield the request body in chunks, applying upload-side faults.

        A mid-body reset aborts the connection and raises :class:`ConnectionResetError`, as
        aiohttp does when a client really disconnects, so the handler stores nothing.
        """
        decision = self.decision_for(request)
        if decision is NO_FAULT:
            async for chunk in request.content.iter_chunked(256 * 1024):
                yield chunk
            return
        fault = decision.body_fault if decision.body_fault != "truncate" else None
        pacer = Pacer(decision.bandwidth) if decision.bandwidth else None
        strike: int | None = None
        pos = 0
        async for chunk in request.content.iter_chunked(64 * 1024 if pacer else 256 * 1024):
            size = len(chunk)
            if fault is not None and strike is None:
                total = request.content_length or size
                strike = strike_at(total, decision.cut_at, fault)
                if strike is None or not self._take(decision.family, fault):
                    fault = None
            if fault is not None and strike is not None and pos <= strike < pos + size:
                if fault == "reset_mid_body":
                    reset(request)
                    raise ConnectionResetError("connection reset (injected fault)")
                flipped = bytearray(chunk)
                flipped[strike - pos] ^= 0xFF
                chunk, fault = bytes(flipped), None
            if pacer is not None:
                await pacer.pace(size)
            pos += size
            yield chunk
