"""Logging at the edge: console + JSON lines, levels, contextvars; secrets never get out."""

from __future__ import annotations

import base64
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from transfer.errors import ConfigError
from transfer.models import ItemState
from transfer.redaction import REGISTRY, Secret, register_secret
from transfer.reporting.events import EventBus, ItemFinished, PhaseStarted
from transfer.reporting.logsetup import (
    configure_logging,
    event_logger,
    redact_secrets,
    shutdown_logging,
)

REGISTERED = "reg-5ecret-value-42"
OBJECT_SECRET = "obj-5ecret-value-77"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
ART_API = "AKCp8jQ8-art-api-key"
BASIC = base64.b64encode(b"migrator:basic-pa55word").decode()
URL_PASSWORD = "url-pa55word"
NESTED = "nested-pa55word"
ALL_SECRETS = (REGISTERED, OBJECT_SECRET, BEARER, ART_API, BASIC, URL_PASSWORD, NESTED)


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    shutdown_logging()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    REGISTRY.clear()
    root.setLevel(level)


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_no_secret_reaches_the_json_file_or_the_console(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "run.jsonl"
    console = io.StringIO()
    configure_logging(json_file=log_file, stream=console, colors=False)
    register_secret(REGISTERED)
    log = structlog.get_logger("transfer.test")
    log.info(
        f"connecting with {REGISTERED} now",
        credential=Secret(OBJECT_SECRET),
        headers={
            "Authorization": f"Bearer {BEARER}",
            "X-JFrog-Art-Api": ART_API,
            "Accept": "application/json",
        },
        note=f"sent Basic {BASIC} and Bearer {BEARER}",
        url=f"https://migrator:{URL_PASSWORD}@bintray.example/api",
        items=[{"api_key": NESTED, "size": 3}],
        how_many=3,
    )
    shutdown_logging()

    raw = log_file.read_text(encoding="utf-8")
    for secret in ALL_SECRETS:
        assert secret not in raw, secret
        assert secret not in console.getvalue(), secret
    (line,) = json_lines(log_file)
    assert line["event"] == "connecting with *** now"
    assert line["credential"] == "***"
    assert line["headers"] == {
        "Authorization": "***",
        "X-JFrog-Art-Api": "***",
        "Accept": "application/json",
    }
    assert line["note"] == "sent Basic *** and Bearer ***"
    assert line["url"] == "https://migrator:***@bintray.example/api"
    assert line["items"] == [{"api_key": "***", "size": 3}]
    assert line["how_many"] == 3
    assert (line["level"], line["logger"]) == ("info", "transfer.test")
    assert "timestamp" in line
    assert "connecting with *** now" in console.getvalue()


def refuse() -> None:
    raise RuntimeError(f"server refused {REGISTERED}")


def test_exceptions_and_stdlib_records_are_scrubbed_too(tmp_path: Path) -> None:
    log_file = tmp_path / "run.jsonl"
    configure_logging(json_file=log_file, console=False, secrets=[Secret(REGISTERED)])
    try:
        refuse()
    except RuntimeError:
        structlog.get_logger("transfer.test").exception("upload failed")
    logging.getLogger("aiohttp.client").warning("retrying with %s", REGISTERED)
    shutdown_logging()

    raw = log_file.read_text(encoding="utf-8")
    assert REGISTERED not in raw
    failed, foreign = json_lines(log_file)
    assert "RuntimeError: server refused ***" in failed["exception"]
    assert (foreign["event"], foreign["level"]) == ("retrying with ***", "warning")
    assert foreign["logger"] == "aiohttp.client"


def test_context_variables_travel_with_each_line(tmp_path: Path) -> None:
    log_file = tmp_path / "run.jsonl"
    configure_logging(json_file=log_file, console=False)
    log = structlog.get_logger("transfer.test")
    with structlog.contextvars.bound_contextvars(repo="libs", path="com/acme/a.jar"):
        log.info("copying")
    log.info("between items")
    shutdown_logging()

    inside, outside = json_lines(log_file)
    assert (inside["repo"], inside["path"]) == ("libs", "com/acme/a.jar")
    assert "repo" not in outside


def test_level_controls_what_is_written(tmp_path: Path) -> None:
    log_file = tmp_path / "run.jsonl"
    console = io.StringIO()
    configure_logging(level="warning", json_file=log_file, stream=console, colors=False)
    log = structlog.get_logger("transfer.test")
    log.debug("noise")
    log.info("chatter")
    log.warning("careful")
    shutdown_logging()
    assert [line["event"] for line in json_lines(log_file)] == ["careful"]
    assert "chatter" not in console.getvalue()
    assert "careful" in console.getvalue()
    with pytest.raises(ConfigError, match="log level"):
        configure_logging(level="loud")


@pytest.mark.parametrize("level", ["info", "debug"])
def test_events_go_to_the_json_file_and_failures_to_the_console_only_at_debug(
    tmp_path: Path, level: str
) -> None:
    log_file = tmp_path / "run.jsonl"
    console = io.StringIO()
    configure_logging(level=level, json_file=log_file, stream=console, colors=False)
    bus = EventBus()
    bus.subscribe(event_logger())
    bus.emit(PhaseStarted("files"))
    for state in (ItemState.DONE, ItemState.FAILED):
        bus.emit(
            ItemFinished(
                repo="libs", path=f"{state}.jar", state=state, how="streamed", bytes=5, duration=1.0
            )
        )
    shutdown_logging()

    lines = json_lines(log_file)
    assert [line["event"] for line in lines] == ["phase_started", "item_finished", "item_finished"]
    assert lines[1]["state"] == "done"
    assert (lines[2]["state"], lines[2]["level"]) == ("failed", "warning")
    # one line per failed file only when asked (-vv); otherwise one warning per cause
    assert ("failed.jar" in console.getvalue()) is (level == "debug")
    assert "done.jar" not in console.getvalue()
    assert "phase_started" not in console.getvalue()


def test_reconfiguring_replaces_the_previous_file(tmp_path: Path) -> None:
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    configure_logging(json_file=first, console=False)
    structlog.get_logger("transfer.test").info("one")
    configure_logging(json_file=second, console=False)
    structlog.get_logger("transfer.test").info("two")
    shutdown_logging()
    assert [line["event"] for line in json_lines(first)] == ["one"]
    assert [line["event"] for line in json_lines(second)] == ["two"]
    with pytest.raises(ConfigError, match="log file"):
        configure_logging(json_file=tmp_path, console=False)


def test_redaction_leaves_ordinary_text_alone() -> None:
    register_secret("ab")  # too short to search for inside other text
    event = redact_secrets(
        None,
        "info",
        {
            "event": "Basic authentication failed for bob; about tab",
            "token_expiry": 3600,
            "tokens_created": 2,
            "password": None,
            "secret_file": "transfer-secrets.json",
            "path": Path("/a/b"),
        },
    )
    assert event["event"] == "Basic authentication failed for bob; about tab"
    assert (event["token_expiry"], event["tokens_created"], event["password"]) == (3600, 2, None)
    assert event["secret_file"] == "transfer-secrets.json"
    assert event["path"] == "/a/b"


def test_a_json_log_whose_disk_fills_up_says_so_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "run.jsonl"
    configure_logging(json_file=log_file, console=False)
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.FileHandler) and h.baseFilename == str(log_file)
    )
    previous = handler.setStream(Path("/dev/full").open("w", encoding="utf-8"))  # noqa: SIM115
    assert previous is not None
    previous.close()
    log = structlog.get_logger("transfer.test")
    log.warning("one")
    log.warning("two")
    shutdown_logging()
    err = capsys.readouterr().err
    assert err.count("cannot write the JSON log") == 1, err
    assert "No space left on device" in err
    assert "Traceback" not in err


_LONG_LINES = """
import sys
import structlog
from pathlib import Path
from transfer.reporting.logsetup import configure_logging, shutdown_logging
configure_logging(level="info", json_file=Path(sys.argv[1]), console=False)
log = structlog.get_logger("writer")
for n in range(150):
    log.info("long", writer=sys.argv[2], n=n, text=sys.argv[2] * 50_000)
shutdown_logging()
"""


def test_processes_sharing_a_json_log_never_cut_each_others_lines(tmp_path: Path) -> None:
    # migrate and its copy processes append to one --log-json file; lines of 50 KB (more than
    # a stream buffer) written at once by two processes must each arrive whole
    target = tmp_path / "shared.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", _LONG_LINES, str(target), name])
        for name in ("a", "b")
    ]
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0]
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert sorted((line["writer"], line["n"]) for line in lines) == sorted(
        (name, n) for name in ("a", "b") for n in range(150)
    )
    assert all(line["text"] == line["writer"] * 50_000 for line in lines)
