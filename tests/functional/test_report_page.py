"""report.html from a real run, and the live server behind ``transfer status --serve``: the page
holds what the store holds, loads nothing from anywhere, shows no secret, and the server hands
out the report's files only, read-only, refreshed from the store."""

from __future__ import annotations

import csv
import json
import re
import time

import aiohttp
import pytest
from report_pages import DemoReport, live_server, migrated_demo

from transfer.models import ItemState
from transfer.runner import open_store


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
