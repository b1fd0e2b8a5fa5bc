"""Server processes for the tests that run the app as operators do: gunicorn, nginx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    """A loopback port free right now, for a server to bind."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(
    args: list[str], env: Mapping[str, str] | None, out: Path, err: Path
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group (so a stuck one can be killed whole)."""
    with out.open("ab") as stdout, err.open("ab") as stderr:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )


def start_gunicorn(
    env: Mapping[str, str], out: Path, err: Path, gunicorn: Path = GUNICORN
) -> subprocess.Popen[bytes]:
    """The app under gunicorn with the shipped gunicorn.conf.py, as operators run it."""
    return spawn([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], env, out, err)


def stop(
    *processes: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15
) -> None:
    """Signal every process first (gunicorn's graceful stops then overlap), then wait; SIGKILL
    to the whole process group of any that has not exited in time."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(sig)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


@dataclass(frozen=True)
class Exited:
    """A process that ran to its end: what it said, how long it took, its peak memory."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float  # its own high-water mark (ru_maxrss), not its children's


def run_to_exit(args: list[str], env: Mapping[str, str], timeout: float) -> Exited:
    """Run a command to its end, measured by os.wait4; past `timeout` it is killed: a failure."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        while not (waited := os.wait4(process.pid, os.WNOHANG))[0]:
            if time.monotonic() - started > timeout:
                process.kill()
                os.wait4(process.pid, 0)
                process.returncode = -signal.SIGKILL
                err.seek(0)
                raise AssertionError(f"still running after {timeout} s: {err.read()[-2000:]}")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(waited[1])  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Exited(
            process.returncode, out.read(), err.read(), seconds, waited[2].ru_maxrss / 1024
        )
