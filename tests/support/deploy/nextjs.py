"""The minimal Next.js platform in tests/platform/: built once per version of its sources,
then run with `next start` as a real process."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..processes import ROOT, free_port, spawn
from ..processes import stop as stop_processes
from .client import HOST

APP = ROOT / "tests" / "platform"
NEXT = APP / "node_modules" / ".bin" / "next"
BUILDS = APP / ".build"
# What a build is made from; a change to any of them means a new build.
SOURCES = ("package-lock.json", "next.config.mjs", "tsconfig.json", "pages", "public", "seed")
QUIET = {"NEXT_TELEMETRY_DISABLED": "1"}  # Next.js would report usage over the network


def build_name() -> str:
    """A name for the build of the sources as they are now: a hash of their contents."""
    digest = hashlib.sha256()
    for source in SOURCES:
        path = APP / source
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file():
                digest.update(str(file.relative_to(APP)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def build() -> str:
    """`next build` into .build/<name>/ unless that build exists; returns its distDir.

    Older builds are removed first, so the directory holds one build at a time."""
    dist = f".build/{build_name()}"
    if (APP / dist / "BUILD_ID").is_file():
        return dist
    if BUILDS.is_dir():
        shutil.rmtree(BUILDS)
    env = {**os.environ, **QUIET, "NEXT_DIST_DIR": dist}
    done = subprocess.run(
        [str(NEXT), "build"], cwd=APP, env=env, capture_output=True, text=True, timeout=540
    )
    if done.returncode != 0:
        raise AssertionError(f"next build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return dist


@dataclass
class NextApp:
    """`next start` on a loopback port, serving one build."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, dist: str, env: Mapping[str, str], directory: Path) -> NextApp:
        port = free_port()
        settings = {"PATH": os.environ.get("PATH", ""), **QUIET, **env, "NEXT_DIST_DIR": dist}
        args = [str(NEXT), "start", str(APP), "-H", HOST, "-p", str(port)]
        log = directory / "next.log"
        app = cls(port, spawn(args, settings, log, log), log)
        try:
            app.wait_until_serving()
        except BaseException:
            app.stop()
            raise
        return app

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"next start exited: {self.log.read_text()[-4000:]}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
            try:
                conn.request("GET", "/api/auth/providers")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise AssertionError(f"next start not serving: {self.log.read_text()[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        stop_processes(self.process)
