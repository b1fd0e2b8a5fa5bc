"""The database engine: bounded connect time, retries with backoff, UTC sessions on
PostgreSQL, SQLite foreign keys."""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from flask import Flask, current_app
from sqlalchemy import Engine, Select, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

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
            current_app.extensions["db_retry_sleep"](delays[attempt])
    raise AssertionError("unreachable")


def read(
    statement: Select[*tuple[Any, ...]], params: Mapping[str, Any], *, failure_message: str
) -> list[tuple[Any, ...]]:
    """Run one read-only query outside any transaction and return its rows as tuples.

    The request path's reads (the session, the integrations) come here, on every database:
    compiled once per dialect, run on the pooled DBAPI connection in autocommit (no BEGIN and
    ROLLBACK round trips; psycopg prepares it after a few runs), with the columns' own type
    conversions. SQLAlchemy's per-execution machinery would double the CPU cost of the read.
    Retried like run_with_retry.
    """
    engine = db.engine
    query = _compiled(statement, engine.dialect)
    return run_with_retry(lambda: _run(engine, query, params), failure_message=failure_message)


@dataclass(frozen=True, slots=True)
class _Query:
    """A statement compiled for one dialect, with the conversions of its parameters and columns."""

    sql: str
    order: tuple[str, ...] | None  # parameter names in order, for positional paramstyles
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    columns: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, conversion), where any


@lru_cache(maxsize=32)
def _compiled(statement: Select[*tuple[Any, ...]], dialect: Dialect) -> _Query:
    compiled = statement.compile(dialect=dialect)
    binds = tuple(
        (name, bind.type.dialect_impl(dialect).bind_processor(dialect))
        for name, bind in compiled.binds.items()
    )
    processors = (
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in statement.selected_columns
    )
    columns = tuple((n, convert) for n, convert in enumerate(processors) if convert)
    order = tuple(compiled.positiontup) if compiled.positiontup else None
    return _Query(compiled.string, order, binds, columns)


def _run(engine: Engine, query: _Query, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    values = {
        name: convert(params[name]) if convert else params[name] for name, convert in query.binds
    }
    args: Any = tuple(values[name] for name in query.order) if query.order else values
    dialect = engine.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        pooled = engine.raw_connection()
    except dbapi_error as err:  # the pool hands on the driver's own error when it cannot connect
        raise DBAPIError.instance(query.sql, None, err, dbapi_error) from err
    connection = pooled.dbapi_connection
    assert connection is not None  # a checked-out connection always has one
    try:
        dialect.set_isolation_level(connection, "AUTOCOMMIT")
        cursor = connection.cursor()
        try:
            cursor.execute(query.sql, args)
            rows = list(cursor.fetchall())
        finally:
            cursor.close()
            dialect.reset_isolation_level(connection)  # the pool hands it to sessions next
    except dbapi_error as err:
        lost = dialect.is_disconnect(err, connection, None)
        if lost:
            pooled.invalidate(err)  # as SQLAlchemy does when it sees a disconnect
        raise DBAPIError.instance(
            query.sql, None, err, dbapi_error, connection_invalidated=lost
        ) from err
    finally:
        pooled.close()
    return [_converted(row, query.columns) for row in rows] if query.columns else rows


def _converted(
    row: tuple[Any, ...], columns: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> tuple[Any, ...]:
    """The row with its columns' own type conversions applied (UTC datetimes on SQLite)."""
    values = list(row)
    for n, convert in columns:
        values[n] = convert(values[n])
    return tuple(values)


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
    contract's two-second answer when the server is unreachable.
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
    """PostgreSQL connects through BoundedConnection, in UTC; SQLite enforces foreign keys."""
    app.extensions["db_retry_sleep"] = time.sleep  # the one wait between retries; tests record it
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
        return
    timeout = app.config["DB_CONNECT_TIMEOUT"]
    connection_class: type[BoundedConnection] = type(
        "AppConnection", (BoundedConnection,), {"connect_timeout": timeout}
    )

    @event.listens_for(engine, "do_connect")
    def connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> Any:
        # Sessions in UTC, whatever the server's default: timestamps come back as aware UTC
        # datetimes with no conversion on our side (timeutil.UtcDateTime counts on it).
        options = " ".join(filter(None, (cparams.get("options"), "-c TimeZone=UTC")))
        return connection_class.connect(*cargs, **{**cparams, "options": options})


def _sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
