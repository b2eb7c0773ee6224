"""The Alerts page: every alert, open ones first, with when it was raised
and resolved; for admins the channels (add, remove, send a test). Also the
banner of open alerts that the layout shows on every page."""

from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_admin import expose

from bridge import alerts
from bridge.db import UNAVAILABLE
from bridge.errors import BridgeError

from .auth import SecureView, signed_in_user
from .common import db, form_int, new_session, settings

REFRESH_SECONDS = 3


def open_alerts() -> list[dict]:
    """For the banner: in a session of its own, since a page may be rendered
    inside its request's transaction; nothing when the database is away."""
    session = new_session()
    try:
        with session.begin():
            return alerts.list_alerts(session, open_only=True, limit=20)
    except UNAVAILABLE:
        return []
    finally:
        session.close()


class AlertsView(SecureView):
    @expose("/")
    def index(self):
        with db().begin():
            rows = alerts.list_alerts(db(), limit=200)
            channels = alerts.list_channels(db()) if signed_in_user().is_admin else []
        return self.render(
            "smsbridge/alerts.html",
            rows=rows,
            channels=channels,
            kinds=alerts.CHANNEL_KINDS,
            securities=list(alerts.SECURITY),
        )

    @expose("/channels", methods=("POST",))
    def add_channel(self):
        if not signed_in_user().is_admin:
            return self.inaccessible_callback("add_channel")
        form = request.form
        try:
            with db().begin():
                channel = alerts.add_channel(
                    db(),
                    settings(),
                    form.get("kind", ""),
                    form.get("target", ""),
                    login=form.get("login") or None,
                    smtp_host=form.get("smtp_host") or None,
                    smtp_port=form_int(form.get("smtp_port")),
                    smtp_security=form.get("smtp_security") or "starttls",
                    smtp_login=form.get("smtp_login") or None,
                    smtp_password=form.get("smtp_password") or None,
                    mail_from=form.get("mail_from") or None,
                )
                flash(f"Channel {channel.id} added: {channel.kind} {channel.target}.", "success")
        except (BridgeError, ValueError) as exc:
            flash(getattr(exc, "message", str(exc)), "error")
        return redirect(url_for(".index"))

    @expose("/channels/<int:channel_id>/remove", methods=("POST",))
    def remove_channel(self, channel_id: int):
        if not signed_in_user().is_admin:
            return self.inaccessible_callback("remove_channel")
        try:
            with db().begin():
                alerts.remove_channel(db(), channel_id)
            flash(f"Channel {channel_id} removed.", "success")
        except BridgeError as exc:
            flash(exc.message, "error")
        return redirect(url_for(".index"))

    @expose("/test", methods=("POST",))
    def test(self):
        if not signed_in_user().is_admin:
            return self.inaccessible_callback("test")
        try:
            with db().begin():
                queued = alerts.send_test(db(), settings())
        except BridgeError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".index"))
        for problem in queued.problems:
            flash(f"Not sent: {problem}", "error")
        flash(
            f"Test queued: {len(queued.email_ids)} e-mail(s), {len(queued.webhook_ids)} webhook(s), "
            f"{len(queued.message_ids)} text(s); the worker sends them within seconds.",
            "success",
        )
        current_app.logger.info("alert test queued from the admin")
        return redirect(url_for(".index"))
