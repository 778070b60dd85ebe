"""Bad configuration and bad store files through the real command line: each ends in one clear
``transfer: error:`` line, exit code 2 (usage, configuration or store: nothing was attempted),
no traceback, and the migration state already in the store is left exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import anyio
import pytest
from reliability_kit import migrate_once, read_only_mount, run_cli, sandbox_settings
from reliability_kit import mount as remount

from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio

ENV = {**os.environ, "BT_KEY": "bintray-secret-key-0001", "AF_PASS": "artifactory-secret-0001"}

BASE = """\
[source]
api_url = "http://127.0.0.1:9"
download_url = "http://127.0.0.1:9"
subject = "acme"
user = "jdoe"
api_key = "${BT_KEY}"

[target]
url = "http://127.0.0.1:9/artifactory"
user = "admin"
password = "${AF_PASS}"

[transfer]
workers = 2

[store]
path = "state.db"
"""


@pytest.fixture(scope="module")
def populated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding a finished tiny migration (the state that must not be lost)."""
    workdir = tmp_path_factory.mktemp("populated")

    async def build() -> None:
        async with Sandbox("tiny") as sandbox:
            await migrate_once(sandbox_settings(sandbox, workdir))

    anyio.run(build)
    return workdir / "state.db"


def _digest(db: Path) -> str:
    """The store's content (items, meta, side records), independent of file layout."""
    # immutable: also readable on a read-only mount without a -shm file
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        rows = [
            *conn.execute("SELECT * FROM items ORDER BY id"),
            *conn.execute("SELECT * FROM meta ORDER BY key"),
            *conn.execute("SELECT run_id, kind, key, state, detail FROM side ORDER BY kind, key"),
        ]
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def workdir(tmp_path: Path, populated_store: Path) -> Path:
    shutil.copy(populated_store, tmp_path / "state.db")
    return tmp_path


CONFIG_CASES = {
    "malformed_toml": (
        lambda c: c.replace('subject = "acme"', 'subject = "acme'),
        ("invalid TOML", "line 4"),
    ),
    "misspelt_key": (
        lambda c: c.replace("workers = 2", "worker = 2"),
        ("unknown key 'transfer.worker'", "did you mean 'transfer.workers'"),
    ),
    "misspelt_section": (
        lambda c: c.replace("[transfer]", "[transfert]"),
        ("unknown key 'transfert'", "did you mean 'transfer'"),
    ),
    "unknown_key": (
        lambda c: c + 'colour = "blue"\n',
        ("unknown key 'store.colour'", "accepts"),
    ),
    "wrong_type_int": (
        lambda c: c.replace("workers = 2", 'workers = "eight"'),
        ("transfer.workers must be a whole number", '"eight"'),
    ),
    "wrong_type_bool": (
        lambda c: c.replace("[target]\n", '[target]\nverify_tls = "yes"\n'),
        ("target.verify_tls must be true or false",),
    ),
    "wrong_type_table": (
        lambda c: 'transfer = "fast"\n' + c.replace("[transfer]\nworkers = 2", ""),
        ("transfer must be a table",),
    ),
    "bad_size": (
        lambda c: c.replace("workers = 2", 'workers = 2\nchunk_size = "1M"'),
        ("transfer.chunk_size", "ambiguous"),
    ),
    "missing_secret": (
        lambda c: c.replace("${AF_PASS}", "${NOT_SET_ANYWHERE}"),
        ("target.password", "NOT_SET_ANYWHERE is not set"),
    ),
    "no_credential": (
        lambda c: c.replace('password = "${AF_PASS}"\n', ""),
        ("set one of password, token, api_key",),
    ),
    "missing_required": (
        lambda c: c.replace('subject = "acme"\n', ""),
        ("source.subject", "must name the Bintray organisation"),
    ),
    "url_without_scheme": (
        lambda c: c.replace('url = "http://127.0.0.1:9/artifactory"', 'url = "example.jfrog.io"'),
        ("target.url", "has no scheme", "https://example.jfrog.io"),
    ),
    "url_with_credentials": (
        lambda c: c.replace("http://127.0.0.1:9/artifactory", "http://u:p@127.0.0.1:9/artifactory"),
        ("must not contain credentials",),
    ),
    "secret_file_missing": (
        lambda c: c.replace('api_key = "${BT_KEY}"', 'api_key_file = "nope.key"'),
        ("source.api_key_file", "cannot read"),
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
async def test_bad_configuration(workdir: Path, case: str) -> None:
    edit, needles = CONFIG_CASES[case]
    config = workdir / "transfer.toml"
    config.write_text(edit(BASE))
    before = _digest(workdir / "state.db")
    result = await run_cli("migrate", "-c", str(config), "--no-progress", env=ENV)
    line = result.assert_clean_error(2, *needles)
    assert "bintray-secret-key-0001" not in result.out + result.err
    assert "artifactory-secret-0001" not in result.out + result.err
    assert len(line) < 300
    assert _digest(workdir / "state.db") == before


# --------------------------------------------------------------------------- store files


def _corrupt(db: Path) -> None:
    with db.open("r+b") as handle:
        handle.write(b"this is not a database" * 10)


def _newer(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()


def _foreign(db: Path) -> None:
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()


STORE_CASES = {
    "corrupt": (_corrupt, ("not a valid SQLite database",)),
    "newer_schema": (_newer, ("schema version 99", "newer than this transfer")),
    "not_a_store": (_foreign, ("not a transfer checkpoint store",)),
}


@pytest.mark.parametrize("case", list(STORE_CASES))
@pytest.mark.parametrize("command", ["migrate", "status"])
async def test_bad_store_file(workdir: Path, case: str, command: str) -> None:
    spoil, needles = STORE_CASES[case]
    db = workdir / "state.db"
    spoil(db)
    before = db.read_bytes()
    config = workdir / "transfer.toml"
    config.write_text(BASE)
    result = await run_cli(command, "-c", str(config), "--no-progress", env=ENV)
    result.assert_clean_error(2, *needles)
    assert db.read_bytes() == before  # never "repaired" by overwriting


async def test_store_locked_by_another_process(workdir: Path) -> None:
    db = workdir / "state.db"
    before = _digest(db)
    config = workdir / "transfer.toml"
    config.write_text(BASE)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = await run_cli("migrate", "-c", str(config), "--no-progress", env=ENV)
        result.assert_clean_error(2, "locked by another process", "is another run using it")
        # a reader is not blocked: status works while the lock is held (WAL)
        status = await run_cli("status", "-c", str(config), env=ENV)
        assert status.code == 0, status.err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _digest(db) == before


async def test_store_read_only(workdir: Path) -> None:
    mount = workdir / "ro"
    config = workdir / "transfer.toml"
    if os.geteuid() == 0:
        if not read_only_mount(mount):
            pytest.skip("root without mount rights: cannot make a read-only store")
        try:
            shutil.copy(workdir / "state.db", mount / "state.db")
            assert remount("-o", "remount,ro", str(mount))
            before = _digest(mount / "state.db")
            config.write_text(BASE.replace('path = "state.db"', f'path = "{mount}/state.db"'))
            result = await run_cli("migrate", "-c", str(config), "--no-progress", env=ENV)
            result.assert_clean_error(2, "read-only")
            assert _digest(mount / "state.db") == before
            status = await run_cli("status", "-c", str(config), env=ENV)
            assert status.code == 0, status.err
        finally:
            remount("-u", "-l", str(mount))
    else:
        mount.mkdir()
        shutil.copy(workdir / "state.db", mount / "state.db")
        (mount / "state.db").chmod(0o444)
        mount.chmod(0o555)
        try:
            config.write_text(BASE.replace('path = "state.db"', f'path = "{mount}/state.db"'))
            result = await run_cli("migrate", "-c", str(config), "--no-progress", env=ENV)
            result.assert_clean_error(2, "read-only")
        finally:
            mount.chmod(0o755)
