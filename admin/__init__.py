"""The web admin at /admin: dashboard, message archive, received texts,
send form, users, SIMs, opt-outs, rules, webhooks, the reports notebook and
alerts (and their banner on every page).

``init_admin(app)`` mounts it as a Flask app of its own under /admin of the
API's app (one WSGI app to serve, one process). Kept apart because its
concerns are not the API's: it has cookie sessions, CSRF tokens on every
form and HTML error pages, while the JSON API and /smsc authenticate each
request, need no CSRF token (no cookie for a forged request to ride on)
and answer errors in JSON. Both share the engine and the settings.

Logins are the API's users (password); a user sees their own messages and
the SIMs they may use, an admin everything.
"""

from __future__ import annotations

from flask import Flask, render_template
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bridge.clock import show_time, show_times_in
from bridge.config import Settings
from bridge.db import UNAVAILABLE, bind_to_requests

from .account import AccountView
from .alerts import REFRESH_SECONDS, AlertsView, open_alerts
from .auth import SESSION_LIFETIME, LoginView, SessionCookies, current_user, secret_key, viewer_zone
from .dashboard import DashboardView
from .inbound import InboundView
from .manage import OptOutsView, SimsView, UsersView
from .messages import MessagesView
from .notebook import NotebookView
from .rules import RulesView
from .send import SendView
from .webhooks import WebhookView

URL = "/admin"
# No admin form comes near this; a bigger body is refused (413) before it is read.
MAX_REQUEST_BYTES = 1024 * 1024


def init_admin(app: Flask) -> Flask:
    """Mount the admin under /admin of ``app``; return the admin's own app."""
    admin_app = create_admin_app(app.config["SMSBRIDGE_SETTINGS"], app.extensions["smsbridge"])
    # Flask's documented way to wrap its WSGI app; the stubs know wsgi_app as a method only.
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {URL: admin_app})  # type: ignore[method-assign]
    return admin_app


def create_admin_app(settings: Settings, smsbridge: dict) -> Flask:
    """``smsbridge``: the API app's {"engine", "sessions"}, shared."""
    app = Flask(__name__)
    app.config["SMSBRIDGE_SETTINGS"] = settings
    app.extensions["smsbridge"] = smsbridge
    app.secret_key = secret_key(settings)
    app.session_interface = SessionCookies()
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH=URL,
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
    )
    CSRFProtect(app)  # every POST of this app needs the token

    bind_to_requests(app, smsbridge["sessions"])

    @app.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError):
        return render_template("smsbridge/refused.html", reason=exc.description), 400

    def _database_unavailable(exc: Exception):
        # A page of its own: the admin's layout itself reads the database.
        smsbridge["unavailable"].record(exc)
        return render_template("smsbridge/unavailable.html"), 503, {"Retry-After": "5"}

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, _database_unavailable)

    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["when_in"] = when_in
    app.jinja_env.globals["viewer_zone"] = viewer_zone
    app.jinja_env.globals["admin_user"] = current_user
    app.jinja_env.globals["open_alerts"] = open_alerts
    app.jinja_env.globals["refresh_seconds"] = REFRESH_SECONDS

    admin = Admin(
        app,
        name="smsbridge",
        url="/",
        theme=Bootstrap4Theme(swatch="default"),
        index_view=DashboardView(name="Dashboard", url="/"),
    )
    admin.add_view(MessagesView(name="Messages", endpoint="messages"))
    admin.add_view(InboundView(name="Inbound", endpoint="inbound"))
    admin.add_view(SendView(name="Send", endpoint="send"))
    admin.add_view(UsersView(name="Users", endpoint="users"))
    admin.add_view(SimsView(name="SIMs", endpoint="sims"))
    admin.add_view(OptOutsView(name="Opt-outs", endpoint="optouts"))
    admin.add_view(RulesView(name="Rules", endpoint="rules"))
    admin.add_view(WebhookView(name="Webhook", endpoint="webhook"))
    admin.add_view(NotebookView(name="Reports", endpoint="notebook"))
    admin.add_view(AlertsView(name="Alerts", endpoint="alerts"))
    admin.add_view(AccountView(name="Account", endpoint="account"))
    admin.add_view(LoginView(name="Log in", endpoint="login"))
    return app


def when_in(text: str | None) -> str:
    """Stored text (a wait reason, an error, an alert's detail) with the
    moments in it shown as ``when`` shows them."""
    return show_times_in(text, viewer_zone())


def when(value) -> str:
    """A stored time (or its ISO form) in the reader's time zone: one format
    on every page, "2026-11-25 09:35:24 MSK"."""
    return show_time(value, viewer_zone())
