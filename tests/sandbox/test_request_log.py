"""The emulators' request log stays bounded however long they serve: it keeps the newest
requests, counts them all, and the Bintray event stream keeps following it once it is full."""

from __future__ import annotations

import anyio
import orjson
import pytest
from artifactory_helpers import running as running_artifactory
from bintray_org import JAR_PATH, ORG, auth
from bintray_org import running as running_bintray

from transfer.sandbox.bintray.options import BintrayOptions
from transfer.sandbox.requestlog import REQUEST_LOG_LIMIT, RequestLog

pytestmark = pytest.mark.anyio


def test_the_log_keeps_the_newest_requests_and_counts_them_all() -> None:
    log = RequestLog(limit=3)
    for number in range(10):
        log.add("PUT" if number % 2 else "GET", f"/f{number}", 201)
    assert len(log) == 3
    assert log.limit == 3
    assert log.recorded == 10
    assert [r.path for r in log] == ["/f7", "/f8", "/f9"]
    assert log.count("PUT") == 2
    assert log.count(path="/f0") == 0


def test_since_follows_positions_across_forgetting_and_clearing() -> None:
    log = RequestLog(limit=3)
    log.add("GET", "/a", 200)
    position = log.recorded
    assert log.since(position) == []
    log.add("GET", "/b", 200)
    assert [r.path for r in log.since(position)] == ["/b"]
    for name in "cdefg":
        log.add("GET", f"/{name}", 200)
    assert [r.path for r in log.since(position)] == ["/e", "/f", "/g"]  # /b../d forgotten
    assert [r.path for r in log.since(0)] == ["/e", "/f", "/g"]
    position = log.recorded
    log.clear()
    log.add("GET", "/h", 200)
    assert len(log) == 1
    assert log.recorded == 8
    assert [r.path for r in log.since(position)] == ["/h"]


def test_a_log_keeps_at_least_one_request() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RequestLog(limit=0)
    assert RequestLog().limit == REQUEST_LOG_LIMIT


async def test_an_emulator_log_stays_bounded_while_it_serves() -> None:
    async with running_artifactory(request_log_limit=5) as a:
        for _ in range(40):
            async with a.session.get(a.art("api/system/ping")) as resp:
                assert resp.status == 200
        log = a.emulator.request_log
        assert len(log) == 5
        assert log.recorded == 40
        assert log.count("GET", "/artifactory/api/system/ping", 200) == 5


async def test_the_event_stream_goes_on_once_the_log_is_full() -> None:
    options = BintrayOptions(stream_keepalive=0.02, redirect_downloads=False)
    async with running_bintray(options=options, request_log_limit=2) as h:
        stream = await h.session.get(h.api_url(f"/stream/{ORG}"), headers=auth("adam"))
        try:
            assert stream.status == 200
            for _ in range(6):  # three times what the log keeps
                async with h.session.get(h.dl_url(f"/{ORG}/releases/{JAR_PATH}")) as resp:
                    assert resp.status == 200
                    await resp.read()
                line = b"\r\n"
                with anyio.fail_after(5):
                    while line == b"\r\n":  # keep-alives until the download's event
                        line = await stream.content.readline()
                event = orjson.loads(line)
                assert (event["type"], event["path"]) == ("download", JAR_PATH)
        finally:
            stream.close()
        assert len(h.emulator.request_log) == 2
        assert h.emulator.request_log.recorded >= 6
