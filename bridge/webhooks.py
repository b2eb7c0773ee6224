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
import ipaddress
import json
import secrets
import socket
import time
import urllib.parse
import uuid
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import iso_utc, utcnow
from .config import Settings
from .errors import AcceptError
from .models import Message, Webhook, WebhookDelivery
from .users import get_user

Event = Literal["sms:received", "sms:sent", "sms:delivered", "sms:failed"]
EVENTS: tuple[Event, ...] = get_args(Event)
MAX_BACKOFF = 3600.0
MAX_URL = 2048
POOL = 8  # deliveries POSTed at once by one worker


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
        port = parsed.port  # raises on a port that is not one
        parsed.hostname and parsed.hostname.encode("idna")
    except (ValueError, UnicodeError):
        raise AcceptError(field, "not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise AcceptError(field, "must be an http:// or https:// URL")
    try:
        infos = socket.getaddrinfo(parsed.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise AcceptError(field, f"cannot resolve {parsed.hostname}") from None
    # IPv4 or IPv6 (TCP), so the sockaddr starts with the address as text;
    # the stubs also allow the int of other families.
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise AcceptError(
                    field,
                    f"{parsed.hostname} is a loopback, private, multicast or reserved address; "
                    "set SMSBRIDGE_WEBHOOK_ALLOW_PRIVATE=1 to allow it",
                )
    return addresses[0]


# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the IPv4 address
# is the last 32 bits, and a NAT64 gateway would connect to it.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated "::a.b.c.d"


def is_public(address: str) -> bool:
    """A unicast address on the public internet, and so is every IPv4
    address it carries inside: an IPv4-mapped, IPv4-compatible or NAT64
    address is judged by the IPv4 address it is translated to, a 6to4 or
    Teredo one by itself and the IPv4 address inside."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is no part of it
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return _public(ip.ipv4_mapped)
        if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NAT64):
            return _public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        inside = [a for a in (ip.sixtofour, *(ip.teredo or ())) if a is not None]
        return _public(ip) and all(_public(a) for a in inside)
    return _public(ip)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def set_webhook(session: Session, settings: Settings, login: str, url: str) -> str:
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


def enqueue(
    session: Session,
    *,
    user_id: int | None,
    event: str,
    url: str,
    secret: str,
    data: dict,
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    delivery_id = uuid.uuid4().hex
    payload = {"id": delivery_id, "event": event, "created_at": iso_utc(now), "data": data}
    session.add(
        WebhookDelivery(
            id=delivery_id,
            user_id=user_id,
            event=event,
            url=url,
            secret=secret,
            payload=json.dumps(payload, ensure_ascii=False),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return delivery_id


def enqueue_for_user(
    session: Session,
    user_id: int | None,
    event: str,
    data: dict,
    *,
    url: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """The user's webhook (or ``url``, signed with the user's secret)."""
    if user_id is None:
        return None
    hook = session.get(Webhook, user_id)
    target = url or (hook.url if hook else "")
    if not target or hook is None:
        # No endpoint, or no secret the user knows to verify with.
        return None
    return enqueue(session, user_id=user_id, event=event, url=target, secret=hook.secret, data=data, now=now)


def has_secret(session: Session, user_id: int) -> bool:
    return session.get(Webhook, user_id) is not None


def message_event(session: Session, message_ids: list[int], event: str, now: datetime | None = None) -> int:
    """Queue ``event`` for these messages where their sender wants it."""
    if not message_ids:
        return 0
    hooked = set(session.scalars(select(Webhook.user_id).where(Webhook.url != "")))
    rows = (
        session.execute(
            select(Message).where(
                Message.id.in_(message_ids),
                Message.callback_url.is_not(None) | Message.user_id.in_(hooked or {-1}),
            )
        )
        .scalars()
        .all()
    )
    for m in rows:
        enqueue_for_user(session, m.user_id, event, message_data(m), url=m.callback_url, now=now)
    return len(rows)


def message_data(m: Message) -> dict:
    return {
        "message_id": m.id,
        "to": m.recipient,
        "status": m.status.value,
        "parts": m.parts,
        "sent_at": iso_utc(m.sent_at),
        "finished_at": iso_utc(m.finished_at),
        "delivery_status": m.delivery_status,
        "error": m.last_error,
    }


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
