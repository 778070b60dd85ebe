"""Storage API (§3, §4): item info, ``?list``, properties (query grammar and JSON PATCH)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .common import ApiError, iso, json_response
from .properties import PropertyError, parse_property_list, validate_property
from .security import V1_LETTERS
from .state import State, base, deny, principal_of, state_of
from .tree import Item, normalize_path
from .views import Located, file_info_json, folder_info_json, locate, storage_uri

__all__ = ["routes"]

FILE_INFO = "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"
FOLDER_INFO = "application/vnd.org.jfrog.artifactory.storage.FolderInfo+json"
FILE_LIST = "application/vnd.org.jfrog.artifactory.storage.FileList+json"
ITEM_PROPERTIES = "application/vnd.org.jfrog.artifactory.storage.ItemProperties+json"
NO_PROPERTIES = "No properties could be found."
NOT_FOUND = "Unable to find item"
_LETTERS = {action: letter for letter, action in V1_LETTERS.items()}


def _split(tail: str) -> tuple[str, str]:
    repo, _, rest = tail.strip("/").partition("/")
    try:
        return repo, normalize_path(rest)
    except ValueError:
        raise ApiError(400, "Illegal path") from None


def _find(request: web.Request, action: str, *, missing: str = NOT_FOUND) -> tuple[Located, Item]:
    """The item named by the URL tail, after checking ``action`` on it."""
    state = state_of(request)
    repo, path = _split(request.match_info["tail"])
    found = locate(state, repo, path)
    if found is None or found.item is None:
        raise ApiError(404, missing)
    principal = principal_of(request)
    if not state.security.allowed(
        principal, action, found.key, found.rclass, path, folder=found.item.folder
    ):
        raise deny(request, f"User {principal.name} is not permitted to {action} '{repo}/{path}'")
    return found, found.item


def _int_param(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"Parameter '{name}' must be an integer, got '{value}'") from None


def _readable(state: State, request: web.Request, found: Located, item: Item) -> bool:
    return state.security.allowed(
        principal_of(request), "read", found.key, found.rclass, item.path, folder=item.folder
    )


async def storage_get(request: web.Request) -> web.Response:
    """GET /api/storage/{repo}/{path}: info, or by query key list, lastModified, properties,
    permissions, stats (first present wins)."""
    for key, handler in (
        ("list", _list),
        ("lastModified", _last_modified),
        ("properties", _get_properties),
        ("permissions", _permissions),
        ("stats", _stats),
    ):
        if key in request.query:
            return handler(request)
    found, item = _find(request, "read")
    state = state_of(request)
    if item.folder:
        children = [
            (child.name, child.folder)
            for name in found.tree.child_names(item.path)
            if (child := found.tree.items[f"{item.path}/{name}" if item.path else name])
            and _readable(state, request, found, child)
        ]
        body = folder_info_json(base(request), found.key, item, children)
        return json_response(body, content_type=FOLDER_INFO)
    return json_response(file_info_json(base(request), found.key, item), content_type=FILE_INFO)


def _list(request: web.Request) -> web.Response:
    principal = principal_of(request)
    if principal.anonymous:
        raise ApiError(403, "This resource is available to authenticated users only")
    deep = _int_param(request, "deep", 0)
    depth = _int_param(request, "depth", -1)
    list_folders = _int_param(request, "listFolders", 0)
    md_timestamps = _int_param(request, "mdTimestamps", 0)
    include_root = _int_param(request, "includeRootPath", 0)
    found, folder = _find(request, "read")
    if not folder.folder:
        raise ApiError(400, f"Expected a folder but found a file: {folder.path}")
    state = state_of(request)
    prefix = len(folder.path) + 1 if folder.path else 0
    files: list[dict[str, Any]] = []
    if include_root and list_folders:
        files.append(
            {"uri": "/", "size": -1, "lastModified": iso(folder.last_modified), "folder": True}
        )
    for item in found.tree.walk(folder.path):
        relative = item.path[prefix:]
        level = relative.count("/") + 1
        if (not deep and level > 1) or (deep and depth > 0 and level > depth):
            continue
        if (item.folder and not list_folders) or not _readable(state, request, found, item):
            continue
        entry: dict[str, Any] = {
            "uri": f"/{relative}",
            "size": -1 if item.blob is None else item.blob.size,
            "lastModified": iso(item.last_modified),
            "folder": item.folder,
        }
        if item.blob is not None:
            entry["sha1"] = item.blob.sha1
            entry["sha2"] = item.blob.sha256
        if md_timestamps and item.properties_modified is not None:
            entry["mdTimestamps"] = {"properties": iso(item.properties_modified)}
        files.append(entry)
    body = {
        "uri": storage_uri(base(request), found.key, folder.path),
        "created": iso(state.clock()),
        "files": files,
    }
    return json_response(body, content_type=FILE_LIST)


def _last_modified(request: web.Request) -> web.Response:
    found, item = _find(request, "read")
    latest = max(
        (i for i in found.tree.walk(item.path, include_self=True) if not i.folder),
        key=lambda i: i.last_modified,
        default=item,
    )
    return json_response(
        {
            "uri": storage_uri(base(request), found.key, latest.path),
            "lastModified": iso(latest.last_modified),
        }
    )


def _stats(request: web.Request) -> web.Response:
    found, item = _find(request, "read")
    return json_response(
        {
            "uri": storage_uri(base(request), found.key, item.path),
            "downloadCount": 0,
            "lastDownloaded": 0,
            "remoteDownloadCount": 0,
            "remoteLastDownloaded": 0,
        }
    )


def _permissions(request: web.Request) -> web.Response:
    found, item = _find(request, "manage")
    state = state_of(request)
    principals: dict[str, dict[str, set[str]]] = {"users": {}, "groups": {}}
    for target in state.security.targets.values():
        section = target.repo
        if section is None or not section.covers(
            found.key, found.rclass, item.path, folder=item.folder
        ):
            continue
        for kind, grants in (("users", section.users), ("groups", section.groups)):
            for name, actions in grants.items():
                principals[kind].setdefault(name, set()).update(
                    _LETTERS[a] for a in actions if a in _LETTERS
                )
    body = {
        "uri": storage_uri(base(request), found.key, item.path),
        "principals": {k: {n: sorted(v) for n, v in g.items()} for k, g in principals.items()},
    }
    return json_response(body)


def _get_properties(request: web.Request) -> web.Response:
    found, item = _find(request, "read", missing=NO_PROPERTIES)
    wanted = [k for k in request.query.get("properties", "").split(",") if k]
    props = {k: list(v) for k, v in item.properties.items() if not wanted or k in wanted}
    if not props:
        raise ApiError(404, NO_PROPERTIES)
    body = {"properties": props, "uri": storage_uri(base(request), found.key, item.path)}
    return json_response(body, content_type=ITEM_PROPERTIES, headers={"Cache-Control": "no-store"})


def _targets(request: web.Request, found: Located, item: Item, recursive_param: str) -> list[Item]:
    state = state_of(request)
    recursive = (
        _int_param(request, recursive_param, 1)
        if recursive_param in request.query
        else _int_param(request, "recursive", 1)
    )
    items = list(found.tree.walk(item.path, include_self=True)) if recursive else [item]
    principal = principal_of(request)
    return [
        i
        for i in items
        if state.security.allowed(
            principal, "annotate", found.key, found.rclass, i.path, folder=i.folder
        )
    ]


async def set_properties(request: web.Request) -> web.Response:
    """PUT /api/storage/{repo}/{path}?properties=...&recursive=: 204; values replaced per key."""
    if "properties" not in request.query:
        raise ApiError(400, "The properties parameter is mandatory")
    state = state_of(request)
    try:
        props = parse_property_list(
            request.query["properties"], state.options.max_property_value_length
        )
    except PropertyError as exc:
        raise ApiError(400, str(exc)) from None
    if not props:
        raise ApiError(400, "No valid properties were given")
    found, item = _find(request, "annotate")
    now = state.clock()
    for target in _targets(request, found, item, "recursive"):
        for key, values in props.items():
            target.properties[key] = list(values)
        target.properties_modified = now
    return web.Response(status=204)


async def delete_properties(request: web.Request) -> web.Response:
    """DELETE /api/storage/{repo}/{path}?properties=k1,k2&recursive=: 204."""
    if "properties" not in request.query:
        raise ApiError(400, "The properties parameter is mandatory")
    keys = [k.strip() for k in request.query["properties"].split(",") if k.strip()]
    found, item = _find(request, "annotate")
    now = state_of(request).clock()
    for target in _targets(request, found, item, "recursive"):
        # every key is popped: any() over a generator would stop at the first one removed
        removed = [k for k in keys if target.properties.pop(k, None) is not None]
        if removed:
            target.properties_modified = now
    return web.Response(status=204)


def _patch_values(key: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, bool | int | float):
            out.append(json.dumps(v))
        else:
            raise ApiError(400, f"Property '{key}' values must be strings")
    return out or None


async def patch_metadata(request: web.Request) -> web.Response:
    """PATCH /api/metadata/{repo}/{path} {"props": {...}}: 2xx (``metadata_patch_status``);
    null (or []) removes a key."""
    state = state_of(request)
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        raise ApiError(400, "Malformed JSON body") from None
    if not isinstance(body, dict) or not isinstance(body.get("props"), dict):
        raise ApiError(400, 'Body must be {"props": {...}}')
    changes: dict[str, list[str] | None] = {}
    for key, value in body["props"].items():
        values = _patch_values(key, value)
        try:
            validate_property(key, values or [], state.options.max_property_value_length)
        except PropertyError as exc:
            raise ApiError(400, str(exc)) from None
        changes[key] = values
    found, item = _find(request, "annotate")
    now = state.clock()
    for target in _targets(request, found, item, "recursiveProperties"):
        for key, values in changes.items():
            if values is None:
                target.properties.pop(key, None)
            else:
                target.properties[key] = values
        target.properties_modified = now
    return web.Response(status=state.options.metadata_patch_status)


def routes(prefix: str) -> list[web.RouteDef]:
    """Storage and metadata routes."""
    return [
        web.get(f"{prefix}/api/storage/{{tail:.+}}", storage_get),
        web.put(f"{prefix}/api/storage/{{tail:.+}}", set_properties),
        web.delete(f"{prefix}/api/storage/{{tail:.+}}", delete_properties),
        web.patch(f"{prefix}/api/metadata/{{tail:.+}}", patch_metadata),
    ]
