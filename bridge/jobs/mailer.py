"""The alert e-mails: the one place that speaks SMTP (the standard
library's ``smtplib``). Like webhook deliveries, an e-mail is stored first
(``bridge.alerts``), leased here in a short transaction, sent outside any
transaction, and its outcome recorded; a failure is retried with backoff
for ``GIVE_UP_AFTER``, then kept as failed with its error."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Collection
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..clock import utcnow
from ..config import Settings
from ..models import AlertChannel, AlertEmail

FIRST_RETRY = 30.0
MAX_BACKOFF = 3600.0
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT = 20.0  # seconds an SMTP server has for each step
LEASE = timedelta(minutes=5)


def send_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    only: Collection[int] | None = None,
    limit: int = 20,
    now: datetime | None = None,
) -> dict[str, int]:
    """One pass: lease due e-mails (``only`` these ids, when given), send, record."""
    now = now or utcnow()
    with sessions.begin() as session:
        query = (
            select(AlertEmail, AlertChannel)
            .join(AlertChannel, AlertChannel.id == AlertEmail.channel_id)
            .where(AlertEmail.status == "pending", AlertEmail.next_attempt_at <= now)
            .order_by(AlertEmail.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=AlertEmail)
        )
        if only is not None:
            query = query.where(AlertEmail.id.in_(list(only) or [0]))
        claimed = []
        for email, channel in session.execute(query):
            email.attempts += 1
            email.next_attempt_at = now + LEASE  # a worker that dies mid-send leaves it due again
            claimed.append((email.id, email.attempts, email.created_at, _message(email, channel), channel))
            session.expunge(channel)
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    for email_id, attempts, created_at, message, channel in claimed:
        error = _send(message, channel)
        finished = utcnow()
        values: dict = {"last_error": error}
        if error is None:
            values.update(status="sent", sent_at=finished)
            counts["sent"] += 1
        elif finished - created_at > GIVE_UP_AFTER:
            values.update(status="failed")
            counts["failed"] += 1
        else:
            delay = min(FIRST_RETRY * 2 ** (attempts - 1), MAX_BACKOFF)
            values.update(next_attempt_at=finished + timedelta(seconds=delay))
            counts["retrying"] += 1
        with sessions.begin() as session:
            session.execute(
                update(AlertEmail)
                .where(
                    AlertEmail.id == email_id, AlertEmail.attempts == attempts, AlertEmail.status == "pending"
                )
                .values(**values)
            )
    return counts


def _message(email: AlertEmail, channel: AlertChannel) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = channel.mail_from or channel.smtp_login or f"smsbridge@{socket.getfqdn()}"
    message["To"] = channel.target
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="smsbridge")
    message.set_content(email.body)
    return message


def _send(message: EmailMessage, channel: AlertChannel) -> str | None:
    """Send once; None when the server took it, else the reason."""
    assert channel.smtp_host is not None and channel.smtp_port is not None  # an e-mail channel has them
    context = ssl.create_default_context()
    try:
        if channel.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                channel.smtp_host, channel.smtp_port, timeout=TIMEOUT, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.smtp_host, channel.smtp_port, timeout=TIMEOUT)
        with smtp:
            if channel.smtp_security == "starttls":
                smtp.starttls(context=context)
            if channel.smtp_login:
                smtp.login(channel.smtp_login, channel.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None
