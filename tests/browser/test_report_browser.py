"""report.html in a real browser (Debian's headless Chromium driven by Selenium through
/usr/bin/chromedriver): the demo's report loads with no console error, its charts are drawn, the
failures table filters and sorts; the live page refreshes itself with no console error (a
script or a request the Content-Security-Policy refused would show there) and keeps the filter
typed into it. Screenshots of both go to a folder whose path the test prints (or to
``TRANSFER_SCREENSHOTS`` when set), for people to look at; ``report-readme.png`` there is the
README's ``docs/report.png``.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from report_pages import DemoReport, live_server, migrated_demo

pytestmark = pytest.mark.chromium

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMEDRIVER.exists() or shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/test.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="transfer-chromium-")
    options = webdriver.ChromeOptions()
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    return migrated_demo(tmp_path_factory.mktemp("demo-report"))


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("TRANSFER_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("report-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def visible_rows(driver: Any) -> list[list[str]]:
    """The cells of the rows shown, read in one go (a live page swaps its sections)."""
    rows: list[list[str]] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#failure-table tbody tr'))"
        ".filter(row => row.offsetParent !== null)"
        ".map(row => Array.from(row.cells, cell => cell.textContent))"
    )
    return rows


def full_page_screenshot(driver: Any, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(int(height) + 100, 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1200, 900)
    with capsys.disabled():
        print(f"\nscreenshot of the report page: {path}")


def readme_sized(full: Path, small: Path) -> None:
    """The top of the page, 900 pixels wide in 96 colours: the README's picture
    (``docs/report.png``), well under 300 KB."""
    from PIL import Image

    with Image.open(full) as image:
        top = image.crop((0, 0, image.width, min(image.height, 1700)))
        scaled = top.resize((900, round(top.height * 900 / top.width)), Image.Resampling.LANCZOS)
        scaled.convert("RGB").quantize(96).save(small, optimize=True)


def test_demo_report_in_chromium(
    browser: Any, demo: DemoReport, screenshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(demo.paths.html.as_uri())
    assert browser.title.startswith("Migration report")
    assert console_errors(browser) == []
    for chart in ("chart-repositories", "chart-throughput"):
        svg = browser.find_element(By.CSS_SELECTOR, f"#{chart} svg")
        assert svg.size["width"] > 300, chart
        assert svg.size["height"] > 100, chart
        drawn = browser.execute_script("return arguments[0].querySelectorAll('path').length", svg)
        assert drawn > 10, chart
    full_page_screenshot(browser, screenshots / "report.png", capsys)
    readme_sized(screenshots / "report.png", screenshots / "report-readme.png")

    rows = list(csv.DictReader(demo.paths.failures_csv.read_text().splitlines()))
    assert rows, "the demo's faults should leave failed files"
    assert len(visible_rows(browser)) == len(rows)
    # filter by words: only the rows that mention them stay
    word = rows[0]["repo"]
    box = browser.find_element(By.ID, "failure-filter")
    box.send_keys(word)
    expected = sum(1 for r in rows if word.lower() in ",".join(r.values()).lower())
    assert len(visible_rows(browser)) == expected
    assert f"{expected} of {len(rows)} shown" in browser.find_element(By.ID, "failure-count").text
    box.clear()
    box.send_keys("no such file anywhere")
    assert visible_rows(browser) == []
    box.clear()
    box.send_keys(" ")  # an input event with an empty filter shows everything again
    assert len(visible_rows(browser)) == len(rows)
    # filter by state: the demo's failures are all 'failed', the pending state shows none
    Select(browser.find_element(By.ID, "state-filter")).select_by_visible_text("failed")
    assert len(visible_rows(browser)) == sum(1 for r in rows if r["state"] == "failed")
    # sort by path, then the other way round
    header = browser.find_element(By.CSS_SELECTOR, "#failure-table th[data-column='3'] button")
    header.click()
    paths = [row[3] for row in visible_rows(browser)]
    assert paths == sorted(paths, key=str.lower)
    header.click()
    paths = [row[3] for row in visible_rows(browser)]
    assert paths == sorted(paths, key=str.lower, reverse=True)
    assert console_errors(browser) == []


def test_live_page_refreshes_itself_in_chromium(
    browser: Any, demo: DemoReport, screenshots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selenium.webdriver.common.by import By

    with live_server(demo.settings, refresh=0.5) as url:
        browser.get(url)
        box = browser.find_element(By.ID, "failure-filter")
        box.send_keys("no such file anywhere")
        deadline = time.monotonic() + 20
        status = browser.find_element(By.ID, "live-status")
        while "refreshed" not in status.text:
            assert time.monotonic() < deadline, status.text
            time.sleep(0.2)
            status = browser.find_element(By.ID, "live-status")
        # the fresh sections replaced the old ones; the filter typed survived and still applies
        assert browser.find_element(By.ID, "failure-filter").get_attribute("value") == (
            "no such file anywhere"
        )
        assert visible_rows(browser) == []
        assert console_errors(browser) == []
        full_page_screenshot(browser, screenshots / "live.png", capsys)
