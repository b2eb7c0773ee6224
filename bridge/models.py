"""Typed models. Gammu's tables (``GammuBase``) are created from
``bridge/sql/gammu-17.sql`` and only mapped here; the bridge's own tables
(``Base``) are created from these models (``bridge/sql/bridge.sql`` is generated
from them and checked by a test)."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.mysql import DATETIME
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

GAMMU_SCHEMA_VERSION = 17


class GammuBase(DeclarativeBase):
    pass


def table_of(model: type[DeclarativeBase]) -> Table:
    """The Table ``model`` is mapped to, for Core statements on hot paths.
    DeclarativeBase types ``__table__`` as any FromClause, since a class may
    be mapped to a join or a subquery; every model here maps one Table."""
    table = model.__table__
    assert isinstance(table, Table), f"{model.__name__} is not mapped to a Table"
    return table


class GammuVersion(GammuBase):
    __tablename__ = "gammu"
    version: Mapped[int] = mapped_column("Version", Integer, primary_key=True)


class Outbox(GammuBase):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column("ID", Integer, primary_key=True, autoincrement=True)
    sending_datetime: Mapped[datetime] = mapped_column("SendingDateTime", DateTime)
    sending_timeout: Mapped[datetime | None] = mapped_column("SendingTimeOut", DateTime)
    updated_in_db: Mapped[datetime] = mapped_column("UpdatedInDB", DateTime)  # the daemon's last lease
    destination_number: Mapped[str] = mapped_column("DestinationNumber", String(20))
    coding: Mapped[str] = mapped_column("Coding", String(32))
    udh: Mapped[str | None] = mapped_column("UDH", Text)
    sms_class: Mapped[int | None] = mapped_column("Class", Integer)
    text_decoded: Mapped[str] = mapped_column("TextDecoded", Text)
    multipart: Mapped[str | None] = mapped_column("MultiPart", String(5))
    relative_validity: Mapped[int | None] = mapped_column("RelativeValidity", Integer)
    sender_id: Mapped[str | None] = mapped_column("SenderID", String(255))
    delivery_report: Mapped[str | None] = mapped_column("DeliveryReport", String(8))
    creator_id: Mapped[str] = mapped_column("CreatorID", Text)
    retries: Mapped[int | None] = mapped_column("Retries", Integer)
    priority: Mapped[int | None] = mapped_column("Priority", Integer)


class OutboxMultipart(GammuBase):
    __tablename__ = "outbox_multipart"
    id: Mapped[int] = mapped_column("ID", Integer, primary_key=True)
    sequence_position: Mapped[int] = mapped_column("SequencePosition", Integer, primary_key=True)
    coding: Mapped[str] = mapped_column("Coding", String(32))
    udh: Mapped[str | None] = mapped_column("UDH", Text)
    sms_class: Mapped[int | None] = mapped_column("Class", Integer)
    text_decoded: Mapped[str | None] = mapped_column("TextDecoded", Text)


class SentItem(GammuBase):
    __tablename__ = "sentitems"
    id: Mapped[int] = mapped_column("ID", Integer, primary_key=True)
    sequence_position: Mapped[int] = mapped_column("SequencePosition", Integer, primary_key=True)
    insert_into_db: Mapped[datetime] = mapped_column(
        "InsertIntoDB", DateTime, server_default=text("CURRENT_TIMESTAMP")
    )  # when the daemon recorded the send
    sending_datetime: Mapped[datetime] = mapped_column("SendingDateTime", DateTime)
    delivery_datetime: Mapped[datetime | None] = mapped_column("DeliveryDateTime", DateTime)
    destination_number: Mapped[str] = mapped_column("DestinationNumber", String(20))
    coding: Mapped[str] = mapped_column("Coding", String(32))
    udh: Mapped[str] = mapped_column("UDH", Text)
    sms_class: Mapped[int] = mapped_column("Class", Integer)
    text_hex: Mapped[str] = mapped_column("Text", Text, default="")
    text_decoded: Mapped[str] = mapped_column("TextDecoded", Text)
    sender_id: Mapped[str] = mapped_column("SenderID", String(255))
    status: Mapped[str] = mapped_column("Status", String(20))
    status_error: Mapped[int] = mapped_column("StatusError", Integer)
    creator_id: Mapped[str] = mapped_column("CreatorID", Text)


class Phone(GammuBase):
    """One gammu-smsd daemon's heartbeat, keyed by its PhoneID (= SIM name)."""

    __tablename__ = "phones"
    id: Mapped[str] = mapped_column("ID", String(255), primary_key=True)
    updated_in_db: Mapped[datetime] = mapped_column("UpdatedInDB", DateTime)
    insert_into_db: Mapped[datetime] = mapped_column("InsertIntoDB", DateTime)  # daemon's last (re)connect
    timeout: Mapped[datetime] = mapped_column("TimeOut", DateTime)
    imei: Mapped[str] = mapped_column("IMEI", String(35))
    # gammu-smsd writes the modem's IMEI and the card's IMSI when it starts
    # (``insert_phone``); an empty string when the modem would not say.
    imsi: Mapped[str] = mapped_column("IMSI", String(35))
    net_code: Mapped[str | None] = mapped_column("NetCode", String(10))
    net_name: Mapped[str | None] = mapped_column("NetName", String(35))
    battery: Mapped[int] = mapped_column("Battery", Integer)
    signal: Mapped[int] = mapped_column("Signal", Integer)
    sent: Mapped[int] = mapped_column("Sent", Integer)
    received: Mapped[int] = mapped_column("Received", Integer)


class Inbox(GammuBase):
    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column("ID", Integer, primary_key=True)
    receiving_datetime: Mapped[datetime] = mapped_column("ReceivingDateTime", DateTime)
    sender_number: Mapped[str] = mapped_column("SenderNumber", String(20))
    coding: Mapped[str] = mapped_column("Coding", String(32))
    udh: Mapped[str] = mapped_column("UDH", Text)
    sms_class: Mapped[int] = mapped_column("Class", Integer)
    text_hex: Mapped[str] = mapped_column("Text", Text, default="")
    text_decoded: Mapped[str] = mapped_column("TextDecoded", Text)
    recipient_id: Mapped[str] = mapped_column("RecipientID", Text)
    processed: Mapped[str] = mapped_column("Processed", String(5))
    # Only for Class 127 (a USSD answer): 1 unknown, 2 no action needed,
    # 3 reply expected, 4 terminated, 5 another client replied,
    # 6 not supported, 7 network timeout (Gammu's tables manual).
    status: Mapped[int] = mapped_column("Status", Integer, default=-1)


# Gammu's Class of a USSD request in ``outbox`` and of its answer in ``inbox``.
USSD_CLASS = 127


# --------------------------------------------------------------------------
# The bridge's own tables

# Explicit, so a server whose defaults differ (MyISAM, another collation)
# still gets tables that join with Gammu's and take part in transactions.
TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


class Base(DeclarativeBase):
    # Typed as DeclarativeBase declares it: a table with constraints or
    # indexes replaces this dict with a tuple that ends in it.
    __table_args__: Any = TABLE_OPTIONS


def _now_default():
    return text("CURRENT_TIMESTAMP")


def _true_default():
    return text("1")


class MessageStatus(enum.StrEnum):
    """`queued` → `dispatched` (in a SIM's outbox) → `sent` (the network took every part) →
    `delivered` or `undelivered` when a delivery report comes back. Also final: `failed`,
    `expired` (not sent within `valid_for`), `opted_out` (the recipient is on the opt-out
    list) and `cancelled`."""

    # The docstrings of these two enums are served in the API's OpenAPI document.
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"


class AttemptOutcome(enum.StrEnum):
    """What became of one hand-off to a SIM: `pending` (in its outbox or being sent), `sent`
    (every part), `error` (gammu-smsd reported a sending error), `taken_back` (the SIM died
    or stalled before it sent, or the text's validity ran out: it was taken out of the
    outbox) or `uncertain` (its daemon went away while the text was leased: it may have
    gone out; the message's `on_uncertain` decided what followed)."""

    PENDING = "pending"  # in the SIM's outbox or being sent
    SENT = "sent"  # every part SendingOK*
    ERROR = "error"  # gammu-smsd reported SendingError/Error
    TAKEN_BACK = "taken_back"  # SIM died or stalled before sending; row removed from its outbox
    UNCERTAIN = "uncertain"  # its daemon went away while it was leased: it may have gone out


class OnUncertain(enum.StrEnum):
    """What becomes of a message whose SIM's daemon went away while sending it
    (it may or may not have gone out): `fail` ends it failed (at most once,
    right for marketing), `resend` queues it again (at least once, right for
    alarms and one-time codes)."""

    FAIL = "fail"
    RESEND = "resend"


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(
        cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=True,
        validate_strings=True,
        name=cls.__name__.lower(),
    )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=_now_default())
    # Quiet hours: texts go out only between start and end, local time in
    # ``timezone`` (an IANA name); None = any time. end < start spans midnight.
    send_window_start: Mapped[time | None] = mapped_column(Time)
    send_window_end: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str | None] = mapped_column(String(64))


class ApiKey(Base):
    """API keys are long random strings, so a SHA-256 of the key is as safe
    to store as a slow password hash and costs nothing per request."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=_now_default())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)  # to the minute

    user: Mapped[User] = relationship()


class AdminSession(Base):
    """A logged-in admin session. The cookie carries a random token; only
    its SHA-256 is stored, and deleting the row ends the session at once
    (logout, a new password, a block)."""

    __tablename__ = "admin_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """Failed logins counted per client address and login (``login`` ""
    counts every login from the address), shared by every web process."""

    __tablename__ = "login_failures"
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime] = mapped_column(DateTime)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime)


class Sim(Base):
    __tablename__ = "sims"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # gammu-smsd PhoneID
    number: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    monthly_limit: Mapped[int | None] = mapped_column(Integer)  # SMS parts; None = no cap
    billing_day: Mapped[int] = mapped_column(SmallInteger, default=1)
    device: Mapped[str | None] = mapped_column(String(255))
    connection: Mapped[str | None] = mapped_column(String(32))
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery_report: Mapped[bool] = mapped_column(Boolean, default=False)
    healthy: Mapped[bool] = mapped_column(Boolean, default=False)
    health_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=_now_default())
    # The watchdog: a daemon that heartbeats but does not send is "stalled".
    stalled_since: Mapped[datetime | None] = mapped_column(DateTime)
    stall_reason: Mapped[str | None] = mapped_column(String(255))
    watch_since: Mapped[datetime | None] = mapped_column(DateTime)  # the watchdog judges only after this
    stall_after: Mapped[int] = mapped_column(Integer, default=60, server_default="60")  # seconds
    stall_errors: Mapped[int] = mapped_column(SmallInteger, default=3, server_default="3")
    restart_stalled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    restarts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    restarted_at: Mapped[datetime | None] = mapped_column(DateTime)
    reset_every: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # Gammu ResetFrequency
    hard_reset_every: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The card in service (IMSI) and the modem it was last seen in (IMEI), as
    # gammu-smsd reported them in ``phones``; recorded on first sight.
    imsi: Mapped[str | None] = mapped_column(String(35))
    imei: Mapped[str | None] = mapped_column(String(35))
    identity_since: Mapped[datetime | None] = mapped_column(DateTime)
    # Another card seen on this SIM's daemon, waiting for `sim accept`.
    new_imsi: Mapped[str | None] = mapped_column(String(35))
    new_imei: Mapped[str | None] = mapped_column(String(35))
    # A quarantined SIM gets nothing from dispatch until an operator acts.
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime)
    quarantine_reason: Mapped[str | None] = mapped_column(String(255))
    # `sim remove`: gone from service and screens; the row stays for the archive.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Balance checks by USSD: the code, every how many hours (None: never on
    # a schedule), the regex that reads the amount (None: the default one)
    # and the amount below which the SIM raises ``balance_low``.
    balance_code: Mapped[str | None] = mapped_column(String(32))
    balance_every: Mapped[int | None] = mapped_column(SmallInteger)
    balance_pattern: Mapped[str | None] = mapped_column(String(255))
    balance_low: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Pacing (``usage.Pace``): SMS parts per rolling minute, hour and day;
    # distinct recipients per billing period; a random 0..jitter seconds
    # between two texts. None = no limit.
    max_per_minute: Mapped[int | None] = mapped_column(Integer)
    max_per_hour: Mapped[int | None] = mapped_column(Integer)
    max_per_day: Mapped[int | None] = mapped_column(Integer)
    max_recipients_per_month: Mapped[int | None] = mapped_column(Integer)
    jitter: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    owner: Mapped[User | None] = relationship()


class SimEvent(Base):
    """Something that happened to a SIM that a person should hear about
    (``identity_changed``, ``duplicate_imsi``, ``balance_low``, …): stored
    once, when it happens, for the screens and for alerts to read."""

    __tablename__ = "sim_events"
    __table_args__ = (
        Index("ix_sim_events_sim", "sim_id", "id"),
        Index("ix_sim_events_kind", "kind", "id"),
        TABLE_OPTIONS,
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sim_id: Mapped[int] = mapped_column(ForeignKey("sims.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class BalanceCheck(Base):
    """One USSD balance request and its answer: `asked` (in the SIM's
    outbox) -> `answered` (amount read, or null when the answer did not
    match the pattern), `failed` (the daemon could not dial it, or the
    network refused) or `unanswered` (nothing came within
    ``balance_timeout``). A row without ``requested_at`` is an answer the
    network sent unasked."""

    __tablename__ = "balance_checks"
    __table_args__ = (
        Index("ix_balance_checks_sim", "sim_id", "id"),
        Index("ix_balance_checks_state", "state", "sim_id"),
        TABLE_OPTIONS,
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sim_id: Mapped[int] = mapped_column(ForeignKey("sims.id", ondelete="CASCADE"))
    code: Mapped[str | None] = mapped_column(String(32))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))  # asked, answered, failed, unanswered
    requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    ussd_status: Mapped[int | None] = mapped_column(SmallInteger)
    answer: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    error: Mapped[str | None] = mapped_column(String(255))


class SimUsage(Base):
    """SMS parts reserved or sent through a SIM in one billing period."""

    __tablename__ = "sim_usage"
    sim_id: Mapped[int] = mapped_column(ForeignKey("sims.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    parts: Mapped[int] = mapped_column(Integer, default=0)


class SendRequest(Base):
    """One accepted request; its idempotency key answers a replay with the
    same message ids."""

    __tablename__ = "send_requests"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"), TABLE_OPTIONS)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    payload_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # api, smsc, cli, admin
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Message(Base):
    """One text to one recipient, from acceptance to its final state."""

    __tablename__ = "messages"
    __table_args__ = (
        # Matches dispatch's ORDER BY, so a claim reads (and locks) only the
        # rows it takes instead of sorting every queued one.
        Index("ix_messages_claim", "status", text("priority DESC"), "due_at", "id"),
        Index("ix_messages_user_created", "user_id", "created_at"),
        TABLE_OPTIONS,
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("send_requests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(20))  # E.164
    text: Mapped[str] = mapped_column(Text)
    flash: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus), default=MessageStatus.QUEUED)
    attempts_allowed: Mapped[int] = mapped_column(SmallInteger, default=1)
    attempts_made: Mapped[int] = mapped_column(SmallInteger, default=0)
    parts: Mapped[int | None] = mapped_column(SmallInteger)
    sim_id: Mapped[int | None] = mapped_column(ForeignKey("sims.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column(DateTime)  # next time dispatch may look
    send_at: Mapped[datetime | None] = mapped_column(DateTime)  # asked-for schedule
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    wait_reason: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(255))
    delivery_report: Mapped[bool | None] = mapped_column(Boolean)  # None: the SIM's default
    delivery_status: Mapped[int | None] = mapped_column(Integer)  # network's status code
    callback_url: Mapped[str | None] = mapped_column(String(2048))
    # Only the confirmation of a STOP may reach a number that just opted out.
    ignore_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    on_uncertain: Mapped[OnUncertain] = mapped_column(
        _enum(OnUncertain), default=OnUncertain.FAIL, server_default=OnUncertain.FAIL.value
    )
    # False: sent whenever due, even in the user's quiet hours (one-time codes, alarms).
    quiet_hours: Mapped[bool] = mapped_column(Boolean, default=True, server_default=_true_default())
    # Never this SIM: an alert about a SIM in trouble leaves through another one.
    avoid_sim_id: Mapped[int | None] = mapped_column(ForeignKey("sims.id", ondelete="SET NULL"))
    # Only this SIM (an admin's choice on the send form): the message waits for it.
    only_sim_id: Mapped[int | None] = mapped_column(ForeignKey("sims.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    sim: Mapped[Sim | None] = relationship(foreign_keys=[sim_id])
    attempts: Mapped[list[MessageAttempt]] = relationship(
        back_populates="message", order_by="MessageAttempt.id"
    )


class MessageAttempt(Base):
    """One hand-off of a message to one SIM's outbox (Gammu's ID)."""

    __tablename__ = "message_attempts"
    __table_args__ = (
        Index("ix_attempts_outcome", "outcome", "outbox_id"),
        # A SIM's recent sends, for its pacing windows (``usage.traffic``).
        Index("ix_attempts_sim_finished", "sim_id", "finished_at"),
        TABLE_OPTIONS,
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    sim_id: Mapped[int] = mapped_column(ForeignKey("sims.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(SmallInteger)
    period_start: Mapped[date] = mapped_column(Date)  # where its parts were reserved
    outcome: Mapped[AttemptOutcome] = mapped_column(_enum(AttemptOutcome), default=AttemptOutcome.PENDING)
    error: Mapped[str | None] = mapped_column(String(255))
    dispatched_at: Mapped[datetime] = mapped_column(DateTime)
    # The slot pacing gave it: its SendingDateTime, to the microsecond
    # (Gammu's column keeps whole seconds). None before pacing existed.
    send_after: Mapped[datetime | None] = mapped_column(DATETIME(fsp=6))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    message: Mapped[Message] = relationship(back_populates="attempts")
    sim: Mapped[Sim] = relationship()


class SimRecipient(Base):
    """A number a SIM has been handed a text for in one billing period: the
    count is what ``max_recipients_per_month`` limits."""

    __tablename__ = "sim_recipients"
    sim_id: Mapped[int] = mapped_column(ForeignKey("sims.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164


class OptOut(Base):
    """Numbers that asked not to be texted; dispatch never sends to them."""

    __tablename__ = "opt_outs"
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class UserOptOut(Base):
    """A number one user must not text (the user's own list); dispatch
    honours it for that user's messages only."""

    __tablename__ = "user_opt_outs"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class OptOutEvent(Base):
    """Who changed an opt-out list, when and why (``user_id``: whose own
    list; None: the global one)."""

    __tablename__ = "opt_out_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    action: Mapped[str] = mapped_column(String(8))  # added, removed
    reason: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))  # sms, cli, api, admin
    actor: Mapped[str | None] = mapped_column(String(64))  # login, or the texting number
    created_at: Mapped[datetime] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class InboundPart(Base):
    """One row of Gammu's inbox, copied so the inbox may be pruned."""

    __tablename__ = "inbound_parts"
    __table_args__ = (
        Index("ix_inbound_parts_open", "message_id", "sim_name", "sender", "reference"),
        TABLE_OPTIONS,
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    inbox_id: Mapped[int] = mapped_column(Integer, index=True)
    sim_name: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    reference: Mapped[int | None] = mapped_column(Integer)  # concatenation reference
    total: Mapped[int] = mapped_column(SmallInteger, default=1)
    sequence: Mapped[int] = mapped_column(SmallInteger, default=1)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id", ondelete="SET NULL"))


class InboundMessage(Base):
    """A received text, joined from its parts."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_user", "user_id", "id"), TABLE_OPTIONS)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sim_id: Mapped[int | None] = mapped_column(ForeignKey("sims.id", ondelete="SET NULL"))
    sim_name: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    parts: Mapped[int] = mapped_column(SmallInteger, default=1)
    complete: Mapped[bool] = mapped_column(Boolean, default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    results: Mapped[list[RuleResult]] = relationship(order_by="RuleResult.id")


class Rule(Base):
    """What to do with an incoming text: matched by keyword or regex, in
    ``position`` order; a user's rules see texts attributed to that user,
    global rules (no user) see every text."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, index=True)
    match_kind: Mapped[str] = mapped_column(String(8))  # keyword, regex
    pattern: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))  # reply, forward_url, forward_to, opt_out, opt_in
    argument: Mapped[str | None] = mapped_column(String(2048))  # reply text, URL or number
    secret: Mapped[str | None] = mapped_column(String(64))  # signs forward_url posts
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User | None] = relationship()


class RuleResult(Base):
    """What one rule did with one incoming text."""

    __tablename__ = "rule_results"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(8))  # done, error
    detail: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Webhook(Base):
    """A user's endpoint for events, and the secret that signs them."""

    __tablename__ = "webhooks"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """An event to POST, stored before the first try; retried until it is
    delivered or too old. ``id`` travels in the payload for de-duplication."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"), TABLE_OPTIONS)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class Notebook(Base):
    """A named page of report cells ("Billing", "Delivery"), in tab order."""

    __tablename__ = "notebooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    # The database deletes a notebook's cells with it (ON DELETE CASCADE).
    cells: Mapped[list[ReportCell]] = relationship(
        order_by="[ReportCell.position, ReportCell.id]",
        cascade="all, delete-orphan",
        passive_deletes=True,
        back_populates="notebook",
    )


class ReportCell(Base):
    """A cell of a notebook: a read-only SQL query, a built-in report or a
    markdown text (its text in ``query``). The chart's columns are names of
    the result's columns: ``chart_x`` the labels (None: the first column),
    ``chart_y`` comma-separated values (None: every numeric column but x),
    ``chart_y2`` those of them drawn against a second axis on the right."""

    __tablename__ = "report_cells"
    id: Mapped[int] = mapped_column(primary_key=True)
    notebook_id: Mapped[int] = mapped_column(ForeignKey("notebooks.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="sql")  # sql | builtin | markdown
    query: Mapped[str] = mapped_column(Text)  # SQL, the builtin's name, or markdown
    chart: Mapped[str] = mapped_column(String(8), default="")  # '' | bar | line
    chart_x: Mapped[str | None] = mapped_column(String(64))
    chart_y: Mapped[str | None] = mapped_column(String(255))
    chart_y2: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    notebook: Mapped[Notebook] = relationship(back_populates="cells")


class WorkerPass(Base):
    """When each job of the worker last finished a pass: the worker's
    heartbeat, read by /readyz, /metrics and the web app's worker:down."""

    __tablename__ = "worker_passes"
    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_pass_at: Mapped[datetime] = mapped_column(DateTime)


class Alert(Base):
    """One spell of trouble: raised when it begins, resolved when it ends.
    ``open_key`` is "kind|subject" while open and NULL after, so a unique
    index allows one open alert per kind and subject however many processes
    raise it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_opened", "opened_at"), TABLE_OPTIONS)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # sim:down, queue:stuck, …
    subject: Mapped[str] = mapped_column(String(64), default="")  # a SIM, a login, or '' for the gateway
    level: Mapped[str] = mapped_column(String(16), default="warning")  # warning, critical
    detail: Mapped[str] = mapped_column(String(512))
    open_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    notified_at: Mapped[datetime] = mapped_column(DateTime)  # last raise or reminder sent
    reminders: Mapped[int] = mapped_column(Integer, default=0)


class AlertChannel(Base):
    """Where alerts go: ``email`` (an address, through its own SMTP server),
    ``webhook`` (a user's webhook, as signed ``alert:<kind>`` events) or
    ``sms`` (a phone number, sent as ``user`` through any healthy SIM but
    the one in trouble)."""

    __tablename__ = "alert_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # email, webhook, sms
    target: Mapped[str] = mapped_column(String(255))  # address, login or E.164 number
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_security: Mapped[str | None] = mapped_column(String(8))  # none, starttls, tls
    smtp_login: Mapped[str | None] = mapped_column(String(255))
    smtp_password: Mapped[str | None] = mapped_column(String(255))
    mail_from: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    user: Mapped[User | None] = relationship()


class AlertEmail(Base):
    """An alert e-mail to send, stored in the transaction that raised or
    resolved the alert, then sent (and retried) by the alert pass."""

    __tablename__ = "alert_emails"
    __table_args__ = (Index("ix_alert_emails_due", "status", "next_attempt_at"), TABLE_OPTIONS)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
