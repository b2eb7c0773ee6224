"""The long-running processes: the HTTP app under gunicorn (``smsbridge
web``), the job worker (``smsbridge worker``), and for ``smsbridge run`` a
small supervisor that runs both as child processes.

Why child processes and not a worker forked beside gunicorn: gunicorn forks
its web workers from its master, and a fork inherits everything the master
holds (multiprocessing children, ``finally`` blocks, atexit handlers) and
runs it again when it exits. Two plain programs under a plain parent share
nothing.

Every stop is bounded. The worker gives its passes ``stop_timeout`` seconds
and then exits without them (the database rolls back their open
transactions); gunicorn gives requests as long; the supervisor kills what
is still alive ``KILL_GRACE`` seconds after that. Children also get SIGTERM
when the supervisor dies, so nothing is left orphaned."""

from __future__ import annotations

import ctypes
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from gunicorn.app.base import BaseApplication
from sqlalchemy.orm import Session, sessionmaker

from . import alert_checks, alerts
from .config import Settings
from .db import UNAVAILABLE
from .jobs import passes
from .jobs.scheduler import Worker
from .web import create_app

log = logging.getLogger("smsbridge.server")
KILL_GRACE = 5.0
_PR_SET_PDEATHSIG = 1


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker process after the fork: every process gets
        # its own engine and connection pool, and its own watch.
        app = create_app(self._settings)
        WorkerWatch(app.extensions["smsbridge"]["sessions"], self._settings).start()
        return app


class WorkerWatch(threading.Thread):
    """In each web process: the checks only the web app can run (worker:down:
    a dead worker cannot report its own death), and their notices sent at
    once by this process, since the worker's passes are not there to send
    them. Several processes may watch; an alert is raised and told once
    (see ``bridge.alerts``). The first look comes ``worker_down_after``
    after start, so a worker starting beside the web app is not called dead."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings):
        super().__init__(name="worker-watch", daemon=True)
        self.sessions = sessions
        self.settings = settings
        self.every = max(1.0, min(30.0, settings.worker_down_after / 4))

    def run(self) -> None:
        time.sleep(self.settings.worker_down_after)
        while True:
            try:
                self.check_once()
            except UNAVAILABLE:
                pass  # the web app's 503s already say so
            except Exception as exc:  # noqa: BLE001 - the watch must outlive one bad round
                log.warning("worker watch failed (%s: %s); trying again", type(exc).__name__, exc)
            time.sleep(self.every)

    def check_once(self) -> alerts.Queued:
        kinds = alert_checks.kinds("web")
        queued = passes.run_pass(self.sessions, lambda s: alerts.evaluate(s, self.settings, kinds))
        passes.send_now(self.sessions, self.settings, queued)
        return queued


def serve_web(settings: Settings, host: str, port: int) -> None:
    """gunicorn: one process per core, so the API is not bound to one
    interpreter's lock. Returns when gunicorn has stopped."""
    _Gunicorn(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": settings.web_workers,
            "threads": settings.web_threads,
            "worker_class": "gthread",
            "keepalive": 5,
            "graceful_timeout": math.ceil(settings.stop_timeout),
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
        },
    ).run()


def run_worker(settings: Settings) -> int:
    """Run the jobs until SIGTERM or SIGINT; return the exit status."""
    stop = _stop_on_signals()
    worker = Worker(settings)
    worker.start()
    log.info("worker running")
    while not stop.wait(0.5):
        pass
    still = worker.stop(settings.stop_timeout)
    if still:
        log.warning(
            "%s still running after %.0f s; exiting without them (their open transactions roll back)",
            ", ".join(still),
            settings.stop_timeout,
        )
        logging.shutdown()
        # The passes' threads are not daemons: a normal exit would wait for them.
        os._exit(1)
    log.info("worker stopped")
    return 0


def supervise(children: dict[str, Sequence[str]], stop_timeout: float) -> int:
    """Run each command; when a signal comes or one of them exits, stop them
    all within ``stop_timeout + KILL_GRACE`` seconds. Returns 0 when we were
    asked to stop, 1 when a child exited on its own."""
    stop = _stop_on_signals()
    running = {
        name: subprocess.Popen(list(command), preexec_fn=_die_with_parent)
        for name, command in children.items()
    }
    failed: list[str] = []
    while not stop.wait(0.2):
        failed = [name for name, process in running.items() if process.poll() is not None]
        if failed:
            log.error("%s exited (status %s); stopping the rest", failed[0], running[failed[0]].returncode)
            break
    for process in running.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + stop_timeout + KILL_GRACE
    for name, process in running.items():
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", name, stop_timeout + KILL_GRACE)
            process.kill()
            process.wait()
    # Asked to stop, a stop is a success even if a child had to be killed
    # (the log says so); a child that died on its own is a failure.
    return 1 if failed else 0


def cli_command(*args: str, config_path: str | None = None) -> list[str]:
    """This program's own CLI as a child process's command line."""
    config = ["--config", config_path] if config_path else []
    return [sys.executable, "-m", "cli", *config, *args]


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's own stop still applies
        pass
