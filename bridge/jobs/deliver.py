"""The webhook delivery pass, and the only outgoing HTTP of the gateway:
lease due deliveries in a short transaction, POST them in parallel outside
any transaction (to the address that was vetted, never one a redirect or a
second DNS answer points at), record each outcome with backoff."""

from __future__ import annotations

import http.client
import math
import socket
import ssl
import time
import urllib.parse
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ..clock import utcnow
from ..config import Settings
from ..errors import AcceptError
from ..models import WebhookDelivery
from ..webhooks import MAX_BACKOFF, POOL, sign, vetted_address


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
        # Kept as our own attribute: the base class's ``_context`` is private.
        self._ssl_context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._ssl_context)
        self._address = address

    def connect(self):
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl_context.wrap_socket(raw, server_hostname=self.host)


def _post(delivery: dict, settings: Settings) -> str | None:
    """POST once; None on a 2xx, else the reason. Redirects are not
    followed: one could point at an address we refused."""
    try:
        address = vetted_address(delivery["url"], allow_private=settings.webhook_allow_private)
        url = urllib.parse.urlsplit(delivery["url"])
        connection_class = _PinnedHTTPS if url.scheme == "https" else _PinnedHTTP
        connection = connection_class(url.hostname, url.port, address, settings.webhook_timeout)
        body = delivery["payload"].encode()
        try:
            connection.request(
                "POST",
                urllib.parse.urlunsplit(("", "", url.path or "/", url.query, "")),
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "smsbridge-webhook/1",
                    "X-Smsbridge-Event": delivery["event"],
                    "X-Smsbridge-Delivery": delivery["id"],
                    "X-Smsbridge-Signature": sign(delivery["secret"], body, int(time.time())),
                },
            )
            status = connection.getresponse().status
        finally:
            connection.close()
    except AcceptError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - one bad receiver must not stop the batch
        return f"{type(exc).__name__}: {exc}"[:500]
    return None if 200 <= status < 300 else f"HTTP {status}"


def deliver_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    limit: int = 50,
    now: datetime | None = None,
    only: Collection[str] | None = None,
) -> dict:
    """One pass: lease due deliveries (``only`` these ids, when given; short
    transaction), POST them in parallel outside any transaction, record each
    outcome."""
    now = now or utcnow()
    # Long enough for the whole batch at the pool's width, so no other worker
    # re-sends a delivery this one is still trying.
    lease = timedelta(seconds=settings.webhook_timeout * (math.ceil(limit / POOL) + 2))
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        query = query.where(WebhookDelivery.id.in_(list(only) or [""]))
    with sessions.begin() as session:
        due = session.scalars(query).all()
        # The lease: a worker that dies mid-POST leaves the row due again later.
        claimed: list[dict] = []
        for delivery in due:
            delivery.attempts += 1
            delivery.next_attempt_at = now + lease
            claimed.append(
                {
                    "id": delivery.id,
                    "url": delivery.url,
                    "secret": delivery.secret,
                    "event": delivery.event,
                    "payload": delivery.payload,
                    "attempts": delivery.attempts,
                    "created_at": delivery.created_at,
                }
            )
    if not claimed:
        return {"delivered": 0, "retrying": 0, "failed": 0}
    with ThreadPoolExecutor(max_workers=min(POOL, len(claimed))) as pool:
        errors = list(pool.map(lambda d: _post(d, settings), claimed))
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    finished = utcnow()
    with sessions.begin() as session:
        for d, error in zip(claimed, errors, strict=True):
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
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == d["id"],
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.attempts == d["attempts"],
                )
                .values(**values)
            )
    return counts
