"""Prometheus metrics, correct across gunicorn workers (prometheus-client multiprocess mode).

gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before the app is imported; without it (tests,
`flask run`) the metrics live in this process's default registry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

# Label values come from fixed sets, so no request can add a series: a client may invent any
# method and any path, and every new label value would be another histogram on every scrape.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"

REQUESTS = Histogram(
    "integrations_http_request_duration_seconds",
    "Request latency by endpoint and status; p50/p95/p99 come from its buckets.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
ERRORS = Counter(
    "integrations_http_errors_total",
    "Error responses by endpoint and error code.",
    ["endpoint", "code"],
)
DB_RETRIES = Counter(
    "integrations_db_retries_total",
    "Retries of database work that failed for a transient reason: a connection failure, a "
    "deadlock or a serialization conflict.",
)
EXPIRED_SEEN = Counter(
    "integrations_expired_seen_total", "Expired integrations returned by the status endpoint."
)
MARKED_DEAD = Counter(
    "integrations_marked_dead_total",
    "Integrations marked expired (each new reason once), by provider, reason (expired, "
    "refresh_failed, access_revoked, provider_removed, renewal_interrupted) and the path "
    "that learnt it (refresh, refresh_due, verify, webhook).",
    ["provider", "reason", "via"],
)
CLIENT_REJECTED = Counter(
    "integrations_provider_client_rejected_total",
    "Provider calls refused for this service's own client credentials (an operator error).",
    ["provider"],
)
CREDENTIAL_READS = Counter(
    "integrations_credentials_reads_total",
    "Credentials read by the platform's backends, by key name and outcome (ok, refreshed, "
    "reauth_required, provider_unavailable, not_found, ...).",
    ["key", "outcome"],
)
REFRESHES = Counter(
    "integrations_token_refresh_total",
    "Token refresh attempts by provider and outcome.",
    ["provider", "outcome"],
)


def endpoint_label(endpoint: str | None) -> str:
    """The app's endpoint that served the request; `unmatched` when no route matched (404, 405)."""
    return endpoint or UNMATCHED


def method_label(method: str) -> str:
    """A standard HTTP method as it is; anything else is `other`."""
    return method if method in METHODS else OTHER_METHOD


def exposition(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The metrics text of every worker (or of this process when not under gunicorn), with
    `extra` collectors that read their figures when scraped."""
    registry = CollectorRegistry()
    for collector in extra:
        registry.register(collector)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY) + generate_latest(registry), CONTENT_TYPE_LATEST
