"""The database going away under load, on a MariaDB server of the test's
own (its own data directory, socket, port and pid file, started by the
test): killed, restarted, frozen. While it is gone the API answers 503 with
Retry-After within a bounded time; nothing it accepted is lost; the worker
and the gammu-smsd daemons carry on by themselves once it is back."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import select

from bridge import sims, smsd, users
from bridge.db import make_engine, make_session_factory
from bridge.jobs.health import check_health
from bridge.models import Message, MessageStatus
from bridge.schema import create_database_if_missing, init_schema
from tests.conftest import Gateway, free_port, wait_for

MARIADBD = shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
DB_TIMEOUT = 2.0


class PrivateMariaDB:
    """mariadbd on a data directory, socket and port of its own."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "mysqld.sock"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={root / 'data'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *as_root,
            ],
            check=True,
            capture_output=True,
        )
        self._command = [
            MARIADBD,
            "--no-defaults",
            f"--datadir={root / 'data'}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={root / 'mysqld.pid'}",
            f"--log-error={root / 'error.log'}",
            "--innodb-buffer-pool-size=32M",
            "--skip-name-resolve",
            *as_root,
        ]

    def url(self, database: str, transport: str = "socket") -> str:
        if transport == "tcp":
            return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"
        return f"mysql+pymysql://root@localhost/{database}?unix_socket={self.socket}"

    def start(self) -> None:
        self.process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, timeout=60, interval=0.2, what="the private MariaDB to answer")
        with pymysql.connect(unix_socket=str(self.socket), user="root") as conn, conn.cursor() as cursor:
            # The same root over TCP (the socket's root is 'root'@'localhost').
            cursor.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'")
            cursor.execute("GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")

    def _answers(self) -> bool:
        try:
            pymysql.connect(unix_socket=str(self.socket), user="root", connect_timeout=1).close()
            return True
        except pymysql.err.OperationalError:
            assert self.process.poll() is None, (self.root / "error.log").read_text()
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclasses.dataclass
class Answer:
    phase: str
    status: int
    seconds: float
    body: dict
    retry_after: str | None


class SteadyClient:
    """Sends one message every ``interval`` seconds, each with its own
    Idempotency-Key, and records every answer with the phase it fell in."""

    def __init__(self, base: str, key: str, interval: float = 0.25):
        self.base, self.key, self.interval = base, key, interval
        self.phase = "up"
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            phase, started = self.phase, time.monotonic()
            request = urllib.request.Request(
                f"{self.base}/api/v1/messages",
                method="POST",
                data=json.dumps({"to": "+79991234567", "text": "still here?"}).encode(),
                headers={
                    "Authorization": f"Bearer {self.key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, body, retry = response.status, json.loads(response.read()), None
            except urllib.error.HTTPError as error:
                status, body = error.code, json.loads(error.read() or b"{}")
                retry = error.headers.get("Retry-After")
            self.answers.append(Answer(phase, status, time.monotonic() - started, body, retry))
            self._stop.wait(self.interval)

    def wait_for(self, phase: str, status: int, timeout: float = 60) -> None:
        wait_for(
            lambda: any(a.phase == phase and a.status == status for a in self.answers),
            timeout=timeout,
            interval=0.1,
            what=f"a {status} answer while {phase}",
        )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=40)


@pytest.fixture
def private_db():
    if MARIADBD is None:
        pytest.skip("mariadbd is not installed here (the test starts a MariaDB server of its own)")
    root = Path(tempfile.mkdtemp(prefix="sbdb-"))  # short: a socket path has at most 107 bytes
    server = PrivateMariaDB(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("transport", ["socket", "tcp"])
def test_database_outage_answers_503_loses_nothing_and_recovers(transport, private_db, settings, tmp_path):
    """Over TCP the server listens on a port of its own, not 3306: gammu-smsd
    forgets the port after its first connect, so this also shows the daemons
    coming back to the right server after the restart."""
    url = private_db.url("smsbridge_outage", transport)
    settings = dataclasses.replace(
        settings,
        database_url=url,
        db_timeout=DB_TIMEOUT,
        state_dir=str(tmp_path / "var"),
        smsdrc_dir=str(tmp_path / "smsdrc"),
    )
    create_database_if_missing(url)
    engine = make_engine(url)
    init_schema(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        users.create_user(session, "alice", "correct horse battery")
        key = users.issue_api_key(session, "alice")
        sims.add_sim(session, settings, "simA", "+79990000001", simulated=True)
    smsd.start(settings, "simA")
    gateway = Gateway(settings, tmp_path / "run.log")
    client = SteadyClient(gateway.base, key)
    try:
        wait_for(lambda: "simA" in _healthy(sessions), what="simA's heartbeat")
        gateway.wait_listening()
        client.start()
        client.wait_for("up", 202)

        client.phase = "down"
        private_db.kill()
        client.wait_for("down", 503)
        health = _get(f"{gateway.base}/readyz")
        alive = _get(f"{gateway.base}/healthz")
        time.sleep(3)
        client.phase = "restarting"
        private_db.start()
        client.wait_for("restarting", 202)

        client.phase = "frozen"
        private_db.freeze()
        client.wait_for("frozen", 503)
        time.sleep(3)
        private_db.thaw()
        client.phase = "thawed"
        client.wait_for("thawed", 202)
        client.stop()

        assert gateway.process.poll() is None, "the gateway did not survive the outage"
        # Liveness stays up (nothing to restart); readiness says what is wrong.
        assert alive == (200, {"status": "ok"})
        assert health[0] == 503
        assert health[1]["database"] is False and health[1]["problems"] == ["the database does not answer"]
        refused = [a for a in client.answers if a.status != 202]
        assert {a.status for a in refused} == {503}, [(a.phase, a.status, a.body) for a in refused]
        for answer in refused:
            assert answer.retry_after == "5"
            assert answer.body == {
                "error": {"status": 503, "message": "the database is unavailable; try again later"}
            }
        # A frozen server holds a call for db_timeout at most, twice (the pool's
        # liveness ping, then a fresh connection's handshake): bounded, not 20 s.
        slowest = max(a.seconds for a in client.answers if a.phase == "frozen")
        assert slowest < 3 * DB_TIMEOUT + 2, slowest

        # Nothing accepted is lost: every 202 is stored, and the worker, which
        # was never restarted, sends them all through the reconnected daemon.
        accepted = [a.body[0]["id"] for a in client.answers if a.status == 202]

        def all_sent():
            with sessions.begin() as session:
                statuses = session.scalars(select(Message.status).where(Message.id.in_(accepted))).all()
            return len(statuses) == len(accepted) and set(statuses) == {MessageStatus.SENT}

        wait_for(all_sent, timeout=60, interval=0.5, what=f"all {len(accepted)} accepted messages to be sent")
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n--- smsbridge run said:\n{gateway.output()}") from None
    finally:
        client.stop()
        private_db.thaw()
        gateway.stop(timeout=30)
        smsd.stop(settings, "simA")
        engine.dispose()
    output = gateway.output()
    assert "Traceback" not in output, output
    assert "database unavailable" in output  # said once, not per request


def _healthy(sessions) -> list[str]:
    with sessions.begin() as session:
        return check_health(session).healthy


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
