"""A benchmark's work folder is one nginx's workers can enter: when the tmpfs has no room for a
scenario's files they go under it, and a folder only its owner could enter made nginx answer
403 to every request (a README run failed that way)."""

from __future__ import annotations

import shutil
import urllib.request
from urllib.parse import quote

import pytest
from nginx_site import require_nginx

from benchmarks.materialise import materialise, profile_files
from benchmarks.nginx import NginxServer
from benchmarks.procs import new_workdir
from benchmarks.scenarios import data_root

pytestmark = pytest.mark.nginx


def test_files_under_a_new_work_folder_are_served_by_nginx() -> None:
    require_nginx()
    workdir = new_workdir("transfer-bench-test-")
    try:
        root = data_root(workdir / "large", needed=1 << 60)  # no tmpfs has room for it
        assert root.is_relative_to(workdir)
        content, specs = profile_files("bench-small", file_count=3)
        data = materialise(content, specs, root / "files")
        with NginxServer(data.root, root / "upload", root / "nginx", data.manifest) as nginx:
            path = data.files[0][0]
            with urllib.request.urlopen(f"{nginx.json_url}/{quote(path)}", timeout=10) as got:
                assert got.read() == (data.root / path).read_bytes()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
