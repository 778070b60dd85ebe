"""Repository configurations (§5): create with PUT, partial update with POST, get, list, delete."""

from __future__ import annotations

import copy
import re
from typing import Any

from aiohttp import web

from .common import ApiError, json_object, json_response, text_response
from .options import ArtifactoryOptions
from .state import base, deny, principal_of, require_admin, state_of
from .tree import RepositoryStore, RepoTree

__all__ = ["PACKAGE_TYPES", "default_config", "display_package_type", "routes"]

PACKAGE_TYPES = frozenset(
    "alpine cargo composer bower chef cocoapods conan cran debian docker helm helmoci "
    "huggingfaceml gems gitlfs go gradle ivy maven npm nuget oci opkg pub puppet pypi rpm sbt "
    "swift terraform vagrant yum generic conda ansible p2 terraformbackend vcs".split()
)
_DISPLAY = {
    "gitlfs": "GitLfs",
    "cocoapods": "CocoaPods",
    "nuget": "NuGet",
    "huggingfaceml": "HuggingFaceML",
    "helmoci": "HelmOCI",
    "oci": "OCI",
    "terraformbackend": "TerraformBackend",
    "vcs": "VCS",
    "p2": "P2",
    "pypi": "Pypi",
    "cran": "CRAN",
}
RCLASSES = ("local", "remote", "virtual", "federated")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,63}$")
_RESERVED = frozenset(
    {"api", "ui", "list", "repo", "webapp", "favicon.ico", "access", "artifactory"}
)
_LAYOUTS = {
    "maven": "maven-2-default",
    "gradle": "maven-2-default",
    "ivy": "ivy-default",
    "sbt": "sbt-default",
    "npm": "npm-default",
    "nuget": "nuget-default",
}

_COMMON: dict[str, Any] = {
    "description": "",
    "notes": "",
    "includesPattern": "**/*",
    "excludesPattern": "",
    "propertySets": [],
    "blackedOut": False,
    "xrayIndex": False,
    "priorityResolution": False,
    "archiveBrowsingEnabled": False,
    "downloadRedirect": False,
    "cdnRedirect": False,
    "enableComposerSupport": False,
    "enableNuGetSupport": False,
    "enableGemsSupport": False,
    "enableNpmSupport": False,
    "enableBowerSupport": False,
    "enableCocoaPodsSupport": False,
    "enableConanSupport": False,
    "enableDebianSupport": False,
    "enablePypiSupport": False,
    "enablePuppetSupport": False,
    "enableDockerSupport": False,
    "enableVagrantSupport": False,
    "enableGitLfsSupport": False,
    "forceNugetAuthentication": False,
}
_LOCAL: dict[str, Any] = {
    "handleReleases": True,
    "handleSnapshots": True,
    "maxUniqueSnapshots": 0,
    "maxUniqueTags": 0,
    "checksumPolicyType": "client-checksums",
    "snapshotVersionBehavior": "unique",
    "suppressPomConsistencyChecks": False,
    "debianTrivialLayout": False,
    "calculateYumMetadata": False,
    "yumRootDepth": 0,
    "enableFileListsIndexing": False,
    "dockerApiVersion": "V2",
    "blockPushingSchema1": False,
    "cargoInternalIndex": False,
    "cargoAnonymousAccess": False,
}
_REMOTE: dict[str, Any] = {
    "username": "",
    "offline": False,
    "hardFail": False,
    "storeArtifactsLocally": True,
    "socketTimeoutMillis": 15000,
    "retrievalCachePeriodSecs": 7200,
    "missedRetrievalCachePeriodSecs": 1800,
    "unusedArtifactsCleanupPeriodHours": 0,
    "assumedOfflinePeriodSecs": 300,
    "shareConfiguration": False,
    "synchronizeProperties": False,
    "allowAnyHostAuth": False,
    "enableCookieManagement": False,
    "bypassHeadRequests": False,
}
_VIRTUAL: dict[str, Any] = {
    "repositories": [],
    "artifactoryRequestsCanRetrieveRemoteArtifacts": False,
    "resolveDockerTagsByTimestamp": False,
}
_ENUMS = {
    "checksumPolicyType": ("client-checksums", "server-generated-checksums"),
    "snapshotVersionBehavior": ("unique", "non-unique", "deployer"),
}
_PUBLIC_FIELDS = ("key", "rclass", "packageType", "description")


def display_package_type(package_type: str) -> str:
    """Package type as the repository list prints it (``Generic``, ``Maven``, ``NuGet``)."""
    return _DISPLAY.get(package_type, package_type.capitalize())


def _defaults(rclass: str, package_type: str) -> dict[str, Any]:
    merged = dict(_COMMON)
    merged["repoLayoutRef"] = _LAYOUTS.get(package_type, "simple-default")
    merged.update({"local": _LOCAL, "federated": _LOCAL, "remote": _REMOTE}.get(rclass, _VIRTUAL))
    return copy.deepcopy(merged)


def default_config(key: str, rclass: str, package_type: str) -> dict[str, Any]:
    """A complete configuration with every default filled in."""
    config = _defaults(rclass, package_type)
    config.update(key=key, rclass=rclass, packageType=package_type)
    return config


def _validate(config: dict[str, Any], store: RepositoryStore) -> None:
    template = _defaults(config["rclass"], config["packageType"])
    for name, value in config.items():
        default = template.get(name)
        if default is not None and type(value) is not type(default):
            raise ApiError(400, f"Invalid value for field '{name}'")
        if name in _ENUMS and value not in _ENUMS[name]:
            raise ApiError(400, f"Invalid value '{value}' for field '{name}'")
    if config["rclass"] == "remote" and not config.get("url"):
        raise ApiError(400, "Remote repository URL is mandatory")
    if config["rclass"] == "virtual":
        for member in config["repositories"]:
            if member not in store.configs:
                raise ApiError(400, f"Repository '{member}' does not exist")
        deploy_to = config.get("defaultDeploymentRepo")
        if deploy_to and deploy_to not in config["repositories"]:
            raise ApiError(400, "Default deployment repository must be one of the repositories")


def _plan_features(config: dict[str, Any], options: ArtifactoryOptions) -> None:
    """Accept, but do not keep, what the instance's plan lacks: CDN redirect is a JFrog Cloud
    Enterprise feature and reads back false elsewhere on Cloud (reference §13)."""
    if not options.keeps_cdn_redirect:
        config["cdnRedirect"] = False


async def create(request: web.Request) -> web.Response:
    """PUT /api/repositories/{key}: 200 text, 400 when it exists or the body is invalid."""
    require_admin(request)
    state = state_of(request)
    key = request.match_info["key"]
    body = await json_object(request, "Repository configuration")
    if body.get("key", key) != key:
        raise ApiError(400, "Repository key in the URL does not match the key in the body")
    if not _KEY_RE.match(key) or key.lower() in _RESERVED:
        raise ApiError(400, f"Invalid repository key '{key}'")
    if any(k.lower() == key.lower() for k in state.repos.configs):
        raise ApiError(400, f"Case insensitive repository key already exists: '{key}'")
    rclass = body.get("rclass")
    if rclass not in RCLASSES:
        raise ApiError(
            400, "Repository class (rclass) is mandatory: local, remote, virtual or federated"
        )
    package_type = str(body.get("packageType", "generic")).lower()
    if package_type not in PACKAGE_TYPES:
        raise ApiError(400, f"Unsupported package type '{body.get('packageType')}'")
    config = default_config(key, rclass, package_type)
    config.update(body)
    config.update(key=key, rclass=rclass, packageType=package_type)
    _validate(config, state.repos)
    _plan_features(config, state.options)
    state.repos.configs[key] = config
    if rclass != "virtual":
        state.repos.trees[key] = RepoTree(state.clock(), principal_of(request).name)
    return text_response(f"Successfully created repository '{key}' ")


async def update(request: web.Request) -> web.Response:
    """POST /api/repositories/{key}: partial update, 200 text; class and type are fixed."""
    require_admin(request)
    state = state_of(request)
    key = request.match_info["key"]
    current = state.repos.configs.get(key)
    if current is None:
        raise ApiError(400, f"Repository {key} does not exist")
    body = await json_object(request, "Repository configuration")
    for fixed in ("key", "rclass"):
        if fixed in body and body[fixed] != current[fixed]:
            raise ApiError(400, f"Field '{fixed}' cannot be changed")
    if "packageType" in body and str(body["packageType"]).lower() != current["packageType"]:
        raise ApiError(400, "Package type cannot be changed")
    merged = {**current, **body, "packageType": current["packageType"]}
    _validate(merged, state.repos)
    _plan_features(merged, state.options)
    state.repos.configs[key] = merged
    return text_response(f"Repository {key} update successfully.\n")


async def get(request: web.Request) -> web.Response:
    """GET /api/repositories/{key}: full config for admins, a reduced one for readers."""
    state = state_of(request)
    key = request.match_info["key"]
    config = state.repos.configs.get(key)
    if config is None:
        status = state.options.unknown_repo_status
        raise ApiError(status, f"Repository '{key}' not found")
    principal = principal_of(request)
    if principal.admin:
        return json_response(config)
    if not state.security.actions(principal, key, config["rclass"], "", folder=True):
        raise deny(request, f"User {principal.name} is not permitted to read repository {key}")
    return json_response({f: config[f] for f in _PUBLIC_FIELDS})


async def list_repositories(request: web.Request) -> web.Response:
    """GET /api/repositories[?type=&packageType=&project=]: [{key, type, description, url,
    packageType}] of the repositories the caller has some permission on."""
    state = state_of(request)
    principal = principal_of(request)
    wanted_type = request.query.get("type", "").lower()
    wanted_package = request.query.get("packageType", "").lower()
    project = request.query.get("project")
    root = base(request)
    answer = []
    for rclass in RCLASSES:
        for key, config in state.repos.configs.items():
            if config["rclass"] != rclass or (wanted_type and wanted_type != rclass):
                continue
            if wanted_package and config["packageType"] != wanted_package:
                continue
            if project is not None and config.get("projectKey") != project:
                continue
            if not state.security.actions(principal, key, rclass, "", folder=True):
                continue
            entry = {
                "key": key,
                "type": rclass.upper(),
                "description": config.get("description", ""),
                "url": config["url"] if rclass == "remote" else f"{root}/{key}",
                "packageType": display_package_type(config["packageType"]),
            }
            answer.append(entry)
    return json_response(answer)


async def delete(request: web.Request) -> web.Response:
    """DELETE /api/repositories/{key}: 200 text; all content goes with it."""
    require_admin(request)
    state = state_of(request)
    key = request.match_info["key"]
    if state.repos.configs.pop(key, None) is None:
        raise ApiError(404, f"Repository '{key}' not found")
    tree = state.repos.trees.pop(key, None)
    if tree is not None:
        for item in tree.walk("", include_self=False):
            if item.blob is not None:
                state.blobs.release(item.blob.sha1)
    return text_response(f"Repository '{key}' and all its content have been removed successfully.")


def routes(prefix: str) -> list[web.RouteDef]:
    """The repository routes under the Artifactory prefix."""
    return [
        web.get(f"{prefix}/api/repositories", list_repositories),
        web.put(f"{prefix}/api/repositories/{{key}}", create),
        web.post(f"{prefix}/api/repositories/{{key}}", update),
        web.get(f"{prefix}/api/repositories/{{key}}", get),
        web.delete(f"{prefix}/api/repositories/{{key}}", delete),
    ]
