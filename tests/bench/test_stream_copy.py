"""The floor peer (benchmarks/stream_copy.py) copies through real nginx, and with --sha256 it
catches a file whose bytes are not the manifest's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from nginx_site import reachable_folder, require_nginx

from benchmarks.materialise import materialise, profile_files
from benchmarks.nginx import NginxServer

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.nginx


def _stream_copy(*args: str) -> subprocess.CompletedProcess[str]:
    script = REPO_ROOT / "benchmarks" / "stream_copy.py"
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60
    )


def test_stream_copy_copies_every_file_and_checks_its_sha256() -> None:
    require_nginx()
    with reachable_folder() as site:
        content, specs = profile_files("bench-small", file_count=12)
        data = materialise(content, specs, site / "files")
        with NginxServer(data.root, site / "upload", site / "nginx", data.manifest) as nginx:
            times = site / "times.txt"
            args = (str(data.manifest), nginx.json_url, nginx.upload_url, str(times))
            done = _stream_copy("--sha256", "-n", "4", *args)
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip() == "12 copied, 0 failed"
            assert len(times.read_text().split()) == 12
            for path, _, _ in data.files:
                assert (nginx.upload_dir / path).read_bytes() == (data.root / path).read_bytes()

            # one file is not what the manifest says: only the hashing copy notices
            first = (data.root / data.files[0][0]).read_bytes()
            (data.root / data.files[0][0]).write_bytes(bytes([first[0] ^ 1]) + first[1:])
            nginx.reset_uploads()
            assert _stream_copy(*args).returncode == 0
            nginx.reset_uploads()
            checked = _stream_copy("--sha256", *args)
            assert checked.returncode == 1
            assert "sha256" in checked.stderr
            assert data.files[0][0].split("/")[-1] in checked.stderr
