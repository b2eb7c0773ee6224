"""Received texts and what the rules did with each, newest first: a user
sees the texts attributed to them, an admin every text."""

from __future__ import annotations

from flask import flash, request
from flask_admin import expose
from sqlalchemy import select

from bridge.messages import inbound_view, list_inbound
from bridge.models import User

from .auth import SecureView, signed_in_user
from .common import db, query_int

PAGE_SIZE = 50


class InboundView(SecureView):
    @expose("/")
    def index(self):
        problems: list[str] = []
        before = query_int(request.args, "before", problems) or 0
        for problem in problems:
            flash(problem, "error")
        user = signed_in_user()
        with db().begin():
            # One more than a page: whether there is an older page to link to.
            found = list_inbound(db(), user, since=before, limit=PAGE_SIZE + 1, newest_first=True)
            logins = dict(db().execute(select(User.id, User.login)).all()) if user.is_admin else {}
            rows = [{**inbound_view(m), "user": logins.get(m.user_id)} for m in found[:PAGE_SIZE]]
        older = rows[-1]["id"] if len(found) > PAGE_SIZE else None
        return self.render(
            "smsbridge/inbound.html", rows=rows, before=before, older=older, show_users=user.is_admin
        ), 400 if problems else 200
