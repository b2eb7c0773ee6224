"""The WSGI app. ``create_app`` builds it and never starts background jobs.
``/healthz``, ``/readyz`` and ``/metrics`` are in ``monitoring``.

While the database is unreachable (down, restarting, frozen past
``db_timeout``) every route answers 503 with ``Retry-After`` and a JSON body
saying so, instead of hanging or a generic 500: a client that retries later
loses nothing (a request whose commit was cut off may have been stored: the
JSON API's ``Idempotency-Key`` makes its retry safe)."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from admin import init_admin

from .. import metrics, reports
from ..config import Settings, load_settings
from ..db import (
    UNAVAILABLE,
    UnavailableLog,
    bind_to_requests,
    make_engine,
    make_session_factory,
)
from .api import classic, v1
from .monitoring import monitoring

MAX_REQUEST_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_MESSAGE = "the database is unavailable; try again later"


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SMSBRIDGE_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    # Flask's own provider (json_provider_class is left as it is); the
    # attribute is typed as the base JSONProvider, which has no options.
    assert isinstance(app.json, DefaultJSONProvider)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    engine = engine or make_engine(
        settings.database_url, timeout=settings.db_timeout, pool_size=10, max_overflow=20
    )
    sessions = make_session_factory(engine)
    unavailable = UnavailableLog()
    app.extensions["smsbridge"] = {
        "engine": engine,
        "sessions": sessions,
        # The notebook's cells run as its own read-only account, never this one.
        "report_engine": reports.NotebookEngine(settings),
        "unavailable": unavailable,
        "metrics": metrics.registry(sessions, settings),
    }

    bind_to_requests(app, sessions)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Every error is JSON, also 404/405/413 raised by Flask itself; its
        # headers (Allow on a 405) stay.
        assert exc.code is not None  # Flask hands an exception without a code to no handler
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return _error_body(exc.code, exc.description), exc.code, headers

    def _database_unavailable(exc: Exception):
        unavailable.record(exc)
        return _error_body(503, UNAVAILABLE_MESSAGE), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, _database_unavailable)

    app.register_blueprint(monitoring)
    app.register_blueprint(classic)
    app.register_blueprint(v1)
    init_admin(app)
    if settings.trusted_proxies:
        # Outermost, so that the API and the admin both see the client's
        # address (login throttle) and scheme (Secure cookie).
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
    return app


def _error_body(status: int, message: str | None):
    # None only from an HTTPException that has no description.
    if request.path.startswith("/smsc"):
        return jsonify({"success": False, "description": message})
    return jsonify({"error": {"status": status, "message": message}})
