"""What each ``transfer`` command does, between the argument parser and the use cases (edge).

Loads settings, sets up logging and signals, renders progress and summaries, and maps results
to exit codes. ``cli.py`` parses arguments and calls :func:`dispatch`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from transfer import runner
from transfer.config_load import load_settings, parse_duration
from transfer.errors import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_STOPPED,
    ConfigError,
    StoreError,
    TransferError,
    first_transfer_error,
)
from transfer.localfiles import MAX_TEXT_FILE, decode_text, read_text_file
from transfer.migrate.signed_urls import MAX_VALIDITY
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus, ItemFinished
from transfer.reporting.live import is_loopback, parse_bind
from transfer.reporting.logsetup import configure_logging, event_logger, shutdown_logging
from transfer.reporting.progress import FailureCauses, format_bytes, format_rate, show_progress
from transfer.settings import Settings

__all__ = ["dispatch"]


async def dispatch(args: argparse.Namespace) -> int:
    """Run the command ``args`` names; returns the exit code."""
    try:
        if args.command == "sandbox" and args.sandbox_command == "tree":
            return _sandbox_tree(args)
        if args.command == "sandbox":
            return await _sandbox_serve(args)
        if args.command == "demo":
            return await _demo(args)
        settings = _load(args)
        with _logging(settings):
            if args.command == "migrate" and not args.dry_run:
                return await _migrate(args, settings)
            if args.command == "status":
                return await _status(args, settings)
            if args.command in ("plan", "migrate"):
                return await _plan(args, settings)
            if args.command == "verify":
                return await _verify(args, settings)
            if args.command == "report":
                return await _report(args, settings)
            if args.command == "signed-urls":
                return await _signed_urls(args, settings)
            raise TransferError(f"unknown command {args.command}")
    except BaseExceptionGroup as group:
        raise first_transfer_error(group) from None


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for flag, key in (
        ("workers", "transfer.workers"),
        ("processes", "transfer.processes"),
        ("bandwidth", "transfer.bandwidth_limit"),
        ("max_transfer", "transfer.max_transfer"),
        ("max_duration", "transfer.max_duration"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "insecure", False):
        overrides["target.verify_tls"] = False
    if getattr(args, "log_json", None) is not None:
        overrides["logging.json_file"] = str(args.log_json.resolve())
    verbose = getattr(args, "verbose", 0)
    if verbose:  # in the settings, so that copy processes log at the same level
        overrides["logging.level"] = "debug" if verbose > 1 else "info"
    return overrides


def _load(args: argparse.Namespace, config: Path | None = None) -> Settings:
    settings = load_settings(config or args.config, overrides=_overrides(args))
    for warning in settings.warnings:
        print(f"transfer: warning: {warning}", file=sys.stderr)
    return settings


class _logging:
    """Configure logging for the command; close the JSON file at the end."""

    def __init__(self, settings: Settings) -> None:
        configure_logging(
            level=settings.logging.level,
            json_file=settings.logging.json_file,
            console=True,
            secrets=settings.secrets(),
        )

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        shutdown_logging()


@asynccontextmanager
async def _signals(stop: StopControl) -> AsyncIterator[None]:
    """First SIGINT/SIGTERM: stop softly (finish what is in hand); second: stop now."""

    async def watch() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                hard = stop.signalled(name)
                what = "stopping now" if hard else "finishing in-flight files (again to stop now)"
                print(f"\ntransfer: {name}: {what}", file=sys.stderr, flush=True)

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


_ENGINE_HARD_STOP_GRACE = 5.0
"""Seconds the artifacts engine gets to cancel its copies itself (recording their outcomes)."""


async def _stop_now_on_hard(stop: StopControl, bus: EventBus, scope: anyio.CancelScope) -> None:
    """A second Ctrl-C stops at once in every phase: the artifacts engine cancels its own
    copies; any other phase (repositories, security, properties) is cancelled here, between
    two requests. The store keeps what was recorded; the next run resumes from it."""
    await stop.hard.wait()
    if bus.counters.phase == "artifacts":
        await anyio.sleep(_ENGINE_HARD_STOP_GRACE)
    scope.cancel()


def _summary_lines(summary: runner.MigrationSummary, causes: list[str]) -> list[str]:
    """The end of a run: the files, one line per failure cause, notes, why it stopped, and how
    to retry what failed."""
    lines = []
    if summary.counts is not None:
        c = summary.counts
        lines.append(
            f"files: {c[ItemState.DONE].items} done ({format_bytes(c[ItemState.DONE].bytes)}), "
            f"{c[ItemState.FAILED].items} failed, {c[ItemState.CONFLICT].items} conflicts, "
            f"{c[ItemState.SKIPPED].items} skipped, {c[ItemState.PENDING].items} pending"
        )
    lines.extend(causes)
    if summary.discovery is not None and summary.discovery.unmappable_repos:
        for repo, reason in summary.discovery.unmappable_repos.items():
            lines.append(f"repository {repo} not migrated: {reason}")
    lines.extend(summary.notes)
    if summary.tripped is not None:
        lines.append(
            f"stopped: {summary.tripped.message()}, then run the same command again "
            "(the files not copied are left pending)"
        )
    elif summary.stopped:
        lines.append(f"stopped: {summary.stopped} — run the same command again to resume")
    lines.extend(_retry_hints(summary))
    return lines


def _retry_hints(summary: runner.MigrationSummary) -> list[str]:
    """How to retry what failed, whenever something did."""
    hints = []
    if summary.counts is not None:
        failed = summary.counts[ItemState.FAILED].items + summary.counts[ItemState.CONFLICT].items
        if failed:
            hints.append(
                f"{failed} files failed or conflict (see the report): "
                "`transfer migrate --retry-failed` tries them again"
            )
    if summary.side_failures:
        hints.append(
            f"{summary.side_failures} repositories, users, groups, permission targets, tokens "
            "or property sets failed (see the report): `transfer migrate` tries them again"
        )
    return hints


def _exit_code(summary: runner.MigrationSummary) -> int:
    if summary.tripped is not None:
        return EXIT_SERVICE
    if summary.stopped:
        return EXIT_STOPPED
    return EXIT_FAILURES if summary.unfinished or summary.side_failures else EXIT_OK


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    bus = EventBus()
    bus.subscribe(event_logger())
    causes = FailureCauses(runner.service_hosts(settings))
    bus.subscribe(causes, ItemFinished)
    stop = StopControl()
    phases = tuple(args.only) if args.only else runner.PHASES
    with anyio.CancelScope() as now:
        async with (
            _signals(stop),
            show_progress(bus, live=None if not args.no_progress else False),
            anyio.create_task_group() as group,
        ):
            group.start_soon(_stop_now_on_hard, stop, bus, now)
            summary = await runner.migrate(
                settings, bus=bus, stop=stop, phases=phases, retry_failed=args.retry_failed
            )
            group.cancel_scope.cancel()
    if now.cancelled_caught:
        print(
            f"stopped: {stop.reason} (during {bus.counters.phase or 'start-up'}) — "
            "run the same command again to resume",
        )
        return EXIT_STOPPED
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        for line in _summary_lines(summary, causes.summary()):
            print(line)
    return _exit_code(summary)


_STORE_CREATION_GRACE = 30.0
"""Seconds ``status --watch`` lets a store that just appeared be unreadable (being created)."""


async def _status(args: argparse.Namespace, settings: Settings) -> int:
    """One status, or (``--watch``) one every few seconds, each stamped with the time; a
    watch started before the first ``migrate`` waits for its store to appear."""
    if args.serve:
        return await _serve_status(args, settings)
    store_path = settings.store.path if settings.store.url is None else None
    said_waiting = False
    appeared: float | None = None
    while True:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        if args.watch and store_path is not None and not store_path.exists():
            if not said_waiting:
                print(f"{stamp}  waiting for a migration to start ({store_path})", flush=True)
                said_waiting = True
            await anyio.sleep(args.watch)
            continue
        try:
            state = await runner.status(settings)
        except (ConfigError, StoreError):
            # a store that just appeared may still be being created by the migration
            appeared = appeared or time.monotonic()
            if not said_waiting or time.monotonic() - appeared > _STORE_CREATION_GRACE:
                raise
            await anyio.sleep(args.watch)
            continue
        said_waiting = False
        now = time.time()
        if args.json:
            print(json.dumps({"at": stamp, **state.as_dict(now)}, indent=2), flush=True)
        else:
            if args.watch:
                print(f"\n{stamp}", flush=True)
            _print_status(state, now)
            sys.stdout.flush()
        if not args.watch:
            return EXIT_OK
        await anyio.sleep(args.watch)


async def _serve_status(args: argparse.Namespace, settings: Settings) -> int:
    host, port = parse_bind(args.serve)
    if not is_loopback(host):
        if not args.allow_remote:
            raise ConfigError(
                f"--serve {args.serve} would show the run's report to the network: bind to "
                "127.0.0.1, or add --allow-remote to mean it (the page has no login)"
            )
        print(
            f"WARNING: serving the report to the network at {host}:{port}, without a login",
            file=sys.stderr,
        )
    refresh = args.watch or 5.0

    def ready(url: str) -> None:
        print(f"serving the live report at {url} (read-only, every {refresh:g} s; Ctrl-C stops)")

    await runner.serve_live_report(settings, host, port, refresh=refresh, on_ready=ready)
    return EXIT_OK


def _print_status(state: runner.RunStatus, now: float) -> None:
    counts = state.counts
    total, done = counts.total, counts[ItemState.DONE]
    print(
        f"{done.items}/{total.items} files done, "
        f"{format_bytes(done.bytes)}/{format_bytes(total.bytes)}"
    )
    for item_state in ItemState:
        c = counts[item_state]
        print(f"  {item_state.value:10} {c.items:9}  {format_bytes(c.bytes)}")
    if counts.by_repo:
        print("per repository (done/total, failed):")
        for repo, per in sorted(counts.by_repo.items()):
            repo_total = sum(per[s].items for s in ItemState)
            failed = per[ItemState.FAILED].items
            print(f"  {repo:30} {per[ItemState.DONE].items}/{repo_total}, {failed}")
    found = state.discovery()
    if found["complete"] is not None:
        where = "complete" if found["complete"] else "running"
        print(
            f"discovery {where}: {found['discovered']} files discovered, "
            f"{found['copied']} copied; bottleneck: {found['bottleneck']}"
        )
    rows = state.worker_rows(now)
    if rows:
        working = sum(1 for row in rows if row["alive"])
        together = format_rate(state.rate(now))
        print(f"workers: {working} working of {len(rows)}, {together} together")
    for row in rows:
        rate = float(row.get("bytes_per_second", 0) or 0)
        of = f" (copy process of {row['parent']})" if row.get("parent") else ""
        print(
            f"worker {row['owner']}{of}: {row.get('files_finished', 0)} files "
            f"({row['share_files']:.0%}), {format_bytes(float(row.get('bytes_moved', 0) or 0))} "
            f"({row['share_bytes']:.0%}), {format_rate(rate)}, "
            f"last seen {row['seconds_since_heartbeat']:.0f}s ago"
            + ("" if row["alive"] else " (finished)" if row.get("finished") else " (gone)")
        )


def _sandbox_tree(args: argparse.Namespace) -> int:
    from transfer.sandbox.tree import write_sample_tree

    root: Path = args.root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"{root} exists and is not an empty folder; name a new one")
    tree = write_sample_tree(root, seed=args.seed, bulk=args.files, awkward=not args.plain)
    print(
        f"wrote {len(tree.files)} files in {len({repo for repo, _ in tree.files})} repository "
        f"folders under {root}, with a manifest and repository settings"
        + (f"; {len(tree.refused)} entries a migration must leave out" if tree.refused else "")
    )
    return EXIT_OK


async def _sandbox_serve(args: argparse.Namespace) -> int:
    from transfer.sandbox.serve import ServeOptions, serve_until_stopped

    options = ServeOptions(
        profile=args.profile,
        seed=args.seed,
        faults=args.faults,
        sink=args.sink,
        storage_dir=args.storage_dir,
        port_bintray=args.port_bintray,
        port_download=args.port_download,
        port_artifactory=args.port_artifactory,
        host=args.host,
        write_config=args.write_config,
        file_count=args.file_count,
        file_size=args.file_size,
        target_profile=args.target_profile,
        plan=args.plan,
    )
    try:
        await serve_until_stopped(options)
    except ValueError as error:  # an unknown profile or a malformed fault spec
        raise TransferError(str(error)) from None
    return EXIT_OK


async def _demo(args: argparse.Namespace) -> int:
    from transfer.sandbox.serve import Sandbox, write_config

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="transfer-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "transfer.toml"
    if getattr(args, "source", "bintray") == "artifactory":
        from transfer.sandbox.artifactory_pair import ArtifactoryPair, write_pair_config

        async with ArtifactoryPair(seed=args.seed) as pair:
            write_pair_config(pair.endpoints, config, store_path="transfer-state.db")
            print(
                f"sandbox: source Artifactory (seed {args.seed}) at "
                f"{pair.endpoints.source_url}, target Artifactory at {pair.endpoints.target_url}"
            )
            return await _demo_run(args, config, workdir)
    try:
        sandbox = Sandbox(
            args.profile,
            seed=args.seed,
            faults=args.faults,
            target_profile=args.target_profile,
            plan=args.plan,
        )
    except ValueError as error:
        raise TransferError(str(error)) from None
    async with sandbox:
        endpoints = sandbox.endpoints
        write_config(endpoints, config, store_path="transfer-state.db")
        print(
            f"sandbox: Bintray organisation '{endpoints.org_name}' "
            f"({args.profile}, seed {args.seed}) "
            f"at {endpoints.bintray_api_url}, Artifactory at {endpoints.artifactory_url}"
        )
        return await _demo_run(args, config, workdir)


async def _demo_run(args: argparse.Namespace, config: Path, workdir: Path) -> int:
    """Migrate, verify and report with the sandbox's config (the sandbox is running)."""
    from transfer.sandbox.serve import config_environment

    print(f"workdir: {workdir}")
    environ = config_environment(config)
    settings = load_settings(config, environ=environ, overrides=_overrides(args))
    with _logging(settings):
        code = await _migrate(_demo_args(args), settings)
        audit = await runner.verify(settings, on_progress=_verify_progress())
    print(
        f"verify: {audit.same} files identical in source and target, "
        f"{audit.only_in_source} missing, {audit.differs} different ({audit.csv_path})"
    )
    paths = await runner.report(settings)
    print(f"report: {paths.html}\n        {paths.markdown}")
    if code == EXIT_OK and not audit.clean:
        code = EXIT_FAILURES
    return code


def _demo_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(
        only=None, retry_failed=False, json=False, no_progress=args.no_progress
    )


async def _plan(args: argparse.Namespace, settings: Settings) -> int:
    bus = EventBus()
    async with show_progress(bus, live=False if args.no_progress else None):
        summary = await runner.plan(settings, bus=bus)
    security = await runner.security_plan(settings)
    data = summary.as_dict()
    data["security"] = security.as_dict()
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(
        f"source: {data['files']} files, {format_bytes(data['bytes'])} "
        f"in {data['repositories']} repositories"
    )
    for repo, reason in data["unmappable_repositories"].items():
        print(f"  repository {repo} will not be migrated: {reason}")
    if data["linked_packages"]:
        print(
            f"  {data['linked_packages']} linked packages: copied once, into their owning "
            "repository (the report lists each link and what to do)"
        )
    for skipped in data["skipped_in_source"]:
        where = "/".join(part for part in (skipped["repo"], skipped["path"]) if part)
        print(f"  left out: {where} — {skipped['reason']}")
    repo_plan = data.get("repository_plan") or {}
    if repo_plan:
        print("repositories (Artifactory local):")
        for plan in repo_plan.get("repositories", []):
            parts = [
                plan["action"],
                f"packageType {plan['package_type']}",
                f"layout {plan['layout']}",
                "public (anonymous read)" if plan["public"] else "private",
                "CDN redirect",
            ]
            suppress = plan["config"].get("suppressPomConsistencyChecks")
            if suppress is not None:
                parts.append("POM consistency checks " + ("off" if suppress else "on"))
            reason = f" — {plan['reason']}" if plan["reason"] else ""
            print(f"  {plan['source']} → {plan['key']}: {', '.join(parts)}{reason}")
            for note in plan["notes"]:
                print(f"    note: {note}")
        anonymous = repo_plan.get("anonymous_read", {})
        if anonymous.get("repositories"):
            print(
                f"  permission target {anonymous['name']}: {anonymous['action']}, "
                f"anonymous read on {', '.join(anonymous['repositories'])}"
            )
        for entry in repo_plan.get("cannot_move", []):
            print(f"  cannot move: {entry.get('what', entry['key'])} — {entry.get('instead', '')}")
    print("properties on every file:")
    for rule in data["property_rules"]:
        note = f" ({rule['note']})" if rule["note"] else ""
        print(f"  {rule['source']:32} → {rule['key']}{note}")
    print(f"to send: {format_bytes(summary.bytes_to_send)} at most (checksum deploy may link some)")
    for repo, actions in sorted(summary.actions.items()):
        shown = ", ".join(
            f"{n} {verdict.replace('_', ' ')}" for verdict, n in sorted(actions.items())
        )
        print(f"  {repo}: {shown}")
    for verdict, examples in summary.examples.items():
        print(f"{verdict.replace('_', ' ')} (first {len(examples)}):")
        for example in examples:
            print(f"  {example}")
    # users, groups, permission targets and tokens (never a secret)
    for line in security.lines():
        print(line)
    print("nothing was written to the target")
    return EXIT_OK


def _verify_progress(interval: float = 5.0) -> Callable[[int], None]:
    """Say on stderr how far verify's listing of the source is: at once, then every few
    seconds (a verify of a large organisation lists for a long time)."""
    last = -interval

    def say(listed: int) -> None:
        nonlocal last
        if time.monotonic() - last >= interval:
            last = time.monotonic()
            print(f"verify: {listed} source files listed so far", file=sys.stderr, flush=True)

    return say


async def _verify(args: argparse.Namespace, settings: Settings) -> int:
    result = await runner.verify(settings, repair=args.repair, on_progress=_verify_progress())
    if args.json:
        print(json.dumps({**result.as_dict(), "reopened": result.reopened}, indent=2))
    else:
        print(
            f"same: {result.same}  only in source: {result.only_in_source}  "
            f"only in target: {result.only_in_target}  differs: {result.differs}  "
            f"errors: {result.errors}"
        )
        print(f"details: {result.csv_path}")
        if args.repair:
            print(f"re-opened {result.reopened} files: `transfer migrate` copies them again")
    return EXIT_OK if result.clean else EXIT_FAILURES


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    paths = await runner.report(settings, out_dir=args.out)
    if args.json:
        print(json.dumps({k: str(getattr(paths, k)) for k in ("json", "markdown", "failures_csv")}))
    else:
        print(
            f"report: {paths.html}\n        {paths.markdown}\n        {paths.json}\n"
            f"failures: {paths.failures_csv}"
        )
    return EXIT_OK


def _read_requests(source: str) -> list[str]:
    if source == "-":
        raw = sys.stdin.buffer.read(MAX_TEXT_FILE + 1)
        text = decode_text(raw, "the list on standard input")
    else:
        text = read_text_file(Path(source), "the list of URLs")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _validity(text: str) -> int:
    try:
        seconds = round(parse_duration(text))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"--valid-for: {error}") from None
    if not 0 < seconds <= MAX_VALIDITY:
        raise ConfigError(f"--valid-for must be between 1 second and 365 days, got {text}")
    return seconds


async def _signed_urls(args: argparse.Namespace, settings: Settings) -> int:
    valid_for = _validity(args.valid_for)
    requests = await anyio.to_thread.run_sync(_read_requests, args.input)
    outcome = await runner.signed_urls(settings, requests, valid_for=valid_for, out_dir=args.out)
    if args.json:
        print(
            json.dumps(
                {
                    "csv": str(outcome.csv_path),
                    "json": str(outcome.json_path),
                    "signed": len(outcome.results) - outcome.refused,
                    "refused": {r.request: r.reason for r in outcome.results if not r.ok},
                },
                indent=2,
            )
        )
    else:
        print(
            f"signed: {len(outcome.results) - outcome.refused} of {len(outcome.results)} "
            f"(valid {valid_for} s)"
        )
        for result in outcome.results:
            if not result.ok:
                print(f"  refused {result.request}: {result.reason}")
        print(f"map: {outcome.csv_path}\n     {outcome.json_path}")
    return EXIT_FAILURES if outcome.refused else EXIT_OK
