"""Modems left alone: a daemon that heartbeats but does not send (stalled),
a daemon that dies or restarts while a text is on its way (never a silent
second copy: the message's on_uncertain decides, and says so), validity
that runs out in an outbox, and a stalled daemon restarted by the worker.

A daemon that does not send is a real gammu-smsd with ``Send = no`` in its
config: the same symptom as a hung modem, which heartbeats on."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import func, select, text, update

from bridge import sims, smsd
from bridge.jobs.dispatch import dispatch
from bridge.jobs.health import take_back_dead
from bridge.jobs.passes import health_pass
from bridge.jobs.scheduler import Worker
from bridge.jobs.watchdog import watch
from bridge.models import AttemptOutcome, Message, MessageAttempt, MessageStatus, Outbox, SentItem, Sim
from tests.conftest import wait_for
from tests.helpers import harvest_until, sent_parts
from tests.test_balancing import SendRejectedModem, _pending_outbox_id
from tests.test_sending import queue


class DaemonLease:
    """What gammu-smsd's lease (its ``refresh_send_status`` query) writes on
    an outbox row it takes: ``SendingTimeOut = NOW() + INTERVAL n SECOND``.
    The dummy phone sends at once, so a daemon cannot be caught between its
    lease and ``sentitems`` on demand: this one write is done by hand, as the
    daemon's SQL does it. Real leases last 60 s; tests use a few seconds."""

    @staticmethod
    def take(session, message_id: int, seconds: int) -> None:
        outbox_id = session.scalar(
            select(MessageAttempt.outbox_id).where(
                MessageAttempt.message_id == message_id, MessageAttempt.outcome == AttemptOutcome.PENDING
            )
        )
        session.execute(
            text("UPDATE outbox SET SendingTimeOut = NOW() + INTERVAL :s SECOND WHERE ID = :id"),
            {"s": seconds, "id": outbox_id},
        )


def silence(modems, name: str) -> None:
    """Restart NAME's daemon with ``Send = no``: it heartbeats, never sends."""
    settings = modems.settings
    smsd.stop(settings, name)
    config = smsd.config_path(settings, name)
    config.write_text(config.read_text().replace("[smsd]\n", "[smsd]\nSend = no\n", 1))
    modems.start(name)


def status(sessions, message_id: int) -> Message:
    with sessions.begin() as session:
        return session.get(Message, message_id)


def attempts(sessions, message_id: int) -> list[tuple[str, str | None]]:
    with sessions.begin() as session:
        return [
            (a.outcome.value, a.error)
            for a in session.scalars(
                select(MessageAttempt)
                .where(MessageAttempt.message_id == message_id)
                .order_by(MessageAttempt.id)
            )
        ]


def copies_sent(sessions, message_id: int) -> int:
    with sessions.begin() as session:
        return session.scalar(
            select(func.count()).select_from(SentItem).where(SentItem.creator_id == str(message_id))
        )


def sim_state(sessions, name: str) -> tuple[str, str | None]:
    with sessions.begin() as session:
        return sims.sim_state(session.scalar(select(Sim).where(Sim.name == name)))


def dispatched_to_silent_sim(modems, sessions, settings, **options) -> int:
    """One message in the outbox of simA, whose daemon does not send."""
    modems.add("simA")
    silence(modems, "simA")
    [message_id] = queue(sessions, settings, "alice", "+79991234567", "on its way", **options)
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 1
    return message_id


# ------------------------------------------------------ a daemon that went away


@pytest.mark.parametrize("policy", ["fail", "resend"])
def test_smsd_start_settles_what_the_previous_daemon_leased_and_never_sends_it_twice(
    policy, modems, make_user, sessions, settings, runner
):
    """The reported bug: kill -9 after the modem sent, restart, and 60 s later
    the new daemon sent the same row again. Now `smsd start` settles the
    orphaned lease first, by the message's policy, and says so."""
    make_user()
    message_id = dispatched_to_silent_sim(modems, sessions, settings, on_uncertain=policy)
    modems.kill("simA")
    with sessions.begin() as session:
        DaemonLease.take(session, message_id, seconds=3)

    result = runner.invoke(__import__("cli").main, ["smsd", "start", "simA"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [(outcome, why), *later] = attempts(sessions, message_id)
    assert outcome == "uncertain" and why.startswith("may have gone out: SIM simA had it when")

    if policy == "fail":
        message = status(sessions, message_id)
        assert (
            message.status == MessageStatus.FAILED
            and "not sent again (on_uncertain=fail)" in message.last_error
        )
        time.sleep(5)  # well past the old lease: the new daemon would have resent it by now
        assert copies_sent(sessions, message_id) == 0
    else:
        wait_for(lambda: "simA" in modems.health().healthy, what="simA's new daemon to heartbeat")
        with sessions.begin() as session:
            assert dispatch(session, settings).dispatched == 1
        harvest_until(sessions, [message_id])
        time.sleep(5)
        assert copies_sent(sessions, message_id) == 1


def test_a_restart_by_anyone_is_noticed_and_the_old_lease_settled(modems, make_user, sessions, settings):
    """A daemon restarted behind the bridge's back (by hand, by systemd
    without ExecStartPre) reconnects to its modem: its phones row says when.
    A lease older than that belongs to the dead daemon."""
    make_user()
    message_id = dispatched_to_silent_sim(modems, sessions, settings)
    with sessions.begin() as session:
        DaemonLease.take(session, message_id, seconds=4)
    time.sleep(1.1)  # the lease and the reconnect fall in different seconds
    smsd.stop(modems.settings, "simA")
    with sessions.begin() as session:
        smsd.write_config(settings, session.scalar(select(Sim).where(Sim.name == "simA")))  # sends again
    modems.start("simA")

    result = health_pass(modems.sessions, settings)
    assert result.settled == 1
    assert status(sessions, message_id).status == MessageStatus.FAILED
    assert "its daemon restarted" in attempts(sessions, message_id)[0][1]
    time.sleep(6)
    assert copies_sent(sessions, message_id) == 0


def test_a_dead_daemons_leased_text_is_settled_after_abandon_after(modems, make_user, sessions, settings):
    make_user()
    message_id = dispatched_to_silent_sim(modems, sessions, settings, on_uncertain="resend")
    modems.kill("simA")
    with sessions.begin() as session:
        DaemonLease.take(session, message_id, seconds=1)
    wait_for(lambda: "simA" in modems.health().unhealthy, what="simA's heartbeat to stop")
    quick = dataclasses.replace(settings, abandon_after=1.0)
    wait_for(lambda: health_pass(modems.sessions, quick).settled, timeout=10, what="the lease to be settled")
    message = status(sessions, message_id)
    assert message.status == MessageStatus.QUEUED and "sent again (on_uncertain=resend)" in message.last_error


def test_a_leased_row_is_never_taken_back(modems, make_user, sessions, settings):
    """Take-back moves only rows no daemon touched: a leased one may be on the air."""
    make_user()
    message_id = dispatched_to_silent_sim(modems, sessions, settings)
    with sessions.begin() as session:
        DaemonLease.take(session, message_id, seconds=60)
    modems.kill("simA")
    wait_for(lambda: "simA" in modems.health().unhealthy, what="simA's heartbeat to stop")
    with sessions.begin() as session:
        assert take_back_dead(session) == 0
    assert status(sessions, message_id).status == MessageStatus.DISPATCHED


# ------------------------------------------------------ stalled: heartbeat, no sending


def test_stalled_sim_is_detected_its_texts_rerouted_and_it_recovers(modems, make_user, sessions, settings):
    make_user()
    modems.add("simB")
    with sessions.begin() as session:
        sims.set_enabled(session, "simB", False)
    ids = [dispatched_to_silent_sim(modems, sessions, settings)]
    ids += queue(sessions, settings, "alice", "+79991234568", "me too")
    with sessions.begin() as session:
        dispatch(session, settings)
        sims.set_watchdog(session, "simA", stall_after=10)
        sims.set_enabled(session, "simB", True)

    worker = Worker(settings)
    worker.start()
    try:
        started = time.monotonic()
        wait_for(lambda: sim_state(sessions, "simA")[0] == "stalled", timeout=40, what="simA to be stalled")
        detected = time.monotonic() - started
        state, reason = sim_state(sessions, "simA")
        assert "untouched in its outbox while its daemon heartbeats" in reason
        harvest_until(sessions, ids, timeout=60)
        rerouted = time.monotonic() - started - detected
        assert [p.sender_id for i in ids for p in sent_parts(sessions, i)] == ["simB", "simB"]
        assert attempts(sessions, ids[0])[0][0] == "taken_back"
        assert "it stalled: " in attempts(sessions, ids[0])[0][1]
        # Issue #9's bounds: detected within 60 s of the threshold, re-routed within 60 s.
        assert detected <= 10 + 60 and rerouted <= 60

        # The modem comes back (here: its daemon restarted with sending on).
        sims.restart_daemon(modems.sessions, settings, "simA")
        with sessions.begin() as session:
            sims.set_enabled(session, "simB", False)
        wait_for(lambda: sim_state(sessions, "simA")[0] == "healthy", what="simA back in service")
        [again] = queue(sessions, settings, "alice", "+79991234569", "through simA again")
        harvest_until(sessions, [again], timeout=30)
        assert [p.sender_id for p in sent_parts(sessions, again)] == ["simA"]
    finally:
        worker.stop()


def test_a_run_of_send_errors_stalls_a_sim(modems, make_user, sessions, settings):
    make_user()
    modems.add("flaky")
    modems.hang("flaky")
    ids = queue(sessions, settings, "alice", "+79991234567", "a") + queue(
        sessions, settings, "alice", "+79991234568", "b"
    )
    with sessions.begin() as session:
        dispatch(session, settings)
        sims.set_watchdog(session, "flaky", stall_errors=2)
    with sessions.begin() as session:
        for message_id in ids:
            SendRejectedModem.reject(session, _pending_outbox_id(sessions, message_id))
    modems.start("flaky")
    time.sleep(1.1)  # errors after the daemon's (re)connect count; these came before it
    with sessions.begin() as session:
        session.execute(update(SentItem).values(insert_into_db=func.now()))
    with sessions.begin() as session:
        assert watch(session).stalled == ["flaky"]
    assert sim_state(sessions, "flaky") == ("stalled", "its last 2 sends all failed (SendingError)")


def test_text_whose_validity_ran_out_in_a_silent_outbox_ends_expired(modems, make_user, sessions, settings):
    make_user()
    message_id = dispatched_to_silent_sim(modems, sessions, settings, valid_for=1)
    time.sleep(2)
    assert health_pass(modems.sessions, settings).expired == 1
    message = status(sessions, message_id)
    assert message.status == MessageStatus.EXPIRED and "valid_for passed" in message.last_error
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0


def test_worker_restarts_a_stalled_daemon_it_runs_when_asked_to(modems, make_user, sessions, settings):
    make_user()
    dispatched_to_silent_sim(modems, sessions, settings)
    with sessions.begin() as session:
        sims.set_watchdog(session, "simA", stall_after=10, restart_stalled=True)
    before = smsd.running_pid(settings, "simA")
    worker = Worker(settings)
    worker.start()
    try:
        wait_for(
            lambda: smsd.running_pid(settings, "simA") not in (None, before), timeout=60, what="a restart"
        )
        # Restarted from its database config, which sends: back in service.
        wait_for(lambda: sim_state(sessions, "simA")[0] == "healthy", timeout=30, what="simA in service")
        with sessions.begin() as session:
            sim = session.scalar(select(Sim).where(Sim.name == "simA"))
            assert sim.restarts == 1 and sim.restarted_at is not None
    finally:
        worker.stop()


# ------------------------------------------------------ through the API


def test_on_uncertain_is_taken_by_both_apis_and_shown(client, make_user, modems, sessions):
    user = make_user()
    modems.add("simA")
    auth = {"Authorization": f"Bearer {user['key']}"}
    [sent] = client.post(
        "/api/v1/messages",
        json={"to": "+79991234567", "text": "alarm", "on_uncertain": "resend"},
        headers=auth,
    ).get_json()
    assert client.get(f"/api/v1/messages/{sent['id']}", headers=auth).get_json()["on_uncertain"] == "resend"
    refused = client.post(
        "/api/v1/messages", json={"to": "+79991234567", "text": "x", "on_uncertain": "maybe"}, headers=auth
    )
    assert refused.status_code == 400
    assert refused.get_json()["error"] == {
        "status": 400,
        "message": "must be fail or resend",
        "field": "on_uncertain",
    }

    classic = {"login": "alice", "pass": user["password"], "tel": "+79991234567", "msg": "code 1234"}
    [code_id] = client.get("/smsc", query_string={**classic, "on_uncertain": "resend"}).get_json()["ids"]
    assert status(sessions, code_id).on_uncertain == "resend"
    bad = client.get("/smsc", query_string={**classic, "on_uncertain": "twice"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "on_uncertain"
    [plain_id] = client.get("/smsc", query_string=classic).get_json()["ids"]
    assert status(sessions, plain_id).on_uncertain == "fail"


def test_sims_show_their_state_and_why(client, make_user, modems, sessions):
    user = make_user(admin=True)
    modems.add("simA")
    with sessions.begin() as session:
        sim = session.scalar(select(Sim).where(Sim.name == "simA"))
        sim.stalled_since, sim.stall_reason = sim.created_at, "its last 3 sends all failed (SendingError)"
    [listed] = client.get("/api/v1/sims", headers={"Authorization": f"Bearer {user['key']}"}).get_json()
    assert listed["state"] == "stalled"
    assert listed["state_reason"] == "its last 3 sends all failed (SendingError)"
    assert listed["watchdog"]["stall_after"] == 60


def test_sim_set_writes_gammus_preventive_resets_into_the_daemon_config(runner, make_user, modems, settings):
    import cli

    modems.add("simA", start=False)
    result = runner.invoke(
        cli.main,
        [
            "sim",
            "set",
            "simA",
            "--reset-every",
            "3600",
            "--hard-reset-every",
            "86400",
            "--restart-stalled",
            "on",
        ],
    )
    assert result.exit_code == 0, result.output
    config = smsd.config_path(settings, "simA").read_text()
    assert "ResetFrequency = 3600\n" in config and "HardResetFrequency = 86400\n" in config
    refused = runner.invoke(cli.main, ["sim", "set", "simA", "--stall-after", "5"])
    assert refused.exit_code == 1 and "stall_after: must be at least 10 seconds" in refused.output


def test_the_admin_sim_page_sets_the_watchdog(client, make_user, modems, sessions, settings):
    from tests.test_admin_pages import log_in, post

    log_in(client, make_user("root", admin=True))
    modems.add("simA", start=False)
    page = client.get("/admin/sims/simA/")
    assert page.status_code == 200 and b"Watchdog" in page.data
    answer = post(
        client,
        "/admin/sims/simA/watchdog",
        {"stall_after": "90", "stall_errors": "4", "restart_stalled": "on", "reset_every": "600"},
        page="/admin/sims/simA/",
    )
    assert answer.status_code == 302
    with sessions.begin() as session:
        sim = session.scalar(select(Sim).where(Sim.name == "simA"))
        assert (sim.stall_after, sim.stall_errors, sim.restart_stalled, sim.reset_every) == (90, 4, True, 600)
    assert "ResetFrequency = 600\n" in smsd.config_path(settings, "simA").read_text()


def test_the_admin_send_form_takes_on_uncertain(client, make_user, modems, sessions):
    from tests.test_admin_pages import log_in, post

    log_in(client, make_user("root", admin=True))
    modems.add("simA", start=False)
    data = {
        "to": "+79991234567",
        "text": "alarm",
        "attempts": "1",
        "report": "default",
        "on_uncertain": "resend",
    }
    assert post(client, "/admin/send/", data, page="/admin/send/").status_code == 200
    with sessions.begin() as session:
        assert session.scalar(select(Message.on_uncertain)) == "resend"
    refused = post(client, "/admin/send/", {**data, "on_uncertain": "twice"}, page="/admin/send/")
    assert refused.status_code == 400 and b"choose fail or resend" in refused.data
