"""Tests that need something beyond Python: skipped where it is missing, failed under CI."""

from __future__ import annotations

import os
from collections.abc import Iterable

import pytest


def require(what: str, needs: Iterable[tuple[str, object]]) -> None:
    """Skip `what`, naming each need that is not met; with CI=true fail instead, because CI is
    where a missing service or browser must never pass unnoticed."""
    missing = [name for name, present in needs if not present]
    if not missing:
        return
    reason = f"{what} needs {' and '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run it, not skip it", pytrace=False)
    pytest.skip(reason)
