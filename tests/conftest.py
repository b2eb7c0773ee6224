"""Fixtures: a database of the test run's own on the real MariaDB, and real
gammu-smsd daemons on Gammu's dummy phones.

The server comes from SMSBRIDGE_TEST_DB_SERVER (a URL without a database;
default: root over the local socket). Each run creates ``smsbridge_test_*``
and drops it at the end; it never touches the server's other databases.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, text, update
from sqlalchemy.engine import URL, make_url

from bridge import sims as sims_module
from bridge import smsd, users
from bridge.clock import utcnow
from bridge.config import load_settings
from bridge.db import make_engine, make_session_factory
from bridge.jobs.health import check_health
from bridge.models import Base, GammuBase, Phone
from bridge.schema import create_database_if_missing, create_notebook_account, init_schema
from bridge.web import create_app
from tests import browser as browser_steps

DEFAULT_SERVER = "mysql+pymysql://root@localhost/?unix_socket=/run/mysqld/mysqld.sock"
PASSWORD = "correct horse battery"


def wait_for(
    predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
):
    """Poll until ``predicate`` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def database_url() -> str:
    server = make_url(os.environ.get("SMSBRIDGE_TEST_DB_SERVER", DEFAULT_SERVER))
    name = f"smsbridge_test_{os.getpid()}_{secrets.token_hex(3)}"
    return server.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def settings(database_url, tmp_path_factory):
    root = tmp_path_factory.mktemp("smsbridge")
    return load_settings(
        env={},
        database_url=database_url,
        state_dir=str(root / "var"),
        smsdrc_dir=str(root / "smsdrc"),
        default_region="RU",
        status_frequency=1,
        no_sim_backoff=0.2,
        dispatch_interval=0.5,
        harvest_interval=0.3,
        health_interval=0.5,
        web_workers=2,
        inbound_interval=0.3,
        webhook_interval=0.2,
        webhook_backoff=0.3,
        webhook_timeout=3.0,
        webhook_allow_private=True,
    )


@pytest.fixture(scope="session")
def engine(settings):
    create_database_if_missing(settings.database_url)
    engine = make_engine(settings.database_url)
    init_schema(engine)
    create_notebook_account(engine, settings)  # as `db init` does
    yield engine
    with engine.begin() as conn:
        name = make_url(settings.database_url).database
        conn.execute(text(f"DROP DATABASE `{name}`"))
        conn.execute(text(f"DROP USER IF EXISTS '{name}_notebook'@'localhost'"))
    engine.dispose()


@pytest.fixture
def scratch_databases(database_url):
    """Makes URLs of more databases of this test's own, not yet created
    (``smsbridge_test_<pid>_<hex>``, like the run's); all dropped after it."""
    base = make_url(database_url)
    made: list[str] = []

    def make() -> str:
        made.append(f"smsbridge_test_{os.getpid()}_{secrets.token_hex(3)}")
        return base.set(database=made[-1]).render_as_string(hide_password=False)

    yield make
    # URL.set() keeps a field given None, so build the server URL anew.
    server = make_engine(
        URL.create(base.drivername, base.username, base.password, base.host, base.port, None, base.query)
    )
    try:
        with server.begin() as conn:
            for name in made:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"DROP USER IF EXISTS '{name}_notebook'@'localhost'"))
    finally:
        server.dispose()


@pytest.fixture
def sessions(engine):
    return make_session_factory(engine)


@pytest.fixture(autouse=True)
def clean_database(request, engine):
    """Every test starts from empty tables (Gammu's version row stays)."""
    if (
        "engine" not in request.fixturenames
        and "sessions" not in request.fixturenames
        and "app" not in request.fixturenames
    ):
        yield
        return
    with engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in [*reversed(Base.metadata.sorted_tables), *GammuBase.metadata.sorted_tables]:
            if table.name != "gammu":
                conn.execute(delete(table))
        conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    yield


@pytest.fixture
def app(settings, engine):
    app = create_app(settings, engine=engine)
    app.testing = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def settings_env(settings) -> dict[str, str]:
    """The test settings as the SMSBRIDGE_* variables a process reads."""
    return {
        f"SMSBRIDGE_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in settings.__dict__.items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) whose process group is ``pgid``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class Gateway:
    """``smsbridge run`` (gunicorn + worker under a supervisor) as a
    subprocess in a process group of its own, its output in a file (a pipe
    nobody reads would block it)."""

    def __init__(self, settings, output: Path, **env: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output_path = output
        self._output = output.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "run", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **settings_env(settings), **env},
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_listening(self, timeout: float = 30) -> None:
        def listening():
            try:
                return urllib.request.urlopen(f"{self.base}/healthz", timeout=1).status == 200
            except OSError:
                return self.process.poll() is not None and pytest.fail(self.output())

        wait_for(listening, timeout=timeout, interval=0.2, what="smsbridge run to listen")

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, *, group: bool = False, timeout: float = 20) -> int:
        """Signal the supervisor (or its whole group, as Ctrl-C does) and
        wait for it; fail when it takes longer than ``timeout``."""
        if self.process.poll() is None:
            (os.killpg if group else os.kill)(self.process.pid, sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"smsbridge run did not stop within {timeout:.0f} s:\n{self.output()}")
        finally:
            self._output.close()

    def leftovers(self) -> list[int]:
        return process_group_members(self.process.pid)


@contextlib.contextmanager
def running_gateway(settings):
    """A started Gateway for the duration; yields its base URL. On the way
    out it must stop cleanly: exit 0, no traceback, no process left."""
    folder = Path(tempfile.mkdtemp(prefix="gateway-"))
    gateway = Gateway(settings, folder / "run.log")
    try:
        gateway.wait_listening()
        yield gateway.base
    finally:
        status = gateway.stop()
        output = gateway.output()
        shutil.rmtree(folder, ignore_errors=True)
    assert status == 0, output
    assert "Traceback" not in output, output
    assert gateway.leftovers() == []


@pytest.fixture
def runner(settings, monkeypatch):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    return CliRunner()


@pytest.fixture
def make_user(sessions):
    def make(login: str = "alice", *, blocked: bool = False, admin: bool = False) -> dict:
        with sessions.begin() as session:
            user = users.create_user(session, login, PASSWORD, is_admin=admin)
            user.blocked = blocked
            key = users.issue_api_key(session, login)
            return {"login": login, "password": PASSWORD, "key": key, "id": user.id}

    return make


def steady_billing_day() -> int:
    """A billing day that is neither today nor tomorrow (UTC): a test's
    SIM stays in one billing month from start to end. With day 1 every
    SIM's month turned over at 00:00 UTC on the 1st, and a test that
    counts this month's parts failed when it ran across that moment (one
    dispatching an hour ahead did for that whole last hour)."""
    return (utcnow().day + 13) % 28 + 1


class Modems:
    """Simulated SIMs: real gammu-smsd daemons on Gammu's dummy phones."""

    def __init__(self, settings, sessions):
        self.settings = settings
        self.sessions = sessions
        self.names: list[str] = []

    def add(
        self, name: str, *, limit: int | None = None, owner: str | None = None, start: bool = True
    ) -> str:
        number = f"+7999{sum(map(ord, name)) % 10_000_000:07d}"
        with self.sessions.begin() as session:
            sims_module.add_sim(
                session,
                self.settings,
                name,
                number,
                simulated=True,
                monthly_limit=limit,
                owner=owner,
                billing_day=steady_billing_day(),
            )
        self.names.append(name)
        if start:
            self.start(name)
        return name

    def start(self, name: str) -> None:
        smsd.start(self.settings, name)
        wait_for(lambda: name in self.health().healthy, what=f"{name}'s heartbeat")

    def kill(self, name: str) -> None:
        """A dead modem: the daemon is gone without saying goodbye."""
        import signal

        smsd.stop(self.settings, name, sig=signal.SIGKILL)

    def hang(self, name: str) -> None:
        """A hung modem: its daemon is gone, but its last heartbeat holds
        for an hour, so dispatch keeps the SIM in service however slow the
        machine is. After a plain kill the heartbeat has at most 3 s left,
        which a loaded run can spend before its next dispatch."""
        self.kill(name)
        with self.sessions.begin() as session:
            session.execute(
                update(Phone).where(Phone.id == name).values(timeout=func.now() + text("INTERVAL 1 HOUR"))
            )

    def heartbeat_runs_out(self, name: str) -> None:
        """The last heartbeat of a dead or hung modem expires now."""
        with self.sessions.begin() as session:
            session.execute(
                update(Phone).where(Phone.id == name).values(timeout=func.now() - text("INTERVAL 1 SECOND"))
            )

    def receive(self, name: str, sender: str, text: str, *, reverse: bool = False) -> int:
        """A text arriving at the SIM: written into the dummy phone's inbox
        the way Gammu's dummy driver stores one (``Type: Deliver``), split
        into concatenated parts when long; gammu-smsd picks it up."""
        import gammu

        phone = gammu.StateMachine()
        phone.SetConfig(
            0, {"Model": "dummy", "Connection": "none", "Device": str(smsd.modem_dir(self.settings, name))}
        )
        phone.Init()
        parts = gammu.EncodeSMS({"Entries": [{"ID": "ConcatenatedAutoTextLong", "Buffer": text}]})
        for part in reversed(parts) if reverse else parts:
            part.update(
                {
                    "Folder": 1,
                    "Type": "Deliver",
                    "PDU": "Deliver",
                    "Number": sender,
                    "SMSC": {"Number": "+79990000000"},
                    "State": "UnRead",
                }
            )
            phone.AddSMS(part)
        phone.Terminate()
        return len(parts)

    def health(self):
        with self.sessions.begin() as session:
            return check_health(session)

    def stop_all(self) -> None:
        for name in self.names:
            smsd.stop(self.settings, name)


@pytest.fixture
def modems(settings, sessions):
    pool = Modems(settings, sessions)
    yield pool
    pool.stop_all()


class Receiver:
    """A real HTTP server on loopback that records webhook posts and answers
    with the statuses it is told to (then 200)."""

    def __init__(self, statuses=()):
        import http.server
        import threading

        self.requests: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


# --------------------------------------------------------------------------
# The admin in a real browser (steps and constants: tests/browser.py)


@pytest.fixture(scope="module")
def server(settings, engine):
    with running_gateway(settings) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_steps.CHROMIUM, args=browser_steps.CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    page = browser_steps.new_page(browser, server, browser_steps.DESKTOP)
    yield page
    page.context.close()


@pytest.fixture
def phone_page(browser, server):
    """A phone's screen: 390 px wide, touch, a phone's pixel ratio."""
    page = browser_steps.new_page(
        browser, server, browser_steps.PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    yield page
    page.context.close()
