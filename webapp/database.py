"""The database engine: bounded connect time, retries with backoff, one-round-trip reads,
SQLite foreign keys."""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from flask import Flask, current_app
from sqlalchemy import Row, Select, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .config import READS
from .errors import ApiError
from .extensions import db
from .metrics import DB_RETRIES

T = TypeVar("T")
log = logging.getLogger("webapp.db")

# SQLSTATE classes that mean the connection itself failed or the server is going away.
_CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03")
# A transaction PostgreSQL ended to break a conflict with another (deadlock detected,
# serialization failure): nothing of it was kept, and running it again goes through.
_CONFLICT_SQLSTATES = ("40P01", "40001")


class DatabaseUnavailable(ApiError):
    """The database could not serve the request; the client should come back later."""

    def __init__(self, message: str) -> None:
        super().__init__("INTERNAL_ERROR", message, 500, retry_after=60)


def is_connection_failure(err: BaseException) -> bool:
    """True for refused, timed out, unreachable or dropped connections; never for query errors."""
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    orig = getattr(err, "orig", err)
    if not isinstance(orig, psycopg.OperationalError):
        return False
    sqlstate = orig.sqlstate
    return sqlstate is None or sqlstate.startswith(_CONNECTION_SQLSTATES)


def is_transient(err: BaseException) -> bool:
    """True when the same work may well succeed if run again: a connection failure, or a
    transaction PostgreSQL ended to break a deadlock or a serialization conflict."""
    return is_connection_failure(err) or sqlstate_of(err) in _CONFLICT_SQLSTATES


def sqlstate_of(err: BaseException) -> str | None:
    """The SQLSTATE the server (or psycopg) gave the error, if any; SQLite has none."""
    sqlstate = getattr(getattr(err, "orig", err), "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def run_with_retry(work: Callable[[], T], *, failure_message: str) -> T:
    """Run one unit of database work; when it fails for a transient reason (is_transient), run
    it again after each of the configured delays. Every failure is logged with its SQLSTATE."""
    delays: tuple[float, ...] = current_app.config["DB_RETRY_DELAYS"]
    for attempt in range(len(delays) + 1):
        try:
            return work()
        except SQLAlchemyError as err:
            _discard_session()
            fields: dict[str, object] = {"error": _describe(err), "sqlstate": sqlstate_of(err)}
            if not is_transient(err):
                log.error("database error", extra={"fields": fields})
                raise DatabaseUnavailable(failure_message) from err
            lost = is_connection_failure(err)
            if attempt == len(delays):
                fields["attempts"] = attempt + 1
                given_up = "unreachable" if lost else "conflict"
                log.error(f"database {given_up} after retries", extra={"fields": fields})
                raise DatabaseUnavailable(failure_message) from err
            DB_RETRIES.inc()
            fields |= {"attempt": attempt + 1, "delayMs": int(delays[attempt] * 1000)}
            failed = "connection failed" if lost else "conflict"
            log.warning(f"database {failed}, retrying", extra={"fields": fields})
            current_app.extensions["sleep"](delays[attempt])
    raise AssertionError("unreachable")


def read(
    statement: Select[*tuple[Any, ...]], params: Mapping[str, Any], *, failure_message: str
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Run one read-only query outside any transaction and return its rows; retried like
    run_with_retry.

    The request path's reads come here: SQLAlchemy Core on the engine whose connections are in
    autocommit (config.READS), so a read costs one round trip: no BEGIN before it, no ROLLBACK
    when the connection goes back to the pool.
    """

    def run() -> Sequence[Row[*tuple[Any, ...]]]:
        with db.engines[READS].connect() as connection:
            return connection.execute(statement, params).all()

    return run_with_retry(run, failure_message=failure_message)


def _discard_session() -> None:
    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.close()


def _describe(err: BaseException) -> str:
    orig = getattr(err, "orig", None)
    return type(orig or err).__name__


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose connect phase gives up after `connect_timeout` seconds.

    libpq's own connect_timeout cannot go below two seconds, which alone would break the
    contract's two-second answer when the server is unreachable, and psycopg enforces the same
    minimum when it waits itself. Wrapping its connect generator is the one way to a shorter
    bound (psycopg has no public hook for it), so this override stays until it offers one.
    """

    connect_timeout: float = 0.2

    @classmethod
    def _connect_gen(cls, conninfo: str = "") -> Any:
        return _with_deadline(
            super()._connect_gen(conninfo), time.monotonic() + cls.connect_timeout
        )


def _with_deadline(gen: Generator[Any, Any, Any], deadline: float) -> Generator[Any, Any, Any]:
    try:
        fileno, wait = next(gen)
        while True:
            if not _ready_before(fileno, wait, deadline):
                gen.close()
                raise psycopg.errors.ConnectionTimeout("connection timeout expired")
            ready = yield fileno, wait
            fileno, wait = gen.send(ready)
    except StopIteration as done:
        return done.value


def _ready_before(fileno: int, wait: int, deadline: float) -> bool:
    """Wait for the socket here: psycopg looks at the clock only every 100 ms, overshooting."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    with selectors.DefaultSelector() as selector:
        selector.register(fileno, wait)
        return bool(selector.select(remaining))


def init_app(app: Flask) -> None:
    """PostgreSQL connects through BoundedConnection; SQLite enforces foreign keys."""
    timeout = app.config["DB_CONNECT_TIMEOUT"]
    connection_class: type[BoundedConnection] = type(
        "AppConnection", (BoundedConnection,), {"connect_timeout": timeout}
    )

    def connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        return connection_class.connect(*cargs, **cparams)

    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_foreign_keys)
        else:
            event.listen(engine, "do_connect", connect)


def dispose_engines(*, close: bool = True) -> None:
    """Drop every pooled connection of the app's engines: closed at a test's end, left to the
    parent in a forked worker (close=False, as SQLAlchemy advises after fork)."""
    for engine in db.engines.values():
        engine.dispose(close=close)


def _sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
