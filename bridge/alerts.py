"""Alerts: raised once when trouble begins, reminded at most every
``alert_repeat`` while it lasts, resolved once when it ends, and every one
kept. Which trouble exists is ``bridge.alert_checks``' business; this module
compares its findings with the open alerts and tells the channels.

Notifications are queued in the transaction that changes the alert, like
every other event of the bridge: a webhook delivery (``alert:<kind>``,
signed with the user's secret, POSTed by the webhook pass), a text through
``accept`` (limits, balancing and opt-outs apply; never through the SIM the
alert is about) or an e-mail row (sent by the alert pass). ``Queued`` says
what was stored, so the web app can send the worker:down notices itself:
nobody else would while the worker is away.

One open alert per kind and subject: ``open_key`` is unique while open, so
two processes that raise the same alert at once store it once."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import webhooks
from .accept import SendOptions, accept
from .alert_checks import CHECKS, Finding
from .clock import iso_utc, utcnow
from .config import Settings
from .db import execute_dml
from .errors import BridgeError, UserError
from .models import Alert, AlertChannel, AlertEmail, Message, User, Webhook
from .phones import normalise_number
from .users import get_user

log = logging.getLogger("smsbridge.alerts")
CHANNEL_KINDS = ("email", "webhook", "sms")
SECURITY = {"none": 25, "starttls": 587, "tls": 465}  # and each one's usual port
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
SMS_LENGTH = 300  # two parts at most for an alert text


@dataclasses.dataclass
class Queued:
    """What a round of notifications stored, for whoever sends it now."""

    webhook_ids: list[str] = dataclasses.field(default_factory=list)
    message_ids: list[int] = dataclasses.field(default_factory=list)
    email_ids: list[int] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)  # channels that could not take it
    changes: list[str] = dataclasses.field(default_factory=list)  # "raised sim:down simA", …

    def extend(self, other: Queued) -> None:
        for field in dataclasses.fields(self):
            getattr(self, field.name).extend(getattr(other, field.name))


# ---------------------------------------------------------------- raising and resolving


def evaluate(
    session: Session, settings: Settings, kinds: Iterable[str], *, now: datetime | None = None
) -> Queued:
    """Run the checks of ``kinds`` and bring their alerts up to date; the caller commits."""
    now = now or utcnow()
    queued = Queued()
    for kind in kinds:
        queued.extend(reconcile(session, settings, kind, CHECKS[kind].run(session, settings, now), now=now))
    return queued


def reconcile(
    session: Session, settings: Settings, kind: str, findings: list[Finding], *, now: datetime | None = None
) -> Queued:
    """Raise what is new, remind of what lasts (or got worse), resolve what ended."""
    now = now or utcnow()
    queued = Queued()
    open_alerts = {a.subject: a for a in session.scalars(select(Alert).where(Alert.kind == kind, _is_open()))}
    repeat = timedelta(seconds=settings.alert_repeat)
    for finding in findings:
        alert = open_alerts.pop(finding.subject, None)
        if alert is None:
            alert = _open(session, kind, finding, now)
            if alert is not None:
                queued.changes.append(f"raised {_name(alert)}")
                queued.extend(notify(session, settings, alert, "raised", finding.sim_id, now=now))
            continue
        worse = finding.level == "critical" and alert.level != "critical"
        alert.detail, alert.level = finding.detail[:512], finding.level
        if (worse or now - alert.notified_at >= repeat) and _claim_reminder(session, alert, now):
            queued.changes.append(f"reminded of {_name(alert)}")
            queued.extend(
                notify(session, settings, alert, "raised" if worse else "reminder", finding.sim_id, now=now)
            )
    for alert in open_alerts.values():
        if _close(session, alert, now):
            queued.changes.append(f"resolved {_name(alert)}")
            queued.extend(notify(session, settings, alert, "resolved", None, now=now))
    return queued


def _is_open():
    return Alert.open_key.is_not(None)


def _open(session: Session, kind: str, finding: Finding, now: datetime) -> Alert | None:
    alert = Alert(
        kind=kind,
        subject=finding.subject,
        level=finding.level,
        detail=finding.detail[:512],
        open_key=f"{kind}|{finding.subject}",
        opened_at=now,
        notified_at=now,
        reminders=0,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return None  # another process raised it a moment ago: it notifies
    log.warning("alert raised: %s: %s", _name(alert), alert.detail)
    return alert


def _claim_reminder(session: Session, alert: Alert, now: datetime) -> bool:
    """Only one process reminds: the one whose update finds the old time."""
    claimed = execute_dml(
        session,
        update(Alert)
        .where(Alert.id == alert.id, Alert.notified_at == alert.notified_at)
        .values(notified_at=now, reminders=Alert.reminders + 1, detail=alert.detail, level=alert.level),
    ).rowcount
    session.expire(alert, ["notified_at", "reminders"])
    return claimed == 1


def _close(session: Session, alert: Alert, now: datetime) -> bool:
    closed = execute_dml(
        session, update(Alert).where(Alert.id == alert.id, _is_open()).values(open_key=None, resolved_at=now)
    ).rowcount
    session.expire(alert, ["open_key", "resolved_at"])
    if closed:
        log.warning("alert resolved: %s", _name(alert))
    return closed == 1


def _name(alert: Alert) -> str:
    return f"{alert.kind} {alert.subject}".strip()


# ---------------------------------------------------------------- telling the channels


def notify(
    session: Session,
    settings: Settings,
    alert: Alert | None,
    event: str,
    avoid_sim_id: int | None,
    *,
    now: datetime | None = None,
) -> Queued:
    """Queue ``event`` (raised, reminder, resolved, test) of ``alert`` (None:
    a test) for every channel. A channel that cannot take it (its user has
    no webhook, no SIM is left) is logged and skipped, never the others."""
    now = now or utcnow()
    queued = Queued()
    title, text = _words(alert, event, now)
    for channel in session.scalars(select(AlertChannel).order_by(AlertChannel.id)):
        try:
            with session.begin_nested():
                _queue_one(session, settings, channel, alert, event, title, text, avoid_sim_id, now, queued)
        except BridgeError as exc:
            problem = f"{channel.kind} {channel.target}: {exc}"
            log.warning("alert channel %s could not take %s", problem, title)
            queued.problems.append(problem)
    return queued


def _queue_one(
    session: Session,
    settings: Settings,
    channel: AlertChannel,
    alert: Alert | None,
    event: str,
    title: str,
    text: str,
    avoid_sim_id: int | None,
    now: datetime,
    queued: Queued,
) -> None:
    if channel.kind == "email":
        email = AlertEmail(
            channel_id=channel.id,
            alert_id=alert.id if alert else None,
            subject=f"[smsbridge] {title}"[:255],
            body=text,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(email)
        session.flush()
        queued.email_ids.append(email.id)
    elif channel.kind == "webhook":
        data = {"event": event, "alert": alert_view(alert) if alert else None, "text": text}
        delivery = webhooks.enqueue_for_user(
            session, channel.user_id, f"alert:{alert.kind if alert else 'test'}", data, now=now
        )
        if delivery is None:
            raise UserError(f"user {channel.target} has no webhook URL")
        queued.webhook_ids.append(delivery)
    else:
        user = _sms_sender(session, channel)
        sms = f"smsbridge {title}"[:SMS_LENGTH]
        accepted = accept(
            session,
            user,
            channel.target,
            sms,
            SendOptions(attempts=2),
            settings=settings,
            source="alert",
            now=now,
        )
        ids = [m["id"] for m in accepted.messages]
        if avoid_sim_id is not None:
            session.execute(update(Message).where(Message.id.in_(ids)).values(avoid_sim_id=avoid_sim_id))
        queued.message_ids.extend(ids)


def _sms_sender(session: Session, channel: AlertChannel) -> User:
    """The account alert texts are sent as: the channel's, else the first admin."""
    if channel.user is not None:
        return channel.user
    admin = session.scalar(
        select(User).where(User.is_admin.is_(True), User.blocked.is_(False)).order_by(User.id)
    )
    if admin is None:
        raise UserError("no administrator to send alert texts as (smsbridge user add NAME --admin)")
    return admin


def _words(alert: Alert | None, event: str, now: datetime) -> tuple[str, str]:
    """A title (subject line, the whole SMS) and a body."""
    if alert is None:
        title = "test alert: if you read this, this channel works"
        return title, f"{title}.\nSent at {iso_utc(now)} by `smsbridge alert test`.\n"
    if event == "resolved":
        lasted = int(((alert.resolved_at or now) - alert.opened_at).total_seconds() // 60)
        title = f"resolved: {_name(alert)} (after {lasted} min)"
    else:
        title = (
            f"{'still ' if event == 'reminder' else ''}{alert.level.upper()} {_name(alert)}: {alert.detail}"
        )
    body = (
        f"{title}\n\nkind: {alert.kind}\nsubject: {alert.subject or '(the gateway)'}\nlevel: {alert.level}\n"
        f"detail: {alert.detail}\nopened: {iso_utc(alert.opened_at)}\n"
        f"resolved: {iso_utc(alert.resolved_at) or '(still open)'}\n"
    )
    return title, body


def send_test(session: Session, settings: Settings) -> Queued:
    """One test notice through every channel (``smsbridge alert test``)."""
    if session.scalar(select(func.count()).select_from(AlertChannel)) == 0:
        raise UserError("no alert channels yet: smsbridge alert add email|webhook|sms …")
    return notify(session, settings, None, "test", None)


# ---------------------------------------------------------------- channels


def add_channel(
    session: Session,
    settings: Settings,
    kind: str,
    target: str,
    *,
    login: str | None = None,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_security: str = "starttls",
    smtp_login: str | None = None,
    smtp_password: str | None = None,
    mail_from: str | None = None,
) -> AlertChannel:
    """``email`` ADDRESS (with its SMTP server), ``webhook`` LOGIN (that
    user's webhook), ``sms`` NUMBER (sent as ``login``, else the first
    admin). The caller commits."""
    target = (target or "").strip()
    channel = AlertChannel(kind=kind, created_at=utcnow())
    if kind == "email":
        if not EMAIL.match(target):
            raise UserError(f"{target!r} is not an e-mail address", field="target")
        if not smtp_host:
            raise UserError("an e-mail channel needs its SMTP server (--smtp-host)", field="smtp_host")
        if smtp_security not in SECURITY:
            raise UserError(f"SMTP security is one of {', '.join(SECURITY)}", field="smtp_security")
        if smtp_port is not None and not 0 < smtp_port < 65536:
            raise UserError("SMTP port must be between 1 and 65535", field="smtp_port")
        channel.smtp_host, channel.smtp_port = smtp_host, smtp_port or SECURITY[smtp_security]
        channel.smtp_security, channel.smtp_login = smtp_security, smtp_login or None
        channel.smtp_password, channel.mail_from = smtp_password or None, mail_from or None
    elif kind == "webhook":
        user = get_user(session, target)
        hook = session.get(Webhook, user.id)
        if hook is None or not hook.url:
            raise UserError(
                f"user {target} has no webhook URL: smsbridge webhook set --user {target} --url …"
            )
        channel.user_id = user.id
    elif kind == "sms":
        try:
            target = normalise_number(target, settings.default_region)
        except BridgeError as exc:
            raise UserError(f"SMS channel number: {exc.message}", field="target") from None
        channel.user_id = get_user(session, login).id if login else None
    else:
        raise UserError(f"a channel is one of {', '.join(CHANNEL_KINDS)}", field="kind")
    channel.target = target
    session.add(channel)
    session.flush()
    return channel


def list_channels(session: Session) -> list[dict]:
    rows = session.scalars(select(AlertChannel).order_by(AlertChannel.id)).all()
    return [channel_view(c) for c in rows]


def channel_view(channel: AlertChannel) -> dict:
    how = ""
    if channel.kind == "email":
        login = f", login {channel.smtp_login}" if channel.smtp_login else ""
        how = f"via {channel.smtp_host}:{channel.smtp_port} ({channel.smtp_security}{login})"
    elif channel.kind == "sms":
        how = f"sent as {channel.user.login if channel.user else 'the first admin'}"
    elif channel.kind == "webhook":
        how = "that user's webhook, signed, events alert:<kind>"
    return {"id": channel.id, "kind": channel.kind, "target": channel.target, "how": how}


def remove_channel(session: Session, channel_id: int) -> None:
    removed = execute_dml(session, delete(AlertChannel).where(AlertChannel.id == channel_id)).rowcount
    if not removed:
        raise UserError(f"no alert channel {channel_id}")


# ---------------------------------------------------------------- reading alerts


def alert_view(alert: Alert) -> dict:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "subject": alert.subject,
        "level": alert.level,
        "detail": alert.detail,
        "state": "open" if alert.open_key is not None else "resolved",
        "opened_at": iso_utc(alert.opened_at),
        "resolved_at": iso_utc(alert.resolved_at),
        "last_notified_at": iso_utc(alert.notified_at),
        "reminders": alert.reminders,
    }


def list_alerts(session: Session, *, open_only: bool = False, limit: int = 100) -> list[dict]:
    """Open ones first, then newest first."""
    query = select(Alert).order_by(Alert.open_key.is_(None), Alert.id.desc()).limit(limit)
    if open_only:
        query = query.where(_is_open())
    return [alert_view(a) for a in session.scalars(query)]


def open_counts(session: Session) -> dict[str, int]:
    """Open alerts by kind."""
    return dict(
        session.execute(select(Alert.kind, func.count()).where(_is_open()).group_by(Alert.kind)).all()
    )
