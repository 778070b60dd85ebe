"""Bintray names made into valid JFrog Cloud principal names (pure).

Bintray allowed member names, team names and access-key ids that JFrog Cloud refuses: its
user names match ``^[a-z0-9._@+-]+$`` (terraform-provider-artifactory's user validation,
reference §13). Every member, team and access key is given a valid name: lower-cased, accents
dropped, any other character outside that set replaced by ``-``. A name that is already valid
keeps it and wins; a mapped name that would collide with another gets ``-2``, ``-3``, ...
in the sorted order of the Bintray names, so the same organisation always maps the same way.
Each rename is reported (plan, report, secrets file).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from transfer.migrate.access import OrgMember, OrgSnapshot, OrgTeam

__all__ = ["VALID_NAME", "Rename", "map_names", "rename_principals", "valid_name"]

VALID_NAME: Final = re.compile(r"^[a-z0-9._@+-]+$")
_OUTSIDE: Final = re.compile(r"[^a-z0-9._@+-]+")
_KIND_TEXT: Final = {"member": "member", "team": "team", "access_key": "access key"}


@dataclass(frozen=True, slots=True)
class Rename:
    """A Bintray name given another one in Artifactory; ``kind`` is ``member``, ``team`` or
    ``access_key``."""

    kind: str
    source: str
    name: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": self.kind, "bintray": self.source, "artifactory": self.name,
                "reason": self.reason}  # fmt: skip

    def line(self) -> str:
        """One human line."""
        principal = "group" if self.kind == "team" else "user"
        return (
            f"{_KIND_TEXT[self.kind]} {self.source!r} becomes {principal} {self.name!r} "
            f"({self.reason})"
        )


def valid_name(name: str) -> str:
    """``name`` lower-cased, without accents, other disallowed characters as ``-``."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return _OUTSIDE.sub("-", plain).strip("-") or "principal"


def _reason(source: str, base: str, name: str) -> str:
    parts = []
    if source.lower() != source and valid_name(source.lower()) == base:
        parts.append("JFrog Cloud names are lower case")
    else:
        parts.append("JFrog Cloud names allow only a-z, 0-9 and . _ - @ +")
    if name != base:
        parts.append(f"{base!r} was taken")
    return "; ".join(parts)


def map_names(
    kind: str, names: Iterable[str], *, taken: Collection[str] = ()
) -> tuple[dict[str, str], list[Rename]]:
    """Valid, distinct names for ``names`` (none of them in ``taken``), and the renames."""
    ordered = sorted(set(names))
    used = set(taken)
    mapped: dict[str, str] = {}
    for name in ordered:
        if VALID_NAME.match(name) and name not in used:
            mapped[name] = name
            used.add(name)
    renames = []
    for name in ordered:
        if name in mapped:
            continue
        base = valid_name(name)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        mapped[name] = candidate
        renames.append(Rename(kind, name, candidate, _reason(name, base, candidate)))
    return mapped, renames


def _people(snapshot: OrgSnapshot) -> set[str]:
    names = {m.name for m in snapshot.members}
    names.update(member for team in snapshot.teams for member in team.members)
    if snapshot.owner:
        names.add(snapshot.owner)
    return names


def _apply(names: Mapping[str, str], values: Iterable[str]) -> tuple[str, ...]:
    return tuple(names.get(v, v) for v in values)


def rename_principals(snapshot: OrgSnapshot) -> tuple[OrgSnapshot, tuple[Rename, ...]]:
    """``snapshot`` with members, teams and access keys under valid names, and the renames.

    Members and access keys share the user namespace: an access key whose id is a member's
    name keeps pointing at the same name (the keys planner reports that clash); any other key
    is kept clear of every member's name.
    """
    people, renames = map_names("member", _people(snapshot))
    key_ids = {k.id for k in snapshot.access_keys} - set(people)
    keys, key_renames = map_names("access_key", key_ids, taken=set(people.values()))
    keys.update({k: people[k] for k in {k.id for k in snapshot.access_keys} & set(people)})
    teams, team_renames = map_names("team", {t.name for t in snapshot.teams})
    renamed = replace(
        snapshot,
        owner=people.get(snapshot.owner, snapshot.owner),
        members=tuple(OrgMember(people[m.name], m.role) for m in snapshot.members),
        teams=tuple(
            OrgTeam(
                teams[t.name],
                _apply(people, t.members),
                t.permissions,
                bintray_name=t.name if teams[t.name] != t.name else "",
            )
            for t in snapshot.teams
        ),
        access_keys=tuple(replace(k, id=keys[k.id]) for k in snapshot.access_keys),
        entitlements=tuple(
            replace(e, access_keys=_apply(keys, e.access_keys)) for e in snapshot.entitlements
        ),
    )
    return renamed, tuple(renames + key_renames + team_renames)
