"""The webhook page: where a user's events are POSTed, and a new signing
secret, shown once. A user sets their own; an admin anyone's."""

from __future__ import annotations

from flask import request
from flask_admin import expose
from sqlalchemy import select

from bridge import webhooks
from bridge.errors import AcceptError, BridgeError
from bridge.models import User, Webhook

from .auth import SecureView, signed_in_user
from .common import db, settings

FIELDS = ("login", "url")


class WebhookView(SecureView):
    @expose("/", methods=("GET", "POST"))
    def index(self):
        me = signed_in_user()
        form = {"login": me.login, "url": ""}
        errors: dict[str, str] = {}
        new_secret = None
        if request.method == "POST":
            # Only an admin may name another user; a user's form always means themselves.
            form = {
                "login": request.form.get("login", "") if me.is_admin else me.login,
                "url": request.form.get("url", "").strip(),
            }
            try:
                with db().begin():
                    new_secret = (
                        form["login"],
                        webhooks.set_webhook(db(), settings(), form["login"], form["url"]),
                    )
            except AcceptError as exc:
                errors[exc.field if exc.field in FIELDS else "form"] = exc.message
            except BridgeError as exc:  # no such user
                errors["login" if me.is_admin else "form"] = exc.message
        with db().begin():
            query = (
                select(User.login, Webhook.url)
                .join(Webhook, Webhook.user_id == User.id, isouter=True)
                .order_by(User.login)
            )
            if not me.is_admin:
                query = query.where(User.id == me.id)
            hooks = db().execute(query).all()
        return self.render(
            "smsbridge/webhook.html",
            hooks=hooks,
            form=form,
            errors=errors,
            new_secret=new_secret,
            logins=[h.login for h in hooks],
            events=webhooks.EVENTS,
        ), 400 if errors else 200
