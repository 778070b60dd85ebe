"""Every local file the tool reads or writes, at the edges of a file system: devices where a
file is expected, read-only and full file systems, text that is not UTF-8, a byte-order mark,
settings whose memory formula exceeds the machine. Each ends in one ``transfer: error:`` line
with exit 2 and no traceback, and nothing half-written is left where a complete file belongs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from reliability_kit import mount, read_only_mount, run_cli, write_cli_config

from transfer.config_load import memory_advice
from transfer.errors import ConfigError
from transfer.sandbox.serve import Sandbox
from transfer.settings import TransferSettings

pytestmark = pytest.mark.anyio

ENV = {**os.environ, "AF_PASS": "artifactory-secret-0001"}
OFFLINE = """\
[source]
api_url = "http://127.0.0.1:9"
download_url = "http://127.0.0.1:9"
subject = "acme"

[target]
url = "http://127.0.0.1:9/artifactory"
user = "admin"
password = "${AF_PASS}"

[store]
path = "state.db"
"""


@contextmanager
def tmpfs(path: Path, *, read_only: bool = False, full: bool = False) -> Iterator[Path]:
    """A small tmpfs at ``path``, then remounted read-only or filled up (root only)."""
    if os.geteuid() != 0 or not read_only_mount(path):
        pytest.skip("needs root with mount rights")
    try:
        if full:
            with pytest.raises(OSError):
                _fill(path / "filler")
        if read_only:
            assert mount("-o", "remount,ro", str(path))
        yield path
    finally:
        mount("-u", "-l", str(path))


def _fill(path: Path) -> None:
    with path.open("wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()


def _offline_config(workdir: Path, extra: str = "") -> Path:
    config = workdir / "transfer.toml"
    config.write_text(OFFLINE + extra)
    return config


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/full"])
async def test_a_device_as_the_config_is_refused_before_reading(device: str) -> None:
    result = await run_cli("status", "-c", device, env=ENV, deadline=20)
    result.assert_clean_error(2, device, "device")


async def test_a_config_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    config = tmp_path / "transfer.toml"
    config.write_bytes(b"\xef\xbb\xbf" + OFFLINE.encode())
    result = await run_cli("status", "-c", str(config), env=ENV)
    # the config was read: what is missing is the store, which no run has made yet
    result.assert_clean_error(2, "no migration state")


async def test_a_secret_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    text = OFFLINE.replace('password = "${AF_PASS}"', 'password_file = "/dev/zero"')
    config = tmp_path / "transfer.toml"
    config.write_text(text)
    result = await run_cli("status", "-c", str(config), env=ENV, deadline=20)
    result.assert_clean_error(2, "target.password_file", "/dev/zero", "device")


async def test_signed_urls_input_that_is_not_utf8(tmp_path: Path) -> None:
    config = _offline_config(tmp_path)
    wanted = tmp_path / "wanted.txt"
    wanted.write_bytes(b"repo/ok.jar\nrepo/caf\xe9.jar\n")
    result = await run_cli("signed-urls", "-c", str(config), str(wanted), env=ENV)
    result.assert_clean_error(2, "not UTF-8", "line 2")
    result = await run_cli("signed-urls", "-c", str(config), "/dev/zero", env=ENV, deadline=20)
    result.assert_clean_error(2, "/dev/zero", "device")


# --------------------------------------------------------------------------- writing


async def test_log_json_to_a_device_or_a_full_disk(tmp_path: Path) -> None:
    config = _offline_config(tmp_path)
    result = await run_cli("status", "-c", str(config), "--log-json", "/dev/full", env=ENV)
    result.assert_clean_error(2, "/dev/full", "device")
    with tmpfs(tmp_path / "full", full=True) as full:
        log = full / "log.jsonl"
        result = await run_cli("status", "-c", str(config), "--log-json", str(log), env=ENV)
        result.assert_clean_error(2, str(log), "no space left")
    with tmpfs(tmp_path / "ro", read_only=True) as read_only:
        log = read_only / "log.jsonl"
        result = await run_cli("status", "-c", str(config), "--log-json", str(log), env=ENV)
        result.assert_clean_error(2, str(log), "read-only")


async def test_report_into_a_read_only_or_full_directory(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
        assert result.code == 0, result.err[-2000:]
        with tmpfs(tmp_path / "ro", read_only=True) as read_only:
            result = await run_cli("report", "-c", str(config), "--out", str(read_only), env=env)
            result.assert_clean_error(2, "report directory", "read-only")
        with tmpfs(tmp_path / "full", full=True) as full:
            result = await run_cli("report", "-c", str(config), "--out", str(full), env=env)
            result.assert_clean_error(2, "no space left")
            # nothing that looks complete, no temporary file left behind
            assert sorted(p.name for p in full.iterdir()) == ["filler"]


@pytest.mark.parametrize("where", ["device", "read-only"])
async def test_a_secrets_file_that_cannot_be_written_stops_before_anything(
    tmp_path: Path, where: str
) -> None:
    async with Sandbox("tiny") as sandbox:
        with tmpfs(tmp_path / "ro", read_only=True) as read_only:
            secrets = "/dev/full" if where == "device" else str(read_only / "secrets.json")
            config, env = write_cli_config(sandbox, tmp_path)
            config.write_text(config.read_text().replace(str(tmp_path / "secrets.json"), secrets))
            result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
            result.assert_clean_error(2, secrets, "device" if where == "device" else "read-only")
        # checked before the first request: no repository, user or file was created
        writes = [r for r in sandbox.artifactory.request_log if r.method in ("PUT", "POST")]
        assert writes == []
    assert os.stat("/dev/full").st_mode & 0o777 == 0o666  # never chmod-ed


async def test_a_read_only_report_directory_stops_migrate_before_anything(
    tmp_path: Path,
) -> None:
    async with Sandbox("tiny") as sandbox:
        with tmpfs(tmp_path / "ro", read_only=True) as read_only:
            config, env = write_cli_config(sandbox, tmp_path)
            config.write_text(config.read_text().replace(str(tmp_path / "report"), str(read_only)))
            result = await run_cli("migrate", "-c", str(config), "--no-progress", env=env)
            result.assert_clean_error(2, "report directory", "read-only")
        writes = [r for r in sandbox.artifactory.request_log if r.method in ("PUT", "POST")]
        assert writes == []


# --------------------------------------------------------------------------- extreme settings


def test_the_memory_formula_is_checked_against_the_machine() -> None:
    gib = 1024**3
    assert memory_advice(TransferSettings(), 16 * gib) is None
    with pytest.raises(ConfigError, match=r"needs about 415\.2 GiB"):
        memory_advice(TransferSettings(workers=100_000), 16 * gib)
    with pytest.raises(ConfigError, match=r"chunk_size 2048 MiB needs about 32\.0 GiB"):
        memory_advice(TransferSettings(workers=8, chunk_size=2 * gib), 16 * gib)
    warning = memory_advice(TransferSettings(workers=600), 8 * gib)
    assert warning is not None
    assert "more than a quarter" in warning


async def test_extreme_workers_are_refused_on_the_command_line(tmp_path: Path) -> None:
    config = _offline_config(tmp_path)
    result = await run_cli("migrate", "-c", str(config), "--workers", "100000000", env=ENV)
    result.assert_clean_error(2, "transfer.workers = 100000000", "GiB")


# --------------------------------------------------------------------------- proxies


async def test_https_proxy_and_no_proxy_are_honoured(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = write_cli_config(sandbox, tmp_path)
        dead = "http://127.0.0.1:9"
        through_proxy = {**env, "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "NO_PROXY": ""}
        result = await run_cli("plan", "-c", str(config), "--no-progress", env=through_proxy)
        assert result.code == 3, result.err[-2000:]  # every request went to the dead proxy
        assert "Traceback" not in result.err
        bypassed = {**through_proxy, "NO_PROXY": "127.0.0.1"}
        result = await run_cli("plan", "-c", str(config), "--no-progress", env=bypassed)
        assert result.code == 0, result.err[-2000:]
