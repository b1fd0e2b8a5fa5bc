"""The yardstick: a bare Flask app answering a constant JSON body the size of a status reply."""

from __future__ import annotations

from typing import Any

from flask import Flask

# The shape and size of a real status reply for a demo creator (four integrations).
BODY: dict[str, Any] = {
    "success": True,
    "data": {
        "integrations": [
            {
                "id": 1 + n,
                "provider": provider,
                "accountId": f"account-{n}",
                "accountName": "@creator_account",
                "status": "connected",
                "expiresAt": "2025-12-31T23:59:59.000Z",
                "createdAt": "2025-01-01T00:00:00.000Z",
                "updatedAt": "2025-01-15T12:00:00.000Z",
            }
            for n, provider in enumerate(("instagram", "tiktok", "reddit", "onlyfans"))
        ]
    },
    "duration": 0,
}

app = Flask(__name__)
app.json.sort_keys = False  # type: ignore[attr-defined]  # as the service does


@app.get("/api/integrations/status")
def status() -> dict[str, Any]:
    return BODY


@app.get("/livez")
def livez() -> dict[str, Any]:
    return {"status": "ok"}


def limited_app(storage_uri: str, limit: str, key_prefix: str) -> Flask:
    """The bare app plus Flask-Limiter counting every request in storage_uri."""
    from flask_limiter import Limiter

    limited = Flask(__name__)
    limited.json.sort_keys = False  # type: ignore[attr-defined]
    limited.add_url_rule("/api/integrations/status", view_func=status)
    limited.add_url_rule("/livez", view_func=livez)
    limiter = Limiter(
        key_func=lambda: "bench",
        app=limited,
        default_limits=[limit],
        storage_uri=storage_uri,
        key_prefix=key_prefix,
    )
    limiter.exempt(livez)
    return limited
