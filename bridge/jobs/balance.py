"""The balance pass: ask the SIMs whose scheduled check is due, take the
USSD answers gammu-smsd wrote to its inbox, and end the requests that
will not be answered. The work itself is in ``bridge.balance``, which the
CLI's ``sim balance`` and the admin share."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from .. import balance
from ..clock import utcnow
from ..config import Settings
from ..errors import UserError

log = logging.getLogger("smsbridge.balance")


@dataclasses.dataclass
class BalanceResult:
    asked: int = 0
    answered: int = 0
    ended: int = 0


def check_balances(session: Session, settings: Settings, *, now: datetime | None = None) -> BalanceResult:
    """One pass; the caller commits."""
    now = now or utcnow()
    result = BalanceResult()
    result.answered = balance.collect(session, now=now)
    result.ended = balance.settle(session, timeout=settings.balance_timeout, now=now)
    for sim in balance.due(session, now=now):
        try:
            balance.ask(session, sim, now=now)
        except UserError as exc:  # e.g. a code made invalid by hand in the database
            log.warning("SIM %s: scheduled balance check not asked: %s", sim.name, exc)
            continue
        result.asked += 1
    return result
