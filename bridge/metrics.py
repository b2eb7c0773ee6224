"""Prometheus metrics, computed when scraped from the database.

Every number here is a fact of the database (messages, SIMs, the queue, the
worker's heartbeat, webhook backlog, alerts), so a collector that reads it
at scrape time gives the same answer from every gunicorn process without
prometheus-client's multiprocess files; nothing worth exporting lives in
one process only. Counters (``*_total``) are counts of stored rows, which
only grow. If the database does not answer, only
``smsbridge_database_up 0`` is exported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from . import alert_checks, alerts, heartbeat
from .clock import utcnow
from .config import Settings
from .db import UNAVAILABLE
from .messages import stuck, waiting_since
from .models import Message, MessageStatus, Sim, WebhookDelivery
from .sims import sim_overview

# Every state a SIM may be in, the others' included once they exist here.
SIM_STATES = ("healthy", "stalled", "dead", "disabled", "quarantined")


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        self.sessions = sessions
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("smsbridge_database_up", "1 when the database answered this scrape.")
        try:
            with self.sessions.begin() as session:
                found = list(self._facts(session))
        except UNAVAILABLE:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _facts(self, session: Session) -> Iterator[Metric]:
        now = utcnow()
        by_status = GaugeMetricFamily("smsbridge_messages", "Messages by status, now.", labels=["status"])
        counts = dict(session.execute(select(Message.status, func.count()).group_by(Message.status)).all())
        for status in MessageStatus:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status

        accepted = CounterMetricFamily("smsbridge_messages_accepted", "Messages accepted, ever.")
        accepted.add_metric([], sum(counts.values()))
        yield accepted
        names = dict(session.execute(select(Sim.id, Sim.name)).all())
        for name, what, condition in (
            (
                "sent",
                "Messages the network took (sent, delivered or undelivered), by SIM.",
                Message.sent_at.is_not(None),
            ),
            (
                "failed",
                "Messages that ended failed, by their last SIM.",
                Message.status == MessageStatus.FAILED,
            ),
            (
                "delivered",
                "Messages with a delivery report of success, by SIM.",
                Message.status == MessageStatus.DELIVERED,
            ),
        ):
            family = CounterMetricFamily(f"smsbridge_messages_{name}", what, labels=["sim"])
            rows = session.execute(
                select(Message.sim_id, func.count()).where(condition).group_by(Message.sim_id)
            )
            for sim_id, count in rows:
                family.add_metric([names.get(sim_id, "") if sim_id is not None else ""], count)
            yield family

        queued = counts.get(MessageStatus.QUEUED, 0)
        depth = GaugeMetricFamily("smsbridge_queue_depth", "Messages queued for a SIM.")
        depth.add_metric([], queued)
        yield depth
        oldest = session.scalar(
            select(func.min(waiting_since())).where(Message.status == MessageStatus.QUEUED)
        )
        age = GaugeMetricFamily(
            "smsbridge_queue_oldest_age_seconds", "Seconds the oldest queued message has waited (0: none)."
        )
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield age
        stuck_now = GaugeMetricFamily(
            "smsbridge_messages_stuck", "Messages accepted more than stuck_after ago and not yet sent."
        )
        after = timedelta(seconds=self.settings.stuck_after)
        stuck_now.add_metric([], session.scalar(select(func.count()).where(stuck(now, after))) or 0)
        yield stuck_now

        yield from self._sims(session)

        passes = GaugeMetricFamily(
            "smsbridge_worker_last_pass_age_seconds",
            "Seconds since each worker job last passed.",
            labels=["job"],
        )
        for job, at in sorted(heartbeat.last_passes(session).items()):
            passes.add_metric([job], max(0.0, (now - at).total_seconds()))
        yield passes

        backlog = GaugeMetricFamily("smsbridge_webhook_backlog", "Webhook deliveries waiting to be POSTed.")
        backlog.add_metric(
            [], session.scalar(select(func.count()).where(WebhookDelivery.status == "pending")) or 0
        )
        yield backlog

        open_alerts = GaugeMetricFamily("smsbridge_alerts_open", "Open alerts, by kind.", labels=["kind"])
        by_kind = alerts.open_counts(session)
        for kind in sorted(set(alert_checks.CHECKS) | set(by_kind)):
            open_alerts.add_metric([kind], by_kind.get(kind, 0))
        yield open_alerts

    def _sims(self, session: Session) -> Iterator[Metric]:
        def gauge(name: str, what: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"smsbridge_sim_{name}", what, labels=["sim"])

        up = gauge("up", "1 when the SIM's daemon heartbeats.")
        state = GaugeMetricFamily(
            "smsbridge_sim_state", "1 for the state each SIM is in.", labels=["sim", "state"]
        )
        stalled = gauge("stalled", "1 when the watchdog found the SIM heartbeating but not sending.")
        quarantined = gauge("quarantined", "1 when the SIM is quarantined (its identity changed).")
        enabled = gauge("enabled", "1 when an operator has the SIM enabled.")
        signal = gauge("signal_percent", "Signal strength the daemon last reported.")
        battery = gauge("battery_percent", "Battery level the daemon last reported.")
        used = gauge("parts_used", "SMS parts used in the current billing period.")
        limit = gauge("parts_limit", "Monthly limit in SMS parts (absent: no limit).")
        waiting = gauge("outbox_waiting", "Rows waiting in the SIM's gammu-smsd outbox.")
        money = gauge("balance", "The last amount read from the SIM's USSD balance answer.")
        families = (up, state, stalled, quarantined, enabled, signal, battery, used, limit, waiting, money)
        for sim in sim_overview(session):
            name = sim["name"]
            up.add_metric([name], 1 if sim["healthy"] else 0)
            for each in SIM_STATES:
                state.add_metric([name, each], 1 if sim["state"] == each else 0)
            stalled.add_metric([name], 1 if sim["state"] == "stalled" else 0)
            quarantined.add_metric([name], 1 if sim["state"] == "quarantined" else 0)
            enabled.add_metric([name], 1 if sim["enabled"] else 0)
            if sim["signal"] is not None:
                signal.add_metric([name], sim["signal"])
            if sim["battery"] is not None:
                battery.add_metric([name], sim["battery"])
            used.add_metric([name], sim["parts_used"])
            if sim["monthly_limit"] is not None:
                limit.add_metric([name], sim["monthly_limit"])
            waiting.add_metric([name], sim["waiting"])
            if sim["balance"] is not None:
                money.add_metric([name], sim["balance"])
        yield from families


def registry(sessions: sessionmaker[Session], settings: Settings) -> CollectorRegistry:
    """A registry of this app's own: the database's facts, nothing of the process."""
    made = CollectorRegistry(auto_describe=False)
    made.register(DatabaseCollector(sessions, settings))
    return made
