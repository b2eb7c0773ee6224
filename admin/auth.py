"""Who is looking at the admin: the session cookie, the secret that signs
it, the login page and a brake on password guessing.

The cookie carries only a random session token; the session itself is a
row of ``admin_sessions`` (``bridge.users``), checked on every request, so
logout, a new password or a block end it at once in every web process (a
copied cookie is worth nothing after that). The cookie is HttpOnly,
SameSite=Lax, and Secure when the ``secure_cookies`` setting says so or the
request came over HTTPS (as a trusted proxy reports it)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_admin import BaseView, expose

from bridge import throttle, users
from bridge.config import Settings, secret_file
from bridge.errors import AuthError
from bridge.models import User

SESSION_LIFETIME = timedelta(hours=8)


def secret_key(settings: Settings) -> str:
    """settings.secret_key, or one generated once into <state_dir>/secret_key
    (0600), shared by every web process of the host."""
    return settings.secret_key or secret_file(settings, "secret_key")


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure also when this request came
    over HTTPS (``SESSION_COOKIE_SECURE`` marks it always)."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def current_user() -> User | None:
    """The logged-in user of this request: a live session row whose user
    is not blocked. Anything else clears the cookie."""
    if "admin_user" in g:
        return g.admin_user
    g.admin_user = None
    token = session.get("sid")
    if token is not None:
        with g.db_session.begin():
            user = users.session_user(g.db_session, str(token))
        if user is None:
            session.clear()
        else:
            g.admin_user = user
    return g.admin_user


def viewer_zone() -> str:
    """The time zone the signed-in person reads and types times in
    (users.timezone); UTC when they have none or nobody is signed in."""
    user = current_user()
    return (user.timezone if user else None) or "UTC"


def signed_in_user() -> User:
    """The logged-in user, on a SecureView page: Flask-Admin runs a page's
    handler only once is_accessible() found one, and current_user() keeps
    that one for the rest of the request."""
    user = current_user()
    assert user is not None, "a SecureView page ran without a logged-in user"
    return user


def login(user: User) -> None:
    session.clear()  # nothing from before the login carries over
    with g.db_session.begin():
        token = users.open_session(g.db_session, user, SESSION_LIFETIME)
    session.permanent = True
    session["sid"] = token
    g.admin_user = user


class SecureView(BaseView):
    """A page for logged-in users; ``admin_only`` pages for admins."""

    admin_only = False

    def is_accessible(self) -> bool:
        user = current_user()
        return user is not None and (user.is_admin or not self.admin_only)

    def is_visible(self) -> bool:
        return self.is_accessible()

    def inaccessible_callback(self, name, **kwargs):
        if current_user() is None:
            return redirect(url_for("login.index", next=request.script_root + request.full_path))
        return self.render(
            "smsbridge/problem.html", title="Not allowed", problem="This page is for administrators."
        ), 403


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an absolute URL here would make the login
    # page an open redirect ("//host" and "/\\host" are one to a browser),
    # and a control character would break the Location header.
    target = target or ""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 or ord(c) == 127 for c in target)
        or urlsplit(target).netloc
    ):
        return url_for("admin.index")
    return target


class LoginView(BaseView):
    def is_visible(self) -> bool:
        return False

    @expose("/", methods=("GET", "POST"))
    def index(self):
        address = request.remote_addr or "?"
        name = request.form.get("login", "")
        db = g.db_session
        error = None
        if request.method == "POST":
            try:
                with db.begin():
                    user = throttle.sign_in(db, address, name, request.form.get("password", ""))
            except throttle.LockedOut as exc:
                error = f"Too many failed logins; try again in {exc.retry_after} s."
            except AuthError as exc:
                if exc.status == 401:
                    with db.begin():
                        throttle.failed(db, address, name)
                error = "Wrong login or password." if exc.status == 401 else exc.message.capitalize() + "."
            else:
                login(user)
                return redirect(_safe_next(request.args.get("next")))
        return self.render("smsbridge/login.html", error=error, login_name=name), 401 if error else 200

    @expose("/logout", methods=("POST",))
    def logout(self):
        token = session.get("sid")
        if token is not None:
            with g.db_session.begin():
                users.end_session(g.db_session, str(token))
        session.clear()
        flash("You are logged out.", "info")
        return redirect(url_for("login.index"))
