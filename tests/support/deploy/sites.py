"""deploy/'s nginx files as the tests run them: every deploy-specific value replaced by the
test's own, each replacement required to match exactly once so the files cannot drift."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..processes import ROOT
from .client import HOST

DEPLOY = ROOT / "deploy"
ONE_ORIGIN = "nginx.conf"
SEPARATE_HOST = "nginx-separate-host.conf"
SNIPPETS = ("integrations-http.conf", "integrations-server.conf", "integrations-proxy.conf")


@dataclass(frozen=True)
class Ports:
    """Where nginx listens and what it sends requests to, all on loopback."""

    https: int
    http: int
    monitoring: tuple[int, int]  # one per gunicorn instance, in the same order
    instances: tuple[int, int]  # the gunicorns
    platform: int  # the Next.js app (one origin) or the platform's origin port (separate host)
    internal: int  # the listener of the platform's backends (/api/platform/)


def render(directory: Path, site: str, ports: Ports, cert: Path, key: Path) -> Path:
    """Write the site and its snippets under directory; returns the site file's path."""
    (directory / "snippets").mkdir()
    for snippet in SNIPPETS:
        text = _swap(snippet, _snippet_swaps(snippet, directory, ports))
        (directory / "snippets" / snippet).write_text(text, encoding="utf-8")
    path = directory / "site.conf"
    path.write_text(_swap(site, _site_swaps(site, directory, ports, cert, key)), encoding="utf-8")
    return path


def _snippet_swaps(snippet: str, directory: Path, ports: Ports) -> dict[str, str]:
    if snippet == "integrations-proxy.conf":
        return {}
    if snippet == "integrations-server.conf":
        return {
            "alias /srv/integrations/static/;": f"alias {ROOT}/static/;",
            "alias /srv/integrations/static/vendor/;": f"alias {ROOT}/static/vendor/;",
        }
    (first, second), (watch_first, watch_second) = ports.instances, ports.monitoring
    return {
        "server 127.0.0.1:8000 ": f"server {HOST}:{first} ",
        "server 127.0.0.1:8001 ": f"server {HOST}:{second} ",
        "9100 127.0.0.1:8000;": f"{watch_first} {HOST}:{first};",
        "9101 127.0.0.1:8001;": f"{watch_second} {HOST}:{second};",
        "listen 10.0.0.5:9100;": f"listen {HOST}:{watch_first};",
        "listen 10.0.0.5:9101;": f"listen {HOST}:{watch_second};",
        "/var/log/nginx/integrations-monitoring.access.log": str(directory / "monitoring.log"),
        "listen 10.0.0.5:9180;": f"listen {HOST}:{ports.internal};",
        "/var/log/nginx/integrations-platform.access.log": str(directory / "internal.log"),
    }


def _site_swaps(site: str, directory: Path, ports: Ports, cert: Path, key: Path) -> dict[str, str]:
    host = "platform.example.com" if site == ONE_ORIGIN else "integrations.example.com"
    log = "platform" if site == ONE_ORIGIN else "integrations"
    swaps = {
        "listen 80;": f"listen {HOST}:{ports.http};",
        "listen 443 ssl http2;": f"listen {HOST}:{ports.https} ssl http2;",
        f"/etc/letsencrypt/live/{host}/fullchain.pem": str(cert),
        f"/etc/letsencrypt/live/{host}/privkey.pem": str(key),
        f"/var/log/nginx/{log}.access.log": str(directory / "access.log"),
        f"/var/log/nginx/{log}.error.log": str(directory / "error.log"),
    }
    if site == ONE_ORIGIN:
        swaps["server 127.0.0.1:3000;"] = f"server {HOST}:{ports.platform};"
    else:
        swaps['"https://platform.example.com" $http_origin;'] = (
            f'"{platform_origin(ports.platform)}" $http_origin;'
        )
    return swaps


def platform_origin(port: int) -> str:
    """The platform's origin, which the separate-host site allows, on this loopback port."""
    return f"https://{HOST}:{port}"


def seconds(name: str, directive: str) -> int:
    """The longest a timeout is where one of deploy/'s files sets it, in whole seconds."""
    values = re.findall(rf"^\s*{directive} (\d+)s;", _source(name), re.MULTILINE)
    assert values, f"deploy/{name} sets no {directive}"
    return max(int(value) for value in values)


def _source(name: str) -> str:
    return (DEPLOY / ("snippets" if name in SNIPPETS else "") / name).read_text(encoding="utf-8")


def _swap(name: str, swaps: dict[str, str]) -> str:
    text = _source(name)
    for production, test in swaps.items():
        found = text.count(production)
        assert found == 1, f"deploy/{name}: {production!r} found {found} times, not once"
        text = text.replace(production, test)
    return text
