"""Shared set-up for the benchmarks (not tests).

A ``Bench`` owns everything one benchmark run creates: a private database
``smsbridge_bench_<random>`` on the local MariaDB, a temporary folder for
gammu-smsd configs, simulated modems and logs, the gammu-smsd daemons it
started and any server/worker subprocesses. ``close()`` (also run from
``with``, atexit and SIGTERM/SIGINT) stops them all and drops the database.
"""

from __future__ import annotations

import atexit
import dataclasses
import http.client
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pymysql
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge import sims as sims_module  # noqa: E402
from bridge import smsd, users  # noqa: E402
from bridge.config import load_settings  # noqa: E402
from bridge.db import make_engine, make_session_factory  # noqa: E402
from bridge.models import Phone  # noqa: E402
from bridge.schema import create_database_if_missing, init_schema  # noqa: E402

SOCKET = os.environ.get("BENCH_MYSQL_SOCKET", "/run/mysqld/mysqld.sock")
SERVER_URL = f"mysql+pymysql://root@localhost/?unix_socket={SOCKET}"
PASSWORD = "bench password 123"
VENV_BIN = Path(sys.executable).parent
SMSBRIDGE = str(VENV_BIN / "smsbridge")


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def sim_number(i: int) -> str:
    return f"+7916{5550000 + i:07d}"


def recipient(i: int) -> str:
    """Distinct valid Russian mobile numbers."""
    return f"+7999{i:07d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p: float) -> float:
    """Percentile by nearest rank (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class Bench:
    def __init__(self, label: str, **overrides):
        self.db_name = f"smsbridge_bench_{secrets.token_hex(4)}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"smsbridge-bench-{label}-"))
        self.database_url = f"mysql+pymysql://root@localhost/{self.db_name}?unix_socket={SOCKET}"
        values = dict(
            state_dir=str(self.tmp / "var"),
            smsdrc_dir=str(self.tmp / "smsdrc"),
            default_region="RU",
            status_frequency=1,
        )
        values.update(overrides)
        self.settings = load_settings(env={}, database_url=self.database_url, **values)
        self.sims: list[str] = []
        self.stopped_sims: set[str] = set()
        self.procs: list[subprocess.Popen] = []
        self._closed = False
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        create_database_if_missing(self.database_url)
        self.engine = make_engine(self.database_url, pool_size=5)
        init_schema(self.engine)
        self.sessions = make_session_factory(self.engine)
        log(f"[bench] database {self.db_name}, folder {self.tmp}")

    # ------------------------------------------------------------ lifecycle
    def _on_signal(self, signum, _frame):
        self.close()
        raise SystemExit(128 + signum)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for proc in reversed(self.procs):
            stop_process(proc)
        for name in self.sims:
            pid = smsd.running_pid(self.settings, name)
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGCONT)  # a stopped daemon cannot handle SIGTERM
                except ProcessLookupError:
                    pass
            try:
                smsd.stop(self.settings, name)
            except Exception as exc:  # keep cleaning up
                log(f"[bench] stopping {name}: {exc}")
        try:
            self.engine.dispose()
            drop = make_engine(SERVER_URL)
            with drop.begin() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{self.db_name}`"))
            drop.dispose()
        except Exception as exc:
            log(f"[bench] dropping {self.db_name}: {exc}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        log(f"[bench] cleaned up {self.db_name}")

    # ------------------------------------------------------------ fixtures
    def add_user(self, login: str = "bench") -> dict:
        with self.sessions.begin() as session:
            user = users.create_user(session, login, PASSWORD)
            key = users.issue_api_key(session, login)
            return {"login": login, "password": PASSWORD, "key": key, "id": user.id}

    def add_sims(self, count: int, *, start: bool = True) -> list[str]:
        names = []
        for i in range(count):
            name = f"sim{i + 1}"
            with self.sessions.begin() as session:
                sims_module.add_sim(session, self.settings, name, sim_number(i), simulated=True)
            self.sims.append(name)
            names.append(name)
        if start:
            for name in names:
                smsd.start(self.settings, name)
            self.wait_heartbeats(names)
        return names

    def wait_heartbeats(self, names, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            alive = set(self.alive_phones())
            if set(names) <= alive:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no heartbeat from {sorted(set(names) - alive)}; see logs in {self.tmp / 'var' / 'log'}"
                )
            time.sleep(0.1)

    def alive_phones(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(select(Phone.id).where(Phone.timeout > text("NOW()"))))

    def pause_daemons(self, names) -> None:
        """SIGSTOP: heartbeat rows stay, nothing is taken from the outbox."""
        for name in names:
            os.kill(smsd.running_pid(self.settings, name), signal.SIGSTOP)
            self.stopped_sims.add(name)

    def resume_daemons(self, names) -> None:
        for name in names:
            os.kill(smsd.running_pid(self.settings, name), signal.SIGCONT)
            self.stopped_sims.discard(name)

    def config_path(self, name: str) -> Path:
        return smsd.config_path(self.settings, name)

    def raw_connection(self, autocommit: bool = False) -> pymysql.Connection:
        conn = pymysql.connect(
            unix_socket=SOCKET, user="root", database=self.db_name, charset="utf8mb4", autocommit=autocommit
        )
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        return conn

    # ------------------------------------------------------------ subprocesses
    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSBRIDGE_")}
        for field in dataclasses.fields(self.settings):
            value = getattr(self.settings, field.name)
            if value is not None and value != "":
                env[f"SMSBRIDGE_{field.name.upper()}"] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        # The repo root on the path: `admin/` (imported by bridge.web) is not in
        # an editable install made before pyproject listed it.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def spawn(self, args: list[str], name: str, **env_extra) -> subprocess.Popen:
        log_path = self.tmp / f"{name}.log"
        handle = open(log_path, "wb")
        proc = subprocess.Popen(
            args,
            env=self.env(**env_extra),
            cwd=self.tmp,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = log_path  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def start_web(self, port: int | None = None, **env_extra) -> tuple[subprocess.Popen, int]:
        port = port or free_port()
        proc = self.spawn([SMSBRIDGE, "web", "--host", "127.0.0.1", "--port", str(port)], "web", **env_extra)
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"web server exited: {proc.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("web server did not answer /healthz within 30 s")
            time.sleep(0.2)
        return proc, port

    def start_worker(self, **env_extra) -> subprocess.Popen:
        return self.spawn([SMSBRIDGE, "worker"], "worker", **env_extra)

    def stop_proc(self, proc: subprocess.Popen) -> None:
        stop_process(proc)
        if proc in self.procs:
            self.procs.remove(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group we started (gunicorn master + workers), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def machine() -> str:
    """Cores and load: other work on the box skews every figure."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load avg {one:.1f} (1 min) {five:.1f} (5 min) at the end"


def mean(values) -> float:
    return statistics.fmean(values) if values else float("nan")


__all__ = [
    "Bench",
    "log",
    "pct",
    "table",
    "recipient",
    "free_port",
    "today",
    "mean",
    "make_url",
    "PASSWORD",
    "machine",
]
