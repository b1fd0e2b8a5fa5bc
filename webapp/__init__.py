"""The integrations service: create_app() builds everything; importing opens nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cli, crypto, database, identity, logs
from .config import ConfigError, environment, load_settings
from .extensions import db, migrate
from .providers import clients
from .web import api, http, openapi, ops, pages, ratelimit, webhooks


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
    # Order matters: timing starts first, then the caller is identified, then the limiter
    # (whose before-request hook Flask-Limiter registers here) counts the request.
    http.init_app(app)
    identity.init_app(
        app,
        identified=[api.bp, pages.bp],
        listing=["api.integrations_status", "pages.integrations_page"],
    )
    ratelimit.init_app(app, per_caller=[api.bp, pages.bp], per_ip=[webhooks.bp])
    cli.init_app(app)

    app.config["PAGE_CSP"] = pages.page_csp(app.extensions["providers"])
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(openapi.bp)
    if app.config["APP_ENV"] == "development":
        from .identity import dev

        app.register_blueprint(dev.bp)
    return app
