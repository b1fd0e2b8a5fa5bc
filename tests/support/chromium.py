"""Debian's Chromium for the tests that drive a browser, never a downloaded one."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Headless (Playwright's default), nothing it would fetch or start beside the page.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_need() -> tuple[str, bool]:
    """For require(): what is missing, said as an operator would install it."""
    present = os.access(CHROMIUM, os.X_OK)
    return f"Chromium at {CHROMIUM} (Debian: apt-get install chromium)", present
