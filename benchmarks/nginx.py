"""nginx for the peer benchmarks: one process, three loopback listeners, stopped afterwards.

* ``json_url`` serves ``data_dir`` for download with ``autoindex_format json`` (the listing
  ``transfer``'s http source reads);
* ``html_url`` serves the same files with the classic HTML autoindex (what rclone's HTTP
  remote parses);
* ``upload_url`` stores PUTs under ``upload_dir`` (``dav_methods PUT``, folders created on the
  way, no body size limit) and answers PROPFIND/OPTIONS through ``libnginx-mod-http-dav-ext``
  when it is installed (rclone's WebDAV remote needs them).

The configuration, pid file, logs and temp folders live in a fresh temp prefix; ports are
picked free on 127.0.0.1; the master process is the child of this process and gets SIGTERM
(then SIGKILL) on exit. :func:`ensure_installed` installs Debian's packages with apt-get when
they are missing and we are root, or says why it cannot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from benchmarks.procs import die_with_parent

__all__ = ["DAV_EXT_MODULE", "NginxServer", "ensure_installed", "free_port"]

DAV_EXT_MODULE = Path("/usr/lib/nginx/modules/ngx_http_dav_ext_module.so")
_STOP_TIMEOUT = 10.0
_READY_TIMEOUT = 20.0
_APT_TIMEOUT = 600.0


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_installed(packages: dict[str, str]) -> dict[str, str]:
    """``{command or file: Debian package}`` → ``{what: why it is unavailable}`` (empty: all
    there). Missing packages are installed with apt-get when running as root."""

    def present(what: str) -> bool:
        return Path(what).exists() if what.startswith("/") else shutil.which(what) is not None

    missing = {what: pkg for what, pkg in packages.items() if not present(what)}
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        names = sorted(set(missing.values()))
        for args in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *names]):
            subprocess.run(args, env=env, capture_output=True, timeout=_APT_TIMEOUT, check=False)
    return {
        what: f"{what} not found (Debian package {pkg}; "
        + ("apt-get install failed)" if os.geteuid() == 0 else "not root, so not installed)")
        for what, pkg in packages.items()
        if not present(what)
    }


def _config(
    prefix: Path, data: Path, upload: Path, ports: tuple[int, int, int], manifest: Path | None
) -> str:
    json_port, html_port, upload_port = ports
    # the manifest beside the files, never inside them (the peers copy and diff that tree)
    manifest_at = f"        location = /.manifest {{ alias {manifest}; }}\n" if manifest else ""
    dav_ext = DAV_EXT_MODULE.exists()
    load = f"load_module {DAV_EXT_MODULE};\n" if dav_ext else ""
    ext_methods = "        dav_ext_methods PROPFIND OPTIONS;\n" if dav_ext else ""
    user = "user www-data;\n" if os.geteuid() == 0 else ""
    return f"""{load}{user}worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{json_port};
        root {data};
        autoindex on;
        autoindex_format json;
{manifest_at}    }}
    server {{
        listen 127.0.0.1:{html_port};
        root {data};
        autoindex on;
    }}
    server {{
        listen 127.0.0.1:{upload_port};
        root {upload};
        client_max_body_size 0;
        client_body_buffer_size 1m;
        dav_methods PUT DELETE MKCOL COPY MOVE;
{ext_methods}        create_full_put_path on;
        dav_access user:rw group:rw all:r;
        autoindex on;
    }}
}}
"""


class NginxServer:
    """nginx serving ``data_dir`` and accepting uploads into ``upload_dir`` for a ``with``
    block. ``upload_dir`` is (re)created empty and, when we are root, owned by www-data.
    A ``manifest`` (``path size sha256`` lines) is served at :attr:`manifest_url`."""

    def __init__(
        self, data_dir: Path, upload_dir: Path, prefix: Path, manifest: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.manifest = manifest
        self.upload_dir = upload_dir
        self.prefix = prefix
        self.ports = (free_port(), free_port(), free_port())
        self.json_url = f"http://127.0.0.1:{self.ports[0]}"
        self.html_url = f"http://127.0.0.1:{self.ports[1]}"
        self.upload_url = f"http://127.0.0.1:{self.ports[2]}"
        self.manifest_url = f"{self.json_url}/.manifest" if manifest is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The master process's pid."""
        assert self._process is not None
        return self._process.pid

    def worker_pids(self) -> list[int]:
        """The worker processes' pids (children of the master)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def reset_uploads(self) -> None:
        """Empty the upload folder (between peers)."""
        shutil.rmtree(self.upload_dir, ignore_errors=True)
        self.upload_dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.upload_dir, "www-data", "www-data")

    def __enter__(self) -> NginxServer:
        self.prefix.mkdir(parents=True, exist_ok=True)
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / name).mkdir(exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.prefix / name, "www-data", "www-data")
        self.reset_uploads()
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            _config(self.prefix, self.data_dir, self.upload_dir, self.ports, self.manifest)
        )
        with (self.prefix / "stderr.log").open("wb") as log:
            self._process = subprocess.Popen(
                ["nginx", "-p", str(self.prefix), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if self._process.poll() is not None:
                log = (self.prefix / "stderr.log").read_text(errors="replace")
                raise RuntimeError(f"nginx exited early: {log[-2000:]}")
            try:
                with urllib.request.urlopen(self.json_url + "/", timeout=2):
                    return
            except urllib.error.HTTPError as error:
                raise RuntimeError(
                    f"nginx answers {error.code} for {self.data_dir}: can its workers "
                    "(www-data when run as root) enter every folder above it?"
                ) from None
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("nginx did not answer within 20 s")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM (fast shutdown), then SIGKILL; idempotent."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        workers = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        try:
            children = [int(p) for p in workers.read_text().split()]
        except OSError:
            children = []
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pid in children:  # the master normally takes its workers down with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
