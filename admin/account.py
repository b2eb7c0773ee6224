"""The signed-in person's own settings: the time zone every page shows
times in (and their send window is read in), through the same
users.set_timezone the Users page and `smsbridge user set --timezone` use."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import flash, redirect, request, url_for
from flask_admin import expose

from bridge import users
from bridge.clock import show_time, utcnow
from bridge.errors import BridgeError

from .auth import SecureView, signed_in_user, viewer_zone
from .common import db


class AccountView(SecureView):
    def is_visible(self) -> bool:
        return False  # reached from the name in the navigation bar

    def _page(self, zone: str, error: str | None = None):
        return self.render(
            "smsbridge/account.html",
            zone=zone,
            zones=sorted(available_timezones()),
            now_there=show_time(utcnow(), zone or "UTC"),
            error=error,
        )

    @expose("/", methods=("GET", "POST"))
    def index(self):
        me = signed_in_user()
        if request.method == "GET":
            return self._page(viewer_zone())
        zone = request.form.get("timezone", "").strip()
        try:
            with db().begin():
                users.set_timezone(db(), me.login, zone)
        except BridgeError as exc:
            return self._page(zone, error=exc.message), 400
        flash(f"Times are now shown in {zone or 'UTC'}.", "success")
        return redirect(url_for(".index"))
