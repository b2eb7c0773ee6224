"""Waking the dispatcher right after a message is accepted, across
processes on one host: a datagram to a Unix socket in the state folder.
Best effort by design: if nobody listens, the periodic pass picks the
message up within ``dispatch_interval``."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from .config import Settings


def socket_path(settings: Settings) -> Path:
    return Path(settings.state_dir).resolve() / "run" / "dispatch.wake"


def notify(settings: Settings) -> None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(b"!", str(socket_path(settings)))
    except OSError:
        pass


class WakeListener:
    """Calls ``on_wake`` (from its own thread) for every notify()."""

    def __init__(self, settings: Settings, on_wake: Callable[[], None]):
        self._path = socket_path(settings)
        self._on_wake = on_wake
        self._sock: socket.socket | None = None
        self._stopped = threading.Event()

    def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Several workers on one host: the newest one listens; the others
        # still poll, so nothing is lost.
        self._path.unlink(missing_ok=True)
        sock = self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self._path))
        sock.settimeout(0.5)
        # The thread gets the socket it listens on, not ``self._sock``: stop()
        # closes that same socket, which ends the loop with an OSError.
        threading.Thread(target=self._loop, args=(sock,), name="dispatch-wake", daemon=True).start()

    def _loop(self, sock: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                sock.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return
            self._on_wake()

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            self._sock.close()
            try:
                if os.path.exists(self._path):
                    self._path.unlink()
            except OSError:
                pass
