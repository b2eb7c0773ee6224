"""Pacing: queued messages drain through paced SIMs at their limit, never over it.

4 simulated SIMs (real gammu-smsd daemons on Gammu's dummy phone), each set
to 60 parts per minute with ``bridge.sims.set_pacing`` (the function behind
``smsbridge sim set --max-per-minute``). First a short unpaced probe measures
what the daemons themselves can send (the ceiling pacing cannot beat); then
600 one-part messages are accepted through ``bridge.accept.accept`` in one
request and ``smsbridge worker`` (dispatch + harvest on their schedule,
woken as the API wakes it) drains them.

A thread polls ``sentitems`` and ``outbox`` every ~50 ms. Reported:
  drain rate   messages per minute, from the moment they are queued (one
               request, the worker running) to the last send, and from the
               first send to the last, against 4 x 60 per minute
  max/minute   most sends of one SIM in any 60 s: by gammu-smsd's own
               SendingDateTime (whole seconds, [s, s+59]) and by the time the
               poller first saw each row (any 60 s, to the poll)
  outbox       most rows one SIM's outbox held at once (the look-ahead)

    python bench/pacing.py [--messages 600] [--sims 4] [--per-minute 60] [--probe 40]
"""

from __future__ import annotations

import argparse
import bisect
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Bench, log, machine, recipient, table, today  # noqa: E402
from bridge import sims as sims_module  # noqa: E402
from bridge import wake  # noqa: E402
from bridge.accept import accept  # noqa: E402
from bridge.models import User  # noqa: E402

TEXT = "Order {n:05d} is ready, pick it up by 6pm"  # GSM-7, one part


class Poller(threading.Thread):
    """Sends as gammu-smsd records them, and when they were first seen; the
    largest outbox of each SIM."""

    def __init__(self, bench: Bench):
        super().__init__(daemon=True)
        self.bench = bench
        self.sends: dict[int, tuple[str, object, float]] = {}  # outbox ID -> (SIM, SendingDateTime, seen)
        self.outbox_max: dict[str, int] = defaultdict(int)
        self._halt = threading.Event()
        self.failed: Exception | None = None

    def run(self) -> None:
        try:
            self._poll()
        except Exception as exc:  # a dead poller would look like a stuck run
            log(f"[bench] poller failed: {exc!r}")
            self.failed = exc

    def _poll(self) -> None:
        conn = self.bench.raw_connection(autocommit=True)
        try:
            while not self._halt.is_set():
                with conn.cursor() as cur:
                    # Every row, not "ID > the last seen": the SIMs send in
                    # their own order, not in the order of outbox IDs.
                    cur.execute(
                        "SELECT ID, SenderID, SendingDateTime FROM sentitems WHERE Status LIKE 'SendingOK%'"
                    )
                    seen = time.monotonic()
                    for row_id, sim, sent_at in cur.fetchall():
                        self.sends.setdefault(row_id, (sim, sent_at, seen))
                    cur.execute("SELECT SenderID, COUNT(*) FROM outbox GROUP BY SenderID")
                    for sim, count in cur.fetchall():
                        self.outbox_max[sim] = max(self.outbox_max[sim], count)
                time.sleep(0.05)
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def queue(bench: Bench, user_id: int, numbers: list[str], text: str) -> None:
    with bench.sessions.begin() as session:
        accept(session, session.get(User, user_id), numbers, text, settings=bench.settings, source="api")


def most_in_a_minute_by_gammu(times) -> int:
    """Most sends in any [s, s+59] of whole seconds (gammu-smsd's clock)."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_right(ordered, t + timedelta(seconds=59)) - i for i, t in enumerate(ordered)),
        default=0,
    )


def most_in_a_minute_seen(times) -> int:
    """Most sends seen in any 60 s (half-open), by the poller's clock."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 60) - i for i, t in enumerate(ordered)), default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--sims", type=int, default=4)
    parser.add_argument("--per-minute", type=int, default=60)
    parser.add_argument(
        "--probe", type=int, default=40, help="unpaced messages for the capacity probe (0: skip)"
    )
    args = parser.parse_args()

    with Bench("pacing", status_frequency=5) as bench:
        user = bench.add_user()
        names = bench.add_sims(args.sims)
        worker = bench.start_worker()
        poller = Poller(bench)
        poller.start()
        try:
            capacity = float("nan")
            if args.probe:
                queue(
                    bench, user["id"], [recipient(900_000 + i) for i in range(args.probe)], "capacity probe"
                )
                wait_until(lambda: len(poller.sends) >= args.probe, 120, "the capacity probe")
                seen = sorted(s[2] for s in poller.sends.values())
                capacity = (len(seen) - 1) / (seen[-1] - seen[0]) * 60
                log(f"[bench] unpaced: {len(seen)} sent, {capacity:.0f} per minute by {args.sims} daemons")
            probe_ids = set(poller.sends)

            with bench.sessions.begin() as session:
                for name in names:
                    sims_module.set_pacing(session, name, max_per_minute=args.per_minute)
            # A fresh minute: the probe's sends must not count against the run.
            time.sleep(61 if args.probe else 0)
            # The gateway runs; 600 texts arrive in one request, and the
            # clock starts when they are queued, as a caller would see it.
            started = time.monotonic()
            queue(bench, user["id"], [recipient(i) for i in range(args.messages)], TEXT.format(n=0))
            wake.notify(bench.settings)
            log(f"[bench] {args.messages} queued; {args.sims} SIMs at {args.per_minute} parts per minute")
            expected = len(probe_ids) + args.messages
            wait_until(
                lambda: len(poller.sends) >= expected or worker.poll() is not None,
                args.messages / (args.sims * args.per_minute) * 60 * 2 + 60,
                "every message to be sent",
            )
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited: {worker.log_path.read_text()[-2000:]}")
        finally:
            poller.stop()

    run = [s for row_id, s in poller.sends.items() if row_id not in probe_ids]
    seen = sorted(s[2] for s in run)
    ideal = args.sims * args.per_minute
    from_start = len(run) / (seen[-1] - started) * 60
    # Each SIM's first send starts its clock: N sends over S SIMs are N - S intervals.
    from_first = (len(run) - args.sims) / (seen[-1] - seen[0]) * 60
    rows = []
    for name in names:
        mine = [s for s in run if s[0] == name]
        rows.append(
            [
                name,
                len(mine),
                most_in_a_minute_by_gammu([s[1] for s in mine]),
                most_in_a_minute_seen([s[2] for s in mine]),
                args.per_minute,
                poller.outbox_max.get(name, 0),
            ]
        )
    worst = max(max(r[2], r[3]) for r in rows)
    print(
        f"\npacing, {today()}, {args.sims} gammu-smsd dummy SIMs at {args.per_minute} parts/minute each, "
        f"smsbridge worker; {len(run)} one-part messages"
    )
    print(machine())
    print(
        table(
            ["what", "per minute", "of 4 x 60" if ideal == 240 else f"of {ideal}", "target"],
            [
                [
                    "drain, queued -> last send",
                    from_start,
                    f"{from_start / ideal:.1%}",
                    "MET" if from_start >= 0.95 * ideal else "NOT MET (>= 95 %)",
                ],
                ["drain, first send -> last send", from_first, f"{from_first / ideal:.1%}", ""],
                ["daemons unpaced (probe)", capacity, f"{capacity / ideal:.1%}", "the ceiling"],
            ],
        )
    )
    print()
    print(table(["SIM", "sent", "max/60 s (gammu)", "max/60 s (seen)", "limit", "max outbox rows"], rows))
    print(f"no SIM over its minute: {'MET' if worst <= args.per_minute else 'NOT MET'} (worst {worst})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
