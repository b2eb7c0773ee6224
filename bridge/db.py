"""Engine and session factory. Every connection runs in UTC and READ
COMMITTED: UTC so that our DATETIME columns and Gammu's TIMESTAMP columns
compare on one clock; READ COMMITTED so that ``SKIP LOCKED`` claims see
each other's commits and InnoDB takes no gap locks between dispatchers."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(database_url: str | URL, **kwargs) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() in ("mysql", "mariadb"):
        url = url.update_query_dict({"charset": "utf8mb4"})
    engine = create_engine(
        url,
        isolation_level="READ COMMITTED",
        pool_pre_ping=True,
        pool_recycle=3600,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _utc(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET time_zone = '+00:00'")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def bind_to_requests(app, sessions: sessionmaker[Session]) -> None:
    """A session per request of ``app`` as ``g.db_session``, closed in teardown."""
    from flask import g

    @app.before_request
    def _open_session():
        g.db_session = sessions()

    @app.teardown_request
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
