"""Validate and store outgoing messages: the one function behind the API,
the classic /smsc call, the CLI and the admin form."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Insert, bindparam, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import encoding, usage
from .clock import from_local, utcnow
from .config import Settings
from .db import execute_dml
from .errors import AcceptError, AuthError
from .models import Message, MessageStatus, OnUncertain, SendRequest, Sim, User, table_of
from .phones import normalise_number
from .webhooks import check_url, has_secret

MAX_PRIORITY = 9
MAX_VALID_FOR = 7 * 24 * 3600
_SEPARATORS = re.compile(r"[,;\n\r]+")


@dataclasses.dataclass(frozen=True)
class SendOptions:
    flash: bool = False
    attempts: int = 1
    priority: int = 0
    send_at: datetime | None = None
    valid_for: int | None = None  # seconds after send_at (or now)
    delivery_report: bool | None = None  # None: the SIM's default
    callback_url: str | None = None  # events for this message go here
    on_uncertain: OnUncertain = OnUncertain.FAIL  # its daemon went away mid-send: fail or resend
    quiet_hours: bool = True  # False: may go out in the user's quiet hours (codes, alarms)
    # An admin's choice of SIM (its name): dispatch uses that SIM only and the
    # message waits for it rather than leave through another.
    sim: str | None = None


@dataclasses.dataclass(frozen=True)
class Accepted:
    request_id: int
    messages: list[dict]  # [{id, to, status}]
    replayed: bool = False  # an idempotent replay: nothing new stored


def normalise_recipients(recipients: str | Iterable[str], region: str, limit: int) -> list[str]:
    raw = _SEPARATORS.split(recipients) if isinstance(recipients, str) else list(recipients)
    raw = [r for r in (str(x).strip() for x in raw) if r]
    if not raw:
        raise AcceptError("to", "at least one recipient is required")
    if len(raw) > limit:
        raise AcceptError("to", f"{len(raw)} recipients; at most {limit} per request")
    # Texting a number twice in one request is never what was meant.
    return list(dict.fromkeys(normalise_number(r, region) for r in raw))


def parse_send_at(
    raw: str | datetime | None, *, timezone: str = "UTC", now: datetime | None = None
) -> datetime | None:
    """ISO 8601; without an offset it is read in ``timezone`` (the API: UTC;
    the admin form: the admin's own time zone). Stored as naive UTC. With
    ``now`` (a person typing a date, not a program) a time more than a minute
    before it is refused: it is a typo, not "send now"."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        except ValueError:
            raise AcceptError("send_at", f"{raw!r} is not an ISO 8601 date and time") from None
    try:
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        elif timezone != "UTC":
            value = from_local(value, timezone)
        value + timedelta(seconds=MAX_VALID_FOR)  # room for valid_for after it
    except OverflowError:
        raise AcceptError("send_at", "too far in the future") from None
    if now is not None and value < now - timedelta(minutes=1):
        raise AcceptError("send_at", f"{raw} ({timezone}) is in the past")
    return value


def check_options(options: SendOptions, max_attempts: int, allow_private: bool = False) -> None:
    if not 1 <= options.attempts <= max_attempts:
        raise AcceptError("attempts", f"must be between 1 and {max_attempts}")
    if not 0 <= options.priority <= MAX_PRIORITY:
        raise AcceptError("priority", f"must be between 0 and {MAX_PRIORITY}")
    if options.valid_for is not None and not 1 <= options.valid_for <= MAX_VALID_FOR:
        raise AcceptError("valid_for", f"must be between 1 and {MAX_VALID_FOR} seconds")
    if options.callback_url is not None:
        check_url(options.callback_url, allow_private=allow_private, field="callback_url")


def check_text(text: str | None, max_parts: int) -> int:
    if text is None or text == "":
        raise AcceptError("text", "a message text is required")
    if not isinstance(text, str):
        raise AcceptError("text", "must be a string")
    # A GSM-7 part carries at most 160 characters: anything longer than this
    # cannot fit, whatever the encoding, so do not spend time encoding it.
    if len(text) > max_parts * 160:
        raise AcceptError("text", f"{len(text)} characters is longer than {max_parts} SMS parts")
    if "\x00" in text:
        raise AcceptError("text", "must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise AcceptError("text", "is not valid Unicode (a lone surrogate)") from None
    parts = encoding.count_parts(text)
    if parts > max_parts:
        raise AcceptError("text", f"needs {parts} SMS parts; at most {max_parts} are allowed")
    return parts


# Built once: constructing a statement (and its cache key) on every request
# cost more CPU than running it.
_HAS_SIM = select(exists().where(Sim.enabled.is_(True), usage.usable_by(bindparam("user_id"))))
_INSERT_REQUEST = insert(table_of(SendRequest))
_MESSAGES = table_of(Message)
_INSERT_MESSAGE = insert(_MESSAGES)
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, _MESSAGES.c.recipient)


def user_has_sim(session: Session, user: User) -> bool:
    return bool(session.execute(_HAS_SIM, {"user_id": user.id}).scalar())


def accept(
    session: Session,
    user: User,
    recipients: str | Iterable[str],
    text: str | None,
    options: SendOptions = SendOptions(),
    *,
    settings: Settings,
    idempotency_key: str | None = None,
    source: str = "api",
    now: datetime | None = None,
) -> Accepted:
    """Store one queued message per recipient; the caller commits.
    Raises AcceptError (bad input) or AuthError (user may not send)."""
    now = now or utcnow()
    if user.blocked:
        raise AuthError("user is blocked", status=403)
    check_text(text, settings.max_parts)
    assert text is not None  # check_text refused a missing text
    check_options(options, settings.max_attempts, settings.webhook_allow_private)
    numbers = normalise_recipients(recipients, settings.default_region, settings.max_recipients)
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 255:
        raise AcceptError("idempotency_key", "must be 1-255 characters")
    if not user_has_sim(session, user):
        raise AuthError("no SIM is available to this user", status=403)
    only_sim_id = _chosen_sim(session, user, options.sim) if options.sim is not None else None
    if options.callback_url is not None:
        if not has_secret(session, user.id):
            raise AcceptError(
                "callback_url",
                "callbacks are signed with your webhook secret: set one first (PUT /api/v1/webhook)",
            )

    payload_hash = _payload_hash(numbers, text, options)
    request_row = {
        "user_id": user.id,
        "idempotency_key": idempotency_key,
        "payload_hash": payload_hash,
        "source": source,
        "created_at": now,
    }
    if idempotency_key is None:
        request_id = _insert_one(session, _INSERT_REQUEST, request_row)
    else:
        earlier = _replay(session, user, idempotency_key, payload_hash)
        if earlier is not None:
            return earlier
        try:
            with session.begin_nested():
                request_id = _insert_one(session, _INSERT_REQUEST, request_row)
        except IntegrityError:
            # Another request with this key won the race; answer as it did.
            earlier = _replay(session, user, idempotency_key, payload_hash)
            if earlier is None:
                raise
            return earlier

    due = max(options.send_at or now, now)
    expires = (options.send_at or now) + timedelta(seconds=options.valid_for) if options.valid_for else None
    rows = [
        dict(
            request_id=request_id,
            user_id=user.id,
            recipient=number,
            text=text,
            flash=options.flash,
            priority=options.priority,
            status=MessageStatus.QUEUED,
            attempts_allowed=options.attempts,
            attempts_made=0,
            due_at=due,
            send_at=options.send_at,
            expires_at=expires,
            created_at=now,
            delivery_report=options.delivery_report,
            callback_url=options.callback_url,
            on_uncertain=OnUncertain(options.on_uncertain),
            ignore_opt_out=False,
            quiet_hours=options.quiet_hours,
            only_sim_id=only_sim_id,
        )
        for number in numbers
    ]
    # Core, not the ORM: this is the API's hot path, one statement either way.
    if len(rows) == 1:
        by_number = {numbers[0]: _insert_one(session, _INSERT_MESSAGE, rows[0])}
    else:
        returned = session.execute(_INSERT_MESSAGES, rows).all()
        by_number = {recipient: message_id for message_id, recipient in returned}
    return Accepted(
        request_id, [{"id": by_number[n], "to": n, "status": MessageStatus.QUEUED.value} for n in numbers]
    )


def _chosen_sim(session: Session, user: User, name: str) -> int:
    """The id of the SIM an admin chose; refused for anyone else (the choice
    would let a user jump another user's queue or SIM) and for a SIM that
    could never send it (the message would wait until it expired)."""
    if not user.is_admin:
        raise AcceptError("sim", "only an admin may choose the SIM", status=403)
    sim = session.scalar(select(Sim).where(Sim.name == name, Sim.removed_at.is_(None)))
    if sim is None:
        raise AcceptError("sim", f"there is no SIM {name!r}")
    if not sim.enabled:
        raise AcceptError("sim", f"SIM {name} is disabled")
    if not usage.may_use(sim.owner_id, user.id):
        raise AcceptError("sim", f"SIM {name} serves only its owner's messages")
    return sim.id


def _insert_one(session: Session, statement: Insert, row: dict) -> int:
    """Insert ``row``; the id the database gave it."""
    key = execute_dml(session, statement, row).inserted_primary_key
    # None only when no row was inserted, and a single-row INSERT either
    # inserts its row or raises.
    assert key is not None
    return key[0]


def _payload_hash(numbers: list[str], text: str, options: SendOptions) -> str:
    payload = {"to": numbers, "text": text, **dataclasses.asdict(options)}
    if options.quiet_hours:
        del payload["quiet_hours"]  # the default: hashes of requests stored before it existed hold
    if options.sim is None:
        del payload["sim"]  # likewise
    payload["send_at"] = options.send_at.isoformat() if options.send_at else None
    if options.on_uncertain == OnUncertain.FAIL:
        # The default leaves the hash as it was before the option existed, so a
        # request retried across an upgrade still finds its first answer.
        del payload["on_uncertain"]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _replay(session: Session, user: User, key: str, payload_hash: str) -> Accepted | None:
    request = session.scalar(
        select(SendRequest).where(SendRequest.user_id == user.id, SendRequest.idempotency_key == key)
    )
    if request is None:
        return None
    if request.payload_hash != payload_hash:
        raise AcceptError("idempotency_key", "this key was already used for a different request", status=422)
    messages = session.execute(
        select(Message.id, Message.recipient, Message.status)
        .where(Message.request_id == request.id)
        .order_by(Message.id)
    ).all()
    return Accepted(
        request.id,
        [{"id": m.id, "to": m.recipient, "status": m.status.value} for m in messages],
        replayed=True,
    )
