"""Alembic environment, run through Flask-Migrate (`flask --app wsgi db upgrade`)."""

from __future__ import annotations

from typing import Any

from alembic import context
from flask import current_app

# NextAuth's tables may belong to the Next.js app: autogenerate never proposes changes to them.
NEXTAUTH_TABLES = {"users", "sessions", "accounts", "verification_token"}

db = current_app.extensions["migrate"].db


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (type_ == "table" and name in NEXTAUTH_TABLES)


def run_migrations_offline() -> None:
    context.configure(
        url=db.engine.url.render_as_string(hide_password=False),
        target_metadata=db.metadata,
        literal_binds=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            include_name=include_name,
            **current_app.extensions["migrate"].configure_args,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
