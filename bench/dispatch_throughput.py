"""Dispatch throughput: queued messages -> gammu-smsd's outbox.

10,000 messages are accepted through bridge.accept.accept (the honest path)
for one user with 4 simulated SIMs. The SIMs' gammu-smsd daemons are real:
they start, write their heartbeat row into ``phones`` and are then frozen with
SIGSTOP, so their heartbeats stay valid (status_frequency is raised to 300 s
for this bench, so TimeOut lies 900 s ahead) but they do not drain the outbox
while we measure. Then, per variant and batch size:

  bridge   wall time of bridge.jobs.dispatch_until_idle(sessions, settings)
  raw      the same outbox (+ outbox_multipart) rows, multi-row INSERTs of 500,
           one transaction per batch, PyMySQL straight into copies of the tables
  inject   gammu-smsd-inject (Gammu's own tool), 200 messages, one process each

Between runs the outbox, attempts and usage are emptied and the messages set
back to queued, so every run starts from the same state.

    python bench/dispatch_throughput.py [--messages N] [--inject N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Bench, log, machine, recipient, table, today  # noqa: E402
from bridge import encoding  # noqa: E402
from bridge.accept import accept  # noqa: E402
from bridge.jobs.passes import dispatch_until_idle  # noqa: E402
from bridge.models import User  # noqa: E402

SIMS = 4
BATCHES = (500, 1000, 2000)
ASCII = "Order {k:05d} is ready, pick it up by 6pm"  # 40 characters, GSM-7, 1 part
CYRILLIC = (
    "Заказ {k:05d} готов к выдаче. Заберите его до 18:00 в пункте выдачи "
    "на улице Ленина, дом 5. Спасибо!"
)  # ~100 chars, UCS-2, 2 parts
OUTBOX_COLUMNS = (
    "DestinationNumber",
    "Coding",
    "UDH",
    "Class",
    "TextDecoded",
    "MultiPart",
    "SenderID",
    "CreatorID",
    "Priority",
    "DeliveryReport",
    "SendingDateTime",
    "SendingTimeOut",
)
MULTIPART_COLUMNS = ("ID", "SequencePosition", "Coding", "UDH", "Class", "TextDecoded")


def texts_for(variant: str, n: int, group: int) -> list[tuple[str, list[str]]]:
    """[(text, recipients)] accept calls. ``group`` recipients share one text
    (a campaign); cyr10 makes every 10th group a 2-part Cyrillic text."""
    calls = []
    for g, start in enumerate(range(0, n, group)):
        nums = [recipient(i) for i in range(start, min(n, start + group))]
        if variant == "cyr10" and g % 10 == 9:
            text = CYRILLIC.format(k=g)
        else:
            text = ASCII.format(k=g)
        calls.append((text, nums))
    return calls


def load_messages(bench: Bench, user_id: int, variant: str, n: int, group: int) -> float:
    calls = texts_for(variant, n, group)
    started = time.perf_counter()
    for text, nums in calls:
        with bench.sessions.begin() as session:
            user = session.get(User, user_id)
            accept(session, user, nums, text, settings=bench.settings, source="api")
    return time.perf_counter() - started


def reset(bench: Bench) -> None:
    """Empty the outbox side and put every message back in the queue."""
    conn = bench.raw_connection()
    try:
        with conn.cursor() as cur:
            for table_name in (
                "outbox_multipart",
                "outbox",
                "message_attempts",
                "outbox_raw",
                "outbox_multipart_raw",
            ):
                cur.execute(f"TRUNCATE TABLE {table_name}")
            cur.execute(
                "UPDATE messages SET status = 'queued', sim_id = NULL, parts = NULL, "
                "attempts_made = 0, dispatched_at = NULL, wait_reason = NULL, "
                "due_at = created_at"
            )
            cur.execute("UPDATE sim_usage SET parts = 0")
        conn.commit()
    finally:
        conn.close()


def wipe_messages(bench: Bench) -> None:
    reset(bench)
    conn = bench.raw_connection()
    with conn.cursor() as cur:
        cur.execute("DELETE FROM messages")
        cur.execute("DELETE FROM send_requests")
    conn.commit()
    conn.close()


def counts(bench: Bench) -> tuple[int, int, int]:
    conn = bench.raw_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM outbox")
        outbox = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM outbox_multipart")
        multipart = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM messages WHERE status = 'dispatched'")
        dispatched = cur.fetchone()[0]
    conn.close()
    return outbox, multipart, dispatched


def per_sim(bench: Bench) -> str:
    conn = bench.raw_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT SenderID, COUNT(*) FROM outbox GROUP BY SenderID ORDER BY SenderID")
        rows = cur.fetchall()
    conn.close()
    return " ".join(f"{name}={count}" for name, count in rows)


def run_bridge(bench: Bench, batch: int, profile: bool) -> tuple[float, int]:
    settings = dataclasses.replace(bench.settings, dispatch_batch=batch)
    encoding._encode_cached.cache_clear()  # a worker process starts cold
    alive = set(bench.alive_phones())
    if not set(bench.sims) <= alive:
        raise RuntimeError(f"heartbeats expired: alive={sorted(alive)}")
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    moved = dispatch_until_idle(bench.sessions, settings)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        log(out.getvalue())
    return elapsed, moved


def run_raw(bench: Bench, batch: int = 500) -> tuple[float, int, int]:
    """Re-insert what the bridge wrote, as fast as a client can."""
    conn = bench.raw_connection()
    with conn.cursor() as cur:
        cur.execute(f"SELECT ID, {', '.join(OUTBOX_COLUMNS)} FROM outbox ORDER BY ID")
        outbox = cur.fetchall()
        cur.execute(
            f"SELECT {', '.join(MULTIPART_COLUMNS)} FROM outbox_multipart ORDER BY ID, SequencePosition"
        )
        multipart = cur.fetchall()
    parts_of: dict[int, list[tuple]] = {}
    for row in multipart:
        parts_of.setdefault(row[0], []).append(row[1:])
    insert_outbox = (
        f"INSERT INTO outbox_raw ({', '.join(OUTBOX_COLUMNS)}) VALUES "
        f"({', '.join(['%s'] * len(OUTBOX_COLUMNS))})"
    )
    insert_parts = (
        f"INSERT INTO outbox_multipart_raw ({', '.join(MULTIPART_COLUMNS)}) VALUES "
        f"({', '.join(['%s'] * len(MULTIPART_COLUMNS))})"
    )
    started = time.perf_counter()
    with conn.cursor() as cur:
        for start in range(0, len(outbox), batch):
            chunk = outbox[start : start + batch]
            # PyMySQL turns executemany of an INSERT ... VALUES into one multi-row statement.
            cur.executemany(insert_outbox, [row[1:] for row in chunk])
            first_id = cur.lastrowid  # consecutive ids: innodb_autoinc_lock_mode <= 1
            more = [(first_id + i, *part) for i, row in enumerate(chunk) for part in parts_of.get(row[0], ())]
            if more:
                cur.executemany(insert_parts, more)
            conn.commit()
    elapsed = time.perf_counter() - started
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM outbox_raw")
        rows = cur.fetchone()[0]
        cur.execute(
            "SELECT COUNT(*) FROM outbox_multipart_raw r JOIN outbox_raw o ON o.ID = r.ID "
            "WHERE o.MultiPart = 'true'"
        )
        linked = cur.fetchone()[0]
    conn.close()
    if rows != len(outbox) or linked != len(multipart):
        raise RuntimeError(f"raw insert mismatch: {rows}/{len(outbox)} rows, {linked}/{len(multipart)} parts")
    return elapsed, len(outbox), len(multipart)


def run_inject(bench: Bench, variant: str, n: int) -> tuple[float, int]:
    reset(bench)
    config = str(bench.config_path(bench.sims[0]))
    commands = []
    for i in range(n):
        number = recipient(900_000 + i)
        if variant == "cyr10" and i % 10 == 9:
            commands.append(
                [
                    "gammu-smsd-inject",
                    "-c",
                    config,
                    "TEXT",
                    number,
                    "-len",
                    "400",
                    "-unicode",
                    "-textutf8",
                    CYRILLIC.format(k=i),
                ]
            )
        else:
            commands.append(["gammu-smsd-inject", "-c", config, "TEXT", number, "-text", ASCII.format(k=i)])
    started = time.perf_counter()
    for cmd in commands:
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"gammu-smsd-inject failed: {result.stderr or result.stdout}")
    elapsed = time.perf_counter() - started
    conn = bench.raw_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM outbox")
        stored = cur.fetchone()[0]
        cur.execute("TRUNCATE TABLE outbox")
        cur.execute("TRUNCATE TABLE outbox_multipart")
    conn.commit()
    conn.close()
    if stored != n:
        raise RuntimeError(f"gammu-smsd-inject stored {stored} of {n}")
    return elapsed, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--group", type=int, default=500, help="recipients per accept call")
    parser.add_argument("--inject", type=int, default=200)
    parser.add_argument("--variants", default="ascii,cyr10")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--repeat", type=int, default=3, help="runs per batch size (median shown)")
    parser.add_argument("--profile", action="store_true", help="cProfile the batch-500 run")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    rows = []
    with Bench("dispatch", status_frequency=300) as bench:
        user = bench.add_user()
        bench.add_sims(SIMS)
        bench.pause_daemons(bench.sims)
        log(f"[bench] {SIMS} gammu-smsd daemons started, heartbeats in, now SIGSTOPped")
        conn = bench.raw_connection()
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE outbox_raw LIKE outbox")
            cur.execute("CREATE TABLE outbox_multipart_raw LIKE outbox_multipart")
        conn.close()

        for variant in args.variants.split(","):
            wipe_messages(bench)
            group = args.group if variant == "ascii" else min(args.group, 100)
            accept_s = load_messages(bench, user["id"], variant, args.messages, group)
            log(
                f"[bench] {variant}: accepted {args.messages} messages in {accept_s:.1f} s "
                f"({args.messages / accept_s:,.0f}/s, {group} recipients per accept call)"
            )
            rows.append(
                [variant, f"accept ({group}/call)", args.messages, accept_s, args.messages / accept_s, ""]
            )
            bridge_500 = None
            for batch in batches:
                times = []
                for rep in range(args.repeat):
                    reset(bench)
                    elapsed, moved = run_bridge(bench, batch, args.profile and batch == 500 and rep == 0)
                    outbox, multipart, dispatched = counts(bench)
                    if moved != args.messages or outbox != args.messages or dispatched != args.messages:
                        raise RuntimeError(
                            f"dispatch moved {moved}, outbox {outbox}, "
                            f"dispatched {dispatched}; expected {args.messages}"
                        )
                    log(
                        f"[bench] {variant} batch {batch} run {rep + 1}: {elapsed:.2f} s "
                        f"({moved / elapsed:,.0f} msg/s), parts rows {multipart}, per SIM: {per_sim(bench)}"
                    )
                    times.append(elapsed)
                elapsed = statistics.median(times)
                rate = moved / elapsed
                rows.append(
                    [
                        variant,
                        f"bridge dispatch, batch {batch}",
                        moved,
                        elapsed,
                        rate,
                        f"{len(times)} runs, {min(times):.2f}-{max(times):.2f} s",
                    ]
                )
                if batch == 500:
                    bridge_500 = rate
            # raw ceiling over the rows of the last bridge run
            raw_s, raw_rows, raw_parts = run_raw(bench)
            raw_rate = raw_rows / raw_s
            rows.append([variant, f"raw INSERT x500 (+{raw_parts} parts)", raw_rows, raw_s, raw_rate, ""])
            if bridge_500:
                rows[-1][5] = f"bridge/raw = {bridge_500 / raw_rate:.2f}"
            if args.inject:  # --inject 0 skips Gammu's own tool
                inj_s, inj_n = run_inject(bench, variant, args.inject)
                inj_rate = inj_n / inj_s
                ratio = f"bridge/inject = {bridge_500 / inj_rate:.0f}x" if bridge_500 else ""
                rows.append([variant, "gammu-smsd-inject (sequential)", inj_n, inj_s, inj_rate, ratio])
        if not set(bench.sims) <= set(bench.alive_phones()):
            log("[bench] WARNING: a heartbeat expired during the run")

    print(f"\ndispatch throughput, {today()}, {SIMS} SIMs (gammu-smsd SIGSTOPped after heartbeat)")
    print(machine())
    print(
        table(
            [
                "variant",
                "what",
                "messages",
                "seconds (median)",
                "msg/s",
                "note / ratio (bridge at batch 500)",
            ],
            rows,
        )
    )
    best = max((r[4] for r in rows if str(r[1]).startswith("bridge dispatch")), default=0)
    print(
        f"\ntarget >= 10,000 msg/s for the bridge: {'MET' if best >= 10_000 else 'NOT MET'} "
        f"(best {best:,.0f} msg/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
