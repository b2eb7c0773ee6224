"""Running the rules on a received text: opt-out words first, then every
matching rule in order; each outcome (done or error, and why) is stored
with the text, inside a savepoint, so one failing rule never stops the
others or the text itself."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .. import optouts, webhooks
from ..accept import SendOptions, accept
from ..clock import utcnow
from ..config import Settings
from ..errors import BridgeError, UserError
from ..messages import inbound_data, made_delivery, made_messages
from ..models import InboundMessage, Message, Rule, RuleResult, User
from ..rules import bare, describe, first_word, nobody_outcome, words

log = logging.getLogger("smsbridge.rules")


def run_rules(session: Session, settings: Settings, inbound: InboundMessage, now: datetime) -> None:
    """Opt-out words first, then every matching rule in order; each outcome
    is recorded, and a failing rule does not stop the ones after it."""
    keyword = bare(inbound.text)
    if keyword in words(settings.opt_out_words):
        _record(session, inbound, None, "opt-out word", lambda: _opt(session, settings, inbound, True, now))
    elif keyword in words(settings.opt_in_words):
        _record(session, inbound, None, "opt-in word", lambda: _opt(session, settings, inbound, False, now))

    rules = session.scalars(
        select(Rule)
        .where(Rule.enabled.is_(True), or_(Rule.user_id.is_(None), Rule.user_id == inbound.user_id))
        .order_by(Rule.position)
    ).all()
    for rule in rules:
        if not _matches(rule, inbound.text):
            continue
        _record(
            session,
            inbound,
            rule,
            describe(rule),
            functools.partial(_act, session, settings, rule, inbound, now),
        )


def _matches(rule: Rule, text: str) -> bool:
    if rule.match_kind == "keyword":
        return first_word(text) == rule.pattern
    return re.search(rule.pattern, text, re.IGNORECASE) is not None


def _record(
    session: Session, inbound: InboundMessage, rule: Rule | None, label: str, action: Callable[[], str]
) -> None:
    try:
        with session.begin_nested():
            detail, outcome = action(), "done"
    except BridgeError as exc:
        detail, outcome = exc.message, "error"
    except Exception as exc:  # noqa: BLE001
        # Anything else (a database error, a bug) is still one rule's failure:
        # the savepoint undid it; the text, and every other text, goes on.
        log.exception("rule %r failed on inbound message %s", label, inbound.id)
        detail, outcome = f"{type(exc).__name__}: {exc}", "error"
    session.add(
        RuleResult(
            inbound_id=inbound.id,
            rule_id=rule.id if rule else None,
            label=label[:255],
            outcome=outcome,
            detail=(detail or "")[:1024],
            created_at=utcnow(),
        )
    )


def _sender_user(session: Session, rule: Rule | None, inbound: InboundMessage) -> User:
    user_id = (rule.user_id if rule and rule.user_id else None) or inbound.user_id
    if user_id is None:
        # Nobody's text: no one is picked to send as (rules.nobody_warning says why).
        raise UserError(nobody_outcome(inbound.sim_name, inbound.sender))
    user = session.get(User, user_id)
    if user is None:
        # The foreign keys keep it, but it may have been deleted since the
        # rule or the text was read.
        raise UserError(f"no user to send as: user {user_id} no longer exists")
    return user


def _send(
    session: Session, settings: Settings, user: User, to: str, text: str, *, ignore_opt_out=False
) -> str:
    result = accept(session, user, to, text, SendOptions(), settings=settings, source="rule")
    if ignore_opt_out:
        for m in result.messages:
            message = session.get(Message, m["id"])
            assert message is not None  # accept() just stored it, in this session
            message.ignore_opt_out = True
    return made_messages(m["id"] for m in result.messages)


def _opt(session: Session, settings: Settings, inbound: InboundMessage, out: bool, now: datetime) -> str:
    change = optouts.opt_out if out else optouts.opt_in
    changed = change(
        session,
        inbound.sender,
        reason=f"texted: {inbound.text.strip()[:200]}",
        source="sms",
        actor=inbound.sender,
        region=settings.default_region,
        now=now,
    )
    detail = (
        ("added to" if out else "removed from") + " the opt-out list"
        if changed
        else ("already on" if out else "was not on") + " the opt-out list"
    )
    if changed and settings.opt_out_confirmation and inbound.user_id is not None:
        text = settings.opt_out_confirmation.replace("{action}", "unsubscribed" if out else "subscribed")
        detail += "; " + _send(
            session, settings, _sender_user(session, None, inbound), inbound.sender, text, ignore_opt_out=True
        )
    return detail


# What a rule does; the detail it answers is stored with the outcome.
RuleAction = Callable[[Session, Settings, Rule, InboundMessage, datetime], str]
REPLY_QUIET = timedelta(hours=1)


def _reply(session: Session, settings: Settings, rule: Rule, inbound: InboundMessage, now: datetime) -> str:
    # Two auto-responders answering each other would empty a SIM's month:
    # a rule answers one number at most once an hour.
    replied = session.scalar(
        select(func.count())
        .select_from(RuleResult)
        .join(InboundMessage, InboundMessage.id == RuleResult.inbound_id)
        .where(
            RuleResult.rule_id == rule.id,
            RuleResult.outcome == "done",
            InboundMessage.sender == inbound.sender,
            RuleResult.created_at > now - REPLY_QUIET,
        )
    )
    if replied:
        return "not sent: this rule already replied to this number within the hour"
    assert rule.argument is not None  # rules.add_rule refuses a reply rule without its text
    return _send(session, settings, _sender_user(session, rule, inbound), inbound.sender, rule.argument)


def _forward_to(
    session: Session, settings: Settings, rule: Rule, inbound: InboundMessage, now: datetime
) -> str:
    text = f"From {inbound.sender}: {inbound.text}"
    assert rule.argument is not None  # rules.add_rule stored the number, normalised
    return _send(session, settings, _sender_user(session, rule, inbound), rule.argument, text)


def _forward_url(
    session: Session, settings: Settings, rule: Rule, inbound: InboundMessage, now: datetime
) -> str:
    # rules.add_rule checked the URL and made the secret.
    assert rule.argument is not None and rule.secret is not None
    delivery = webhooks.enqueue(
        session,
        user_id=rule.user_id,
        event="sms:received",
        url=rule.argument,
        secret=rule.secret,
        data=inbound_data(inbound),
        now=now,
    )
    return made_delivery(delivery)


def _opt_action(out: bool) -> RuleAction:
    return lambda session, settings, rule, inbound, now: _opt(session, settings, inbound, out, now)


_ACTIONS: dict[str, RuleAction] = {
    "reply": _reply,
    "forward_to": _forward_to,
    "forward_url": _forward_url,
    "opt_out": _opt_action(True),
    "opt_in": _opt_action(False),
}


def _act(session: Session, settings: Settings, rule: Rule, inbound: InboundMessage, now: datetime) -> str:
    """Run ``rule``'s action, looked up here: inside ``_record``, so an
    unknown action is that one rule's error."""
    return _ACTIONS[rule.action](session, settings, rule, inbound, now)
