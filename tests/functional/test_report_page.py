"""report.html from a real run, and the live server behind ``transfer status --serve``: the page
holds what the store holds, loads nothing from anywhere, shows no secret, and the server hands
out the report's files only, read-only, refreshed from the store."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import time
import uuid
from pathlib import Path

import aiohttp
import anyio
import pytest
from report_pages import DemoReport, live_server, migrated_demo
from sandbox_settings import sandbox_settings

from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import migrate, open_store
from transfer.sandbox.serve import Sandbox
from transfer.settings import StoreSettings


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    return migrated_demo(tmp_path_factory.mktemp("report-page"), profile="tiny")


def test_report_html_holds_the_run_and_nothing_from_outside(run: DemoReport) -> None:
    page = run.paths.html.read_text(encoding="utf-8")
    data = json.loads(run.paths.json.read_text(encoding="utf-8"))
    assert run.paths.html.parent == run.paths.markdown.parent
    # self-contained: no script, style, image or font is fetched from anywhere
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert re.findall(r"<link [^>]*>", page) == ['<link rel="icon" href="data:,">']
    assert "@import" not in page
    # both charts are there, as SVG drawn by matplotlib
    assert page.count("<svg") == 2
    failures = list(csv.reader(run.paths.failures_csv.read_text(encoding="utf-8").splitlines()))[1:]
    assert failures, "the faults should leave failed files"
    assert page.count("<tr data-state=") == len(failures)
    assert f"<b>{data['items']['failed']['items']}</b>failed" in page
    for name in ("failures.csv", "report.json", "report.md", "url-map.csv"):
        assert f'href="{name}"' in page
    # every unmigratable entry and every access key whose holders need a new secret
    for entry in data["side_tasks"]["unmigratable"]:
        assert str(entry["instead"]).split(" ")[0] in page
    keys = [k for k in data["side_tasks"]["access_key"] if k["state"] == "needs_new_secret"]
    assert keys
    for key in keys:
        assert f"<td>{key['key']}</td><td>{key['user']}</td>" in page
    # never a secret: not the generated passwords and tokens, not the configured credentials
    secrets = json.loads(run.settings.security.secrets_file.read_text(encoding="utf-8"))
    generated = [v["password"] for v in secrets.get("users", {}).values() if "password" in v]
    assert generated
    for value in [*generated, run.settings.source.api_key.reveal()]:
        assert value not in page


@pytest.mark.anyio
async def test_the_live_page_is_the_report_refreshed_from_the_store(run: DemoReport) -> None:
    with live_server(run.settings, refresh=0.2) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
                assert response.content_type == "text/html"
                assert "default-src 'none'" in response.headers["Content-Security-Policy"]
                assert response.headers["Cache-Control"] == "no-store"
                page = await response.text()
            assert "live: refreshed every 0.2 s" in page
            assert "<b>0</b>pending" in page
            async with http.get(url + "failures.csv") as response:
                assert response.status == 200
                assert (await response.text()).startswith("repo,")
            # only the report's own files, only reads
            for path in ("state.db", "..%2Fsecrets.json", "%2E%2E/state.db", ".hidden.json"):
                async with http.get(url + path) as response:
                    assert response.status == 404, path
            async with http.post(url, data=b"x") as response:
                assert response.status == 405
            # a worker puts the failed files back in the queue: the page says so soon after
            async with open_store(run.settings) as store:
                reopened = await store.reset([ItemState.FAILED])
            assert reopened
            deadline = time.monotonic() + 30
            while f"<b>{reopened}</b>pending" not in page:
                assert time.monotonic() < deadline, "the live page never showed the change"
                async with http.get(url) as response:
                    page = await response.text()


@pytest.mark.anyio
@pytest.mark.postgres
async def test_the_live_page_follows_two_workers_on_postgresql(dsn: str, tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        settings = sandbox_settings(sandbox, tmp_path, workers=2)
        run = f"live-{uuid.uuid4().hex[:10]}"  # a fresh run: the server outlives the test
        settings = dataclasses.replace(settings, store=StoreSettings(url=dsn, run=run))
        await migrate(settings, bus=EventBus(), stop=StopControl(), phases=("repositories",))
        total = sum(1 for _ in sandbox.org.iter_files())
        seen: list[str] = []
        with live_server(settings, refresh=0.2) as url:
            async with aiohttp.ClientSession() as http:

                async def watch() -> None:
                    while True:
                        async with http.get(url) as response:
                            assert response.status == 200
                            seen.append(await response.text())
                        await anyio.sleep(0.1)

                async with anyio.create_task_group() as group:
                    group.start_soon(watch)
                    async with anyio.create_task_group() as workers:
                        for n in range(2):
                            # each worker writes its own report files, as on its own machine
                            own = dataclasses.replace(
                                settings,
                                report=dataclasses.replace(
                                    settings.report, output_dir=tmp_path / f"worker-{n}"
                                ),
                            )
                            workers.start_soon(
                                lambda own=own: migrate(
                                    own, bus=EventBus(), stop=StopControl(), phases=("artifacts",)
                                )
                            )
                    deadline = anyio.current_time() + 30
                    while not seen or f"<b>{total}</b>done" not in seen[-1]:
                        assert anyio.current_time() < deadline, "the page never showed the end"
                        await anyio.sleep(0.1)
                    group.cancel_scope.cancel()
    assert any(f"<b>{total}</b>done" not in page for page in seen)  # it saw the run going
    assert f"{total} of {total} files recorded done" in seen[-1]
