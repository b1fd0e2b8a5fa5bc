"""The integrations service: create_app() builds everything; importing opens nothing."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cli, crypto, database, logs, web
from .config import ConfigError, environment, load_settings
from .extensions import db, migrate
from .providers import clients


def create_app(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app from environment variables (or the given mapping, in tests)."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
        # Under this service's own prefix: on the platform's origin, /static/ is the Next.js app's.
        static_url_path="/integrations/static",
    )
    try:
        settings = load_settings(environment() if environ is None else environ, app.instance_path)
    except ConfigError as err:
        raise SystemExit(f"configuration error: {err}") from None
    app.config.update(settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the contract's key order
    # Every wait of the service (database and provider retries, verify's quota): tests record.
    app.extensions["sleep"] = time.sleep

    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    logs.init_app(app)
    crypto.init_app(app)
    clients.init_app(app)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True
    )
    database.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    if app.config["APP_ENV"] == "development":
        from .identity import dev

        app.register_blueprint(dev.bp)
    return app
