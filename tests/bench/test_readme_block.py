"""The README's benchmark block: rendered from a fixed record, rewritten in place, refused when
the figures are not README figures.

No benchmark runs here (the full set takes ~20 minutes and a --quick one over a minute on a
loaded machine): the record below has the shape ``python -m benchmarks.readme`` writes, and
the command itself is driven with ``--render`` against copies of the real README.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import readme
from benchmarks.machine_load import LoadSample, busy_reasons, load_record
from benchmarks.readme_block import BEGIN, END, chart, ratios_of, refusal, render_block, rewrite

REPO_README = Path(__file__).resolve().parents[2] / "README.md"


def _peer(scenario: str, peer: str, files_per_s: float, mb_per_s: float, **extra: Any) -> Any:
    run = {
        "scenario": scenario,
        "peer": peer,
        "server": "nginx",
        "concurrency": 1 if peer == "naive" else 16,
        "files_per_s": files_per_s,
        "mb_per_s": mb_per_s,
        "peak_rss_mb": 70.0,
        "cpu_s_per_gb": 1.9,
        "p50_seconds": 0.002,
        "p99_seconds": 0.0067,
        "ok": True,
    }
    return {**run, **extra}


def _emulated(scenario: str, files_per_s: float, mb_per_s: float, **extra: Any) -> Any:
    run = _peer(scenario, "transfer (emulators)", files_per_s, mb_per_s, server="emulators")
    return {**run, **extra}


def _load(before: float, after: float, share: float | None) -> dict[str, Any]:
    load = {"cpus": 2, "before": [before, 0.3, 0.2], "after": [after, 1.0, 0.5]}
    load["others_cpu_share"] = share
    load["busy_reasons"] = busy_reasons(load)
    load["busy"] = bool(load["busy_reasons"])
    return load


def _record() -> dict[str, Any]:
    return {
        "command": "python -m benchmarks.readme",
        "quick": False,
        "started_utc": "2026-12-06 10:00 UTC",
        "seconds": 1000.0,
        "machine": {"commit": "0123456789abcdef", "cpu_model": "Test CPU", "python": "3.12.1"},
        "code_changes": [],
        "sizes": {
            "large_size": 1 << 30,
            "small_count": 10_000,
            "relay_small_count": 1_000,
            "mixed_count": 2_000,
            "concurrency": 16,
            "rtt_ms": 20.0,
            "wan_count": 10_000,
            "discovery_count": 20_000,
            "many_count": 100_000,
        },
        "trimmed": ["discovery covers 20,000 files, not 100,000"],
        "skipped": {"small": {"rclone": "trimmed: 5+ minutes on 10,000 files"}},
        "runs": [
            _peer("large", "transfer", 0.6, 628.0),
            _peer("large", "curl", 0.4, 445.0),
            _peer("large", "rclone", 1.0, 1045.0),
            _peer("large", "naive", 0.4, 421.0),
            _peer("small", "transfer", 1745.0, 57.0),
            _peer("small", "curl", 163.0, 5.0),
            _peer("small", "naive", 1510.0, 50.0),
            _peer("small@20ms", "transfer", 500.0, 16.0),
            _peer("small@20ms", "curl", 150.0, 5.0),
            _peer("small@20ms", "rclone", 200.0, 6.0),
            _peer("small@20ms", "naive", 12.5, 0.4),
            _peer("mixed", "transfer", 387.0, 236.0),
            _peer("mixed", "naive", 389.0, 237.0),
            _emulated("large", 0.3, 300.0, naive_copy={"mb_per_s": 440.0, "files_per_s": 0.4}),
            _emulated("small", 1100.0, 36.0, naive_copy={"mb_per_s": 72.0, "files_per_s": 2200.0}),
            _emulated("half", 981.0, 16.0, how={"streamed": 5000, "checksum_deploy": 5000}),
        ],
        "engine": [
            {
                "name": "wan this",
                "scenario": "wan@100/30ms",
                "files_per_s": 310.0,
                "discovery_seconds": 12.5,
                "ok": True,
            },
            {"name": "discovery@150ms", "files_per_s": 2100.0, "ok": True},
            {"name": "discovery@150ms +file attributes", "files_per_s": 380.0, "ok": True},
            {"name": "many 100000", "files_per_s": 650.0, "peak_rss_mb": 82.0, "ok": True},
        ],
        "errors": [],
        "load": _load(0.2, 1.9, 0.04),
    }


def _readme_copy(tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(REPO_README.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_header_names_the_command_commit_date_and_load() -> None:
    block = render_block(_record())
    header = block.split("\n\n", 1)[0]
    assert "`python -m benchmarks.readme`" in header
    assert "commit `0123456789`" in header
    assert "clean tree" in header
    assert "2026-12-06 10:00 UTC" in header
    assert "0.20 before, 1.90 after" in header
    assert "other processes used 4% of the cores' time" in header
    assert "Busy machine" not in block
    assert "Quick run" not in block


def test_uncommitted_code_changes_are_said() -> None:
    record = _record()
    record["code_changes"] = ["transfer/cli.py", "benchmarks/run.py"]
    assert "with uncommitted changes to 2 files" in render_block(record)


def test_table_puts_each_figure_next_to_the_peers_of_the_same_run() -> None:
    block = render_block(_record())
    rows = {line.split(" | ")[0].lstrip("| "): line for line in block.split("\n")}
    large = rows["large, 3 × 1 GiB, nginx → nginx, N = 16"]
    assert "628 MB/s, 1.9 CPU s/GB, 70 MB RSS" in large
    assert "curl pipes 445; rclone 1,045; naive 421 MB/s" in large
    assert "0.60× rclone (target ≥ 1: missed)" in large
    assert "1.41× curl pipes (target ≥ 1.2: met)" in large
    small = rows["small, 10,000 × 1–64 KiB, nginx → nginx, N = 16"]
    assert "rclone not run (trimmed: 5+ minutes on 10,000 files)" in small
    relayed = rows[
        "small@20ms, 1,000 × 1–64 KiB, 20 ms added per round trip, nginx → nginx, N = 16"
    ]
    assert "40.0× naive (target ≥ 10: met)" in relayed
    assert "2.50× best peer (rclone) (target ≥ 1.5: met)" in relayed
    assert "naive (target" not in small  # no latency: the issue sets no target there
    emulated = rows["large, emulators (two processes, Artifactory in sink mode), N = 16"]
    assert "naive copy of the same files through the same emulators 440 MB/s" in emulated
    assert "0.68× naive copy" in emulated
    assert (
        "0.89× empty target"
        in rows["half: small with every other file already in the target, emulators"]
    )
    assert "310 files/s, discovery done at 12.5 s" in block
    assert "2,100 files/s without file attributes; 380 files/s with" in block
    assert "650 files/s, peak RSS 82 MB" in block
    assert "Trimmed to keep the run near 20 minutes: discovery covers 20,000" in block


def test_two_copy_processes_on_large_files_get_a_row_of_their_own() -> None:
    record = _record()
    assert "--processes 2" not in render_block(record)  # a record from before that run
    record["runs"].append(_peer("large", "transfer-p2", 0.9, 940.0, cpu_s_per_gb=1.6))
    block = render_block(record)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in block.split("\n")}
    two = rows["large, 3 × 1 GiB, `--processes 2`, nginx → nginx, N = 16"]
    assert "940 MB/s, 1.6 CPU s/GB" in two
    assert "curl pipes 445; rclone 1,045; naive 421 MB/s" in two  # the same run's peers
    assert "0.90× rclone (target ≥ 1: missed)" in two
    assert "2.11× curl pipes (target ≥ 1.2: met)" in two
    assert any(what == "large (2 processes) ÷ rclone" for what, _, _ in ratios_of(record))


def test_the_wan_run_with_two_copy_processes_is_not_called_default_settings() -> None:
    record = _record()
    wan = {**record["engine"][0], "engine": "this", "process_joined_after": 3.14}
    two = {**wan, "name": "wan processes=2", "engine": "processes=2", "files_per_s": 700.0}
    two["process_joined_after"] = None
    record["engine"][0:1] = [wan, two]
    lines = [line for line in render_block(record).split("\n") if line.startswith("| wan")]
    assert len(lines) == 2
    assert "default settings | 310 files/s" in lines[0]
    assert "; a second process joined at 3.1 s" in lines[0]  # "auto" added one
    assert "`--processes 2` | 700 files/s" in lines[1]
    assert "joined" not in lines[1]


def test_chart_draws_every_ratio_on_a_log_scale_around_one() -> None:
    record = _record()
    ratios = ratios_of(record)
    drawn = chart(ratios)
    assert f"```text\n{drawn}\n```" in render_block(record)
    lines = drawn.split("\n")
    assert len(lines) == 1 + len(ratios)
    axis = lines[1].index("│")
    for line, (what, ratio, _) in zip(lines[1:], ratios, strict=True):
        assert line.startswith(what)
        assert line.index("│") == axis  # one axis for every bar
        bar = line[axis + 1 :].split("  ")[0]
        if ratio > 1.1:  # faster than the peer: the bar grows to the right, longer when faster
            assert set(bar) == {"█"}
            assert line[axis - 1] == " "
        elif ratio < 0.9:
            assert bar == ""
            assert line[axis - 1] == "█"
        else:  # within 10 % of the peer: no bar, the figure says it
            assert bar == ""
            assert line[axis - 1] == " "
    by_what = {what: line for line, (what, _, _) in zip(lines[1:], ratios, strict=True)}
    assert by_what["small@20ms ÷ naive"].count("█") > by_what["small ÷ naive"].count("█")
    assert "(target ≥ 10)" in by_what["small@20ms ÷ naive"]


def test_busy_machine_is_marked_with_its_reasons() -> None:
    record = _record()
    record["load"] = _load(1.4, 3.0, 0.04)
    block = render_block(record)
    assert (
        "> **Busy machine:** 1-minute load 1.40 on 2 cores before the run (0.70 per core" in block
    )
    record["load"] = _load(0.2, 3.0, 0.40)
    assert "other processes used 40% of the cores' time during the run" in render_block(record)


def test_load_record_counts_only_other_processes_cpu() -> None:
    before = LoadSample(100.0, (0.1, 0.1, 0.1), 2, machine_busy_s=1000.0, own_cpu_s=5.0)
    quiet = LoadSample(200.0, (1.9, 1.0, 0.5), 2, machine_busy_s=1190.0, own_cpu_s=185.0)
    record = load_record(before, quiet)  # 190 s busy, 180 of them ours, over 2 × 100 s
    assert record["others_cpu_share"] == pytest.approx(0.05)
    assert record["busy"] is False  # the high load after is the run's own work
    shared = LoadSample(200.0, (3.9, 2.0, 1.0), 2, machine_busy_s=1195.0, own_cpu_s=105.0)
    record = load_record(before, shared)
    assert record["others_cpu_share"] == pytest.approx(0.475)
    assert record["busy"] is True
    assert json.loads(json.dumps(record)) == record
    assert LoadSample.now().cpus >= 1


def test_rewrite_replaces_only_the_block_and_is_idempotent(tmp_path: Path) -> None:
    path = _readme_copy(tmp_path)
    text = path.read_text(encoding="utf-8")
    block = render_block(_record())
    once = rewrite(text, block)
    assert rewrite(once, block) == once
    head, rest = text.split(BEGIN.split(" (")[0], 1)
    tail = rest.split(END, 1)[1]
    assert once.startswith(head)
    assert once.endswith(END + tail)
    assert block in once
    with pytest.raises(ValueError, match="expected one"):
        rewrite(text.replace(END, ""), block)
    with pytest.raises(ValueError, match="expected one"):
        rewrite(once + "\n" + BEGIN + "\n" + END + "\n", block)


def test_refusal_of_quick_and_incomplete_runs() -> None:
    assert refusal(_record()) is None
    quick = _record() | {"quick": True}
    assert refusal(quick) == "a --quick run's figures are not README figures"
    assert "Quick run (`--quick`)" in render_block(quick)
    failed = copy.deepcopy(_record())
    failed["runs"][0]["ok"] = False
    assert "large transfer did not complete" in (refusal(failed) or "")
    assert "INCOMPLETE" in render_block(failed)
    errored = _record() | {"errors": [{"step": "many", "error": "OSError: boom"}]}
    assert "many failed: OSError: boom" in (refusal(errored) or "")


def test_command_writes_only_readme_figures_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _readme_copy(tmp_path)
    original = path.read_text(encoding="utf-8")
    recorded = tmp_path / "record.json"

    def render(record: dict[str, Any], *extra: str) -> int:
        recorded.write_text(json.dumps(record), encoding="utf-8")
        return readme.main(["--render", str(recorded), "--readme", str(path), *extra])

    assert render(_record() | {"quick": True}) == 0
    assert path.read_text(encoding="utf-8") == original
    assert "not rewritten: a --quick run's figures" in capsys.readouterr().err
    assert render(_record() | {"errors": [{"step": "wan", "error": "x"}]}) == 1
    assert path.read_text(encoding="utf-8") == original

    assert render(_record()) == 0
    written = path.read_text(encoding="utf-8")
    assert render_block(_record()) in written
    assert render(_record()) == 0
    assert path.read_text(encoding="utf-8") == written
    assert "already up to date" in capsys.readouterr().err

    assert render(_record() | {"quick": True}, "--force") == 0
    assert "Quick run" in path.read_text(encoding="utf-8")

    path.write_text("# no markers\n", encoding="utf-8")
    assert render(_record()) == 2
    assert readme.main(["--render", str(tmp_path / "absent.json"), "--readme", str(path)]) == 2


def test_the_repository_readme_has_one_block() -> None:
    text = REPO_README.read_text(encoding="utf-8")
    assert rewrite(text, "x").count("\nx\n") == 1
