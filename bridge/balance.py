"""A SIM's balance, asked by USSD through its own gammu-smsd.

Gammu's SQL tables carry USSD (the gammu-smsd tables manual): an
``outbox`` row with ``Class`` 127 makes the daemon dial its
``DestinationNumber`` as a service code, and the network's answer arrives
in ``inbox`` with ``Class`` 127 and a ``Status``. Every request is a
``balance_checks`` row, stored with the outbox row in one transaction;
the answer is matched to the SIM's oldest open request. Answers never
reach the incoming-text rules (``jobs.inbound`` skips Class 127).

A request ends in one of three ways, each stored with its reason:
``answered`` (the amount read by the SIM's pattern, or null when the
answer did not match it), ``failed`` (the daemon could not dial, or the
network refused) or ``unanswered`` (nothing within ``balance_timeout``;
a request the daemon never picked up is withdrawn from its outbox then,
so it is not dialled hours later)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from . import sim_events
from .clock import utcnow
from .errors import UserError
from .models import USSD_CLASS, BalanceCheck, Inbox, Outbox, SentItem, Sim
from .outbox import untouched, withdraw

# "Баланс: 123,45 р.", "Balance 1 234.50 RUB", "Ваш баланс минус 12,30 руб":
# a word for balance, a few non-digits, then the amount (spaces inside,
# comma or dot before the kopecks/cents, a minus written as a sign or a word).
DEFAULT_PATTERN = (
    r"(?i)(?:баланс|balance|остаток|на сч[её]те)\D{0,30}?"
    r"(?P<amount>(?:-|−|минус\s*)?\d[\d\s\u00a0]*(?:[.,]\d{1,2})?)"
)
CODE = re.compile(r"^[0-9*#+]{1,32}$")
# The Status of a Class 127 inbox row (Gammu's tables manual).
USSD_STATUS = {
    1: "unknown status",
    2: "no action needed",
    3: "a reply is expected",
    4: "dialogue terminated",
    5: "another client replied",
    6: "operation not supported",
    7: "network timeout",
}
USSD_REFUSED = {5, 6, 7}


def check_code(code: str) -> str:
    code = (code or "").strip()
    if not CODE.match(code):
        raise UserError("a USSD code is digits, * , # and + (e.g. *100#), up to 32", field="code")
    return code


def check_pattern(pattern: str) -> str:
    """A regex that finds the amount: its group ``amount``, else its first group, else the match."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UserError(f"not a regular expression: {exc}", field="balance_pattern") from None
    if len(pattern) > 255:
        raise UserError("a pattern is at most 255 characters", field="balance_pattern")
    return pattern


def read_amount(text: str, pattern: str | None = None) -> Decimal | None:
    """The amount in an operator's answer, or None when the pattern finds none."""
    match = re.search(pattern or DEFAULT_PATTERN, text or "")
    if match is None:
        return None
    groups = match.groupdict()
    raw = groups.get("amount") or (match.group(1) if match.re.groups else match.group(0))
    if not raw:
        return None
    negative = bool(re.match(r"\s*(-|−|минус)", raw, flags=re.I))
    digits = re.sub(r"[^\d.,]", "", raw).replace(",", ".")
    if digits.count(".") > 1:
        head, _, tail = digits.rpartition(".")
        digits = head.replace(".", "") + "." + tail
    try:
        amount = Decimal(digits)
    except InvalidOperation:
        return None
    return -amount if negative else amount


def open_check(session: Session, sim_id: int) -> BalanceCheck | None:
    return session.scalar(
        select(BalanceCheck)
        .where(BalanceCheck.sim_id == sim_id, BalanceCheck.state == "asked")
        .order_by(BalanceCheck.id)
        .limit(1)
    )


def ask(session: Session, sim: Sim, code: str | None = None, *, now: datetime | None = None) -> BalanceCheck:
    """Put a balance request in the SIM's outbox; return it (an open one, if
    the SIM already has a request waiting: two at once could not be told
    apart). The caller commits."""
    now = now or utcnow()
    if sim.removed_at is not None:
        raise UserError(f"SIM {sim.name} was removed")
    waiting = open_check(session, sim.id)
    if waiting is not None:
        return waiting
    code = check_code(code or sim.balance_code or "")
    if not sim.healthy:
        raise UserError(f"SIM {sim.name} has no heartbeat: its gammu-smsd would not dial {code}")
    check = BalanceCheck(sim_id=sim.id, code=code, state="asked", requested_at=now)
    session.add(check)
    session.flush()
    ready = now - timedelta(seconds=1)  # gammu-smsd takes rows strictly in the past
    # Every column gammu-smsd reads as a number is given Gammu's default:
    # gammu-smsd 1.42 crashes on a NULL RelativeValidity or Retries.
    row = Outbox(
        destination_number=code,
        relative_validity=-1,
        retries=0,
        priority=0,
        coding="Default_No_Compression",
        sms_class=USSD_CLASS,
        text_decoded="",
        multipart="false",
        sender_id=sim.name,
        creator_id=f"balance-check {check.id}",
        delivery_report="no",
        sending_datetime=ready,
        sending_timeout=ready,
    )
    session.add(row)
    session.flush()
    check.outbox_id = row.id
    return check


def collect(session: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """Take USSD answers from Gammu's inbox into their requests; return how
    many. Rows are claimed ``SKIP LOCKED`` and marked processed in the same
    transaction, like ``jobs.inbound`` does for texts. The caller commits."""
    now = now or utcnow()
    rows = session.scalars(
        select(Inbox)
        .where(Inbox.processed == "false", Inbox.sms_class == USSD_CLASS)
        .order_by(Inbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.processed = "true"
        sim = session.scalar(select(Sim).where(Sim.name == row.recipient_id))
        if sim is None:
            continue  # a daemon of no SIM of ours: nothing to attach it to
        check = session.scalar(
            select(BalanceCheck)
            .where(BalanceCheck.sim_id == sim.id, BalanceCheck.state == "asked")
            .order_by(BalanceCheck.id)
            .limit(1)
            .with_for_update()
        )
        if check is None:
            # Late (after its request was given up) or sent by the network unasked.
            check = BalanceCheck(sim_id=sim.id, state="asked")
            session.add(check)
        _answer(session, sim, check, row, now)
    return len(rows)


def _answer(session: Session, sim: Sim, check: BalanceCheck, row: Inbox, now: datetime) -> None:
    text = row.text_decoded or ""
    check.answer = text
    check.answered_at = row.receiving_datetime or now
    check.ussd_status = row.status
    if row.status in USSD_REFUSED:
        check.state = "failed"
        check.error = f"the network answered: {USSD_STATUS[row.status]}"
        return
    check.state = "answered"
    check.amount = read_amount(text, sim.balance_pattern)
    if check.amount is None:
        check.error = "the answer did not match the balance pattern"
        return
    if sim.balance_low is not None and check.amount < sim.balance_low:
        before = session.scalar(
            select(BalanceCheck.amount)
            .where(
                BalanceCheck.sim_id == sim.id,
                BalanceCheck.amount.is_not(None),
                BalanceCheck.id != check.id,
            )
            .order_by(BalanceCheck.id.desc())
            .limit(1)
        )
        if before is None or before >= sim.balance_low:  # once per fall, not every check
            sim_events.record(
                session,
                sim.id,
                "balance_low",
                f"balance {check.amount} is below {sim.balance_low} (answer: {text})",
                now=now,
            )


def settle(session: Session, *, timeout: float, now: datetime | None = None) -> int:
    """End the open requests that can no longer be answered: the daemon
    reported it could not dial (``failed``), or nothing came within
    ``timeout`` seconds (``unanswered``). Return how many ended."""
    now = now or utcnow()
    not_dialled = exists().where(
        SentItem.id == BalanceCheck.outbox_id, SentItem.status.in_(("SendingError", "Error"))
    )
    stale = session.execute(
        select(BalanceCheck, not_dialled.label("not_dialled"))
        .where(
            BalanceCheck.state == "asked",
            or_(not_dialled, BalanceCheck.requested_at < now - timedelta(seconds=timeout)),
        )
        .with_for_update(of=BalanceCheck, skip_locked=True)
    ).all()
    for check, failed in stale:
        if failed:
            check.state = "failed"
            check.error = "gammu-smsd could not dial the code"
            continue
        check.state = "unanswered"
        check.error = f"no answer within {timeout:.0f} s"
        if check.outbox_id is not None and withdraw(session, check.outbox_id, *untouched()):
            check.error += "; its daemon never dialled it, so the request was withdrawn"
    return len(stale)


def due(session: Session, *, now: datetime | None = None) -> list[Sim]:
    """SIMs whose scheduled check is due: a code and a period set, alive,
    in service, and no request within the period nor one still open."""
    now = now or utcnow()
    sims = session.scalars(
        select(Sim).where(
            Sim.removed_at.is_(None),
            Sim.quarantined_at.is_(None),
            Sim.healthy.is_(True),
            Sim.balance_code.is_not(None),
            Sim.balance_every.is_not(None),
        )
    ).all()
    last = dict(
        session.execute(
            select(BalanceCheck.sim_id, func.max(BalanceCheck.requested_at))
            .where(BalanceCheck.sim_id.in_([s.id for s in sims]))
            .group_by(BalanceCheck.sim_id)
        ).all()
    )
    due = []
    for sim in sims:
        asked = last.get(sim.id)
        if sim.balance_every and (asked is None or asked <= now - timedelta(hours=sim.balance_every)):
            due.append(sim)
    return due


def latest(session: Session, sim_ids: list[int]) -> dict[int, dict]:
    """Per SIM: the last amount read and when, and the last request that
    ended (its answer, or the error that ended it). Screens and the API."""
    if not sim_ids:
        return {}

    def last(*conditions) -> dict[int, BalanceCheck]:
        newest = (
            select(func.max(BalanceCheck.id))
            .where(BalanceCheck.sim_id.in_(sim_ids), *conditions)
            .group_by(BalanceCheck.sim_id)
        )
        return {c.sim_id: c for c in session.scalars(select(BalanceCheck).where(BalanceCheck.id.in_(newest)))}

    with_amount = last(BalanceCheck.amount.is_not(None))
    ended = last(BalanceCheck.state != "asked")
    result = {}
    for sim_id in set(with_amount) | set(ended):
        good, end = with_amount.get(sim_id), ended.get(sim_id)
        result[sim_id] = {
            "amount": good.amount if good else None,
            "at": good.answered_at if good else None,
            "answer": end.answer if end else None,
            "error": end.error if end else None,
        }
    return result


def history(session: Session, sim_id: int, limit: int = 20) -> list[BalanceCheck]:
    return list(
        session.scalars(
            select(BalanceCheck)
            .where(BalanceCheck.sim_id == sim_id)
            .order_by(BalanceCheck.id.desc())
            .limit(limit)
        )
    )
