"""The ``transfer`` command line: parses arguments, loads settings, renders results.

This is the edge: it turns user input into :class:`transfer.settings.Settings`, calls the use
cases in :mod:`transfer.runner`, draws progress, and maps outcomes to exit codes. Errors a user
can cause end in one line on stderr and a documented exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any


def _stop_before_the_run(signum: int, frame: FrameType | None) -> None:
    """SIGTERM before the run installs its own handlers stops like Ctrl-C (exit 4), not with
    the signal's default death: a scheduler's stop can arrive while Python still imports."""
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _stop_before_the_run)
try:
    from transfer import PHASES
    from transfer.errors import EXIT_STOPPED, EXIT_USAGE, TransferError
except KeyboardInterrupt:  # stopped while importing: nothing has begun, nothing to resume
    print("transfer: interrupted before it began; run the same command again", file=sys.stderr)
    raise SystemExit(4) from None

EXIT_CODES_HELP = """exit codes:
  0  everything asked for is done
  1  finished, but some items failed or are conflicts (see `transfer report`)
  2  usage, configuration or local state (store) error: nothing was attempted
  3  a service could not be reached, refused the credentials, or cannot be used
     (not Artifactory, too old, answers that are not its API's JSON)
  4  stopped by a limit or a signal: run the same command again to resume
"""


def _add_common(parser: argparse.ArgumentParser, *, config: bool = True) -> None:
    if config:
        parser.add_argument(
            "-c",
            "--config",
            type=Path,
            default=Path(os.environ.get("TRANSFER_CONFIG", "transfer.toml")),
            help="configuration file (default: $TRANSFER_CONFIG or ./transfer.toml)",
        )
    parser.add_argument("--log-json", type=Path, metavar="FILE", help="write JSON log lines here")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument(
        "--no-progress", action="store_true", help="plain periodic lines instead of live bars"
    )


def _target_profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target-profile",
        choices=("cloud", "self-hosted"),
        default="cloud",
        help="rules the Artifactory emulator enforces (default: JFrog Cloud's)",
    )
    parser.add_argument(
        "--plan",
        choices=("pro", "enterprise", "enterprise_plus"),
        default="enterprise_plus",
        help="the emulated JFrog Cloud plan (CDN redirect needs enterprise)",
    )


def _processes(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected "auto" or a number, got {text!r}') from None


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        help="ceiling of copies in flight, which adapt below it (transfer.workers)",
    )
    parser.add_argument(
        "--processes",
        type=_processes,
        metavar="N",
        help='processes that copy files, each using up to a core, or "auto": a second joins '
        "when the first is saturated (transfer.processes; default auto)",
    )
    parser.add_argument(
        "--bandwidth", metavar="RATE", help="cap, e.g. 50MB/s (transfer.bandwidth_limit)"
    )
    parser.add_argument(
        "--max-transfer", metavar="SIZE", help="stop after this many bytes, e.g. 100GiB"
    )
    parser.add_argument(
        "--max-duration", metavar="TIME", help="stop after this long, e.g. 2h or 30m"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (prints a warning)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="transfer",
        description="Move a whole Bintray organisation into JFrog Artifactory: streamed, "
        "verified three ways, resumable at any moment.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"transfer {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="start the emulators with a seeded organisation, migrate it, verify, summarise",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--profile", default="demo", help="sandbox profile (default: demo)")
    demo.add_argument(
        "--source",
        choices=("bintray", "artifactory"),
        default="bintray",
        help="migrate from the Bintray emulator (default) or from a seeded Artifactory emulator",
    )
    demo.add_argument("--seed", type=int, default=1, help="data seed (default: 1)")
    demo.add_argument(
        "--faults", default="", help="fault spec or preset for the emulators (e.g. mix)"
    )
    demo.add_argument("--workdir", type=Path, help="keep config, store and report here")
    _target_profile_options(demo)
    _add_common(demo, config=False)
    _run_options(demo)

    sandbox = commands.add_parser("sandbox", help="the Bintray and Artifactory emulators")
    sandbox_commands = sandbox.add_subparsers(
        dest="sandbox_command", metavar="COMMAND", required=True
    )
    serve = sandbox_commands.add_parser(
        "serve", help="run the emulators until stopped; print their URLs and credentials"
    )
    serve.add_argument(
        "--profile",
        default="demo",
        help="tiny, demo, bench-small, bench-large; or artifactory (a seeded source "
        "Artifactory and an empty target)",
    )
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument(
        "--faults", default="", help="fault spec, e.g. 'download:corrupt=0.02' or 'mix'"
    )
    serve.add_argument(
        "--sink", action="store_true", help="Artifactory keeps only sizes and checksums"
    )
    serve.add_argument(
        "--storage-dir", type=Path, help="where Artifactory stores content (default: temp)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port-bintray", type=int, default=0, help="Bintray API port (0 = free)")
    serve.add_argument("--port-download", type=int, default=0, help="Bintray download port")
    serve.add_argument("--port-artifactory", type=int, default=0, help="Artifactory port")
    _target_profile_options(serve)
    serve.add_argument("--file-count", type=int, help="override the profile's file count")
    serve.add_argument(
        "--file-size", type=int, help="override the profile's large-file size (bytes)"
    )
    serve.add_argument(
        "--write-config",
        type=Path,
        metavar="PATH",
        help="write a ready-to-use config here (secrets go to PATH.env, mode 0600)",
    )

    tree = sandbox_commands.add_parser(
        "tree",
        help='write a sample local tree for source.type = "directory" (repository folders, '
        "a manifest, repository settings, and links and odd files to leave out)",
    )
    tree.add_argument("root", type=Path, help="a new (or empty) folder to write it into")
    tree.add_argument("--seed", type=int, default=1)
    tree.add_argument("--files", type=int, default=0, help="extra 32 KiB files (repository bulk)")
    tree.add_argument(
        "--plain", action="store_true", help="no links, FIFO or odd names to leave out"
    )

    for name, text in (
        ("plan", "discover and print what a migration would do; writes nothing to the target"),
        ("migrate", "migrate everything (resumes automatically)"),
        ("status", "progress of a run, from the store (any terminal, any worker)"),
        ("verify", "audit the target against the source listing; write a diff report"),
        ("report", "write the migration report (JSON + Markdown + failures CSV)"),
    ):
        sub = commands.add_parser(
            name,
            help=text,
            description=text,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(sub)
        if name in ("plan", "migrate", "status", "verify", "report"):
            sub.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "migrate":
            _run_options(sub)
            sub.add_argument(
                "--only",
                action="append",
                choices=PHASES,
                metavar="PHASE",
                help=f"run only these phases ({', '.join(PHASES)}); repeatable",
            )
            sub.add_argument(
                "--retry-failed", action="store_true", help="retry failed and conflict items"
            )
            sub.add_argument("--dry-run", action="store_true", help="same as `transfer plan`")
        if name == "verify":
            sub.add_argument(
                "--repair",
                action="store_true",
                help="re-open the files found missing or different, so that the next "
                "`transfer migrate` copies them again",
            )
        if name == "status":
            sub.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS")
            sub.add_argument(
                "--serve",
                metavar="HOST:PORT",
                help="serve the report page at HOST:PORT (e.g. 127.0.0.1:8080), refreshed from "
                "the store every --watch seconds (default 5); read-only",
            )
            sub.add_argument(
                "--allow-remote",
                action="store_true",
                help="let --serve bind to an address other than loopback (the page has no login)",
            )
        if name == "report":
            sub.add_argument("--out", type=Path, help="output directory (report.output_dir)")
    _add_signed_urls(commands)
    return parser


def _add_signed_urls(commands: Any) -> None:
    """``transfer signed-urls``: Artifactory signed URLs for the Bintray ones handed out."""
    text = "create Artifactory signed URLs for migrated files named by Bintray URLs or paths"
    sub = commands.add_parser(
        "signed-urls",
        help=text,
        description=f"{text}; writes an old → new map (signed-urls.csv and .json). "
        "Files that were not migrated are refused, with the reason.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(sub)
    sub.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="FILE",
        help="one Bintray URL or repo/path per line; '-' or nothing reads stdin",
    )
    sub.add_argument(
        "--valid-for",
        default="1d",
        metavar="TIME",
        help="how long the signed URLs work, e.g. 3600, 12h, 30d (default 1d, at most 365d)",
    )
    sub.add_argument("--out", type=Path, help="output directory (report.output_dir)")
    sub.add_argument("--json", action="store_true", help="print the result as JSON")


def _version() -> str:
    from transfer import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``transfer`` console command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from transfer.commands import dispatch
        from transfer.runner.event_loop import run_main

        return run_main(lambda: dispatch(args))
    except TransferError as error:
        print(f"transfer: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("transfer: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_STOPPED
    except BrokenPipeError:
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
