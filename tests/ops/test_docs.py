"""The README and docs/ work in a clone: every relative link leads to a file of the repository."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from ..support.app import TEST_REDIS_URL, jwt_cookie
from ..support.processes import ROOT
from ..support.requirements import require

# The platform's contract, copied byte for byte: its own links lead into the platform's repository.
VERBATIM = {ROOT / "docs" / "api-integrations-status.md"}
DOCS = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCED = re.compile(r"^```.*?^```", re.S | re.M)
# Inline links and images, reference definitions, and code spans that name a relative path.
TARGETS = re.compile(
    r"\]\(\s*<?([^)\s>]+)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$|`(\.\.?/[^`\s]*)`", re.M
)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#)", re.I)


def relative_targets(doc: Path) -> list[str]:
    text = FENCED.sub("", doc.read_text(encoding="utf-8"))
    found = ("".join(groups) for groups in TARGETS.findall(text))
    return [target for target in found if not EXTERNAL.match(target)]


@pytest.mark.parametrize(
    "doc", [d for d in DOCS if d not in VERBATIM], ids=lambda d: str(d.relative_to(ROOT))
)
def test_every_relative_link_leads_to_a_file_of_the_repository(doc):
    broken = []
    for target in relative_targets(doc):
        path = (doc.parent / target.split("#")[0]).resolve()
        if not (path.is_relative_to(ROOT) and path.exists()):
            broken.append(target)

    assert broken == []


def test_the_readme_links_the_contract_kept_in_the_repository():
    assert "docs/api-integrations-status.md" in relative_targets(ROOT / "README.md")
    assert (ROOT / "docs" / "api-integrations-status.md").is_file()


REQUEST_PATH = re.compile(r"^Files a status request runs through.*?:\n(.*?)\n\n", re.S | re.M)


def readme_request_path() -> dict[str, bool]:
    """README's files of a status request: path -> whether only the jwt strategy runs it."""
    found = REQUEST_PATH.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md lists no 'Files a status request runs through'"
    return {
        path: jwt == " (jwt)"
        for path, jwt in re.findall(r"`(webapp/[\w/]+\.py)`( \(jwt\))?", found[1])
    }


def files_run(app, client) -> set[str]:
    """The webapp/ files whose code runs while `client` asks for its status (after a warm-up)."""
    assert client.get("/api/integrations/status").status_code == 200
    package = (ROOT / "webapp").resolve()
    seen: set[str] = set()

    def note(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(str(package)):
            seen.add(str(Path(frame.f_code.co_filename).relative_to(ROOT)))

    sys.setprofile(note)
    try:
        response = client.get("/api/integrations/status")
    finally:
        sys.setprofile(None)
    assert response.status_code == 200
    return seen


@pytest.mark.parametrize("strategy", ["database", "jwt"])
def test_the_readme_request_path_is_the_files_a_status_request_runs_through(
    make_app, add_user, db_session_cookie, strategy
):
    require("tracing the request path as production runs it", [("TEST_REDIS_URL", TEST_REDIS_URL)])
    app = make_app(NEXTAUTH_SESSION_STRATEGY=strategy, RATELIMIT_STORAGE_URI=TEST_REDIS_URL or "")
    add_user(1, [{"provider": "reddit", "account_id": "r", "account_name": "u/r"}])
    client = app.test_client()
    token = db_session_cookie(1) if strategy == "database" else jwt_cookie("1")
    client.set_cookie("next-auth.session-token", token)

    listed = readme_request_path()

    assert files_run(app, client) == {
        path for path, jwt_only in listed.items() if strategy == "jwt" or not jwt_only
    }
