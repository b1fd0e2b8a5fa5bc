"""Flask commands for operators and developers."""

from __future__ import annotations

import re
import signal
import threading
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from . import events, integrations
from .demo import seed_demo
from .events import delivery
from .identity import service_keys
from .integrations.refresh import refresh_due
from .integrations.rekey import reencrypt_all
from .integrations.verify import verify_grants
from .timeutil import iso_z, utcnow

integrations_cli = AppGroup("integrations", help="Operate on creators' integrations.")
keys_cli = AppGroup("api-keys", help="Service API keys of the platform's backends.")
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@click.command("seed-demo")
@click.option(
    "--user-id",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Id of the (first) demo user.",
)
@click.option(
    "--users",
    "count",
    type=click.IntRange(min=1, max=10_000_000),
    default=1,
    show_default=True,
    help="How many consecutive users to seed (for load tests).",
)
@with_appcontext
def seed_demo_command(user_id: int, count: int) -> None:
    """Create demo users with four demo integrations each; safe to run again."""
    started = time.perf_counter()
    users, rows = seed_demo(user_id, count, utcnow())
    click.echo(
        f"seeded users {user_id}..{user_id + count - 1}: {users} users and {rows} integrations "
        f"created in {time.perf_counter() - started:.1f}s"
    )


def parse_duration(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> timedelta | None:
    if value is None:
        return None
    match = _DURATION.fullmatch(value)
    if not match:
        raise click.BadParameter("use a number and a unit: 90s, 15m, 24h, 7d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@integrations_cli.command("refresh-due")
@click.option(
    "--within",
    callback=parse_duration,
    metavar="DURATION",
    help="Refresh tokens expiring within this window (default: per provider).",
)
def refresh_due_command(within: timedelta | None) -> None:
    """Refresh tokens that expire soon; safe to run from cron on several hosts at once."""
    summary = refresh_due(utcnow(), within)
    click.echo(
        f"refreshed={summary.refreshed} failed={summary.failed} skipped={summary.skipped} "
        f"expired={summary.expired}"
    )


@integrations_cli.command("verify")
@click.option(
    "--older-than",
    callback=parse_duration,
    default="24h",
    show_default=True,
    metavar="DURATION",
    help="Check grants not confirmed by the provider within this long.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Check at most this many.")
def verify_command(older_than: timedelta, limit: int | None) -> None:
    """Ask the providers whether stored grants still work; dead ones read expired."""
    summary = verify_grants(utcnow(), older_than, limit, sleep=current_app.extensions["sleep"])
    click.echo(f"verified={summary.verified} dead={summary.dead} unavailable={summary.unavailable}")


@integrations_cli.command("reencrypt")
def reencrypt_command() -> None:
    """Re-encrypt stored secrets under the first TOKEN_ENCRYPTION_KEYS key (key rotation)."""
    click.echo(f"reencrypted={reencrypt_all()}")


@integrations_cli.command("deliver-events")
@click.option("--follow", is_flag=True, help="Keep delivering as events arrive, until SIGTERM.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True)
def deliver_events_command(follow: bool, interval: float) -> None:
    """Send pending events to EVENTS_URL, in order per integration; safe to run twice."""
    if not current_app.config["EVENTS_URL"]:
        raise click.ClickException("EVENTS_URL is not set: there are no events to deliver")
    stopping = threading.Event()
    summary = delivery.DeliverySummary()  # of the one round without --follow
    try:
        if follow:
            # A service: SIGTERM lets the attempt in flight end (within EVENTS_TIMEOUT_MS) and
            # be recorded, then it exits.
            signal.signal(signal.SIGTERM, lambda *_: stopping.set())
            delivery.follow(stopping, interval, lambda round_: click.echo(str(round_)))
        else:
            delivery.deliver_pending(stopping.is_set, summary)
    except SQLAlchemyError as err:
        raise click.ClickException(f"the database failed: {type(err).__name__}") from err
    finally:
        if not follow:  # what was delivered before the database failed, too
            click.echo(str(summary))


@integrations_cli.command("events")
@click.option("--failed", is_flag=True, help="Events that will not be sent again.")
def events_command(failed: bool) -> None:
    """List pending events, or (--failed) those never delivered, with their last error."""
    found = events.failed_events() if failed else events.pending_events()
    if not found:
        click.echo(f"no {'failed' if failed else 'pending'} events")
    for event in found:
        click.echo(
            f"{event.id:>8}  {event.webhook_id}  {event.type:<24} "
            f"integration={event.integration_id} created={iso_z(event.created_at)} "
            f"attempts={event.attempts} status={event.status} error={event.last_error or '-'}"
        )


@integrations_cli.command("list")
@click.option("--user-id", type=click.IntRange(min=1), required=True)
def list_command(user_id: int) -> None:
    """A user's integrations and their status (never their secrets)."""
    items = integrations.list_for_user(user_id, utcnow())
    if not items:
        click.echo(f"user {user_id} has no integrations")
    for item in items:
        click.echo(
            f"{item.id:>8}  {item.provider:<10} {item.account_id:<24} "
            f"{item.account_name:<24} {item.status:<9} {iso_z(item.expires_at) or '-'}"
        )


@keys_cli.command("create")
@click.option("--name", required=True, help="Who uses it, e.g. scheduler.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(service_keys.SCOPES),
    help="What it may do; repeat for several.",
)
def create_key_command(name: str, scopes: tuple[str, ...]) -> None:
    """Make a key; it is printed once, alone on the last line, and never kept."""
    try:
        key = service_keys.create(name, scopes, utcnow())
    except service_keys.KeyRefused as err:
        raise click.ClickException(str(err))
    click.echo(f"created {name} ({' '.join(sorted(set(scopes)))}); the key, shown only now:")
    click.echo(key)


@keys_cli.command("list")
def list_keys_command() -> None:
    """Every key: name, prefix, scopes, when made and last used (never the key)."""
    keys = service_keys.listing()
    if not keys:
        click.echo("no keys")
    for key in keys:
        ended = f" revoked={iso_z(key.revoked_at)}" if key.revoked_at else ""
        click.echo(
            f"{key.name:<24} {key.prefix}...  scopes={key.scopes.replace(' ', ',')} "
            f"created={iso_z(key.created_at)} last_used={iso_z(key.last_used_at) or '-'}{ended}"
        )


@keys_cli.command("revoke")
@click.argument("name")
def revoke_key_command(name: str) -> None:
    """End a key at once: its next request is refused."""
    try:
        service_keys.revoke(name, utcnow())
    except service_keys.KeyRefused as err:
        raise click.ClickException(str(err))
    click.echo(f"revoked {name}")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(integrations_cli)
    app.cli.add_command(keys_cli)
