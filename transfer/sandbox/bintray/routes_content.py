"""Uploads and publishing (reference 6.3, 5.2).

``PUT /content/:s/:r/:p/:v/:file_path[?publish=1][&override=1]`` and
``POST /content/:s/:r/:p/:v/publish`` (body ``{"discard": bool}``).

Bintray is read-only since 2021 and the migration never writes to it, but the published clients
that organisations used (bintray-python, bintraypy) upload this way, and restore tooling does
too. The bytes are kept in memory by the content source (literal content) and served like
generated ones.
"""

from __future__ import annotations

from aiohttp import web

from transfer.sandbox.bintray.lookup import find_repo
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    flag,
    json_response,
    read_json,
    require_user,
    state,
)
from transfer.sandbox.layouts import iso_ms
from transfer.sandbox.orgdata import BintrayFile, BintrayPackage, BintrayRepo, BintrayVersion

__all__ = ["ROUTES"]


def _publishable(request: web.Request) -> tuple[BintrayRepo, BintrayPackage]:
    """The repository and package of the request, if the caller may publish there."""
    st = state(request)
    who = require_user(request)
    info = request.match_info
    repo = find_repo(st.org, who, info["subject"], info["repo"])
    if not who.can_publish(repo):
        raise ApiError(403, "forbidden")
    package = repo.packages.get(info["package"])
    if package is None:
        raise ApiError(404, f"Package '{info['package']}' was not found")
    return repo, package


async def upload(request: web.Request) -> web.Response:
    """Store the body as a file of the version (created when missing); 201 ``success``.

    Unpublished unless ``publish=1``; an existing path is refused with 409 unless
    ``override=1``. The package must exist (Bintray answers 404 otherwise).
    """
    st = state(request)
    info = request.match_info
    repo, package = _publishable(request)
    path = info["path"]
    existing = st.files.get(repo, path)
    if existing is not None:
        if not flag(request, "override"):
            raise ApiError(
                409, f"Unable to upload files: An artifact with the path '{path}' already exists"
            )
        existing.version.files.remove(existing.file)
    # The stream itself, not request.read(): that stops at aiohttp's 1 MiB body limit.
    data = await request.content.read()
    now = iso_ms(int(st.clock() * 1000))
    publish = flag(request, "publish")
    version = next((v for v in package.versions if v.name == info["version"]), None)
    if version is None:
        # A guess: the version is created by its first upload, as the publishing tools expect.
        version = BintrayVersion(name=info["version"], published=False, created=now, updated=now)
        package.versions.insert(0, version)
    version.published = version.published or publish
    key = f"upload:{repo.name}/{path}"
    st.org.content.add_literal(key, data)
    version.files.append(
        BintrayFile(
            path=path,
            repo=repo.name,
            package=package.name,
            version=version.name,
            owner=st.org.name,
            size=len(data),
            content_key=key,
            created=now,
            published=publish,
        )
    )
    return json_response({"message": "success"}, status=201)


async def publish(request: web.Request) -> web.Response:
    """Publish (or with ``discard`` drop) the version's unpublished files; ``{"files": n}``."""
    _, package = _publishable(request)
    name = request.match_info["version"]
    version = next((v for v in package.versions if v.name == name), None)
    if version is None:
        raise ApiError(404, f"Version '{name}' was not found")
    body = await read_json(request)
    pending = [f for f in version.files if not f.published]
    if isinstance(body, dict) and body.get("discard") is True:
        version.files = [f for f in version.files if f.published]
    else:
        for file in pending:
            file.published = True
        version.published = True
    return json_response({"files": len(pending)})


_VERSION = "/content/{subject}/{repo}/{package}/{version}"

ROUTES: list[Route] = [
    ("POST", _VERSION + "/publish", publish),
    ("PUT", _VERSION + "/{path:.+}", upload),
]
