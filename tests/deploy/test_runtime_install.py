"""Production installs requirements.txt alone: from that, and nothing of requirements-dev.txt,
the app migrates, boots under the shipped gunicorn.conf.py and serves."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.app import TEST_REDIS_URL, jwt_cookie, service_env
from ..support.deploy.client import request
from ..support.deploy.servers import Gunicorn
from ..support.processes import ROOT

RUNTIME = ROOT / "requirements.txt"
DEV = ROOT / "requirements-dev.txt"
URL = "/api/integrations/status"


def pins(path: Path) -> set[str]:
    """The `name==version` lines of a requirements file, names normalised as pip compares them."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {normalise(line) for line in lines if line and not line.startswith(("#", "-r"))}


def normalise(pin: str) -> str:
    name, _, version = pin.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


def pip(venv: Path, *args: str) -> str:
    """This checkout's pip acting on `venv`, which so needs no pip of its own."""
    command = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv holding `pip install -r requirements.txt` and nothing else."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip(venv, "install", "--quiet", "--no-compile", "-r", str(RUNTIME))
    return venv


def test_requirements_pin_every_package_production_installs(runtime_venv):
    installed = {normalise(line) for line in pip(runtime_venv, "freeze").split()}

    assert installed == pins(RUNTIME)
    assert "No broken requirements" in pip(runtime_venv, "check")


def test_dev_pins_stay_out_of_the_runtime():
    assert "-r requirements.txt" in DEV.read_text(encoding="utf-8").splitlines()
    assert pins(DEV)
    assert not pins(DEV) & pins(RUNTIME)


@pytest.fixture
def runtime_gunicorn(runtime_venv, database_url, tmp_path) -> Iterator[Gunicorn]:
    """The app as production runs it from the runtime-only venv: migrated, seeded, served."""
    env = service_env(
        database_url,
        APP_ENV="production",
        PUBLIC_BASE_URL="https://integrations.example.com",
        NEXTAUTH_SESSION_STRATEGY="jwt",
        RATELIMIT_STORAGE_URI=TEST_REDIS_URL or "memory://",
    )
    flask = str(runtime_venv / "bin" / "flask")
    for command in (["db", "upgrade"], ["seed-demo", "--user-id", "1"]):
        result = subprocess.run(
            [flask, "--app", "wsgi", *command], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-4000:]
    server = Gunicorn.start("runtime", env, tmp_path, gunicorn=runtime_venv / "bin" / "gunicorn")
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


def test_runtime_only_install_boots_and_serves(runtime_gunicorn):
    port = runtime_gunicorn.port
    cookie = {"Cookie": f"__Secure-next-auth.session-token={jwt_cookie('1')}"}

    livez, readyz = request(port, "/livez"), request(port, "/readyz")
    anonymous, signed_in = request(port, URL), request(port, URL, headers=cookie)

    assert (livez.status, livez.json()) == (200, {"status": "ok"})
    assert (readyz.status, readyz.json()["status"]) == (200, "ok")
    assert (anonymous.status, anonymous.json()) == (
        401,
        {"success": False, "error": {"code": "UNAUTHORIZED", "message": "Authentication required"}},
    )
    assert signed_in.status == 200
    providers = [item["provider"] for item in signed_in.json()["data"]["integrations"]]
    assert sorted(providers) == ["instagram", "onlyfans", "reddit", "tiktok"]
