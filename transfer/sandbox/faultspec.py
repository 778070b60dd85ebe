"""The fault spec: a compact string (or rule objects) saying which faults hit which family.

Spec grammar (whitespace ignored)::

    spec    := entry (";" entry)*
    entry   := PRESET | family ":" fault ("," fault)*
    family  := NAME | "*" | SERVICE "." NAME | SERVICE ".*"      e.g. download, bintray.download
    fault   := kind "=" value ["@" param] ["x" max_count]

=====================  ====================  ==================================================
kind                   value [@ param]       effect
=====================  ====================  ==================================================
``latency``            S or LO-HI [@ p]      sleep S (or uniform LO..HI) seconds before handling
``bandwidth``          RATE [@ p]            pace bodies (both ways), bytes/s; k, M, G = 1024^n
``500`` .. ``599``     p                     answer this status instead of handling
``5xx``                p                     answer one of 500, 502, 503, 504 (seeded)
``429``                p [@ S]               answer 429; ``Retry-After: S`` only when S is given
``reset``              p                     reset the connection before any response byte
``hang``               p [@ S]               stop answering for S seconds (default 300), then reset
``redirect_loop``      p [@ hops]            302 to the same URL, ``hops`` times (default 50)
``reset_mid_body``     p                     reset mid-body (download: response; upload: request)
``truncate``           p                     close a response after fewer bytes than announced
``corrupt``            p                     flip one byte of a body (either way), length unchanged
=====================  ====================  ==================================================

``p`` is a probability in [0, 1]. ``xN`` caps how many times that rule fires in total, for
example ``deploy:503=1x3`` fails exactly the first three deploys. An entry without ``:`` names a
preset (:data:`PRESETS`: ``none``, ``mix``, ``flaky``, ``slow``); presets combine with entries,
and a later entry overrides an earlier one for the same family and kind. Rules apply by
specificity: ``*`` < ``service.*`` < ``family`` < ``service.family``. Example::

    download:reset_mid_body=0.05,corrupt=0.02,truncate=0.02;deploy:503=0.1,429=0.05@2;*:latency=0.01-0.05

``truncate`` applies to responses only; ``corrupt`` and ``reset_mid_body`` to both directions
(the download's response body, the deploy's request body).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["ANSWER_ORDER", "BODY_KINDS", "PRESETS", "FaultRule", "is_status", "parse_spec"]

PRESETS: dict[str, str] = {
    "none": "",
    # The fault mix the engine tests migrate through: every failure a client must survive.
    "mix": (
        "download:5xx=0.03,429=0.02@1,reset=0.01,reset_mid_body=0.03,truncate=0.02,corrupt=0.02;"
        "deploy:5xx=0.03,429=0.02@1,reset_mid_body=0.02;"
        "storage:5xx=0.02;metadata:5xx=0.02;api:5xx=0.02,429=0.01@1"
    ),
    "flaky": (
        "*:latency=0.001-0.02,5xx=0.03,reset=0.02;"
        "download:reset_mid_body=0.05,truncate=0.03;deploy:reset_mid_body=0.03"
    ),
    "slow": "*:latency=0.05-0.2;download:bandwidth=2M;deploy:bandwidth=2M",
}

# Faults replacing the answer, by priority (status codes such as "503" rank after "5xx").
ANSWER_ORDER = ("hang", "reset", "redirect_loop", "429", "5xx")
# Faults striking inside a body, by priority.
BODY_KINDS = ("reset_mid_body", "truncate", "corrupt")
_KINDS = frozenset({*ANSWER_ORDER, *BODY_KINDS, "latency", "bandwidth"})
_ALIASES = {"reset_before_body": "reset"}
_FAMILY = re.compile(r"^(?:[A-Za-z0-9_-]+\.)?(?:[A-Za-z0-9_-]+|\*)$")
_FAULT = re.compile(r"^(?P<kind>\w+)=(?P<value>[^@x]+)(?:@(?P<param>[^x]+))?(?:x(?P<max>\d+))?$")
_RATE = re.compile(r"^(?P<num>[0-9.]+)(?P<unit>[kKmMgG]?)$")


def is_status(kind: str) -> bool:
    """Whether ``kind`` names a 5xx status code such as ``"503"``."""
    return kind.isdigit() and 500 <= int(kind) <= 599


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault kind on one family: fires with ``probability``, at most ``limit`` times.

    ``value`` is the kind's parameter (latency seconds or range low end, bandwidth bytes/s,
    Retry-After seconds, hang seconds, redirect hops); ``value_max`` the latency range high end.
    """

    family: str
    kind: str
    probability: float = 1.0
    value: float | None = None
    value_max: float | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if not _FAMILY.match(self.family):
            raise ValueError(f"bad fault family {self.family!r}")
        if self.kind not in _KINDS and not is_status(self.kind):
            raise ValueError(f"unknown fault kind {self.kind!r} (family {self.family!r})")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability of {self.kind!r} must be in [0, 1]")
        if self.kind in ("latency", "bandwidth") and self.value is None:
            raise ValueError(f"{self.kind!r} needs a value")
        if self.value is not None and self.value < 0:
            raise ValueError(f"value of {self.kind!r} must not be negative")
        if self.kind == "bandwidth" and not self.value:
            raise ValueError("bandwidth must be positive")
        if self.value_max is not None and (self.value is None or self.value_max < self.value):
            raise ValueError(f"range of {self.kind!r} must be LOW-HIGH with LOW <= HIGH")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"max count of {self.kind!r} must not be negative")

    def __str__(self) -> str:
        """This rule in spec grammar."""
        if self.kind in ("latency", "bandwidth"):
            text = f"{self.kind}={_plain(self.value)}"
            text += f"-{_plain(self.value_max)}" if self.value_max is not None else ""
            text += f"@{_plain(self.probability)}" if self.probability != 1.0 else ""
        else:
            text = f"{self.kind}={_plain(self.probability)}"
            text += f"@{_plain(self.value)}" if self.value is not None else ""
        text += f"x{self.limit}" if self.limit is not None else ""
        return f"{self.family}:{text}"


def _plain(number: float | None) -> str:
    """Shortest exact positional form: no exponent, whose '-' would read as a range."""
    text = format(Decimal(repr(float(number or 0))), "f")
    return text.removesuffix(".0")


def _number(text: str, piece: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _bad(piece, f"{text!r} is not a number") from None


def _bad(piece: str, reason: str) -> ValueError:
    return ValueError(f"bad fault spec piece {piece!r}: {reason}")


def _parse_fault(family: str, piece: str) -> FaultRule:
    match = _FAULT.match(piece)
    if not match:
        raise _bad(piece, "expected kind=value[@param][xMAX]")
    kind = _ALIASES.get(match["kind"], match["kind"])
    value, param = match["value"], match["param"]
    limit = int(match["max"]) if match["max"] else None
    number: float | None
    value_max: float | None = None
    if kind == "latency":
        low, _, high = value.partition("-")
        chance, number = _number(param, piece) if param else 1.0, _number(low, piece)
        value_max = _number(high, piece) if high else None
    elif kind == "bandwidth":
        rate = _RATE.match(value)
        if not rate:
            raise _bad(piece, f"bad rate {value!r} (want a number with optional k, M or G)")
        scale = 1024 ** " kmg".index(rate["unit"].lower() or " ")
        chance = _number(param, piece) if param else 1.0
        number = _number(rate["num"], piece) * scale
    elif param is not None and kind not in ("429", "hang", "redirect_loop"):
        raise _bad(piece, f"{kind!r} takes no @param")
    else:
        chance, number = _number(value, piece), _number(param, piece) if param else None
    try:
        return FaultRule(family, kind, chance, number, value_max, limit)
    except ValueError as exc:
        raise _bad(piece, str(exc)) from None


def parse_spec(spec: str) -> list[FaultRule]:
    """Parse a spec string (see the module docstring) into rules, presets expanded."""
    rules: list[FaultRule] = []
    for raw in spec.replace(" ", "").split(";"):
        if not raw:
            continue
        family, colon, faults = raw.partition(":")
        if not colon:
            if raw not in PRESETS:
                known = ", ".join(sorted(PRESETS))
                raise ValueError(f"bad fault spec piece {raw!r}: not a preset ({known})")
            rules.extend(parse_spec(PRESETS[raw]))
            continue
        if not _FAMILY.match(family):
            raise ValueError(f"bad fault spec piece {raw!r}: bad family {family!r}")
        if not faults:
            raise ValueError(f"bad fault spec piece {raw!r}: no faults after ':'")
        rules.extend(_parse_fault(family, piece) for piece in faults.split(",") if piece)
    return rules
