"""Running one pass of a job in its own transaction: what the scheduler and
the CLI's one-shot commands both call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .. import alert_checks, alerts
from ..config import Settings
from ..outbox import expire_untouched, settle_uncertain
from ..sims import restart_daemon
from .balance import check_balances
from .deliver import deliver_due
from .dispatch import dispatch
from .harvest import harvest, harvest_reports
from .health import take_back_dead, update_health
from .identity import check_identities, take_back_quarantined
from .inbound import receive
from .mailer import send_due
from .watchdog import restarts_due, watch

log = logging.getLogger("smsbridge.jobs")
# Deadlock found / lock wait timeout: InnoDB rolled back, a retry is safe.
RETRYABLE_MYSQL_ERRORS = (1213, 1205)


def run_pass(sessions: sessionmaker[Session], job: Callable[[Session], object], retries: int = 3):
    for attempt in range(retries + 1):
        try:
            with sessions.begin() as session:
                return job(session)
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code not in RETRYABLE_MYSQL_ERRORS or attempt == retries:
                raise
            log.info("%s: transaction rolled back by InnoDB (%s), retrying", _name(job), code)
            time.sleep(0.01 * (attempt + 1))


def _name(job) -> str:
    return getattr(job, "__name__", repr(job))


def dispatch_until_idle(
    sessions: sessionmaker[Session],
    settings: Settings,
    max_batches: int = 1000,
    keep_going: Callable[[], bool] = lambda: True,
) -> int:
    """Dispatch batches while full ones come back and ``keep_going()`` says
    so (a stopping worker ends between two batches); return messages handed to SIMs."""
    total = 0
    for _ in range(max_batches):
        if not keep_going():
            break
        result = run_pass(sessions, lambda s: dispatch(s, settings))
        total += result.dispatched
        if result.claimed < settings.dispatch_batch:
            break
    return total


def harvest_pass(sessions: sessionmaker[Session]):
    sent = run_pass(sessions, harvest)
    reports = run_pass(sessions, harvest_reports)
    return {"sent": sent.sent, "retried": sent.retried, "failed": sent.failed, "reports": reports}


def inbound_pass(sessions: sessionmaker[Session], settings: Settings):
    return run_pass(sessions, lambda s: receive(s, settings))


def webhook_pass(sessions: sessionmaker[Session], settings: Settings):
    return deliver_due(sessions, settings)


def alert_pass(sessions: sessionmaker[Session], settings: Settings) -> dict:
    """The checks the worker runs (every kind but worker:down), then the
    alert e-mails that are due. Webhooks and texts leave by their own passes."""
    queued = run_pass(sessions, lambda s: alerts.evaluate(s, settings, alert_checks.kinds("worker")))
    return {"changes": queued.changes, "emails": send_due(sessions, settings)}


def send_now(sessions: sessionmaker[Session], settings: Settings, queued: alerts.Queued) -> None:
    """Send what ``queued`` stored at once, without the worker's passes
    (the web app's worker:down notices: the worker is not there to)."""
    if queued.message_ids:
        run_pass(sessions, lambda s: dispatch(s, settings, only=queued.message_ids))
    if queued.webhook_ids:
        deliver_due(sessions, settings, only=queued.webhook_ids)
    if queued.email_ids:
        send_due(sessions, settings, only=queued.email_ids)


def health_pass(sessions: sessionmaker[Session], settings: Settings):
    # Separate transactions: the SIM flags are committed before take-back
    # waits for usage rows, so no job holds a SIM row while waiting on another lock.
    result = run_pass(sessions, update_health)
    stalls = run_pass(sessions, watch)
    result.stalled, result.recovered = stalls.stalled, stalls.recovered
    result.taken_back = run_pass(sessions, take_back_dead)
    result.settled = run_pass(sessions, lambda s: settle_uncertain(s, abandon_after=settings.abandon_after))
    result.expired = run_pass(sessions, expire_untouched)
    # A restart waits on the daemon: outside any transaction.
    for name in run_pass(sessions, lambda s: restarts_due(s, settings)):
        restart_daemon(sessions, settings, name)
        result.restarted.append(name)
    return result


def identity_pass(sessions: sessionmaker[Session]):
    # Two transactions, as in health_pass: the SIM rows are committed before
    # take-back waits for usage rows.
    result = run_pass(sessions, check_identities)
    result.taken_back = run_pass(sessions, take_back_quarantined)
    return result


def balance_pass(sessions: sessionmaker[Session], settings: Settings):
    return run_pass(sessions, lambda s: check_balances(s, settings))
