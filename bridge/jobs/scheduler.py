"""APScheduler wiring of the jobs, and a stop that is bounded.

``Worker.stop(timeout)`` stops scheduling at once, lets the passes that run
finish (a long dispatch stops between two batches), and after ``timeout``
reports which are still running instead of waiting for them forever: the
caller then exits without them, and the database rolls back whatever
transaction they had open, so no message changes state half-way."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from .. import heartbeat, wake
from ..config import Settings
from ..db import UNAVAILABLE, make_engine, make_session_factory
from . import passes

log = logging.getLogger("smsbridge.scheduler")


class Worker:
    """The jobs on a schedule, and dispatch woken at once by accept."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.database_url, timeout=settings.db_timeout, pool_size=4)
        self.sessions = make_session_factory(self.engine)
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.stopping = threading.Event()
        self._woken = threading.Event()
        self._listener = wake.WakeListener(settings, self._wake)
        self._running: set[str] = set()
        self._idle = threading.Condition()
        self._unreachable: set[str] = set()  # jobs whose last pass found no database
        self._recorded: dict[str, float] = {}  # job -> monotonic time of its last heartbeat write
        # Often enough that a live worker never looks down.
        self._beat_every = min(heartbeat.RECORD_EVERY, settings.worker_down_after / 4)

    def _wake(self) -> None:
        self._woken.set()
        try:
            self.scheduler.modify_job("dispatch", next_run_time=datetime.now(UTC))
        except Exception:  # job gone while shutting down
            pass

    def _keep_going(self) -> bool:
        return not self.stopping.is_set()

    def _dispatch(self) -> None:
        # A wake that lands while a pass runs must not wait for the next
        # interval: loop until nobody woke us during the pass.
        while self._keep_going():
            self._woken.clear()
            passes.dispatch_until_idle(self.sessions, self.settings, keep_going=self._keep_going)
            if not self._woken.is_set():
                return

    def start(self) -> None:
        # A wake during a running dispatch makes APScheduler warn that it
        # skipped a run; _dispatch loops for it, so that is no news.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        s = self.settings
        self._add("dispatch", self._dispatch, s.dispatch_interval)
        self._add("harvest", lambda: passes.harvest_pass(self.sessions), s.harvest_interval)
        self._add("inbound", lambda: passes.inbound_pass(self.sessions, s), s.inbound_interval)
        # Deliveries wait on other people's servers: their own job and threads,
        # so a slow receiver never delays sending or receiving.
        self._add("webhooks", lambda: passes.webhook_pass(self.sessions, s), s.webhook_interval)
        self._add("alerts", lambda: passes.alert_pass(self.sessions, s), s.alert_interval)
        self._add(
            "health",
            lambda: passes.health_pass(self.sessions, s),
            s.health_interval,
            next_run_time=datetime.now(UTC),
        )
        self._add("identity", lambda: passes.identity_pass(self.sessions), s.identity_interval)
        self._add("balance", lambda: passes.balance_pass(self.sessions, s), s.balance_interval)
        self.scheduler.start()
        self._listener.start()

    def _add(self, name: str, job: Callable[[], object], seconds: float, **options) -> None:
        self.scheduler.add_job(
            self._guarded(name, job),
            "interval",
            id=name,
            seconds=seconds,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **options,
        )

    def _guarded(self, name: str, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with self._idle:
                if self.stopping.is_set():
                    return
                self._running.add(name)
            try:
                job()
                self._beat(name)
                self._reached(name)
            except UNAVAILABLE as exc:
                self._unreached(name, exc)
            except Exception:
                log.exception("%s failed; it runs again at its next interval", name)
            finally:
                with self._idle:
                    self._running.discard(name)
                    self._idle.notify_all()

        run.__name__ = name
        return run

    def _beat(self, name: str) -> None:
        """Say the pass happened (the worker's heartbeat), now and then."""
        now = time.monotonic()
        if name not in self._recorded or now - self._recorded[name] >= self._beat_every:
            with self.sessions.begin() as session:
                heartbeat.record(session, name)
            self._recorded[name] = now

    def _unreached(self, name: str, exc: Exception) -> None:
        # One line when a job loses the database and one when it is back,
        # not a traceback every pass of an outage.
        if name not in self._unreachable:
            self._unreachable.add(name)
            cause = getattr(exc, "orig", None) or exc
            log.warning(
                "%s: database unavailable (%s); trying again every pass",
                name,
                (str(cause).splitlines() or [type(cause).__name__])[0][:200],
            )

    def _reached(self, name: str) -> None:
        if name in self._unreachable:
            self._unreachable.discard(name)
            log.warning("%s: database reachable again", name)

    def stop(self, timeout: float | None = None) -> list[str]:
        """Stop; wait at most ``timeout`` seconds (default ``stop_timeout``) for
        running passes. Returns the names of those still running then (empty:
        a clean stop)."""
        timeout = self.settings.stop_timeout if timeout is None else timeout
        self.stopping.set()
        self._listener.stop()
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            still = sorted(self._running)
        if not still:
            self.engine.dispose()
        return still
