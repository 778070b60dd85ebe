"""Artifact content (§2): deploy (PUT, checksum deploy, folders), download (GET/HEAD), delete."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from .antpath import any_match
from .common import ApiError, json_response
from .maven import checksum_target, parse_checksum_value, pom_checked, pom_problem
from .properties import PropertyError, parse_matrix, validate_property
from .security import Principal
from .signed_urls import check_signature
from .state import BYTES_OUT, State, base, deny, principal_of, state_of
from .storage import Blob, PendingBlob
from .tree import Item, PathConflict, RepoTree, normalize_path
from .views import created_json, locate, mime_type

__all__ = ["ContentPath", "parse_content_path", "routes"]

PREFIX = "/artifactory/"
ITEM_CREATED = "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
_READ_CHUNK = 1 << 20


class ContentPath:
    """``/artifactory/{repo}/{path}`` split into decoded parts and matrix properties."""

    __slots__ = ("folder", "matrix", "path", "repo")

    def __init__(self, repo: str, path: str, matrix: dict[str, list[str]], folder: bool) -> None:
        self.repo = repo
        self.path = path
        self.matrix = matrix
        self.folder = folder


def parse_content_path(raw_path: str) -> ContentPath:
    """Split a raw (percent-encoded) request path; ``;k=v`` may follow any segment."""
    tail = raw_path[len(PREFIX) :] if raw_path.startswith(PREFIX) else raw_path.lstrip("/")
    names: list[str] = []
    params: list[str] = []
    for segment in tail.split("/"):
        name, *matrix = segment.split(";")
        names.append(unquote(name))
        params.extend(matrix)
    repo = names[0]
    folder = len(names) > 1 and names[-1] == ""
    try:
        path = normalize_path("/".join(names[1:]))
    except ValueError:
        raise ApiError(400, "Illegal path") from None
    return ContentPath(repo, path, parse_matrix(params), folder or not path)


def clean_path(raw_path: str) -> str:
    """Decoded request path without matrix parameters (what the request log records)."""
    return "/".join(unquote(segment.split(";", 1)[0]) for segment in raw_path.split("/"))


def _request_checksums(request: web.Request) -> dict[str, str]:
    sent: dict[str, str] = {}
    for algorithm in ("sha1", "sha256", "md5"):
        value = request.headers.get(f"X-Checksum-{algorithm.capitalize()}")
        if value:
            sent[algorithm] = value.strip().lower()
    generic = request.headers.get("X-Checksum", "").strip().lower()
    by_length = _LENGTHS.get(len(generic))
    if by_length is not None and by_length not in sent:
        sent[by_length] = generic
    return sent


def _millis(request: web.Request, header: str) -> float | None:
    value = request.headers.get(header)
    if value is None:
        return None
    try:
        return int(value) / 1000
    except ValueError:
        raise ApiError(400, f"{header} must be epoch milliseconds") from None


def _new_item(request: web.Request, state: State, path: str, blob: Blob | None) -> Item:
    """A file item with timestamps/users, honouring the admin-only override headers."""
    principal = principal_of(request)
    now = state.clock()
    created, modified = now, now
    created_by = modified_by = principal.name
    last_modified = request.headers.get("Last-Modified")
    if last_modified:
        with contextlib.suppress(TypeError, ValueError):
            modified = parsedate_to_datetime(last_modified).timestamp()
    if principal.admin:
        created = _millis(request, "X-Artifactory-Created") or created
        modified = _millis(request, "X-Artifactory-Last-Modified") or modified
        created_by = request.headers.get("X-Artifactory-Created-By", created_by)
        modified_by = request.headers.get("X-Artifactory-Modified-By", modified_by)
    return Item(path, False, created, created_by, modified, modified_by, now, blob=blob)


def _target(state: State, repo: str) -> tuple[str, str, dict[str, Any]]:
    """The local repository a deploy lands in (a virtual's default deployment repository)."""
    config = state.repos.configs.get(repo)
    if config is None or config["rclass"] == "remote":
        raise ApiError(404, f"Repository {repo} not found or is not a local repository")
    if config["rclass"] == "virtual":
        deploy_to = config.get("defaultDeploymentRepo")
        if not deploy_to or deploy_to not in state.repos.configs:
            raise ApiError(
                405,
                f"Virtual repository {repo} has no default deployment repository",
                headers={"Allow": "GET"},
            )
        return _target(state, deploy_to)
    if config.get("blackedOut"):
        raise ApiError(404, f"Repository {repo} is blacked out")
    return repo, config["rclass"], config


def _apply_matrix(
    state: State,
    principal: Principal,
    target: tuple[str, str],
    item: Item,
    matrix: dict[str, list[str]],
) -> None:
    if not matrix or not state.security.allowed(
        principal, "annotate", target[0], target[1], item.path, folder=item.folder
    ):
        return  # Artifactory silently drops properties the caller may not set
    for key, values in matrix.items():
        item.properties[key] = list(values)
    item.properties_modified = state.clock()


async def _body(request: web.Request, state: State) -> AsyncIterator[bytes]:
    if state.faults is not None:
        async for chunk in state.faults.read_request_body(request):
            yield chunk
        return
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            return
        yield chunk


async def put(request: web.Request) -> web.StreamResponse:
    """PUT /{repo}/{path}[;k=v]: 201 ItemCreated; 404/405 repo, 409 pattern or checksum, 403."""
    state = state_of(request)
    principal = principal_of(request)
    target = parse_content_path(request.rel_url.raw_path)
    key, rclass, config = _target(state, target.repo)
    tree = state.repos.trees[key]
    path = target.path
    for name, values in target.matrix.items():
        try:
            validate_property(name, values, state.options.max_property_value_length)
        except PropertyError as exc:
            raise ApiError(400, str(exc)) from None
    includes = [p for p in str(config.get("includesPattern") or "**/*").split(",") if p.strip()]
    excludes = [p for p in str(config.get("excludesPattern") or "").split(",") if p.strip()]
    if path and (not any_match(includes, path, folder=target.folder) or any_match(excludes, path)):
        raise ApiError(
            409, f"Path {path} is not accepted by repository {key} include/exclude patterns"
        )
    if not state.security.allowed(principal, "write", key, rclass, path, folder=target.folder):
        raise deny(
            request, f"User {principal.name} is not permitted to deploy '{path}' into '{key}'"
        )
    if target.folder:
        return _put_folder(request, state, (key, rclass), tree, target)
    checksum_deploy = request.headers.get("X-Checksum-Deploy", "").lower() == "true"
    described = checksum_target(path)
    if described is not None and not checksum_deploy:
        return await _put_checksum(request, state, (key, config), tree, described)
    sent = _request_checksums(request)
    try:
        tree.check_file_path(path)
    except PathConflict as exc:
        raise ApiError(409, f"Cannot deploy file '{path}': {exc}") from None
    existing = tree.get(path)
    if existing is not None and existing.blob is not None:
        same = sent.get("sha1") == existing.blob.sha1 or sent.get("sha256") == existing.blob.sha256
        if not same and not state.security.allowed(principal, "delete", key, rclass, path):
            raise deny(
                request, f"User {principal.name} needs delete permission to overwrite '{path}'"
            )
    check_pom = pom_checked(config, path)
    if checksum_deploy:
        blob = _checksum_blob(state, sent)
        stored = state.blobs.path(blob.sha1)
        if check_pom and stored is not None:
            _refuse_bad_pom(path, stored.read_bytes())
        state.blobs.acquire(blob.sha1)
        item = _new_item(request, state, path, blob)
        item.original = {"sha1": blob.sha1, "md5": blob.md5, "sha256": blob.sha256}
    else:
        chunks = _body(request, state)
        if check_pom:  # a POM is small: read it whole, check it, then store it
            data = b"".join([chunk async for chunk in chunks])
            _refuse_bad_pom(path, data)
            chunks = _replay(data)
        pending = await state.blobs.ingest(chunks)
        blob = pending.blob
        actual = {"sha1": blob.sha1, "sha256": blob.sha256, "md5": blob.md5}
        wrong = {a: v for a, v in sent.items() if v != actual[a]}
        if wrong and config.get("checksumPolicyType") != "server-generated-checksums":
            state.blobs.discard(pending)
            detail = ", ".join(f"{a} client '{v}' server '{actual[a]}'" for a, v in wrong.items())
            raise ApiError(409, f"Checksum policy rejected the artifact '{key}:{path}': {detail}")
        _refuse_past_limits(state, pending)
        if state.repos.trees.get(key) is not tree:
            state.blobs.discard(pending)
            raise ApiError(404, f"Repository {key} was deleted during the upload")
        try:
            tree.check_file_path(path)
        except PathConflict as exc:
            state.blobs.discard(pending)
            raise ApiError(409, f"Cannot deploy file '{path}': {exc}") from None
        state.blobs.commit(pending)
        item = _new_item(request, state, path, blob)
        item.original = dict(sent)
    old = tree.put_file(item)
    if old is not None:
        item.properties = old.properties
        item.properties_modified = old.properties_modified
        if old.blob is not None:
            state.blobs.release(old.blob.sha1)
    _apply_matrix(state, principal, (key, rclass), item, target.matrix)
    body = created_json(base(request), key, item, nulls=state.options.response_nulls)
    return json_response(
        body, status=201, content_type=ITEM_CREATED, headers={"Location": body["downloadUri"]}
    )


def _refuse_past_limits(state: State, pending: PendingBlob) -> None:
    """413 for an upload past the per-file limit or the storage quota (the body was read, as
    Artifactory reads it before it knows its size; nothing is stored)."""
    blob, options = pending.blob, state.options
    if options.max_file_size is not None and blob.size > options.max_file_size:
        state.blobs.discard(pending)
        raise ApiError(
            413,
            f"File size {blob.size} bytes exceeds the maximum upload size of "
            f"{options.max_file_size} bytes",
        )
    quota = options.storage_quota_bytes
    if quota is None or state.blobs.find(sha1=blob.sha1) is not None:
        return  # the same binary is stored once: linking it costs nothing
    used = state.blobs.used_bytes()
    if used + blob.size > quota:
        state.blobs.discard(pending)
        raise ApiError(
            413,
            f"Datastore disk space is too high: Max limit: 100%, "
            f"Used: {100 * used // max(quota, 1)}%, Total: {quota} bytes, Used: {used} bytes, "
            f"Available: {max(quota - used, 0)} bytes",
        )


async def _replay(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _refuse_bad_pom(path: str, data: bytes) -> None:
    problem = pom_problem(path, data)
    if problem is not None:
        raise ApiError(409, problem)


async def _put_checksum(
    request: web.Request,
    state: State,
    repo: tuple[str, dict[str, Any]],
    tree: RepoTree,
    described: tuple[str, str],
) -> web.Response:
    """PUT of ``X.sha1`` / ``X.md5`` / ``X.sha256``: check it against the stored ``X``.

    201 when it matches (recorded as ``X``'s original checksum) or when the repository trusts
    only server checksums; 409 on a different or malformed value under the default
    ``client-checksums`` policy; 404 when ``X`` is not stored. Nothing is stored as a file.
    """
    key, config = repo
    artifact, algorithm = described
    body = b"".join([chunk async for chunk in _body(request, state)])
    item = tree.get(artifact)
    if item is None or item.blob is None:
        raise ApiError(404, f"Target file to set checksum on doesn't exist: {key}:{artifact}")
    actual = getattr(item.blob, algorithm)
    value = parse_checksum_value(body, algorithm)
    if value == actual:
        item.original[algorithm] = actual
    elif config.get("checksumPolicyType") != "server-generated-checksums":
        raise ApiError(
            409,
            f"Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the {algorithm} "
            f"checksum of '{key}:{artifact}': client '{value or body[:80]!r}' server '{actual}'",
        )
    return web.Response(status=201)


def _checksum_blob(state: State, sent: dict[str, str]) -> Blob:
    missing = state.options.checksum_deploy_missing_status
    sha256, sha1 = sent.get("sha256"), sent.get("sha1")
    if sha256 is None and sha1 is None:
        raise ApiError(missing, "Checksum deploy failed: no SHA-1 or SHA-256 checksum header")
    for name, value, length in (("SHA-256", sha256, 64), ("SHA-1", sha1, 40)):
        if value is not None and (len(value) != length or not _HEX.match(value)):
            raise ApiError(missing, f"Checksum deploy failed: invalid {name} value '{value}'")
    blob = state.blobs.find(sha256=sha256) if sha256 else state.blobs.find(sha1=sha1)
    if blob is None:
        algorithm, value = ("sha256", sha256) if sha256 else ("sha1", sha1)
        raise ApiError(404, f"Checksum deploy failed. No existing file with {algorithm}: {value}")
    return blob


def _put_folder(
    request: web.Request,
    state: State,
    target: tuple[str, str],
    tree: RepoTree,
    content: ContentPath,
) -> web.Response:
    principal = principal_of(request)
    try:
        item = tree.put_folder(content.path, state.clock(), principal.name)
    except PathConflict as exc:
        raise ApiError(409, f"Cannot create folder '{content.path}': {exc}") from None
    _apply_matrix(state, principal, target, item, content.matrix)
    body = created_json(base(request), target[0], item, nulls=state.options.response_nulls)
    return json_response(
        body, status=201, content_type=ITEM_CREATED, headers={"Location": body["uri"]}
    )


def _read_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            yield chunk


def _folder_listing(repo: str, tree: RepoTree, path: str) -> web.Response:
    lines = []
    for name in tree.child_names(path):
        slash = "/" if tree.items[f"{path}/{name}" if path else name].folder else ""
        lines.append(f'<a href="{quote(name)}{slash}">{name}{slash}</a>\n')
    title = f"Index of {repo}/{path}"
    html = (
        f"<html><head><title>{title}</title></head><body><pre>{''.join(lines)}</pre></body></html>"
    )
    return web.Response(text=html, content_type="text/html")


CDN_URL_VALIDITY = 300
"""Seconds a CDN redirect's signed URL stays valid (guessed; CloudFront's are short-lived)."""


def _cdn_redirected(state: State, repo: str) -> bool:
    config = state.repos.configs.get(repo) or {}
    return state.options.cloud and config.get("cdnRedirect") is True


def _cdn_redirect(request: web.Request, repo: str, path: str) -> web.Response:
    """302 to a short-lived signed URL, as JFrog Cloud sends a CDN-redirected repository's
    downloads to its CDN (HEAD is answered directly: guessed)."""
    state = state_of(request)
    now = state.clock()
    sig = state.signer.sign(
        repo, path, issuer=principal_of(request).name, now=now, expires_at=now + CDN_URL_VALIDITY
    )
    location = f"{base(request)}/{quote(repo)}/{quote(path)}?sig={sig}"
    return web.Response(status=302, headers={"Location": location})


async def get(request: web.Request) -> web.StreamResponse:
    """GET/HEAD /{repo}/{path}: bytes with X-Checksum-* headers; ``?sig=`` needs no credentials."""
    state = state_of(request)
    principal = principal_of(request)
    content = parse_content_path(request.rel_url.raw_path)
    found = locate(state, content.repo, content.path)
    if found is None:
        raise ApiError(404, f"Repository {content.repo} not found")
    if "sig" in request.query:
        if not check_signature(request, content.repo, content.path):
            raise ApiError(401, "Signed URL is invalid or has expired")
    elif not state.security.allowed(
        principal,
        "read",
        found.key,
        found.rclass,
        content.path,
        folder=found.item is None or found.item.folder,
    ):
        raise deny(request, f"User {principal.name} is not permitted to read '{content.path}'")
    item = found.item
    described = checksum_target(content.path) if item is None else None
    if described is not None:
        return _checksum_file(found.tree.get(described[0]), described[1])
    if item is None:
        raise ApiError(404, "File not found.")
    if item.folder:
        return _folder_listing(found.key, found.tree, item.path)
    if (
        request.method == "GET"
        and "sig" not in request.query
        and _cdn_redirected(state, content.repo)
    ):
        return _cdn_redirect(request, content.repo, content.path)
    assert item.blob is not None
    blob_path = state.blobs.path(item.blob.sha1)
    if blob_path is None:
        raise ApiError(404, "Sink mode: the emulator keeps only sizes and checksums, not content")
    response = web.StreamResponse(
        headers={
            "X-Checksum-Sha1": item.blob.sha1,
            "X-Checksum-Sha256": item.blob.sha256,
            "X-Checksum-Md5": item.blob.md5,
            "X-Artifactory-Filename": quote(item.name),
            "Last-Modified": formatdate(item.last_modified, usegmt=True),
            "ETag": item.blob.sha1,
            "Content-Type": mime_type(item.name),
        }
    )
    response.content_length = item.blob.size
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()
        return response
    request[BYTES_OUT] = item.blob.size
    if state.faults is not None:
        return await state.faults.stream_response(request, response, _read_file(blob_path))
    for chunk in _read_file(blob_path):
        await response.write(chunk)
    await response.write_eof()
    return response


def _checksum_file(artifact: Item | None, algorithm: str) -> web.Response:
    """GET/HEAD of ``X.sha1`` etc.: the stored ``X``'s checksum as text, as Artifactory does."""
    if artifact is None or artifact.blob is None:
        raise ApiError(404, "File not found.")
    return web.Response(text=getattr(artifact.blob, algorithm), content_type="text/plain")


async def delete(request: web.Request) -> web.Response:
    """DELETE /{repo}/{path}: 204; needs delete permission; 404 when absent."""
    state = state_of(request)
    principal = principal_of(request)
    content = parse_content_path(request.rel_url.raw_path)
    config = state.repos.configs.get(content.repo)
    tree = state.repos.trees.get(content.repo)
    if config is None or tree is None:
        raise ApiError(404, f"Repository {content.repo} not found")
    if not state.security.allowed(
        principal, "delete", content.repo, config["rclass"], content.path, folder=True
    ):
        raise deny(request, f"User {principal.name} is not permitted to delete '{content.path}'")
    if tree.get(content.path) is None:
        raise ApiError(404, "Could not locate artifact")
    for item in tree.remove(content.path):
        if item.blob is not None:
            state.blobs.release(item.blob.sha1)
    return web.Response(status=204)


def routes() -> list[web.RouteDef]:
    """Catch-all content routes; register after every /api route."""
    return [
        web.put("/artifactory/{tail:.+}", put),
        web.get("/artifactory/{tail:.+}", get, allow_head=True),
        web.delete("/artifactory/{tail:.+}", delete),
    ]
