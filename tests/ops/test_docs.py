"""The README and docs/ work in a clone: every relative link leads to a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..support.processes import ROOT

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
