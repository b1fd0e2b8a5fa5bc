"""GET /api/openapi.json: the static description in openapi.yaml, served as JSON."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint

bp = Blueprint("openapi", __name__)
SOURCE = Path(__file__).with_name("openapi.yaml")


@bp.get("/api/openapi.json")
def openapi_json() -> dict[str, Any]:
    return document()


@cache
def document() -> dict[str, Any]:
    """Read once per process, on first use: the file ships with the code and never changes."""
    loaded: dict[str, Any] = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    return loaded
