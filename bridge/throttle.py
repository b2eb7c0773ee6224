"""Slowing down password guessing, per client address. Used by the
admin's login page and the classic /smsc call, whose every wrong password
would otherwise cost an argon2 check (tens of milliseconds of CPU)."""

from __future__ import annotations

import math
import threading
import time


class LoginThrottle:
    """Failed logins per client address. After ``free`` failures each
    further one locks the address out for twice as long as the last (1 s,
    2 s, 4 s … up to ``longest``); a success forgets the address.

    Kept in this process's memory: every gunicorn worker counts on its own
    and a restart forgets, so N workers allow N times the guesses. It slows
    guessing down; it is not an account lockout."""

    def __init__(
        self, free: int = 5, longest: float = 900.0, clock=time.monotonic, max_addresses: int = 10_000
    ):
        self.free = free
        self.longest = longest
        self.clock = clock
        self.max_addresses = max_addresses
        self._failures: dict[str, tuple[int, float]] = {}  # address -> (count, locked until)
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> int:
        """Seconds until this address may try again; 0 = now."""
        with self._lock:
            _, until = self._failures.get(address, (0, 0.0))
        return max(0, math.ceil(until - self.clock()))

    def failed(self, address: str) -> None:
        with self._lock:
            count, _ = self._failures.get(address, (0, 0.0))
            count += 1
            delay = 0.0 if count <= self.free else min(2.0 ** (count - self.free - 1), self.longest)
            self._failures[address] = (count, self.clock() + delay)
            if len(self._failures) > self.max_addresses:
                self._forget_oldest()

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _forget_oldest(self) -> None:
        # Bounded memory under a spray of addresses: drop the earliest locks.
        for address, _ in sorted(self._failures.items(), key=lambda kv: kv[1][1])[
            : len(self._failures) // 10
        ]:
            del self._failures[address]
