"""The message archive: filtered list, CSV export, detail with parts and
timeline, and the cancel / retry actions."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, flash, redirect, request, stream_with_context, url_for
from flask_admin import expose
from sqlalchemy import select

from bridge import archive, usage, wake
from bridge.clock import utcnow
from bridge.errors import ArchiveError, NotFound
from bridge.messages import message_view, visible_message
from bridge.models import MessageStatus, Sim, User

from .auth import SecureView, signed_in_user, viewer_zone
from .common import db, new_session, query_int, settings
from .spreadsheet import csv_chunks

PAGE_SIZE = 50
MAX_PAGE = 10**9 // PAGE_SIZE  # an offset MariaDB takes without complaint
_REPORT_WORDS = {None: "the SIM's setting", True: "asked for", False: "not asked for"}


def _viewer():
    user = signed_in_user()
    return None if user.is_admin else user


def _date(raw: str | None, problems: list[str], name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{name}: {raw!r} is not a date (YYYY-MM-DD)")
        return None


def filter_from_args(args, problems: list[str]) -> archive.MessageFilter:
    status = args.get("status") or None
    if status is not None and status not in {s.value for s in MessageStatus}:
        problems.append(f"status: unknown status {status!r}")
        status = None
    return archive.MessageFilter(
        status=MessageStatus(status) if status else None,
        sim_id=query_int(args, "sim", problems),
        user_id=query_int(args, "user", problems) if signed_in_user().is_admin else None,
        created_from=_date(args.get("from"), problems, "from"),
        created_to=_date(args.get("to"), problems, "to"),
        time_zone=viewer_zone(),
        search=args.get("q", "")[:100],
        stuck_after=timedelta(seconds=settings().stuck_after) if args.get("stuck") else None,
    )


def usable_sims(session, user: User) -> list[Sim]:
    """The SIMs a user may send through (all of them for an admin): the
    only SIM names a user's pages show."""
    query = select(Sim).order_by(Sim.name)
    if not user.is_admin:
        query = query.where(usage.usable_by(user.id))
    return list(session.scalars(query))


def timeline(view: dict) -> list[dict]:
    """What happened to a message, in order, from message_view()."""
    events = [{"at": view["created_at"], "what": "accepted", "detail": ""}]
    for number, attempt in enumerate(view["history"], start=1):
        events.append(
            {
                "at": attempt["dispatched_at"],
                "what": f"attempt {number}: dispatched",
                "detail": f"to SIM {attempt['sim']}, {attempt['parts']} part(s)",
            }
        )
        # A successful attempt is the "sent" event below; say only how others ended.
        if attempt["finished_at"] and attempt["outcome"] != "sent":
            events.append(
                {
                    "at": attempt["finished_at"],
                    "what": f"attempt {number}: {attempt['outcome']}",
                    "detail": attempt["error"] or f"SIM {attempt['sim']}",
                }
            )
    if view["sent_at"]:
        events.append({"at": view["sent_at"], "what": "sent", "detail": f"SIM {view['sim']}"})
    if view["finished_at"] and view["status"] != "sent":
        events.append({"at": view["finished_at"], "what": view["status"], "detail": view["last_error"] or ""})
    return sorted(events, key=lambda e: e["at"] or "")


class MessagesView(SecureView):
    @expose("/")
    def index(self):
        problems: list[str] = []
        wanted = filter_from_args(request.args, problems)
        page = max(query_int(request.args, "page", problems, maximum=MAX_PAGE) or 1, 1)
        with db().begin():
            total = archive.count_messages(db(), wanted, _viewer())
            rows = archive.list_messages(
                db(), wanted, _viewer(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
            sims = [(s.id, s.name) for s in usable_sims(db(), signed_in_user())]
            users = (
                db().execute(select(User.id, User.login).order_by(User.login)).all()
                if signed_in_user().is_admin
                else []
            )
        for problem in problems:
            flash(problem, "error")
        args = {k: v for k, v in request.args.items() if k != "page" and v}
        return self.render(
            "smsbridge/messages.html",
            rows=rows,
            total=total,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            args=args,
            statuses=[s.value for s in MessageStatus],
            sims=sims,
            users=users,
            now=utcnow(),
        ), 400 if problems else 200

    @expose("/export.csv")
    def export(self):
        problems: list[str] = []
        wanted = filter_from_args(request.args, problems)
        if problems:
            return Response("\n".join(problems) + "\n", status=400, mimetype="text/plain")
        viewer = _viewer()

        def rows():
            session = new_session()
            try:
                with session.begin():
                    yield from archive.iter_csv_rows(session, wanted, viewer)
            finally:
                session.close()

        return Response(
            stream_with_context(csv_chunks(archive.CSV_COLUMNS, rows())),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=messages.csv"},
        )

    @expose("/<int:message_id>")
    def detail(self, message_id: int):
        try:
            with db().begin():
                message = visible_message(db(), message_id, signed_in_user())
                view = message_view(message)
                parts = archive.message_parts(db(), message_id)
                sender = db().scalar(select(User.login).where(User.id == message.user_id))
        except NotFound:
            return self.render(
                "smsbridge/problem.html",
                title="Not found",
                problem=f"There is no message {message_id} you can see.",
            ), 404
        return self.render(
            "smsbridge/message.html",
            m=view,
            parts=parts,
            sender=sender,
            events=timeline(view),
            report=_REPORT_WORDS[view["delivery_report"]],
            # Queued for a later time: say so, not a bare "queued".
            scheduled=message.status == MessageStatus.QUEUED
            and message.send_at is not None
            and message.send_at > utcnow(),
        )

    @expose("/<int:message_id>/cancel", methods=("POST",))
    def cancel(self, message_id: int):
        return self._act(archive.cancel, message_id, "cancelled")

    @expose("/<int:message_id>/retry", methods=("POST",))
    def retry(self, message_id: int):
        return self._act(archive.retry, message_id, "queued again with one more attempt")

    def _act(self, action, message_id: int, done: str):
        try:
            with db().begin():
                action(db(), message_id, _viewer())
        except ArchiveError as exc:
            flash(str(exc), "error")
        else:
            flash(f"Message {message_id} {done}.", "success")
            if action is archive.retry:
                wake.notify(settings())
        return redirect(url_for(".detail", message_id=message_id))
