"""Webhooks: events POSTed as signed JSON. A delivery is stored in the same
transaction as the state change it reports, then attempted by its own job,
with exponential backoff, so a slow or dead receiver never holds up sending
or receiving, and nothing is lost across restarts.

Signature: ``X-Smsbridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import math
import secrets
import socket
import ssl
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from .clock import iso_utc, utcnow
from .errors import AcceptError
from .models import Message, Webhook, WebhookDelivery
from .users import get_user

EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed")
MAX_BACKOFF = 3600.0
MAX_URL = 2048
POOL = 8                      # deliveries POSTed at once by one worker


def new_secret() -> str:
    return secrets.token_hex(32)


def check_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    """An http(s) URL whose host is not loopback/private (unless allowed).
    Checked when set and again before each delivery: DNS can change."""
    vetted_address(url, allow_private=allow_private, field=field)
    return url


def vetted_address(url: str, *, allow_private: bool, field: str = "url") -> str:
    """The IP address to connect to for ``url``, checked. Deliveries connect
    to exactly this address: resolving the name again to connect would let
    a DNS answer that changes in between (rebinding) reach a private host."""
    if len(url or "") > MAX_URL:
        raise AcceptError(field, f"at most {MAX_URL} characters")
    try:
        parsed = urllib.parse.urlsplit(url or "")
        port = parsed.port                          # raises on a port that is not one
        parsed.hostname and parsed.hostname.encode("idna")
    except (ValueError, UnicodeError):
        raise AcceptError(field, "not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise AcceptError(field, "must be an http:// or https:// URL")
    try:
        infos = socket.getaddrinfo(parsed.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise AcceptError(field, f"cannot resolve {parsed.hostname}") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            if not ipaddress.ip_address(address).is_global:
                raise AcceptError(field, f"{parsed.hostname} is a loopback or private address; "
                                         "set SMSBRIDGE_WEBHOOK_ALLOW_PRIVATE=1 to allow it")
    return addresses[0]


def set_webhook(session: Session, settings, login: str, url: str) -> str:
    """Set the user's URL (empty: none, only a secret for per-message
    callback_url); returns the signing secret, a new one each time."""
    user = get_user(session, login)
    if url:
        check_url(url, allow_private=settings.webhook_allow_private)
    secret = new_secret()
    hook = session.get(Webhook, user.id)
    if hook is None:
        session.add(Webhook(user_id=user.id, url=url, secret=secret, created_at=utcnow()))
    else:
        hook.url, hook.secret = url, secret
    session.flush()
    return secret


def enqueue(session: Session, *, user_id: int | None, event: str, url: str, secret: str,
            data: dict, now: datetime | None = None) -> str:
    now = now or utcnow()
    delivery_id = uuid.uuid4().hex
    payload = {"id": delivery_id, "event": event, "created_at": iso_utc(now), "data": data}
    session.add(WebhookDelivery(id=delivery_id, user_id=user_id, event=event, url=url, secret=secret,
                                payload=json.dumps(payload, ensure_ascii=False), status="pending",
                                attempts=0, next_attempt_at=now, created_at=now))
    return delivery_id


def enqueue_for_user(session: Session, user_id: int | None, event: str, data: dict,
                     *, url: str | None = None, now: datetime | None = None) -> str | None:
    """The user's webhook (or ``url``, signed with the user's secret)."""
    if user_id is None:
        return None
    hook = session.get(Webhook, user_id)
    target = url or (hook.url if hook else "")
    if not target or hook is None:
        # No endpoint, or no secret the user knows to verify with.
        return None
    return enqueue(session, user_id=user_id, event=event, url=target, secret=hook.secret,
                   data=data, now=now)


def has_secret(session: Session, user_id: int) -> bool:
    return session.get(Webhook, user_id) is not None


def message_event(session: Session, message_ids: list[int], event: str,
                  now: datetime | None = None) -> int:
    """Queue ``event`` for these messages where their sender wants it."""
    if not message_ids:
        return 0
    hooked = set(session.scalars(select(Webhook.user_id).where(Webhook.url != "")))
    rows = session.execute(select(Message).where(
        Message.id.in_(message_ids),
        Message.callback_url.is_not(None) | Message.user_id.in_(hooked or {-1}))).scalars().all()
    for m in rows:
        enqueue_for_user(session, m.user_id, event, message_data(m), url=m.callback_url, now=now)
    return len(rows)


def message_data(m: Message) -> dict:
    return {"message_id": m.id, "to": m.recipient, "status": m.status.value, "parts": m.parts,
            "sent_at": iso_utc(m.sent_at), "finished_at": iso_utc(m.finished_at),
            "delivery_status": m.delivery_status, "error": m.last_error}


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """What a receiver does (and the tests): check the signature and its age."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a vetted address; the Host header keeps the URL's name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a vetted address; SNI and the certificate check use the name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def _post(delivery: dict, settings) -> str | None:
    """POST once; None on a 2xx, else the reason. Redirects are not
    followed: one could point at an address we refused."""
    try:
        address = vetted_address(delivery["url"], allow_private=settings.webhook_allow_private)
        url = urllib.parse.urlsplit(delivery["url"])
        connection_class = _PinnedHTTPS if url.scheme == "https" else _PinnedHTTP
        connection = connection_class(url.hostname, url.port, address, settings.webhook_timeout)
        body = delivery["payload"].encode()
        try:
            connection.request("POST", urllib.parse.urlunsplit(("", "", url.path or "/", url.query, "")),
                               body=body, headers={
                "Content-Type": "application/json", "User-Agent": "smsbridge-webhook/1",
                "X-Smsbridge-Event": delivery["event"], "X-Smsbridge-Delivery": delivery["id"],
                "X-Smsbridge-Signature": sign(delivery["secret"], body, int(time.time()))})
            status = connection.getresponse().status
        finally:
            connection.close()
    except AcceptError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - one bad receiver must not stop the batch
        return f"{type(exc).__name__}: {exc}"[:500]
    return None if 200 <= status < 300 else f"HTTP {status}"


def deliver_due(sessions: sessionmaker[Session], settings, *, limit: int = 50,
                now: datetime | None = None) -> dict:
    """One pass: lease due deliveries (short transaction), POST them in
    parallel outside any transaction, record each outcome."""
    now = now or utcnow()
    # Long enough for the whole batch at the pool's width, so no other worker
    # re-sends a delivery this one is still trying.
    lease = timedelta(seconds=settings.webhook_timeout * (math.ceil(limit / POOL) + 2))
    with sessions.begin() as session:
        due = session.scalars(select(WebhookDelivery)
                              .where(WebhookDelivery.status == "pending",
                                     WebhookDelivery.next_attempt_at <= now)
                              .order_by(WebhookDelivery.next_attempt_at).limit(limit)
                              .with_for_update(skip_locked=True)).all()
        # The lease: a worker that dies mid-POST leaves the row due again later.
        claimed = []
        for d in due:
            d.attempts += 1
            d.next_attempt_at = now + lease
            claimed.append({"id": d.id, "url": d.url, "secret": d.secret, "event": d.event,
                            "payload": d.payload, "attempts": d.attempts, "created_at": d.created_at})
    if not claimed:
        return {"delivered": 0, "retrying": 0, "failed": 0}
    with ThreadPoolExecutor(max_workers=min(POOL, len(claimed))) as pool:
        errors = list(pool.map(lambda d: _post(d, settings), claimed))
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    finished = utcnow()
    with sessions.begin() as session:
        for d, error in zip(claimed, errors):
            values: dict = {"last_error": error}
            if error is None:
                values.update(status="delivered", delivered_at=finished)
                counts["delivered"] += 1
            elif finished - d["created_at"] > timedelta(hours=settings.webhook_retry_hours):
                values.update(status="failed")
                counts["failed"] += 1
            else:
                delay = min(settings.webhook_backoff * 2 ** (d["attempts"] - 1), MAX_BACKOFF)
                values.update(next_attempt_at=finished + timedelta(seconds=delay))
                counts["retrying"] += 1
            # Only if nobody else has taken it since (its lease is ours).
            session.execute(update(WebhookDelivery).where(
                WebhookDelivery.id == d["id"], WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == d["attempts"]).values(**values))
    return counts
