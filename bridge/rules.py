"""Rules for incoming texts: adding, listing, moving and removing them, and
the words they match on. Running them on a received text is a pass's work:
``bridge/jobs/apply_rules.py``."""

from __future__ import annotations

import re
import string

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import webhooks
from .clock import utcnow
from .config import Settings
from .errors import AcceptError, UserError
from .models import Rule
from .phones import normalise_number
from .users import get_user

ACTIONS = ("reply", "forward_url", "forward_to", "opt_out", "opt_in")
_PUNCTUATION = string.punctuation + "«»“”„…—–¡¿ \t\r\n"


def words(setting: str) -> set[str]:
    return {w.strip().casefold() for w in setting.split(",") if w.strip()}


def bare(text: str) -> str:
    """The text as a keyword: any case, surrounding punctuation ignored."""
    return text.strip(_PUNCTUATION).casefold()


def first_word(text: str) -> str:
    parts = text.strip(_PUNCTUATION).split(None, 1)
    return bare(parts[0]) if parts else ""


# ----------------------------------------------------------------- managing


def add_rule(
    session: Session,
    settings: Settings,
    *,
    login: str | None,
    match_kind: str,
    pattern: str,
    action: str,
    argument: str | None,
) -> Rule:
    if match_kind not in ("keyword", "regex"):
        raise UserError("match by keyword or regex")
    if action not in ACTIONS:
        raise UserError(f"action must be one of {', '.join(ACTIONS)}")
    if match_kind == "regex":
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(f"not a regular expression: {exc}") from None
    elif not bare(pattern) or " " in bare(pattern):
        raise UserError("a keyword is one word")
    secret = None
    try:
        if action == "reply" and not argument:
            raise UserError("a reply rule needs the reply text")
        if action == "forward_url":
            webhooks.check_url(argument or "", allow_private=settings.webhook_allow_private)
            secret = webhooks.new_secret()
        if action == "forward_to":
            argument = normalise_number(argument or "", settings.default_region)
    except AcceptError as exc:
        raise UserError(exc.message) from None
    user = get_user(session, login) if login else None
    last = session.scalar(select(func.max(Rule.position))) or 0
    rule = Rule(
        user_id=user.id if user else None,
        position=last + 1,
        match_kind=match_kind,
        pattern=pattern if match_kind == "regex" else bare(pattern),
        action=action,
        argument=argument,
        secret=secret,
        enabled=True,
        created_at=utcnow(),
    )
    session.add(rule)
    session.flush()
    return rule


def list_rules(session: Session) -> list[Rule]:
    return list(session.scalars(select(Rule).order_by(Rule.position)))


def remove_rule(session: Session, rule_id: int) -> None:
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise UserError(f"no rule {rule_id}")
    session.delete(rule)


def move_rule(session: Session, rule_id: int, position: int) -> None:
    """Put the rule at ``position`` (1 = first) and renumber the others."""
    rules = list_rules(session)
    moving = next((r for r in rules if r.id == rule_id), None)
    if moving is None:
        raise UserError(f"no rule {rule_id}")
    rules.remove(moving)
    rules.insert(max(0, min(position - 1, len(rules))), moving)
    for number, rule in enumerate(rules, start=1):
        rule.position = number


def describe(rule: Rule) -> str:
    target = f" {rule.argument}" if rule.argument else ""
    owner = rule.user.login if rule.user else "everyone"
    return f"#{rule.id} [{owner}] {rule.match_kind} {rule.pattern!r} -> {rule.action}{target}"


# ----------------------------------------------------------------- running
