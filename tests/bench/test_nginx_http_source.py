"""End to end against real nginx: the http source reads nginx's JSON autoindex (or a manifest
with sha256s), the webdav target PUTs into nginx's WebDAV folder, and the copy is byte-identical.

Skipped, saying why, when Debian's nginx is not installed (``apt-get install nginx``).
"""

from __future__ import annotations

import filecmp
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from benchmarks.materialise import materialise, mixed_files
from benchmarks.nginx import NginxServer
from transfer.config_load import settings_from_mapping
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import migrate

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(
        shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)"
    ),
]


def _settings(json_url: str, upload_url: str, workdir: Path, **source: Any) -> Any:
    return settings_from_mapping(
        {
            "source": {"type": "http", "download_url": json_url, "subject": "root", **source},
            "target": {"type": "webdav", "url": upload_url},
            "store": {"path": str(workdir / "state.db")},
            "report": {"output_dir": str(workdir / "report")},
            "transfer": {"workers": 4},
        },
        base_dir=workdir,
    )


def _same_tree(left: Path, right: Path) -> int:
    files = [p.relative_to(left) for p in left.rglob("*") if p.is_file()]
    for rel in files:
        assert filecmp.cmp(left / rel, right / rel, shallow=False), rel
    assert sum(1 for p in right.rglob("*") if p.is_file()) == len(files)
    return len(files)


@pytest.mark.parametrize("listing", ["autoindex", "manifest"])
def test_nginx_to_nginx_through_the_engine(reachable_tmp: Path, listing: str) -> None:
    tmp_path = reachable_tmp
    content, specs = mixed_files(40, seed=3)
    specs.append(("mixed/odd names/a b+c é.txt", 11, "odd", "text"))
    data = materialise(content, specs, tmp_path / "files")
    with NginxServer(data.root, tmp_path / "upload", tmp_path / "nginx") as nginx:
        # the manifest lives outside the served tree; nginx serves it from the upload side
        extra: dict[str, str] = {}
        if listing == "manifest":
            shutil.copy(data.manifest, nginx.upload_dir / "MANIFEST")
            (nginx.upload_dir / "MANIFEST").chmod(0o644)
            extra["api_url"] = f"{nginx.upload_url}/MANIFEST"
        settings = _settings(nginx.json_url, f"{nginx.upload_url}", tmp_path, **extra)
        summary = anyio.run(
            partial(migrate, settings, bus=EventBus(), stop=StopControl(), phases=("artifacts",))
        )
        assert summary.counts is not None
        assert summary.counts[ItemState.DONE].items == len(specs)
        if listing == "manifest":
            (nginx.upload_dir / "MANIFEST").unlink()
        assert _same_tree(data.root, nginx.upload_dir) == len(specs)
