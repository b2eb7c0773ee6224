"""The scheduler and the production server, as they run in deployment."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import select

from bridge.jobs.scheduler import Worker
from bridge.models import Message, MessageStatus, Outbox, SentItem
from tests.conftest import running_gateway, wait_for


@pytest.fixture
def worker(settings, engine):
    w = Worker(settings)
    w.start()
    yield w
    w.stop()


def test_accept_wakes_dispatch_without_waiting_for_the_interval(
    worker, client, modems, make_user, sessions, settings
):
    user = make_user()
    modems.add("simA")
    worker.scheduler.reschedule_job("dispatch", trigger="interval", seconds=3600)
    [message] = client.post(
        "/api/v1/messages",
        json={"to": "+79991234567", "text": "wake up"},
        headers={"Authorization": f"Bearer {user['key']}"},
    ).get_json()

    def in_outbox_or_sent():
        with sessions.begin() as session:
            return session.scalar(
                select(Outbox.id).where(Outbox.creator_id == str(message["id"]))
            ) or session.scalar(select(SentItem.id).where(SentItem.creator_id == str(message["id"])))

    # Dispatch runs hourly now: only the wake-up can bring it here this soon.
    wait_for(in_outbox_or_sent, timeout=10, what="the woken dispatcher")

    def sent():
        with sessions.begin() as session:
            return session.get(Message, message["id"]).status == MessageStatus.SENT

    wait_for(sent, what="the worker's harvest")


def test_smsbridge_run_serves_the_classic_call_and_sends(settings, engine, modems, make_user, sessions):
    user = make_user()
    modems.add("simA")
    with running_gateway(settings) as base:
        query = urllib.parse.urlencode(
            {"login": user["login"], "pass": user["password"], "tel": "+79991234567", "msg": "via gunicorn"}
        )
        body = json.loads(urllib.request.urlopen(f"{base}/smsc?{query}", timeout=5).read())
        assert body["success"] is True

        def sent():
            with sessions.begin() as session:
                return session.get(Message, body["ids"][0]).status == MessageStatus.SENT

        wait_for(sent, what="the message sent by the worker that `run` started")
