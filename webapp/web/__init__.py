"""The HTTP surface: the request path every request runs, and the blueprints the app serves."""

from __future__ import annotations

from flask import Flask

from .. import identity
from . import api, http, openapi, ops, pages, platform, ratelimit, webhooks


def init_app(app: Flask) -> None:
    """Register the blueprints and the request path, in the order every request runs it.

    Flask runs before-request hooks in the order they are registered, so the order of the
    lines below is the order of the steps: the clock and correlation id, then who is calling,
    then Flask-Limiter's check (registered by ratelimit.init_app), then the view; `finish`
    adds the headers, the metrics and the log line to every answer.
    """
    creators, backends, providers = [api.bp, pages.bp], [platform.bp], [webhooks.bp]
    http.init_app(app)
    app.before_request(http.start)
    identity.init_app(app, creators, backends)
    app.before_request(identity.identify_caller)
    ratelimit.init_app(app, per_caller=creators, per_key=backends, per_ip=providers)
    app.after_request(http.finish)

    app.config["PAGE_CSP"] = pages.page_csp(app.extensions["providers"])
    for blueprint in (*creators, *backends, *providers, ops.bp, openapi.bp):
        app.register_blueprint(blueprint)
