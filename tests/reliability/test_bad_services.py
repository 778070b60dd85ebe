"""Services that cannot be used, through the real command line: unreachable, TLS that fails,
refused credentials, an Artifactory that is too old or answers HTML, a Bintray API that answers
something other than JSON. Each ends in one clear line, exit code 3, no traceback, and the items
already in the store are left as they were. TLS verification is on unless ``--insecure``."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from checksum_files import is_checksum_file
from reliability_kit import migrate_once, run_cli, sandbox_settings, store_rows, write_cli_config

from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio

_FAST_RETRIES = "\n[transfer]\nmax_attempts = 2\nbackoff_base = 0.05\nbackoff_max = 0.1\n"


def _items_digest(db: Path) -> str:
    return hashlib.sha256(repr(store_rows(db)).encode()).hexdigest()


@pytest.fixture
async def migrated(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, Path, dict[str, str]]]:
    """A tiny sandbox already migrated once (state that must survive), with its CLI config."""
    async with Sandbox("tiny") as sandbox:
        # few, short retries: an unreachable host is retried before the run gives up
        config, env = write_cli_config(sandbox, tmp_path, extra=_FAST_RETRIES)
        await migrate_once(sandbox_settings(sandbox, tmp_path))
        yield sandbox, config, env


async def _fails_cleanly(
    config: Path, env: dict[str, str], *needles: str, args: tuple[str, ...] = ()
) -> str:
    db = config.parent / "state.db"
    before = _items_digest(db)
    result = await run_cli("migrate", "-c", str(config), "--no-progress", *args, env=env)
    line = result.assert_clean_error(3, *needles)
    assert _items_digest(db) == before
    for secret in (env["TRANSFER_BINTRAY_API_KEY"], env["TRANSFER_ARTIFACTORY_PASSWORD"]):
        assert secret not in result.out + result.err
    return line


def _point(config: Path, old: str, new: str) -> None:
    config.write_text(config.read_text().replace(old, new))


async def test_unreachable_host(migrated: tuple[Sandbox, Path, dict[str, str]]) -> None:
    sandbox, config, env = migrated
    _point(config, sandbox.endpoints.bintray_api_url, "http://127.0.0.1:9")
    await _fails_cleanly(config, env, "cannot reach host 127.0.0.1:9")


@pytest.mark.parametrize("side", ["bintray", "artifactory"])
async def test_wrong_credentials(migrated: tuple[Sandbox, Path, dict[str, str]], side: str) -> None:
    _, config, env = migrated
    name = f"TRANSFER_{'BINTRAY_API_KEY' if side == 'bintray' else 'ARTIFACTORY_PASSWORD'}"
    env = {**env, name: "not-the-right-secret-42"}
    line = await _fails_cleanly(config, env, "401", "credentials were refused")
    assert "not-the-right-secret-42" not in line


async def test_https_url_on_a_plain_http_port(
    migrated: tuple[Sandbox, Path, dict[str, str]],
) -> None:
    sandbox, config, env = migrated
    url = sandbox.endpoints.artifactory_url
    _point(config, url, url.replace("http://", "https://"))
    await _fails_cleanly(config, env, "TLS")


# --------------------------------------------------------------------------- tiny servers


async def _serve(routes: Callable[[web.Request], web.StreamResponse]) -> TestServer:
    async def handler(request: web.Request) -> web.StreamResponse:
        return routes(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def _old_artifactory(request: web.Request) -> web.StreamResponse:
    if request.path.endswith("/api/system/ping"):
        return web.Response(text="OK")
    return web.json_response({"version": "5.11.0", "revision": "51100"})


def _login_page(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text="<html><head><title>Sign in</title></head><body>SSO</body></html>",
        content_type="text/html",
    )


@pytest.mark.parametrize(
    ("routes", "needles"),
    [
        (_old_artifactory, ("Artifactory 5.11.0 is too old", "6.6.0")),
        (_login_page, ("HTML page", "Artifactory base URL")),
    ],
    ids=["too_old", "html"],
)
async def test_artifactory_that_cannot_be_used(
    migrated: tuple[Sandbox, Path, dict[str, str]],
    routes: Callable[[web.Request], web.StreamResponse],
    needles: tuple[str, ...],
) -> None:
    sandbox, config, env = migrated
    server = await _serve(routes)
    try:
        fake = str(server.make_url("/artifactory"))
        _point(config, sandbox.endpoints.artifactory_url, fake)
        await _fails_cleanly(config, env, *needles)
    finally:
        await server.close()


def _html_bintray(request: web.Request) -> web.StreamResponse:
    return web.Response(text="<html><body>Maintenance</body></html>", content_type="text/html")


def _truncated_bintray(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b'[{"name": "releases", "own', content_type="application/json")


@pytest.mark.parametrize(
    "routes", [_html_bintray, _truncated_bintray], ids=["html", "truncated_json"]
)
async def test_bintray_api_answering_something_else_than_json(
    migrated: tuple[Sandbox, Path, dict[str, str]],
    routes: Callable[[web.Request], web.StreamResponse],
) -> None:
    sandbox, config, env = migrated
    server = await _serve(routes)
    try:
        _point(config, sandbox.endpoints.bintray_api_url, str(server.make_url("")).rstrip("/"))
        await _fails_cleanly(config, env, "expected JSON")
    finally:
        await server.close()


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate: {made.stderr.decode()[:200]}")
    return cert, key


async def test_self_signed_target_needs_the_explicit_flag(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    emulator = ArtifactoryEmulator(ArtifactoryOptions(profile="cloud"))
    runner = web.AppRunner(emulator.app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = runner.addresses[0][1]
        async with Sandbox("tiny") as sandbox:
            config, env = write_cli_config(sandbox, tmp_path, extra=_FAST_RETRIES)
            _point(
                config, sandbox.endpoints.artifactory_url, f"https://127.0.0.1:{port}/artifactory"
            )
            result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
            result.assert_clean_error(3, "TLS certificate", "could not be verified", "--insecure")
            assert not (tmp_path / "report" / "url-map.csv").exists()

            result = await run_cli(
                "migrate", "-c", str(config), "--no-progress", "--insecure", env=env
            )
            assert result.code == 0, result.err[-2000:]
            warnings = [line for line in result.err.splitlines() if "warning" in line]
            assert any("verify_tls = false" in line for line in warnings), result.err
            # every file but the checksum files, which Artifactory serves from their artifact
            files = sum(1 for f in sandbox.org.iter_files() if not is_checksum_file(f.path))
            assert sum(len(emulator.files(repo)) for repo in emulator.repositories()) == files
    finally:
        await runner.cleanup()
        emulator.close()
