"""The client-compatibility tier: published client libraries, unmodified, against the emulators.

The libraries are synchronous (``requests``), so the emulators run on their own event loop in a
background thread (``compat_servers.serving``), bound to loopback port 0, and are shut down
(thread joined, loop closed) after each test. Every result a library returns is checked against
the API references, not just for the absence of an exception.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# The hand-made Bintray organisation (known names, awkward paths, a paged repository) is shared
# with the emulator fidelity tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))

from bintray_org import build_org
from compat_servers import ArtifactoryServer, BintrayServer, serving

from transfer.sandbox.artifactory import ArtifactoryEmulator, ArtifactoryOptions
from transfer.sandbox.bintray import BintrayEmulator


@pytest.fixture(params=["cloud", "self-hosted"])
def artifactory(request: pytest.FixtureRequest) -> Iterator[ArtifactoryServer]:
    """The Artifactory emulator with JFrog Cloud's rules (the target) and without them."""
    emulator = ArtifactoryEmulator(ArtifactoryOptions(profile=request.param))
    try:
        with serving(emulator.app) as (root,):
            yield ArtifactoryServer(emulator, root)
    finally:
        emulator.close()


@pytest.fixture
def bintray() -> Iterator[BintrayServer]:
    emulator = BintrayEmulator(build_org())
    with serving(emulator.api_app, emulator.download_app) as (api, dl):
        emulator.download_base_url = dl
        yield BintrayServer(emulator, api, dl)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every emulator thread a test starts is joined before the next test."""
    before = set(threading.enumerate())
    yield
    leaked = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"
