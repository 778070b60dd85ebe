"""Product EULAs, the EULA of a file and signed EULAs (reference 8; Enterprise).

A EULA is what a downloader must accept, so the EULAs themselves are readable by anyone; who
signed what is the organisation's business, so signed EULAs need an admin.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from transfer.sandbox.bintray.lookup import file_visible, find_repo, require_org
from transfer.sandbox.bintray.state import (
    ApiError,
    Route,
    json_response,
    require_admin,
    rights,
    state,
)
from transfer.sandbox.orgdata import Eula, Organization, Product, SignedEula

__all__ = ["ROUTES"]

_ENTERPRISE = "This resource is only available for enterprise subjects."


def _summary(eula: Eula) -> dict[str, Any]:
    return {"name": eula.name, "created": eula.created, "versions": list(eula.versions)}


def _full(eula: Eula) -> dict[str, Any]:
    return {**_summary(eula), "syntax": eula.syntax, "content": eula.content}


def _product(request: web.Request) -> Product:
    org = state(request).org
    require_org(org, request.match_info["subject"])
    if not org.premium:
        raise ApiError(403, _ENTERPRISE)
    name = request.match_info["product"]
    product = org.products.get(name)
    if product is None:
        raise ApiError(404, f"Product '{name}' was not found")
    return product


async def list_eulas(request: web.Request) -> web.Response:
    """GET /products/:s/:p/eulas → ``[{"name","created","versions"}]``."""
    return json_response([_summary(e) for e in _product(request).eulas])


async def get_eula(request: web.Request) -> web.Response:
    """GET /products/:s/:p/eulas/:eula → adds ``syntax`` and ``content``."""
    name = request.match_info["eula"]
    for eula in _product(request).eulas:
        if eula.name == name:
            return json_response(_full(eula))
    raise ApiError(404, f"EULA '{name}' was not found")


def _eula_for(org: Organization, repo: str, package: str, version: str) -> Eula | None:
    """The EULA of the first product holding the package whose EULA names the version."""
    for product in org.products.values():
        if f"{repo}/{package}" not in product.packages:
            continue
        for eula in product.eulas:
            if version in eula.versions:
                return eula
    return None


async def file_eula(request: web.Request) -> web.Response:
    """GET /file_eula/:s/:r/:file_path → the EULA covering the file, 404 when none does."""
    st = state(request)
    who = rights(request)
    repo = find_repo(st.org, who, request.match_info["subject"], request.match_info["repo"])
    path = request.match_info["path"]
    ref = st.files.get(repo, path)
    if ref is None or not file_visible(ref.version, ref.file, who.can_publish(repo)):
        raise ApiError(404, f"File '{path}' was not found")
    eula = _eula_for(st.org, repo.name, ref.package.name, ref.version.name)
    if eula is None:
        raise ApiError(404, f"File '{path}' has no EULA")
    return json_response(_full(eula))


def _wanted(request: web.Request, signed: SignedEula) -> bool:
    """The ``from``/``to`` (ISO timestamps, inclusive), ``username`` and ``eula_name`` filters."""
    query = request.query
    return (
        signed.date_signed >= query.get("from", "")
        and ("to" not in query or signed.date_signed <= query["to"])
        and query.get("username", signed.username) == signed.username
        and query.get("eula_name", signed.eula_name) == signed.eula_name
    )


async def signed_eulas(request: web.Request) -> web.Response:
    """GET /products/:s/:p/signed_eulas (``_all`` for every product), admin →
    ``{product: [{"date_signed","username","product_version_name","eula_name"}]}``."""
    org = state(request).org
    require_org(org, request.match_info["subject"])
    require_admin(request)
    if request.match_info["product"] == "_all":
        if not org.premium:
            raise ApiError(403, _ENTERPRISE)
        products = list(org.products.values())
    else:
        products = [_product(request)]
    return json_response(
        {
            product.name: [
                {
                    "date_signed": s.date_signed,
                    "username": s.username,
                    "product_version_name": s.product_version_name,
                    "eula_name": s.eula_name,
                }
                for s in product.signed_eulas
                if _wanted(request, s)
            ]
            for product in products
        }
    )


_PRODUCT = "/products/{subject}/{product}"

ROUTES: list[Route] = [
    ("GET", _PRODUCT + "/eulas", list_eulas),
    ("GET", _PRODUCT + "/eulas/{eula}", get_eula),
    ("GET", _PRODUCT + "/signed_eulas", signed_eulas),
    ("GET", "/file_eula/{subject}/{repo}/{path:.+}", file_eula),
]
