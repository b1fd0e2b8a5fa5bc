"""Flask commands for operators and developers."""

from __future__ import annotations

import time

import click
from flask import Flask
from flask.cli import with_appcontext

from .demo import seed_demo
from .timeutil import utcnow


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


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
