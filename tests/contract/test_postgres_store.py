"""What only the PostgreSQL store does: versioned schema in a shared server, errors that name the
server but never the password, locks freed with their holder's session, and selection by URL."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from transfer.checkpoint import ItemSpec
from transfer.checkpoint.postgres import PostgresBackend, PostgresStore
from transfer.config_load import settings_from_mapping
from transfer.errors import EXIT_SERVICE, StoreError, StoreUnreachable
from transfer.redaction import Secret, redact_dsn
from transfer.runner import open_store

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
async def schema(dsn: str) -> AsyncIterator[str]:
    name = f"pgtest_{uuid.uuid4().hex[:12]}"
    yield name
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("version", "refusal"),
    [(99, "schema version 99, newer than this transfer"), (0, "0, which this transfer cannot")],
)
async def test_newer_schema_or_one_too_old_to_migrate_is_refused(
    dsn: str, schema: str, version: int, refusal: str
) -> None:
    async with PostgresStore(dsn, schema=schema):
        pass
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'UPDATE "{schema}".schema_version SET version = {version}')
    finally:
        await conn.close()
    with pytest.raises(StoreError, match=refusal):
        async with PostgresStore(dsn, schema=schema):
            pass


async def test_store_of_schema_version_1_is_migrated_when_opened_for_writing(
    dsn: str, schema: str
) -> None:
    async with PostgresStore(dsn, schema=schema) as store:
        await store.upsert_items([ItemSpec("r", "p", "1", f"f{n}.bin", 10) for n in (1, 2)])
    conn = await asyncpg.connect(dsn)
    try:  # back to the version 1 tables
        await conn.execute(
            f'DROP INDEX "{schema}".items_claim_phase; '
            f'ALTER TABLE "{schema}".items DROP COLUMN phase; '
            f'CREATE INDEX items_claim ON "{schema}".items (run_id, state, id); '
            f'UPDATE "{schema}".schema_version SET version = 1'
        )
        with pytest.raises(StoreError, match="schema version 1: run transfer migrate once"):
            async with PostgresStore(dsn, schema=schema, readonly=True):
                pass
        async with PostgresStore(dsn, schema=schema) as store:
            claimed = await store.claim_batch("w", 10, 60)
            assert [(w.spec.path, w.spec.phase) for w in claimed] == [("f1.bin", 0), ("f2.bin", 0)]
        assert await conn.fetchval(f'SELECT version FROM "{schema}".schema_version') == 2
        indexes = await conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = $1", schema)
        assert {"items_claim_phase"} <= {r[0] for r in indexes}
        assert "items_claim" not in {r[0] for r in indexes}
    finally:
        await conn.close()


async def test_foreign_tables_are_not_taken_for_a_store(dsn: str, schema: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; CREATE TABLE "{schema}".items (x int)')
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="not a transfer checkpoint store"):
        async with PostgresStore(dsn, schema=schema):
            pass


async def test_unreachable_server_is_one_line_without_password() -> None:
    url = f"postgresql://migrator@127.0.0.1:{_closed_port()}/transfer"
    with pytest.raises(StoreUnreachable) as info:
        async with PostgresStore(url, password=Secret("hunter2-secret"), connect_timeout=3):
            pass
    message = str(info.value)
    assert message.startswith("cannot reach the PostgreSQL store postgresql://migrator@127.0.0.1")
    assert "hunter2" not in message
    assert "\n" not in message
    assert info.value.exit_code == EXIT_SERVICE


async def test_a_password_quoted_by_the_server_is_hidden(dsn: str) -> None:
    # The server names the missing database in its error; here that name is the password.
    secret = f"s3cret{uuid.uuid4().hex[:6]}"
    url = dsn.rsplit("/", 1)[0] + f"/{secret}"
    with pytest.raises(StoreError) as info:
        async with PostgresStore(url, password=Secret(secret)):
            pass
    assert secret not in str(info.value)
    assert "***" in str(info.value)


def test_redacted_dsn_drops_password_and_query() -> None:
    shown = redact_dsn("postgresql://me:pw@db.example:5433/transfer?sslmode=require")
    assert shown == "postgresql://me@db.example:5433/transfer"


async def test_lock_is_freed_when_its_holder_session_dies(dsn: str, schema: str) -> None:
    async with (
        PostgresStore(dsn, schema=schema) as holder,
        PostgresStore(dsn, schema=schema) as other,
        holder.exclusive("discovery") as held,
    ):
        assert held
        async with other.exclusive("discovery", wait=False) as taken:
            assert not taken
        # what a SIGKILLed worker's connection amounts to, seen from the server
        admin = await asyncpg.connect(dsn)
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted"
            )
        finally:
            await admin.close()
        assert killed == 1
        async with other.exclusive("discovery", wait=False) as freed:
            assert freed


@pytest.mark.parametrize(("failures", "tries"), [(2, 3), (99, 5)])
async def test_a_transaction_aborted_to_break_a_deadlock_is_run_again(
    dsn: str, schema: str, failures: int, tries: int
) -> None:
    backend = PostgresBackend(
        dsn,
        password=None,
        readonly=False,
        schema=schema,
        pool_size=2,
        connect_timeout=10,
        lock_poll=0.25,
    )
    await backend.open("default", 0.0)
    try:
        admin = await asyncpg.connect(dsn)
        try:
            # the server's own deadlock error (SQLSTATE 40P01) for the first `failures` calls
            await admin.execute(
                f'CREATE SEQUENCE "{schema}".tries; '
                f'CREATE FUNCTION "{schema}".flaky() RETURNS int LANGUAGE plpgsql AS $$ BEGIN '
                f"IF nextval('\"{schema}\".tries') <= {failures} THEN "
                "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END IF; "
                "RETURN 7; END $$"
            )
            if failures < tries:
                assert await backend.fetch("SELECT flaky()") == [(7,)]
            else:
                with pytest.raises(StoreError, match="deadlock detected"):
                    await backend.fetch("SELECT flaky()")
            assert await admin.fetchval(f'SELECT last_value FROM "{schema}".tries') == tries
        finally:
            await admin.close()
    finally:
        await backend.close()


async def test_readonly_store_needs_an_existing_run(dsn: str, schema: str) -> None:
    with pytest.raises(StoreError, match="no run named 'nope'"):
        async with (
            PostgresStore(dsn, schema=schema, run="created"),
            PostgresStore(dsn, schema=schema, run="nope", readonly=True),
        ):
            pass


async def test_config_url_selects_the_postgres_store(dsn: str, tmp_path: Path) -> None:
    run = f"selected-{uuid.uuid4().hex[:8]}"
    settings = settings_from_mapping(
        {
            "source": {"subject": "acme", "api_key": Secret("k")},
            "target": {"url": "http://127.0.0.1:1/artifactory", "token": Secret("t")},
            "store": {"url": dsn, "run": run},
        },
        base_dir=tmp_path,
    )
    store = open_store(settings)
    assert isinstance(store, PostgresStore)
    async with store:
        await store.set_meta("k", "v")
    async with open_store(settings, readonly=True) as reader:
        assert await reader.get_meta("k") == "v"
        with pytest.raises(StoreError, match="read-only"):
            await reader.set_meta("k", "w")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "DELETE FROM meta WHERE run_id = (SELECT id FROM runs WHERE name = $1)", run
        )
        await conn.execute("DELETE FROM runs WHERE name = $1", run)
    finally:
        await conn.close()
