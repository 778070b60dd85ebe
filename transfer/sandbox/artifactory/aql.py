"""``POST /api/search/aql``: the subset of the Artifactory Query Language a migration reads with.

Supported: the ``items`` domain only, ``items.find(<criteria>)`` followed by any of
``.include("field", ...)``, ``.sort({"$asc"|"$desc": ["field", ...]})``, ``.offset(n)`` and
``.limit(n)``.  Criteria are JSON objects whose keys are ANDed; ``$and``/``$or`` take a list of
criteria; a field compares equal to a plain value or through an operator object (``$eq``,
``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$match``, ``$nmatch`` — wildcards ``*`` and
``?``).  Dates (``created``, ``modified``, ``updated``) compare as instants, whatever ISO form
the query uses.

The answer is ``{"results": [...], "range": {"start_pos", "end_pos", "total"[, "limit"]}}``,
as the real service gives it.  Like Artifactory: only files are found unless the criteria name
``type`` (``file``, ``folder``, ``any``); a file at the repository root has path ``"."``; the
default fields are repo, path, name, type, size, created, created_by, modified, modified_by and
updated; ``include("property")`` adds ``properties`` as ``[{"key", "value"}]`` (one entry per
value, absent when the item has none); a non-admin sees only items it may read.

Guesses (documented here, checked against JFrog's AQL page and jfrog-client-go's queries):
``range.total`` counts the rows of this answer (not every match); string comparisons use code
point order (a real database uses its collation, but sort and ``$gt`` then agree, which is
all key-based paging needs); an unknown field or domain is a 400 with the standard error body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from aiohttp import web

from .common import ApiError, iso, json_response
from .security import Principal
from .state import State, require_user, state_of
from .tree import Item

__all__ = ["AqlQuery", "parse_aql", "routes", "run_query"]

_DEFAULT_FIELDS = ("repo", "path", "name", "type", "size", "created", "created_by",
                   "modified", "modified_by", "updated")  # fmt: skip
_FIELDS = frozenset({*_DEFAULT_FIELDS, "sha256", "actual_sha1", "actual_md5", "original_sha1",
                     "original_md5", "depth", "property"})  # fmt: skip
_DATES = frozenset({"created", "modified", "updated"})
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
    "$match": lambda a, b: isinstance(a, str) and fnmatchcase(a, str(b)),
    "$nmatch": lambda a, b: not (isinstance(a, str) and fnmatchcase(a, str(b))),
}
_CALL = re.compile(r"\s*\.\s*([a-z]+)\s*\(")


class AqlQuery:
    """A parsed ``items.find(...)`` query."""

    def __init__(
        self,
        criteria: Mapping[str, Any],
        include: tuple[str, ...] = (),
        sort: tuple[str, tuple[str, ...]] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> None:
        self.criteria = criteria
        self.include = include
        self.sort = sort
        self.offset = offset
        self.limit = limit


def _argument(text: str, start: int) -> tuple[str, int]:
    """The text between the ``(`` before ``start`` and its matching ``)``; the index after."""
    depth, index, quoted = 1, start, False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
            if depth == 0:
                return text[start:index], index + 1
        index += 1
    raise ApiError(400, "Failed to parse query: unbalanced parentheses")


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ApiError(400, f"Failed to parse query: {what} is not valid JSON") from None


def _fields(names: list[Any]) -> tuple[str, ...]:
    fields = []
    for name in names:
        base = str(name).split(".", 1)[0] if str(name).startswith("property") else str(name)
        if base not in _FIELDS:
            raise ApiError(400, f"Failed to parse query: unknown field '{name}'")
        fields.append(base)
    return tuple(fields)


def parse_aql(text: str) -> AqlQuery:
    """Parse the subset described in the module docstring; errors are 400 :class:`ApiError`."""
    body = text.strip()
    if not body.startswith("items.find("):
        raise ApiError(400, "Failed to parse query: only items.find(...) is supported here")
    raw, index = _argument(body, len("items.find("))
    criteria = _json(raw, "the criteria") if raw.strip() else {}
    if not isinstance(criteria, dict):
        raise ApiError(400, "Failed to parse query: the criteria must be a JSON object")
    query = AqlQuery(criteria)
    while index < len(body):
        call = _CALL.match(body, index)
        if call is None:
            raise ApiError(400, f"Failed to parse query near {body[index : index + 30]!r}")
        argument, index = _argument(body, call.end())
        name = call.group(1)
        if name == "include":
            query.include = _fields(_json(f"[{argument}]", "include"))
        elif name == "sort":
            order = _json(argument, "sort")
            if (
                not isinstance(order, dict)
                or len(order) != 1
                or not ({"$asc", "$desc"} & set(order))
            ):
                raise ApiError(400, 'Failed to parse query: sort takes {"$asc"|"$desc": [...]}')
            direction, names = next(iter(order.items()))
            query.sort = (direction, _fields(list(names)))
        elif name in ("limit", "offset"):
            if not argument.strip().isdigit():
                raise ApiError(400, f"Failed to parse query: {name} takes a number")
            setattr(query, name, int(argument))
        elif name != "distinct":
            raise ApiError(400, f"Failed to parse query: unknown function '{name}'")
    return query


def _instant(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(400, f"Failed to parse query: '{value}' is not a date") from None


def _row(repo: str, item: Item) -> dict[str, Any]:
    """Every field of one item, by AQL name."""
    parent, _, name = item.path.rpartition("/")
    blob = item.blob
    row: dict[str, Any] = {
        "repo": repo,
        "path": parent or ".",
        "name": name,
        "type": "folder" if item.folder else "file",
        "size": 0 if blob is None else blob.size,
        "created": item.created,
        "created_by": item.created_by,
        "modified": item.last_modified,
        "modified_by": item.modified_by,
        "updated": item.last_updated,
        "depth": item.path.count("/") + 1,
    }
    if blob is not None:
        row.update(
            sha256=blob.sha256,
            actual_sha1=blob.sha1,
            actual_md5=blob.md5,
            original_sha1=item.original.get("sha1", blob.sha1),
            original_md5=item.original.get("md5", blob.md5),
        )
    return row


def _holds(row: Mapping[str, Any], field: str, wanted: Any) -> bool:
    value = row.get(field)
    operators = wanted if isinstance(wanted, dict) else {"$eq": wanted}
    for operator, operand in operators.items():
        if operator not in _COMPARE:
            raise ApiError(400, f"Failed to parse query: unknown operator '{operator}'")
        if field in _DATES and operator not in ("$match", "$nmatch"):
            operand = _instant(operand)
        if not _COMPARE[operator](value, operand):
            return False
    return True


def _matches(row: Mapping[str, Any], criteria: Mapping[str, Any]) -> bool:
    for key, wanted in criteria.items():
        if key in ("$and", "$or"):
            parts = wanted if isinstance(wanted, list) else [wanted]
            results = (_matches(row, part) for part in parts)
            if not (all(results) if key == "$and" else any(results)):
                return False
        elif key == "type":
            if wanted != "any" and not _holds(row, key, wanted):
                return False
        elif key.startswith("@"):
            continue  # property criteria: not part of the subset
        elif key not in _FIELDS:
            raise ApiError(400, f"Failed to parse query: unknown field '{key}'")
        elif not _holds(row, key, wanted):
            return False
    return True


def _names_type(criteria: Mapping[str, Any]) -> bool:
    for key, value in criteria.items():
        if key == "type":
            return True
        if key in ("$and", "$or"):
            parts = value if isinstance(value, list) else [value]
            if any(isinstance(p, dict) and _names_type(p) for p in parts):
                return True
    return False


def _candidates(
    state: State, principal: Principal, criteria: Mapping[str, Any]
) -> Iterator[tuple[str, Item]]:
    repo = criteria.get("repo")
    keys = [repo] if isinstance(repo, str) else sorted(state.repos.trees)
    for key in keys:
        tree = state.repos.trees.get(key)
        if tree is None:
            continue
        rclass = state.repos.rclass(key) or "local"
        for item in tree.walk(""):
            if state.security.allowed(
                principal, "read", key, rclass, item.path, folder=item.folder
            ):
                yield key, item


def _output(row: Mapping[str, Any], item: Item, fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        if field == "property":
            pairs = [
                {"key": k, "value": v} for k, values in item.properties.items() for v in values
            ]
            if pairs:
                out["properties"] = pairs
        elif field in row:
            out[field] = iso(row[field]) if field in _DATES else row[field]
    return out


def run_query(state: State, principal: Principal, query: AqlQuery) -> dict[str, Any]:
    """The JSON answer to ``query`` as ``principal`` sees the emulator's content."""
    criteria = dict(query.criteria)
    if not _names_type(criteria):
        criteria["type"] = "file"
    found = [
        (row, item)
        for key, item in _candidates(state, principal, criteria)
        for row in (_row(key, item),)
        if _matches(row, criteria)
    ]
    if query.sort is not None:
        direction, names = query.sort
        found.sort(
            key=lambda pair: tuple(pair[0].get(n) or "" for n in names),
            reverse=direction == "$desc",
        )
    end = None if query.limit is None else query.offset + query.limit
    page = found[query.offset : end]
    fields = query.include or _DEFAULT_FIELDS
    window: dict[str, Any] = {
        "start_pos": query.offset,
        "end_pos": query.offset + len(page),
        "total": len(page),
    }
    if query.limit is not None:
        window["limit"] = query.limit
    return {"results": [_output(row, item, fields) for row, item in page], "range": window}


async def search(request: web.Request) -> web.Response:
    """POST /api/search/aql with a ``text/plain`` query."""
    principal = require_user(request)
    query = parse_aql(await request.text())
    return json_response(run_query(state_of(request), principal, query))


def routes(prefix: str) -> list[web.RouteDef]:
    """The AQL route."""
    return [web.post(f"{prefix}/api/search/aql", search)]
