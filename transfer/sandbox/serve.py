"""Run the emulators in this process: Bintray (API host + download host) and Artifactory.

:class:`Sandbox` binds three listeners on loopback (port 0 picks free ports), builds a seeded
organisation, and shares one :class:`~transfer.sandbox.faults.FaultInjector` between both
emulators (each through its own :meth:`~transfer.sandbox.faults.FaultInjector.scoped` view, so
``bintray.download:...`` and ``artifactory.deploy:...`` rules can target one side).
:func:`serve_until_stopped` is what ``transfer sandbox serve`` runs; :func:`write_config` writes
a ready-to-use ``transfer`` configuration for a running sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from aiohttp import web

from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.sandbox.artifactory_pair import (
    ARTIFACTORY_PROFILE,
    ArtifactoryPair,
    describe_pair,
    write_pair_config,
)
from transfer.sandbox.bintray import BintrayEmulator, BintrayOptions
from transfer.sandbox.faults import FaultInjector
from transfer.sandbox.generator import build_organization, credentials
from transfer.sandbox.listen import env_path, serve_app, toml_string, write_sandbox_config
from transfer.sandbox.orgdata import Organization

__all__ = [
    "ARTIFACTORY_PASSWORD_ENV",
    "BINTRAY_KEY_ENV",
    "Sandbox",
    "SandboxEndpoints",
    "ServeOptions",
    "config_environment",
    "describe",
    "env_path",
    "serve_forever",
    "serve_until_stopped",
    "write_config",
]

BINTRAY_KEY_ENV = "TRANSFER_BINTRAY_API_KEY"
ARTIFACTORY_PASSWORD_ENV = "TRANSFER_ARTIFACTORY_PASSWORD"


@dataclass(frozen=True, slots=True)
class SandboxEndpoints:
    """Where a running sandbox listens and how to log in to it."""

    bintray_api_url: str
    bintray_download_url: str
    artifactory_url: str  # ends with /artifactory
    bintray_user: str
    bintray_api_key: str
    artifactory_user: str
    artifactory_password: str
    org_name: str


class Sandbox:
    """Both emulators served on loopback for the duration of an ``async with`` block.

    ``faults`` is a spec string (see :mod:`transfer.sandbox.faultspec`) or a ready injector;
    ``ports`` are (Bintray API, Bintray download, Artifactory), 0 meaning any free port.
    ``target_profile`` and ``plan`` pick the rules Artifactory enforces (JFrog Cloud's by
    default, since that is the target); ``artifactory_options``, when given, win.
    """

    def __init__(
        self,
        profile: str = "demo",
        *,
        seed: int = 1,
        faults: str | FaultInjector = "",
        sink: bool = False,
        storage_dir: Path | None = None,
        ports: tuple[int, int, int] = (0, 0, 0),
        host: str = "127.0.0.1",
        file_count: int | None = None,
        file_size: int | None = None,
        bintray_options: BintrayOptions | None = None,
        artifactory_options: ArtifactoryOptions | None = None,
        target_profile: str = "cloud",
        plan: str = "enterprise_plus",
    ) -> None:
        self.profile = profile
        self.seed = seed
        self.host = host
        self.ports = ports
        self.faults = (
            faults if isinstance(faults, FaultInjector) else FaultInjector(faults, seed=seed)
        )
        self.org: Organization = build_organization(
            profile, seed=seed, file_count=file_count, file_size=file_size
        )
        self.bintray = BintrayEmulator(
            self.org, options=bintray_options, faults=self.faults.scoped("bintray")
        )
        self._artifactory_options = artifactory_options or ArtifactoryOptions(
            sink=sink, storage_dir=storage_dir, profile=target_profile, plan=plan
        )
        self.artifactory = ArtifactoryEmulator(
            self._artifactory_options, faults=self.faults.scoped("artifactory")
        )
        self._runners: list[web.AppRunner] = []
        self._endpoints: SandboxEndpoints | None = None
        self._closed = False

    @property
    def endpoints(self) -> SandboxEndpoints:
        """URLs and credentials; only valid inside the ``async with`` block."""
        if self._endpoints is None:
            raise RuntimeError("the sandbox is not running")
        return self._endpoints

    async def _serve(self, app: web.Application, port: int) -> str:
        return await serve_app(self._runners, app, self.host, port)

    async def start(self) -> SandboxEndpoints:
        """Bind the listeners and return the endpoints (``async with`` calls this)."""
        try:
            api = await self._serve(self.bintray.api_app, self.ports[0])
            download = await self._serve(self.bintray.download_app, self.ports[1])
            artifactory = await self._serve(self.artifactory.app, self.ports[2])
        except BaseException:
            await self.stop()
            raise
        self.bintray.download_base_url = download
        login = credentials(self.org)
        self._endpoints = SandboxEndpoints(
            bintray_api_url=api,
            bintray_download_url=download,
            artifactory_url=f"{artifactory}/artifactory",
            bintray_user=login["user"],
            bintray_api_key=login["api_key"],
            artifactory_user=self._artifactory_options.admin_user,
            artifactory_password=self._artifactory_options.admin_password,
            org_name=self.org.name,
        )
        return self._endpoints

    async def stop(self) -> None:
        """Stop every listener, waking hung requests first so shutdown does not wait on them."""
        self.faults.release_hangs()
        self._endpoints = None
        runners, self._runners = self._runners, []
        try:
            for runner in reversed(runners):
                await runner.cleanup()
        finally:
            if not self._closed:
                self._closed = True
                self.artifactory.close()

    async def __aenter__(self) -> Sandbox:
        if self._closed:
            raise RuntimeError("a sandbox runs once; build a new one")
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Shielded so that a cancelled serve still releases its ports.
        await asyncio.shield(self.stop())


def config_environment(config: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) plus the secrets ``write_config`` put in
    ``<config>.env`` — what a shell gets after ``. ./<config>.env``."""
    environ = dict(os.environ if base is None else base)
    for line in env_path(config).read_text(encoding="utf-8").splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            environ[name] = shlex.split(value)[0] if value else ""
    return environ


def write_config(
    endpoints: SandboxEndpoints, path: Path, *, store_path: str = "transfer-state.db"
) -> None:
    """Write a ``transfer`` config for ``endpoints`` to ``path``, secrets to ``<path>.env``.

    The config only refers to the secrets (``${TRANSFER_BINTRAY_API_KEY}``,
    ``${TRANSFER_ARTIFACTORY_PASSWORD}``), so it can be world-readable and shared; the env file
    holds them as ``export`` lines and is created with mode 0600 (``. ./config.toml.env`` first).
    """
    write_sandbox_config(
        path,
        source={
            "type": '"bintray"',
            "api_url": toml_string(endpoints.bintray_api_url),
            "download_url": toml_string(endpoints.bintray_download_url),
            "subject": toml_string(endpoints.org_name),
            "user": toml_string(endpoints.bintray_user),
            "api_key": f'"${{{BINTRAY_KEY_ENV}}}"',
        },
        target=(endpoints.artifactory_url, endpoints.artifactory_user, ARTIFACTORY_PASSWORD_ENV),
        secrets={
            BINTRAY_KEY_ENV: endpoints.bintray_api_key,
            ARTIFACTORY_PASSWORD_ENV: endpoints.artifactory_password,
        },
        store_path=store_path,
    )


def describe(endpoints: SandboxEndpoints) -> str:
    """Human-readable URLs and credentials of a running sandbox.

    Printing the credentials is intended: they are this local sandbox's own generated logins,
    guarding nothing but loopback emulators.
    """
    return (
        f"Bintray API       {endpoints.bintray_api_url}\n"
        f"Bintray download  {endpoints.bintray_download_url}\n"
        f"Artifactory       {endpoints.artifactory_url}\n"
        f"organisation      {endpoints.org_name}\n"
        f"Bintray login     {endpoints.bintray_user} / {endpoints.bintray_api_key}\n"
        f"Artifactory login {endpoints.artifactory_user} / {endpoints.artifactory_password}\n"
    )


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``transfer sandbox serve`` was asked for."""

    profile: str = "demo"
    seed: int = 1
    faults: str = ""
    sink: bool = False
    storage_dir: Path | None = None
    port_bintray: int = 0
    port_download: int = 0
    port_artifactory: int = 0
    host: str = "127.0.0.1"
    write_config: Path | None = None
    store_path: str = "transfer-state.db"
    file_count: int | None = None
    file_size: int | None = None
    target_profile: str = "cloud"
    plan: str = "enterprise_plus"


def _print_endpoints(endpoints: SandboxEndpoints) -> None:
    print(describe(endpoints), flush=True)


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (where the loop supports signal handlers)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or Windows: cancellation still stops us
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def serve_until_stopped(
    options: ServeOptions,
    *,
    on_ready: Callable[[SandboxEndpoints], None] = _print_endpoints,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM, ``stop`` is set, or the task is cancelled.

    ``on_ready`` gets the endpoints once every listener is bound (and the config is written when
    ``options.write_config`` is set); the default prints them.
    """
    stop = stop or asyncio.Event()
    if options.profile == ARTIFACTORY_PROFILE:
        await _serve_pair(options, stop)
        return
    sandbox = Sandbox(
        options.profile,
        seed=options.seed,
        faults=options.faults,
        sink=options.sink,
        storage_dir=options.storage_dir,
        ports=(options.port_bintray, options.port_download, options.port_artifactory),
        host=options.host,
        file_count=options.file_count,
        file_size=options.file_size,
        target_profile=options.target_profile,
        plan=options.plan,
    )
    with _stop_on_signals(stop):
        async with sandbox:
            if options.write_config is not None:
                write_config(sandbox.endpoints, options.write_config, store_path=options.store_path)
            on_ready(sandbox.endpoints)
            await stop.wait()


serve_forever = serve_until_stopped


async def _serve_pair(options: ServeOptions, stop: asyncio.Event) -> None:
    """The ``artifactory`` profile: a seeded source Artifactory and an empty target (the
    target on ``port_artifactory``; ``file_count``: Maven versions in the source)."""
    pair = ArtifactoryPair(
        seed=options.seed,
        files=options.file_count or 6,
        host=options.host,
        ports=(0, options.port_artifactory),
        target_options=ArtifactoryOptions(profile=options.target_profile, plan=options.plan),
    )
    with _stop_on_signals(stop):
        async with pair:
            if options.write_config is not None:
                write_pair_config(
                    pair.endpoints, options.write_config, store_path=options.store_path
                )
            print(describe_pair(pair.endpoints), flush=True)
            await stop.wait()
