"""A SIM's identity (the card's IMSI, the modem's IMEI) as gammu-smsd
reports it in ``phones``: recorded on first sight, a swapped card
quarantined until `sim accept`, one card on two SIMs flagged.

Gammu's dummy phone always reports IMSI 994299429942994 and IMEI
999999999999999, so a real daemon cannot show a *different* card. Where a
test needs another card it writes the ``phones`` row exactly as
gammu-smsd's ``insert_phone`` (our smsdrc template) does when a daemon
starts with that card; the daemon that then starts for real reports the
dummy's card, and that is the "new" one."""

from __future__ import annotations

import json

from sqlalchemy import select, text

import cli
from bridge import sims, usage
from bridge.clock import utcnow
from bridge.jobs import passes
from bridge.jobs.dispatch import NO_SIM, dispatch
from bridge.models import AttemptOutcome, Message, MessageAttempt, MessageStatus, Sim, SimEvent, SimUsage
from tests.helpers import harvest_until
from tests.test_admin_pages import log_in, post, queue

DUMMY_IMSI, DUMMY_IMEI = "994299429942994", "999999999999999"
OLD_IMSI, OLD_IMEI = "250011234567890", "861234567890123"


def report_identity(sessions, name: str, imsi: str, imei: str, *, alive: bool) -> None:
    """The phones row gammu-smsd's insert_phone writes on start (see
    bridge/smsdrc.template); ``alive``: its heartbeat is current."""
    with sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO phones (IMEI, IMSI, ID, NetCode, NetName, Send, Receive, InsertIntoDB, "
                "TimeOut, Client, Battery, `Signal`) VALUES (:imei, :imsi, :id, '250 01', 'MTS', 'yes', "
                "'yes', NOW(), NOW() + INTERVAL :seconds SECOND, 'Gammu 1.42.0', -1, -1) "
                "ON DUPLICATE KEY UPDATE IMEI = VALUES(IMEI), IMSI = VALUES(IMSI), TimeOut = VALUES(TimeOut)"
            ),
            {"imei": imei, "imsi": imsi, "id": name, "seconds": 600 if alive else -60},
        )


def events(sessions, name: str) -> list[str]:
    with sessions.begin() as session:
        return list(
            session.scalars(
                select(SimEvent.kind)
                .join(Sim, Sim.id == SimEvent.sim_id)
                .where(Sim.name == name)
                .order_by(SimEvent.id)
            )
        )


def sim_row(sessions, name: str) -> Sim:
    with sessions.begin() as session:
        return session.scalar(select(Sim).where(Sim.name == name))


def invoke(runner, *args):
    return runner.invoke(cli.main, list(args), catch_exceptions=False)


def test_a_swapped_card_is_quarantined_gets_nothing_and_is_taken_in_by_accept(
    modems, sessions, settings, make_user, runner, client
):
    alice = make_user("alice")
    modems.add("sim1", start=False)
    report_identity(sessions, "sim1", OLD_IMSI, OLD_IMEI, alive=False)  # the old card, last week
    result = passes.identity_pass(sessions)
    assert result.recorded == ["sim1"]
    assert (sim_row(sessions, "sim1").imsi, sim_row(sessions, "sim1").imei) == (OLD_IMSI, OLD_IMEI)
    with sessions.begin() as session:  # parts the old card used this month
        (key,) = usage.month_keys([sim_row(sessions, "sim1")], utcnow().date())
        session.add(SimUsage(sim_id=key[0], period_start=key[1], parts=42))

    modems.start("sim1")  # the real daemon now reports the dummy's card: another one
    result = passes.identity_pass(sessions)
    assert result.quarantined == ["sim1"]
    sim = sim_row(sessions, "sim1")
    assert sim.quarantined_at is not None and (sim.new_imsi, sim.new_imei) == (DUMMY_IMSI, DUMMY_IMEI)
    assert events(sessions, "sim1") == ["identity_recorded", "identity_changed"]
    assert passes.identity_pass(sessions).quarantined == []  # said once, not every pass

    message_id = queue(sessions, settings, "alice")
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 0
        assert session.get(Message, message_id).wait_reason == NO_SIM

    listing = invoke(runner, "sim", "list")
    assert " quarantined " in listing.output
    assert f"IMSI {OLD_IMSI}" in listing.output and f"seen now: IMSI {DUMMY_IMSI}" in listing.output
    api = client.get("/api/v1/sims", headers={"Authorization": f"Bearer {alice['key']}"}).get_json()
    assert api[0]["state"] == "quarantined" and api[0]["new_imsi"] == DUMMY_IMSI
    assert api[0]["imsi"] == OLD_IMSI and "sim accept sim1" in api[0]["state_reason"]

    accepted = invoke(runner, "sim", "accept", "sim1")
    assert accepted.exit_code == 0, accepted.output
    assert "parts used this month start again from 0" in accepted.output
    sim = sim_row(sessions, "sim1")
    assert (sim.imsi, sim.new_imsi, sim.quarantined_at) == (DUMMY_IMSI, None, None)
    assert json.loads(invoke(runner, "sim", "list", "--json").output)[0]["parts_used"] == 0
    assert events(sessions, "sim1")[-1] == "card_accepted"
    with sessions.begin() as session:
        session.execute(Message.__table__.update().values(due_at=Message.created_at))
        assert dispatch(session, settings).dispatched == 1
    harvest_until(sessions, [message_id])
    assert invoke(runner, "sim", "accept", "sim1").exit_code == 1  # nothing waits now


def test_quarantine_takes_back_what_the_daemon_had_not_started(modems, sessions, settings, make_user):
    make_user("alice")
    # A SIM whose daemon is alive but has not sent yet: the phones row as its
    # gammu-smsd wrote it, and no daemon picking rows up.
    modems.add("sim1", start=False)
    report_identity(sessions, "sim1", OLD_IMSI, OLD_IMEI, alive=True)
    modems.health()
    passes.identity_pass(sessions)
    message_id = queue(sessions, settings, "alice")
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 1

    report_identity(sessions, "sim1", "250017777777777", OLD_IMEI, alive=True)  # restarted with another card
    result = passes.identity_pass(sessions)

    assert result.quarantined == ["sim1"] and result.taken_back == 1
    with sessions.begin() as session:
        message = session.get(Message, message_id)
        attempt = session.scalar(select(MessageAttempt).where(MessageAttempt.message_id == message_id))
        assert message.status == MessageStatus.QUEUED
        assert attempt.outcome == AttemptOutcome.TAKEN_BACK and "quarantined" in attempt.error


def test_the_old_card_coming_back_lifts_the_quarantine(modems, sessions):
    modems.add("sim1", start=False)
    report_identity(sessions, "sim1", OLD_IMSI, OLD_IMEI, alive=False)
    passes.identity_pass(sessions)
    report_identity(sessions, "sim1", "250017777777777", OLD_IMEI, alive=False)
    passes.identity_pass(sessions)
    report_identity(sessions, "sim1", OLD_IMSI, "861234567890999", alive=False)  # back, in another modem

    result = passes.identity_pass(sessions)

    assert result.restored == ["sim1"] and result.modem_changed == ["sim1"]
    sim = sim_row(sessions, "sim1")
    assert sim.quarantined_at is None and sim.new_imsi is None and sim.imei == "861234567890999"
    assert events(sessions, "sim1")[-2:] == ["identity_restored", "modem_changed"]


def test_one_card_reported_by_two_sims_is_flagged_and_cannot_be_accepted(modems, sessions, settings, runner):
    # SIM real1's daemon (another modem, not running in this test) reported
    # the card first; then sim2's real daemon reports the same IMSI.
    with sessions.begin() as session:
        sims.add_sim(session, settings, "real1", "+79990000011", device="/dev/ttyUSB9")
    report_identity(sessions, "real1", DUMMY_IMSI, DUMMY_IMEI, alive=False)
    passes.identity_pass(sessions)
    modems.add("sim2")

    result = passes.identity_pass(sessions)

    assert result.quarantined == ["sim2"]
    assert events(sessions, "sim2") == ["duplicate_imsi"]
    assert "card of SIM real1" in sim_row(sessions, "sim2").quarantine_reason
    refused = invoke(runner, "sim", "accept", "sim2")
    assert refused.exit_code == 1 and "is SIM real1's" in refused.output

    assert invoke(runner, "sim", "remove", "real1").exit_code == 0
    assert passes.identity_pass(sessions).recorded == ["sim2"]  # nobody else has it now
    assert sim_row(sessions, "sim2").quarantined_at is None


def test_two_simulated_sims_are_not_one_card(modems, sessions):
    modems.add("simA")
    modems.add("simB")
    result = passes.identity_pass(sessions)
    assert sorted(result.recorded) == ["simA", "simB"] and result.quarantined == []


def test_the_admin_shows_both_cards_and_accepts_the_new_one(modems, sessions, client, make_user):
    admin = make_user("root", admin=True)
    modems.add("sim1", start=False)
    report_identity(sessions, "sim1", OLD_IMSI, OLD_IMEI, alive=False)
    passes.identity_pass(sessions)
    report_identity(sessions, "sim1", DUMMY_IMSI, DUMMY_IMEI, alive=False)
    passes.identity_pass(sessions)
    log_in(client, admin)

    listing = client.get("/admin/sims/").get_data(as_text=True)
    assert "quarantined" in listing and "another card in its modem" in listing
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "quarantined" in dashboard
    page = client.get("/admin/sims/sim1/").get_data(as_text=True)
    assert OLD_IMSI in page and DUMMY_IMSI in page and 'id="accept-card"' in page

    post(client, "/admin/sims/sim1/accept", page="/admin/sims/sim1/")

    sim = sim_row(sessions, "sim1")
    assert sim.imsi == DUMMY_IMSI and sim.quarantined_at is None
    assert "taken into service" in client.get("/admin/sims/sim1/").get_data(as_text=True)
