"""HTTP API load: the production server (`smsbridge web`, gunicorn gthread)
driven by wrk on loopback.

One user with an API key and one enabled simulated SIM row (no daemon: accept
only needs an enabled SIM; no worker runs, so messages stay queued). For each
server configuration (web_workers x web_threads) and each connection count:

  json     POST /api/v1/messages  {"to": <distinct number>, "text": ...}, Bearer key
  classic  GET  /smsc?login=..&pass=..&tel=<distinct number>&msg=..

wrk runs 2 threads for --duration seconds with --latency after a short
warm-up; requests/s and p50/p99 come from wrk. Afterwards the rows stored in
`messages` during the measured run are counted and compared with the 2xx
responses wrk saw: stored may exceed 2xx by at most the number of
connections (requests in flight when wrk stops are still served); anything
else is a finding.

    python bench/api_load.py [--configs 2x4,4x2] [--connections 32,64] [--duration 15]
                             [--profile]   # py-spy on one gunicorn worker (first endpoint and config)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Bench, log, machine, table, today  # noqa: E402
from bridge import sims as sims_module  # noqa: E402

TEXT = "Your code is 4711, valid for 5 minutes"

LUA_COMMON = r"""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function number()
  counter = counter + 1
  return string.format("7999%%01d%%06d", tid %% 10, counter %% 1000000)
end
function done(summary, latency, requests)
  io.write(string.format("BENCH_REQUESTS %%d\nBENCH_NON2XX %%d\n", summary.requests, summary.errors.status))
end
"""

LUA_JSON = (
    LUA_COMMON
    + r"""
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}
function request()
  local body = '{"to":"+' .. number() .. '","text":"%(text)s"}'
  return wrk.format("POST", "/api/v1/messages", headers, body)
end
"""
)

LUA_CLASSIC = (
    LUA_COMMON
    + r"""
function request()
  return wrk.format("GET", "/smsc?login=%(login)s&pass=%(password)s&tel=%%2B" .. number() .. "&msg=%(text)s")
end
"""
)


def lua(template: str, **values) -> str:
    # The templates use %(name)s; literal % in Lua is written %% in them.
    return template % values


def parse_duration_ms(raw: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", raw.strip())
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> dict:
    result = {
        "rps": float("nan"),
        "p50": float("nan"),
        "p99": float("nan"),
        "requests": 0,
        "non2xx": 0,
        "socket_errors": "",
    }
    if m := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["rps"] = float(m.group(1))
    for pct_label, key in (("50%", "p50"), ("99%", "p99")):
        if m := re.search(rf"^\s+{re.escape(pct_label)}\s+(\S+)\s*$", output, re.M):
            result[key] = parse_duration_ms(m.group(1))
    if m := re.search(r"BENCH_REQUESTS (\d+)", output):
        result["requests"] = int(m.group(1))
    if m := re.search(r"BENCH_NON2XX (\d+)", output):
        result["non2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: (.*)", output):
        result["socket_errors"] = m.group(1).strip()
    return result


def count_messages(bench: Bench, settle: float = 1.0, timeout: float = 30.0) -> int:
    """Rows in messages once the count has not changed for ``settle`` seconds
    (requests queued in the server when wrk stopped are still being served)."""
    conn = bench.raw_connection(autocommit=True)
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        while True:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM messages")
                value = cur.fetchone()[0]
            now = time.monotonic()
            if value != last:
                last, since = value, now
            elif now - since >= settle or now > deadline:
                return value
            time.sleep(0.1)
    finally:
        conn.close()


def wrk(url: str, script: Path, connections: int, duration: float) -> str:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
    return result.stdout


def gunicorn_workers(master_pid: int) -> list[int]:
    """Children of the `smsbridge web` process (gunicorn's workers)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master_pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def profile_worker(bench: Bench, pid: int, seconds: int) -> subprocess.Popen | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(py_spy):
        log("[bench] py-spy not installed (pip install py-spy); no profile")
        return None
    out = bench.tmp / f"pyspy-{pid}.txt"
    proc = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--rate",
            "200",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc.out_path = out  # type: ignore[attr-defined]
    return proc


def summarise_profile(path: Path, top: int = 120) -> str:
    """Collapsed stacks -> share of samples whose stack contains each function
    (inclusive) and that end in it (self)."""
    inclusive: dict[str, int] = {}
    self_time: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")" if " (" in f else f
            for f in stack.split(";")
        ]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        self_time[frames[-1]] = self_time.get(frames[-1], 0) + n
    lines = [f"py-spy: {total} samples (all threads of one gunicorn worker)", "inclusive%  self%  function"]
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:9.1f}  {100 * self_time.get(frame, 0) / total:5.1f}  {frame}")
    lines.append("top self time:")
    for frame, n in sorted(self_time.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"{100 * n / total:9.1f}  {frame}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="2x4", help="web_workers x web_threads, comma-separated")
    parser.add_argument("--connections", default="32,64")
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--endpoints", default="json,classic")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 1

    rows = []
    findings = []
    profile_text = ""
    with Bench("api") as bench:
        user = bench.add_user()
        with bench.sessions.begin() as session:
            sims_module.add_sim(session, bench.settings, "sim1", "+79165550000", simulated=True)
        scripts = {
            "json": bench.tmp / "json.lua",
            "classic": bench.tmp / "classic.lua",
        }
        scripts["json"].write_text(lua(LUA_JSON, key=user["key"], text=TEXT))
        scripts["classic"].write_text(
            lua(
                LUA_CLASSIC,
                login=user["login"],
                password=urllib.parse.quote(user["password"], safe=""),
                text=urllib.parse.quote(TEXT, safe=""),
            )
        )
        for config in args.configs.split(","):
            workers, threads = (int(x) for x in config.split("x"))
            server, port = bench.start_web(SMSBRIDGE_WEB_WORKERS=workers, SMSBRIDGE_WEB_THREADS=threads)
            url = f"http://127.0.0.1:{port}"
            log(f"[bench] smsbridge web on {url}, {workers} workers x {threads} threads")
            try:
                for endpoint in args.endpoints.split(","):
                    for connections in (int(c) for c in args.connections.split(",")):
                        if args.warmup:
                            wrk(url, scripts[endpoint], connections, args.warmup)
                        before = count_messages(bench)
                        spy = None
                        if (
                            args.profile
                            and endpoint == args.endpoints.split(",")[0]
                            and config == args.configs.split(",")[0]
                            and connections == int(args.connections.split(",")[-1])
                        ):
                            pids = gunicorn_workers(server.pid)
                            if pids:
                                spy = profile_worker(bench, pids[0], int(args.duration) - 2)
                        output = wrk(url, scripts[endpoint], connections, args.duration)
                        if spy is not None:
                            spy.wait(30)
                            if spy.out_path.exists():
                                profile_text = summarise_profile(spy.out_path)
                        stored = count_messages(bench) - before
                        r = parse_wrk(output)
                        ok = r["requests"] - r["non2xx"]
                        diff = stored - ok
                        verdict = "ok" if 0 <= diff <= connections else "MISMATCH"
                        if verdict != "ok" or r["non2xx"]:
                            findings.append(
                                f"{config} {endpoint} c={connections}: 2xx={ok}, "
                                f"non-2xx={r['non2xx']}, stored={stored}"
                            )
                        met = r["rps"] >= 1500 and r["p99"] <= 25
                        rows.append(
                            [
                                f"{workers}x{threads}",
                                endpoint,
                                connections,
                                r["rps"],
                                r["p50"],
                                r["p99"],
                                ok,
                                r["non2xx"],
                                stored,
                                f"{diff:+d} {verdict}",
                                "MET" if met else "no",
                            ]
                        )
                        log(
                            f"[bench] {config} {endpoint} c={connections}: {r['rps']:.0f} req/s, "
                            f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, 2xx {ok}, stored {stored}, "
                            f"socket errors: {r['socket_errors'] or 'none'}"
                        )
            finally:
                bench.stop_proc(server)

    print(
        f"\nAPI load, {today()}, wrk -t2 -d{args.duration:g}s on loopback, 2 cores shared by wrk, "
        "gunicorn and MariaDB"
    )
    print(machine())
    print(
        table(
            [
                "workers x threads",
                "endpoint",
                "conns",
                "req/s",
                "p50 ms",
                "p99 ms",
                "2xx",
                "non-2xx",
                "rows stored",
                "stored-2xx",
                ">=1500/s & p99<=25ms",
            ],
            rows,
        )
    )
    print("(stored-2xx between 0 and conns = requests in flight when wrk stopped)")
    for finding in findings:
        print("FINDING:", finding)
    if profile_text:
        print()
        print(profile_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
