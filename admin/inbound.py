"""Received texts and what the rules did with each, newest first: a user
sees the texts attributed to them, an admin every text. Under each rule's
outcome, what its action led to (the reply's status, the webhook delivery's
outcome); a reply box sends a text back to the sender through accept(), as
the signed-in user; a search by sender or text."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from bridge import wake
from bridge.accept import SendOptions, accept
from bridge.errors import AcceptError, AuthError, NotFound
from bridge.messages import follow_ups, inbound_view, list_inbound, visible_inbound
from bridge.models import User

from .auth import SecureView, signed_in_user
from .common import db, query_int, settings

PAGE_SIZE = 50
MAX_SEARCH = 100


class InboundView(SecureView):
    @expose("/")
    def index(self):
        return self._page()

    def _page(self, reply_to: int | None = None, reply_text: str = "", reply_error: str | None = None):
        problems: list[str] = []
        before = query_int(request.args, "before", problems) or 0
        search = request.args.get("q", "")
        if len(search) > MAX_SEARCH:
            problems.append(f"q: a search is at most {MAX_SEARCH} characters")
            search = ""
        for problem in problems:
            flash(problem, "error")
        user = signed_in_user()
        with db().begin():
            # One more than a page: whether there is an older page to link to.
            found = list_inbound(
                db(), user, since=before, limit=PAGE_SIZE + 1, newest_first=True, search=search
            )
            logins = dict(db().execute(select(User.id, User.login)).all()) if user.is_admin else {}
            shown = found[:PAGE_SIZE]
            ups = follow_ups(db(), [r for m in shown for r in m.results])
            rows = []
            for m in shown:
                view = inbound_view(m)
                for result, rule in zip(m.results, view["rules"], strict=True):
                    rule["follow_up"] = ups.get(result.id)
                rows.append({**view, "user": logins.get(m.user_id)})
        older = rows[-1]["id"] if len(found) > PAGE_SIZE else None
        failed = bool(problems or reply_error)
        return self.render(
            "smsbridge/inbound.html",
            rows=rows,
            before=before,
            older=older,
            search=search,
            show_users=user.is_admin,
            reply_to=reply_to,
            reply_text=reply_text,
            reply_error=reply_error,
        ), 400 if failed else 200

    @expose("/<int:inbound_id>/reply", methods=("POST",))
    def reply(self, inbound_id: int):
        """Text the sender back from the SIM that received the text, as the
        signed-in user (a user only for texts attributed to them)."""
        text = request.form.get("text", "")
        user = signed_in_user()
        try:
            with db().begin():
                inbound = visible_inbound(db(), inbound_id, user)
                sim, sender = inbound.sim_name, inbound.sender
                # The SIM that received it is the number the sender knows: an
                # admin's reply waits for that SIM (as the send form's SIM
                # choice, which is an admin's); a user's goes through any SIM
                # they may use, and the notice says so.
                pinned = user.is_admin and inbound.sim_id is not None
                result = accept(
                    db(),
                    user,
                    inbound.sender,
                    text,
                    SendOptions(sim=sim if pinned else None),
                    settings=settings(),
                    source="admin",
                )
        except NotFound:
            return self.render(
                "smsbridge/problem.html",
                title="Not found",
                problem=f"There is no received text {inbound_id} you can see.",
            ), 404
        except (AcceptError, AuthError) as exc:
            field = getattr(exc, "field", None)
            message = exc.message if field in (None, "text") else f"{field}: {exc.message}"
            return self._page(reply_to=inbound_id, reply_text=text, reply_error=message)
        wake.notify(settings())
        [sent] = result.messages
        how = f"from SIM {sim}, which received the text" if pinned else f"the text came in on SIM {sim}"
        flash(f"Reply to {sender} queued as message {sent['id']} ({how}).", "success")
        return redirect(url_for(".index", q=request.args.get("q") or None))
