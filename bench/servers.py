"""gunicorn processes started by the bench: start, wait until serving, worker RSS, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    stderr: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The master's children, read from /proc (Linux)."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(child) for child in children)

    def worker_rss_mib(self) -> dict[int, float]:
        return {pid: rss for pid in self.worker_pids() if (rss := rss_mib(pid)) is not None}

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time of all workers so far (from /proc/<pid>/stat)."""
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def stop(self) -> None:
        """SIGTERM to our master (it stops its workers); SIGKILL to its group if that hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    name: str,
    config: str,
    app: str,
    env: dict[str, str],
    log_dir: Path,
    workers: int,
    cwd: Path = ROOT,
) -> Server:
    """gunicorn -c config app (run in cwd) on a free port; returns once /livez answers."""
    port = free_port()
    stderr = log_dir / f"{name}.err"
    with stderr.open("ab") as err:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", config, "--no-control-socket", app],
            cwd=cwd,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=subprocess.DEVNULL,  # the service's one JSON line per request
            stderr=err,
            start_new_session=True,
        )
    server = Server(name, port, process, stderr)
    _wait_until_serving(server, workers)
    return server


def _wait_until_serving(server: Server, workers: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.stderr.read_text()[-3000:]}")
        if len(server.worker_pids()) >= workers:
            try:
                with urllib.request.urlopen(f"{server.base_url}/livez", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{server.name} did not serve within {timeout:.0f}s")
        time.sleep(0.1)
