"""Engine and session factory. Every connection runs in UTC and READ
COMMITTED: UTC so that our DATETIME columns and Gammu's TIMESTAMP columns
compare on one clock; READ COMMITTED so that ``SKIP LOCKED`` claims see
each other's commits and InnoDB takes no gap locks between dispatchers.

Every call to the database is bounded (``timeout``): a server that is down,
restarting or frozen makes a call fail within seconds instead of hanging a
request or a job forever. Row-lock waits are cut a second shorter, so that
InnoDB answers "lock wait timeout" (a clean, retryable error) before the
client gives up on the connection."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, cast

import pymysql
from flask import g
from sqlalchemy import Engine, Executable, create_engine, event
from sqlalchemy.engine import URL, CursorResult, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

# What a caller sees while the server is unreachable, restarting, frozen or
# too busy: the request may be tried again later, nothing is wrong with it.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
# The driver's own errors, as the pool meets them below SQLAlchemy's wrapping.
_DBAPI_UNREACHABLE = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)
log = logging.getLogger("smsbridge.db")


def make_engine(database_url: str | URL, *, timeout: float | None = None, **kwargs) -> Engine:
    """``timeout``: seconds a connect, read or write may take (None: no bound,
    for schema changes that may rightly take long)."""
    url = make_url(database_url)
    mysql = url.get_backend_name() in ("mysql", "mariadb")
    if mysql:
        url = url.update_query_dict({"charset": "utf8mb4"})
    if mysql and timeout is not None:
        seconds = max(1, round(timeout))
        kwargs["connect_args"] = {
            "connect_timeout": seconds,
            "read_timeout": seconds,
            "write_timeout": seconds,
            **kwargs.get("connect_args", {}),
        }
        kwargs.setdefault("pool_timeout", seconds)
    quiet_pool_tracebacks()
    engine = create_engine(
        url,
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,
        pool_recycle=3600,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _session_defaults(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET time_zone = '+00:00'")
            if mysql and timeout is not None:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = %s", (max(1, round(timeout) - 1),))

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def execute_dml(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """``session.execute`` for an INSERT, UPDATE or DELETE without RETURNING,
    typed as what it returns: a ``CursorResult``, whose ``rowcount`` and
    ``inserted_primary_key`` the callers read. SQLAlchemy types it as a plain
    ``Result`` and advises this cast (changelog 2.0.44)."""
    return cast(CursorResult[Any], session.execute(statement, params))


def bind_to_requests(app, sessions: sessionmaker[Session]) -> None:
    """A session per request of ``app`` as ``g.db_session``, closed in teardown."""

    @app.before_request
    def _open_session():
        g.db_session = sessions()

    @app.teardown_request
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


class _NoTracebackWhenUnreachable(logging.Filter):
    """SQLAlchemy's pool logs a whole traceback when it cannot roll back a
    connection to a server that went away; that is the outage already
    reported in one line, so keep its message and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and isinstance(exc, (*UNAVAILABLE, *_DBAPI_UNREACHABLE)):
            record.msg = (
                f"{record.getMessage()}: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
            )
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


def quiet_pool_tracebacks() -> None:
    """Install the filter once per process (idempotent)."""
    pool_log = logging.getLogger("sqlalchemy.pool.impl.QueuePool")
    if not any(isinstance(f, _NoTracebackWhenUnreachable) for f in pool_log.filters):
        pool_log.addFilter(_NoTracebackWhenUnreachable())


class UnavailableLog:
    """While the database is unreachable: one log line at once, then at most
    one every ``every`` seconds with a count, not a traceback per request."""

    def __init__(self, every: float = 10.0):
        self._every = every
        self._lock = threading.Lock()
        self._last = -every
        self._quiet = 0

    def record(self, exc: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._every:
                self._quiet += 1
                return
            also, self._last, self._quiet = self._quiet, now, 0
        cause = getattr(exc, "orig", None) or exc
        log.warning(
            "database unavailable, answering 503%s: %s",
            f" ({also} more since the last line)" if also else "",
            (str(cause).splitlines() or [type(cause).__name__])[0][:200],
        )
