"""The WSGI app. ``create_app`` builds it and never starts background jobs."""

from __future__ import annotations

from flask import Flask, g, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from admin import init_admin

from .config import load_settings
from .db import bind_to_requests, make_engine, make_session_factory
from .throttle import LoginThrottle

MAX_REQUEST_BYTES = 1024 * 1024


def create_app(settings=None, engine=None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SMSBRIDGE_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    engine = engine or make_engine(settings.database_url, pool_size=10, max_overflow=20)
    sessions = make_session_factory(engine)
    app.extensions["smsbridge"] = {"engine": engine, "sessions": sessions,
                                   "throttle": LoginThrottle()}

    bind_to_requests(app, sessions)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Every error is JSON, also 404/405/413 raised by Flask itself.
        body = {"error": {"status": exc.code, "message": exc.description}}
        if request.path.startswith(("/smsc",)):
            body = {"success": False, "description": exc.description}
        return jsonify(body), exc.code

    @app.get("/healthz")
    def healthz():
        with g.db_session.begin():
            g.db_session.execute(text("SELECT 1"))
        return jsonify({"status": "ok"})

    from .api import classic, v1
    app.register_blueprint(classic)
    app.register_blueprint(v1)
    init_admin(app)
    return app
