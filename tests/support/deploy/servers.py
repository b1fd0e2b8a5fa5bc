"""gunicorn and nginx as real processes: start, wait until serving, read their logs, stop."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..processes import GUNICORN, free_port, spawn, start_gunicorn
from ..processes import stop as stop_processes
from .client import HOST, request
from .sites import ONE_ORIGIN, Ports, render

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WORKERS = 2  # per gunicorn instance
T = TypeVar("T")

# What the distribution's nginx.conf gives the site file, with every path in the test's
# directory. Two workers, as on a two-core host: the upstream zone must share their state.
# Run by root, nginx's workers would become "nobody", who may not enter a checkout or pytest's
# temporary directories: they stay root here (the distribution's conf says www-data).
MAIN_CONF = """\
{user}daemon off;
worker_processes 2;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 768; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {site};
}}
"""


def eventually(check: Callable[[], T], timeout: float = 5.0) -> T:
    """The first truthy result of check(); logs are written a moment after the response."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a log; a line still being written (no newline yet) is left out."""
    complete = path.read_text().split("\n")[:-1]
    return [json.loads(line) for line in complete if line.startswith("{")]


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM; SIGKILL to the whole process group if it has not exited within 15 s."""
    stop_all([process])
    return process.returncode


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop several at once: gunicorn's graceful stops then overlap."""
    stop_processes(*processes)


@dataclass
class Gunicorn:
    """One gunicorn instance (master and WORKERS workers) on a loopback port."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @classmethod
    def start(
        cls, name: str, env: Mapping[str, str], directory: Path, gunicorn: Path = GUNICORN
    ) -> Gunicorn:
        port = free_port()
        settings = {
            **env,
            "PATH": os.environ.get("PATH", ""),
            "PYTHONUNBUFFERED": "1",
            "GUNICORN_BIND": f"{HOST}:{port}",
            "WEB_CONCURRENCY": str(WORKERS),
            "GUNICORN_GRACEFUL_TIMEOUT": "10",
            "PROMETHEUS_MULTIPROC_DIR": str(directory / f"{name}-metrics"),
        }
        out, err = directory / f"{name}.out", directory / f"{name}.err"
        process = start_gunicorn(settings, out, err, gunicorn)
        return cls(name, port, process, out, err)

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        """Every worker booted and /livez answering, or fail with gunicorn's stderr."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.stderr.read_text()[-4000:]}")
            if len(self.worker_pids()) == WORKERS:
                try:
                    if request(self.port, "/livez").status == 200:
                        return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not serving: {self.stderr.read_text()[-4000:]}")
            time.sleep(0.05)

    def worker_pids(self) -> set[int]:
        marker = "Booting worker with pid: "
        lines = self.stderr.read_text().splitlines()
        return {int(line.split(marker)[1]) for line in lines if marker in line}

    def request_log(self) -> list[dict[str, Any]]:
        return [e for e in json_lines(self.stdout) if e.get("logger") == "webapp.request"]

    def stop(self) -> int:
        return stop(self.process)


@dataclass
class Nginx:
    """nginx running one of deploy/'s sites, its deploy-specific lines pointed at the test's own."""

    ports: Ports
    process: subprocess.Popen[bytes]
    directory: Path

    @classmethod
    def start(
        cls, directory: Path, ports: Ports, tls: tuple[Path, Path], site: str = ONE_ORIGIN
    ) -> Nginx:
        """The site on these ports, with this certificate and key."""
        directory.mkdir()
        site_file = render(directory, site, ports, *tls)
        main = directory / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        main.write_text(
            MAIN_CONF.format(user=user, directory=directory, site=site_file), encoding="utf-8"
        )
        args = [NGINX, "-p", str(directory), "-c", str(main), "-e", str(directory / "error.log")]
        process = spawn(args, None, directory / "nginx.out", directory / "nginx.err")
        server = cls(ports, process, directory)
        try:
            server.wait_until_listening()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def port(self) -> int:
        return self.ports.https

    @property
    def http_port(self) -> int:
        return self.ports.http

    def wait_until_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = (self.directory / "error.log").read_text()
                raise AssertionError(f"nginx exited: {log[-4000:]}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def access_entries(self) -> list[dict[str, Any]]:
        return json_lines(self.directory / "access.log")

    def monitoring_entries(self) -> list[dict[str, Any]]:
        return json_lines(self.directory / "monitoring.log")

    def stop(self) -> int:
        return stop(self.process)
