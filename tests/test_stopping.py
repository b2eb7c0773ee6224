"""Stopping the gateway: SIGTERM or Ctrl-C stops `smsbridge run` within its
bound while it is busy, with no traceback and no process left behind; a
worker whose pass cannot finish exits anyway; the demo script stops its
daemons too, also when only the script itself is signalled."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bridge import smsd
from bridge.accept import accept
from bridge.clock import utcnow
from bridge.models import Message, MessageStatus, User, WebhookDelivery
from bridge.server import KILL_GRACE
from tests.conftest import (
    Gateway,
    free_port,
    process_group_members,
    settings_env,
    wait_for,
)

REPO = Path(__file__).resolve().parent.parent


def queue_many(sessions, settings, login: str, count: int) -> None:
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.login == login))
        for start in range(0, count, 500):
            numbers = [f"+7999{n:07d}" for n in range(start, min(count, start + 500))]
            accept(session, user, numbers, "busy", settings=settings)


def dispatched_count(sessions) -> int:
    with sessions.begin() as session:
        return session.scalar(
            select(func.count()).select_from(Message).where(Message.status != MessageStatus.QUEUED)
        )


@pytest.mark.parametrize("how", ["SIGTERM to run", "Ctrl-C to the process group"])
def test_run_stops_within_its_bound_while_dispatching(how, settings, modems, make_user, sessions, tmp_path):
    make_user("alice")
    modems.add("simA")
    modems.add("simB")
    gateway = Gateway(settings, tmp_path / "run.log")
    gateway.wait_listening()
    queue_many(sessions, settings, "alice", 3000)
    wait_for(lambda: dispatched_count(sessions) > 0, what="dispatch to get busy")

    group = how.startswith("Ctrl-C")
    status = gateway.stop(
        signal.SIGINT if group else signal.SIGTERM,
        group=group,
        timeout=settings.stop_timeout + KILL_GRACE + 5,
    )

    output = gateway.output()
    assert status == 0, output
    assert "Traceback" not in output and "Exception ignored" not in output, output
    assert gateway.leftovers() == []


def test_worker_exits_after_stop_timeout_when_a_pass_cannot_finish(settings, make_user, sessions, tmp_path):
    """A webhook receiver that accepts the connection and never answers keeps
    the webhook pass busy for webhook_timeout (60 s here); the worker must not
    wait for it past stop_timeout (1 s), and the delivery stays leased, to be
    tried again after its lease."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts; nobody ever reads or answers
    user = make_user("alice")
    with sessions.begin() as session:
        session.add(
            WebhookDelivery(
                id="d" * 32,
                user_id=user["id"],
                event="sms:sent",
                url=f"http://127.0.0.1:{silent.getsockname()[1]}/hook",
                secret="s",
                payload="{}",
                next_attempt_at=utcnow() - timedelta(seconds=1),
                created_at=utcnow(),
            )
        )
    env = {
        **os.environ,
        **settings_env(settings),
        "SMSBRIDGE_WEBHOOK_TIMEOUT": "60",
        "SMSBRIDGE_STOP_TIMEOUT": "1",
    }
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def leased():
            with sessions.begin() as session:
                return session.get(WebhookDelivery, "d" * 32).attempts == 1

        wait_for(leased, what="the worker to start posting the webhook")
        worker.send_signal(signal.SIGTERM)
        status = worker.wait(timeout=15)
    finally:
        if worker.poll() is None:
            worker.kill()
        silent.close()
    output = (tmp_path / "worker.log").read_text()
    assert status == 1, output
    assert "webhooks still running after 1 s; exiting without them" in output
    assert "Traceback" not in output, output
    with sessions.begin() as session:
        delivery = session.get(WebhookDelivery, "d" * 32)
        assert delivery.status == "pending" and delivery.next_attempt_at > utcnow()


def test_demo_prints_lines_that_work_and_stops_on_a_signal_to_the_script(settings, engine, tmp_path):
    state, configs = tmp_path / "var", tmp_path / "smsdrc"
    env = {
        **os.environ,
        "SMSBRIDGE_DATABASE_URL": settings.database_url,
        "SMSBRIDGE_STATE_DIR": str(state),
        "SMSBRIDGE_SMSDRC_DIR": str(configs),
        "SMSBRIDGE_VENV": str(Path(sys.executable).parent.parent),
        "SMSBRIDGE_FOR_TESTS": "1",  # the venv this test runs in
        "PORT": str(free_port()),
        "SMSBRIDGE_STATUS_FREQUENCY": "1",
        # The demo's `db init` shares the run's database: the same notebook password.
        "SMSBRIDGE_NOTEBOOK_DB_PASSWORD_FILE": str(Path(settings.state_dir) / "notebook_db_password"),
    }
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen(
        ["bash", str(REPO / "scripts/run-demo.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo_settings = dataclasses.replace(settings, state_dir=str(state), smsdrc_dir=str(configs))
    try:

        def printed():
            return "Stop: Ctrl-C" in (tmp_path / "demo.log").read_text()

        wait_for(printed, timeout=120, interval=0.2, what="the demo's banner")
        text = (tmp_path / "demo.log").read_text()
        base = f"http://127.0.0.1:{env['PORT']}"
        wait_for(lambda: _answers(f"{base}/healthz"), timeout=30, interval=0.2, what="the demo")

        commands = [
            line.strip()
            for line in text.replace("\\\n", " ").splitlines()
            if line.strip().startswith("curl ")
        ]
        classic, json_api, follow = commands
        assert json.loads(_shell(classic))["success"] is True
        [sent] = json.loads(_shell(json_api))
        followed = json.loads(_shell(follow.replace("/ID", f"/{sent['id']}")))
        assert followed["id"] == sent["id"] and followed["to"] == "+79991234567"
        assert smsd.running_pid(demo_settings, "demo-sim1") is not None

        demo.send_signal(signal.SIGINT)  # the script's own PID, not its group
        status = demo.wait(timeout=settings.stop_timeout + KILL_GRACE + 10)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        for name in ("demo-sim1", "demo-sim2"):
            smsd.stop(demo_settings, name, sig=signal.SIGKILL)
    output = (tmp_path / "demo.log").read_text()
    assert status in (0, 130), output
    assert "Traceback" not in output, output
    assert process_group_members(demo.pid) == []
    assert smsd.running_pid(demo_settings, "demo-sim1") is None
    assert smsd.running_pid(demo_settings, "demo-sim2") is None


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


def _shell(command: str) -> str:
    assert re.match(r"^curl ", command)
    return subprocess.run(
        ["bash", "-c", command + " -sS --fail-with-body"],
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
