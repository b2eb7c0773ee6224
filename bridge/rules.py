"""Rules for incoming texts: adding, editing, pausing, listing, moving and
removing them, the words they match on, and what a sending rule does with a
text no user is attributed to (see ``nobody_warning``). Running them on a
received text is a pass's work: ``bridge/jobs/apply_rules.py``."""

from __future__ import annotations

import enum
import re
import string

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import webhooks
from .clock import utcnow
from .config import Settings
from .errors import AcceptError, UserError
from .models import Rule, Sim
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


def _checked(
    settings: Settings, match_kind: str, pattern: str, action: str, argument: str | None
) -> tuple[str, str | None]:
    """The pattern and argument as stored (a keyword bare, a number
    normalised); UserError naming what is wrong."""
    if match_kind not in ("keyword", "regex"):
        raise UserError("match by keyword or regex", field="match_kind")
    if action not in ACTIONS:
        raise UserError(f"action must be one of {', '.join(ACTIONS)}", field="action")
    if match_kind == "regex":
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UserError(f"not a regular expression: {exc}", field="pattern") from None
    elif not bare(pattern) or " " in bare(pattern):
        raise UserError("a keyword is one word", field="pattern")
    try:
        if action == "reply" and not argument:
            raise UserError("a reply rule needs the reply text", field="argument")
        if action == "forward_url":
            webhooks.check_url(argument or "", allow_private=settings.webhook_allow_private)
        if action == "forward_to":
            argument = normalise_number(argument or "", settings.default_region)
    except AcceptError as exc:
        raise UserError(exc.message, field="argument") from None
    if action in ("opt_out", "opt_in"):
        argument = None  # they take none; a stale one would only confuse the listing
    return (pattern if match_kind == "regex" else bare(pattern)), argument


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
    pattern, argument = _checked(settings, match_kind, pattern, action, argument)
    user = get_user(session, login) if login else None
    last = session.scalar(select(func.max(Rule.position))) or 0
    rule = Rule(
        user_id=user.id if user else None,
        position=last + 1,
        match_kind=match_kind,
        pattern=pattern,
        action=action,
        argument=argument,
        secret=webhooks.new_secret() if action == "forward_url" else None,
        enabled=True,
        created_at=utcnow(),
    )
    session.add(rule)
    session.flush()
    return rule


class Keep(enum.Enum):
    """``edit_rule``'s "leave this as it is" (None is a value: "everyone")."""

    KEEP = 0


KEEP = Keep.KEEP


def edit_rule(
    session: Session,
    settings: Settings,
    rule_id: int,
    *,
    login: str | None | Keep = KEEP,
    match_kind: str | Keep = KEEP,
    pattern: str | Keep = KEEP,
    action: str | Keep = KEEP,
    argument: str | None | Keep = KEEP,
) -> tuple[Rule, str | None]:
    """Change a rule in place (it keeps its position and past outcomes);
    the same checks as ``add_rule``. Answers the rule and its new signing
    secret, to be shown once, when a forward_url rule got a new URL (a
    secret is shared with one receiver: the old one's copy must not sign
    posts to another); otherwise None, and the secret is kept."""
    rule = _get(session, rule_id)
    new_kind = rule.match_kind if match_kind is KEEP else match_kind
    new_action = rule.action if action is KEEP else action
    new_argument = rule.argument if argument is KEEP else argument
    new_pattern, new_argument = _checked(
        settings,
        new_kind,
        rule.pattern if pattern is KEEP else pattern,
        new_action,
        new_argument,
    )
    if login is not KEEP:
        rule.user_id = get_user(session, login).id if login else None
    new_secret = None
    if new_action != "forward_url":
        rule.secret = None
    elif rule.action != "forward_url" or rule.argument != new_argument or rule.secret is None:
        rule.secret = new_secret = webhooks.new_secret()
    rule.match_kind, rule.pattern, rule.action, rule.argument = (
        new_kind,
        new_pattern,
        new_action,
        new_argument,
    )
    session.flush()
    return rule, new_secret


def set_enabled(session: Session, rule_id: int, enabled: bool) -> Rule:
    """Pause (False) or resume (True) a rule: a paused rule keeps its place
    and is skipped by the inbound pass."""
    rule = _get(session, rule_id)
    rule.enabled = enabled
    return rule


def _get(session: Session, rule_id: int) -> Rule:
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise UserError(f"no rule {rule_id}")
    return rule


# Texts nobody is attributed to. A reply or a forwarded text is a message,
# and every message is some user's: billed to them, under their limits,
# archived as theirs. A text to a SIM with no owner, from a number no user
# has texted through that SIM, is nobody's. The gateway does not pick
# someone to send as (an admin, say): anyone who texts that SIM could then
# make the gateway send, and bill, in that person's name. Such a text is
# skipped by the rule, with an outcome that says why and what to change;
# adding or editing the rule warns beforehand.
SENDING_ACTIONS = ("reply", "forward_to")


def unowned_sims(session: Session) -> list[str]:
    """SIMs in service with no owner: texts to them may be nobody's."""
    return list(
        session.scalars(
            select(Sim.name).where(Sim.owner_id.is_(None), Sim.removed_at.is_(None)).order_by(Sim.name)
        )
    )


def nobody_warning(rule: Rule, unowned: list[str]) -> str | None:
    """What will happen when ``rule`` meets a text nobody is attributed to,
    in words for the person who wrote the rule; None when it cannot."""
    if rule.action not in SENDING_ACTIONS or rule.user_id is not None or not unowned:
        return None
    many = len(unowned) > 1
    what = "reply" if rule.action == "reply" else "forward the text"
    return (
        f"SIM{'s' if many else ''} {', '.join(unowned)} ha{'ve' if many else 's'} no owner: "
        f"a text to {'them' if many else 'it'} from a number no user has texted through that SIM "
        f"belongs to no user, and this rule will not {what} (it records "
        f'"not sent: no user to send as"). Give {"each" if many else "it"} an owner, '
        "or make the rule a user's."
    )


def nobody_outcome(sim_name: str, sender: str) -> str:
    """The outcome of a sending rule on a text nobody is attributed to."""
    return (
        f"not sent: no user to send as. SIM {sim_name} has no owner and no user has texted "
        f"{sender} through it, so the text is nobody's (give the SIM an owner, or make the rule a user's)"
    )


def list_rules(session: Session) -> list[Rule]:
    return list(session.scalars(select(Rule).order_by(Rule.position)))


def remove_rule(session: Session, rule_id: int) -> None:
    session.delete(_get(session, rule_id))


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
