"""Serving the app with gunicorn (a production WSGI server: one process per
core, so the API is not bound to one interpreter's lock), and for
``smsbridge run`` the worker in a process of its own beside it."""

from __future__ import annotations

import multiprocessing

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, settings, options: dict):
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker process after the fork: every process gets
        # its own engine and connection pool.
        from .web import create_app
        return create_app(self._settings)


def _run_worker(settings) -> None:
    import logging
    import signal
    import threading

    from .scheduler import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = Worker(settings)
    worker.start()
    stop.wait()
    worker.stop()


def serve(settings, host: str, port: int, *, with_worker: bool) -> None:
    worker = None
    if with_worker:
        worker = multiprocessing.get_context("spawn").Process(
            target=_run_worker, args=(settings,), name="smsbridge-worker")
        worker.start()
    try:
        _Gunicorn(settings, {
            "bind": f"{host}:{port}",
            "workers": settings.web_workers,
            "threads": settings.web_threads,
            "worker_class": "gthread",
            "keepalive": 5,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
        }).run()
    finally:
        if worker is not None:
            worker.terminate()
            worker.join(10)
