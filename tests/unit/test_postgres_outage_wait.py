"""How the PostgreSQL store waits out a lost server (no server needed: the decision alone)."""

from __future__ import annotations

import asyncpg
import pytest

from transfer.checkpoint.postgres import PostgresBackend, _NoAnswer
from transfer.errors import StoreUnreachable


def _backend(now: list[float], told: list[str], outage_timeout: float = 60.0) -> PostgresBackend:
    return PostgresBackend(
        "postgresql://migrator@db.example.com/transfer",
        password=None,
        readonly=False,
        schema=None,
        pool_size=2,
        connect_timeout=1.0,
        lock_poll=0.1,
        outage_timeout=outage_timeout,
        on_outage=told.append,
        clock=lambda: now[0],
    )


def test_a_lost_server_is_told_once_and_waited_for_until_the_timeout() -> None:
    now, told = [100.0], []
    backend = _backend(now, told)
    lost = ConnectionRefusedError(111, "Connect call failed")
    backend._lost(1, 0.1, lost)
    now[0] = 150.0
    backend._lost(2, 0.2, lost)  # still within store.outage_timeout: keep waiting
    assert len(told) == 1
    assert told[0].startswith("lost the connection to the PostgreSQL store")
    assert "db.example.com" in told[0]
    assert "up to 60 s (store.outage_timeout)" in told[0]
    now[0] = 161.0
    with pytest.raises(StoreUnreachable, match=r"store.outage_timeout\): the run stops") as gone:
        backend._lost(3, 0.4, lost)
    assert gone.value.exit_code == 3


def test_an_unanswered_call_counts_from_when_it_was_sent() -> None:
    now, told = [100.0], []
    backend = _backend(now, told)
    backend._lost(1, 0.1, _NoAnswer(since=70.0, waited=30.0))  # a hung server: 30 s gone
    assert "(no answer for 30 s)" in told[0]
    now[0] = 130.0  # 60 s after the call was sent, though only 30 after it was noticed
    with pytest.raises(StoreUnreachable):
        backend._lost(2, 0.2, ConnectionRefusedError(111, "Connect call failed"))


@pytest.mark.parametrize(
    ("outage_timeout", "patience"), [(300.0, 60.0), (20.0, 20.0), (2.0, 5.0), (0.0, 5.0)]
)
def test_a_call_waits_for_its_answer_a_minute_at_most_and_a_few_seconds_at_least(
    outage_timeout: float, patience: float
) -> None:
    """With ``outage_timeout = 0`` a call still gets its answer (a wait of none would count
    every call as unanswered and stop the run at once)."""
    now, told = [100.0], []
    backend = _backend(now, told, outage_timeout)
    assert backend._patience(100.0) == patience


def test_during_an_outage_a_call_waits_only_for_what_is_left_of_it() -> None:
    now, told = [100.0], []
    backend = _backend(now, told)
    backend._lost(1, 0.1, ConnectionRefusedError(111, "Connect call failed"))
    assert backend._patience(130.0) == 30.0
    assert backend._patience(170.0) == 0.0


def test_a_connection_closed_under_the_join_is_an_unreachable_store_not_a_store_error() -> None:
    """The server shutting down while a worker joins the run breaks the connection under its
    transaction: asyncpg says so with an InterfaceError. Exit 3 (try again once the server is
    back), as when the server refuses the connection, not exit 2 (a store to repair); seen
    when a PostgreSQL restart met a worker's start (tests/reliability/test_torture_workers)."""
    backend = _backend([100.0], [])
    closed = asyncpg.exceptions.InterfaceError(
        "cannot call Transaction.__aexit__(): the underlying connection is closed"
    )
    error = backend._error(closed)
    assert isinstance(error, StoreUnreachable)
    assert error.exit_code == 3
    assert str(error).startswith("cannot reach the PostgreSQL store postgresql://migrator@")
    # a statement the server refuses is still the store's error, whenever it comes
    refused = backend._error(asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'))
    assert not isinstance(refused, StoreUnreachable)
    assert refused.exit_code == 2
