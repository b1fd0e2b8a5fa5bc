"""The platform's backends in tests: service keys made through the CLI, as operators make them."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient


def make_key(app: Flask, name: str, *scopes: str) -> str:
    """`flask api-keys create`; the key, read from the last line of what it printed."""
    args = ["api-keys", "create", "--name", name]
    for scope in scopes:
        args += ["--scope", scope]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output.rstrip("\n").splitlines()[-1]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def credentials(client: FlaskClient, key: str, integration_id: int, **query: str) -> Any:
    """GET /api/platform/integrations/<id>/credentials with the key; the whole response."""
    return client.get(
        f"/api/platform/integrations/{integration_id}/credentials",
        headers=bearer(key),
        query_string=query,
    )
