"""Who is looking at the admin: the session cookie, the secret that signs
it, the login page and a brake on password guessing."""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_admin import BaseView, expose
from sqlalchemy import select

from bridge.config import Settings
from bridge.errors import AuthError
from bridge.models import User
from bridge.throttle import LoginThrottle  # noqa: F401 - the admin's login page uses it
from bridge.users import authenticate_password

SESSION_LIFETIME = timedelta(hours=8)


def secret_key(settings: Settings) -> str:
    """settings.secret_key, or one generated once into <state_dir>/secret_key
    (0600). Every web process of the host must sign with the same key, so
    the file is created atomically: the first process writes it, the others
    read what it wrote."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.state_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(scratch, path)  # fails if another process won the race
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_text(encoding="utf-8").strip()


def _fingerprint(user: User) -> str:
    # A new password (or a reset by an admin) changes the hash, and with it
    # this value: every session opened with the old password ends.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def current_user() -> User | None:
    """The logged-in user of this request, checked against the database:
    a blocked user, a changed password or an expired session logs out."""
    if "admin_user" in g:
        return g.admin_user
    g.admin_user = None
    user_id = session.get("uid")
    if user_id is not None:
        expired = time.time() - session.get("since", 0) > SESSION_LIFETIME.total_seconds()
        with g.db_session.begin():
            user = g.db_session.scalar(select(User).where(User.id == user_id))
        if user is None or user.blocked or expired or session.get("pw") != _fingerprint(user):
            session.clear()
        else:
            g.admin_user = user
    return g.admin_user


def signed_in_user() -> User:
    """The logged-in user, on a SecureView page: Flask-Admin runs a page's
    handler only once is_accessible() found one, and current_user() keeps
    that one for the rest of the request."""
    user = current_user()
    assert user is not None, "a SecureView page ran without a logged-in user"
    return user


def login(user: User) -> None:
    session.clear()  # nothing from before the login carries over
    session.permanent = True
    session.update(uid=user.id, pw=_fingerprint(user), since=time.time())
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
    # page an open redirect.
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/"):
        return url_for("admin.index")
    return target


class LoginView(BaseView):
    def is_visible(self) -> bool:
        return False

    @expose("/", methods=("GET", "POST"))
    def index(self):
        throttle: LoginThrottle = current_app.extensions["smsbridge_admin"]["throttle"]
        address = request.remote_addr or "?"
        error = None
        if request.method == "POST":
            wait = throttle.wait_seconds(address)
            if wait:
                error = f"Too many failed logins from your address; try again in {wait} s."
            else:
                try:
                    with g.db_session.begin():
                        user = authenticate_password(
                            g.db_session, request.form.get("login", ""), request.form.get("password", "")
                        )
                except AuthError as exc:
                    throttle.failed(address)
                    error = (
                        "Wrong login or password." if exc.status == 401 else exc.message.capitalize() + "."
                    )
                else:
                    throttle.succeeded(address)
                    login(user)
                    return redirect(_safe_next(request.args.get("next")))
        return self.render(
            "smsbridge/login.html", error=error, login_name=request.form.get("login", "")
        ), 401 if error else 200

    @expose("/logout", methods=("POST",))
    def logout(self):
        session.clear()
        flash("You are logged out.", "info")
        return redirect(url_for("login.index"))
