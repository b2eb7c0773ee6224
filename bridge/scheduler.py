"""APScheduler wiring of the jobs, nothing else."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from . import jobs, wake
from .db import make_engine, make_session_factory

log = logging.getLogger("smsbridge.scheduler")


class Worker:
    """The jobs on a schedule, and dispatch woken at once by accept."""

    def __init__(self, settings):
        self.settings = settings
        self.engine = make_engine(settings.database_url, pool_size=4)
        self.sessions = make_session_factory(self.engine)
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)
        self._woken = threading.Event()
        self._listener = wake.WakeListener(settings, self._wake)

    def _wake(self) -> None:
        self._woken.set()
        try:
            self.scheduler.modify_job("dispatch", next_run_time=datetime.now(timezone.utc))
        except Exception:  # job gone while shutting down
            pass

    def _dispatch(self) -> None:
        # A wake that lands while a pass runs must not wait for the next
        # interval: loop until nobody woke us during the pass.
        while True:
            self._woken.clear()
            jobs.dispatch_until_idle(self.sessions, self.settings)
            if not self._woken.is_set():
                return

    def start(self) -> None:
        # A wake during a running dispatch makes APScheduler warn that it
        # skipped a run; _dispatch loops for it, so that is no news.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        s = self.settings
        self.scheduler.add_job(self._guarded(self._dispatch), "interval", id="dispatch",
                               seconds=s.dispatch_interval, **common)
        self.scheduler.add_job(self._guarded(lambda: jobs.harvest_pass(self.sessions)), "interval",
                               id="harvest", seconds=s.harvest_interval, **common)
        self.scheduler.add_job(self._guarded(lambda: jobs.inbound_pass(self.sessions, s)), "interval",
                               id="inbound", seconds=s.inbound_interval, **common)
        # Deliveries wait on other people's servers: their own job and threads,
        # so a slow receiver never delays sending or receiving.
        self.scheduler.add_job(self._guarded(lambda: jobs.webhook_pass(self.sessions, s)), "interval",
                               id="webhooks", seconds=s.webhook_interval, **common)
        self.scheduler.add_job(self._guarded(lambda: jobs.health_pass(self.sessions, s)), "interval",
                               id="health", seconds=s.health_interval,
                               next_run_time=datetime.now(timezone.utc), **common)
        self.scheduler.start()
        self._listener.start()

    @staticmethod
    def _guarded(fn):
        def run():
            try:
                fn()
            except Exception:
                log.exception("job failed; it runs again at its next interval")
        run.__name__ = getattr(fn, "__name__", "job")
        return run

    def stop(self) -> None:
        self._listener.stop()
        self.scheduler.shutdown(wait=True)
        self.engine.dispose()
