"""Copy and move items: ``POST /api/copy|move/{repo}/{path}?to=/{repo}/{path}[&dry=1]``.

Not part of a migration, but what its users do next (a copy of a linked package, a promotion)
and what published clients offer. As the REST docs describe it, copy behaves like a file
system: a target that does not exist receives the source (renamed); an existing target folder
receives it underneath. Binaries are shared, properties travel with the items. The answer is
``{"messages": [{"level": "INFO", "message": "copying a:x to b:y completed successfully,
N artifacts and M folders were copied"}]}``.

Guesses, as no public source settles them: a missing source or target repository is 404 with
the standard error body; folders are counted without the repository root; package types are
not compared (the UI offers only compatible targets, the REST docs say nothing).
"""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from .common import ApiError, json_response
from .state import State, deny, principal_of, state_of
from .tree import Item, PathConflict, RepoTree, normalize_path

__all__ = ["routes"]


def _split(spec: str) -> tuple[str, str]:
    repo, _, path = unquote(spec).strip("/").partition("/")
    try:
        return repo, normalize_path(path)
    except ValueError:
        raise ApiError(400, "Illegal path") from None


def _tree(state: State, repo: str) -> tuple[RepoTree, str]:
    config = state.repos.configs.get(repo)
    tree = state.repos.trees.get(repo)
    if config is None or tree is None:
        raise ApiError(404, f"Repository {repo} not found")
    return tree, str(config["rclass"])


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


async def _copy_or_move(request: web.Request, move: bool) -> web.Response:
    state = state_of(request)
    principal = principal_of(request)
    src_repo, src_path = _split(request.match_info["tail"])
    target = request.query.get("to")
    if not target:
        raise ApiError(400, "Target path ('to') is mandatory")
    dst_repo, dst_path = _split(target)
    src_tree, src_class = _tree(state, src_repo)
    dst_tree, dst_class = _tree(state, dst_repo)
    source = src_tree.get(src_path)
    if source is None:
        raise ApiError(404, f"Could not find item at '{src_repo}:{src_path}'")
    need = "delete" if move else "read"
    if not state.security.allowed(principal, need, src_repo, src_class, src_path, folder=True):
        raise deny(request, f"User {principal.name} may not {need} '{src_repo}:{src_path}'")
    existing = dst_tree.get(dst_path)
    if existing is not None and existing.folder and source.path:
        dst_path = _join(dst_path, source.name)
    if not state.security.allowed(principal, "write", dst_repo, dst_class, dst_path, folder=True):
        raise deny(request, f"User {principal.name} may not deploy to '{dst_repo}:{dst_path}'")
    if dst_repo == src_repo and (dst_path + "/").startswith(src_path + "/" if src_path else ""):
        raise ApiError(409, "Cannot copy or move an item into itself")
    items = list(src_tree.walk(src_path, include_self=True))
    files = [i for i in items if not i.folder]
    folders = [i for i in items if i.folder and i.path]
    if request.query.get("dry", "0") not in ("1", "true"):
        _place(state, src_path, dst_path, items, dst_tree, principal.name)
        if move:
            for item in src_tree.remove(src_path):
                if item.blob is not None:
                    state.blobs.release(item.blob.sha1)
    verb, done = ("moving", "moved") if move else ("copying", "copied")
    message = (
        f"{verb} {src_repo}:{src_path} to {dst_repo}:{dst_path} completed successfully, "
        f"{len(files)} artifacts and {len(folders)} folders were {done}"
    )
    return json_response({"messages": [{"level": "INFO", "message": message}]})


def _place(state: State, src: str, dst: str, items: list[Item], tree: RepoTree, user: str) -> None:
    now = state.clock()
    for item in items:
        rel = item.path[len(src) :].lstrip("/") if src else item.path
        path = _join(dst, rel) if rel else dst
        try:
            if item.folder:
                if path:
                    tree.put_folder(path, now, user)
                continue
            copy = Item(path, False, now, user, item.last_modified, user, now, blob=item.blob)
            copy.original = dict(item.original)
            copy.properties = {k: list(v) for k, v in item.properties.items()}
            assert item.blob is not None
            state.blobs.acquire(item.blob.sha1)
            old = tree.put_file(copy)
        except PathConflict as exc:
            raise ApiError(409, f"Cannot place '{path}': {exc}") from None
        if old is not None and old.blob is not None:
            state.blobs.release(old.blob.sha1)


async def copy_item(request: web.Request) -> web.Response:
    """POST /api/copy/{repo}/{path}?to=/{repo}/{path}[&dry=1]."""
    return await _copy_or_move(request, move=False)


async def move_item(request: web.Request) -> web.Response:
    """POST /api/move/{repo}/{path}?to=/{repo}/{path}[&dry=1]."""
    return await _copy_or_move(request, move=True)


def routes(prefix: str) -> list[web.RouteDef]:
    """Copy and move routes."""
    return [
        web.post(f"{prefix}/api/copy/{{tail:.+}}", copy_item),
        web.post(f"{prefix}/api/move/{{tail:.+}}", move_item),
    ]
