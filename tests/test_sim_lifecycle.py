"""A SIM's life after `sim add`: its number, device and PIN changed, its
daemon started and stopped from the admin, the modems on the host found,
and the SIM removed with its history kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

import cli
from bridge import modems as modems_module
from bridge import sims, smsd
from bridge.jobs import passes
from bridge.jobs.dispatch import dispatch
from bridge.messages import message_view, visible_message
from bridge.models import AttemptOutcome, Message, MessageAttempt, MessageStatus, Sim
from tests.test_admin_pages import log_in, post, queue
from tests.test_sim_identity import report_identity


def invoke(runner, *args, input=None):
    return runner.invoke(cli.main, list(args), input=input, catch_exceptions=False)


def test_pin_goes_into_the_daemon_config_only_and_survives_other_changes(
    runner, sessions, settings, modems, client, make_user
):
    modems.add("sim1", start=False)
    changed = invoke(runner, "sim", "set", "sim1", "--pin", "4321", "--number", "8 916 000-00-01")
    assert changed.exit_code == 0, changed.output
    assert "4321" not in changed.output
    config = smsd.config_path(settings, "sim1").read_text()
    assert "PIN = 4321" in config and oct(os.stat(smsd.config_path(settings, "sim1")).st_mode)[-3:] == "600"
    with sessions.begin() as session:
        assert session.scalar(select(Sim.number).where(Sim.name == "sim1")) == "+79160000001"
    modems.start("sim1")  # gammu-smsd reads the config with its PIN and runs

    admin = make_user("root", admin=True)
    log_in(client, admin)
    page = client.get("/admin/sims/sim1/").get_data(as_text=True)
    assert "4321" not in page and "set — leave empty to keep it" in page
    assert invoke(runner, "sim", "set", "sim1", "--pin", "12").exit_code == 1
    assert invoke(runner, "sim", "set", "sim1", "--balance-code", "*100#").exit_code == 0
    assert "PIN = 4321" in smsd.config_path(settings, "sim1").read_text()  # a rewrite keeps it
    assert invoke(runner, "sim", "set", "sim1", "--pin", "none").exit_code == 0
    assert "PIN =" not in smsd.config_path(settings, "sim1").read_text()


def test_device_and_connection_rewrite_the_config_and_say_to_restart(runner, sessions, settings):
    added = invoke(runner, "sim", "add", "usb1", "--number", "+79990000001", "--device", "/dev/ttyUSB4")
    assert added.exit_code == 0
    invoke(runner, "sim", "set", "usb1", "--pin", "1111")
    device = "/dev/serial/by-id/usb-HUAWEI_E173_0123456789-if00-port0"

    result = invoke(runner, "sim", "set", "usb1", "--device", device, "--connection", "at115200")

    assert result.exit_code == 0, result.output
    config = smsd.config_path(settings, "usb1").read_text()
    assert f"device = {device}" in config and "connection = at115200" in config and "PIN = 1111" in config
    assert invoke(runner, "sim", "set", "usb1", "--device", "ttyUSB0").exit_code == 1  # not a path
    assert invoke(runner, "sim", "set", "usb1", "--connection", "at 115200").exit_code == 1
    simulated = invoke(runner, "sim", "add", "fake", "--number", "+79990000002", "--simulated")
    assert simulated.exit_code == 0
    refused = invoke(runner, "sim", "set", "fake", "--device", device)
    assert refused.exit_code == 1 and "simulated" in refused.output


def test_remove_refuses_while_messages_wait_then_takes_them_back_and_keeps_history(
    runner, sessions, settings, modems, make_user
):
    make_user("alice")
    modems.add("idle1", start=False)
    # A daemon that is alive (its phones row as gammu-smsd writes it) but has
    # not picked up what dispatch gave it: a modem that stopped answering.
    report_identity(sessions, "idle1", "250011234567890", "861234567890123", alive=True)
    modems.health()
    message_id = queue(sessions, settings, "alice")
    with sessions.begin() as session:
        assert dispatch(session, settings).dispatched == 1

    refused = invoke(runner, "sim", "remove", "idle1")
    assert refused.exit_code == 1 and "1 message(s) in its outbox" in refused.output
    assert "--take-back" in refused.output

    removed = invoke(runner, "sim", "remove", "idle1", "--take-back")

    assert removed.exit_code == 0, removed.output
    assert "1 waiting message(s) went back to the queue" in removed.output
    assert not smsd.config_path(settings, "idle1").exists()
    with sessions.begin() as session:
        message = session.get(Message, message_id)
        assert message.status == MessageStatus.QUEUED
        attempt = session.scalar(select(MessageAttempt).where(MessageAttempt.message_id == message_id))
        assert attempt.outcome == AttemptOutcome.TAKEN_BACK and "removed" in attempt.error
        view = message_view(visible_message(session, message_id, None))
        assert view["history"][0]["sim"] == "idle1"  # the archive still names it
    assert "idle1" not in invoke(runner, "sim", "list").output
    again = invoke(runner, "sim", "add", "idle1", "--number", "+79990000003", "--simulated")
    assert again.exit_code == 1 and "was removed" in again.output
    assert invoke(runner, "sim", "set", "idle1", "--monthly-limit", "5").exit_code == 1


def test_remove_stops_the_daemon_running_here(runner, sessions, settings, modems):
    modems.add("sim1")
    pid = smsd.running_pid(settings, "sim1")

    result = invoke(runner, "sim", "remove", "sim1")

    assert result.exit_code == 0 and "its daemon was stopped" in result.output
    assert smsd.running_pid(settings, "sim1") is None and not Path(f"/proc/{pid}/cmdline").exists()


def test_the_admin_starts_stops_and_removes_a_sim(modems, sessions, settings, client, make_user):
    admin = make_user("root", admin=True)
    modems.add("sim1", start=False)
    log_in(client, admin)
    page = "/admin/sims/sim1/"
    assert "stopped" in client.get(page).get_data(as_text=True)

    post(client, "/admin/sims/sim1/daemon", {"action": "start"}, page=page)
    assert smsd.running_pid(settings, "sim1") is not None
    assert "running, pid" in client.get(page).get_data(as_text=True)
    post(client, "/admin/sims/sim1/daemon", {"action": "restart"}, page=page)
    assert smsd.running_pid(settings, "sim1") is not None
    post(client, "/admin/sims/sim1/daemon", {"action": "stop"}, page=page)
    assert smsd.running_pid(settings, "sim1") is None

    response = post(client, "/admin/sims/sim1/remove", page=page)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/sims/")
    assert "SIM sim1 removed" in client.get("/admin/sims/").get_data(as_text=True)
    with sessions.begin() as session:
        assert session.scalar(select(Sim.removed_at).where(Sim.name == "sim1")) is not None


@pytest.mark.skipif(
    any(Path("/dev").glob("ttyUSB*")) or any(Path("/dev").glob("ttyACM*")) or Path("/dev/serial").exists(),
    reason="this host has serial ports",
)
def test_modem_scan_on_a_host_without_modems_says_so(runner, engine):
    result = invoke(runner, "modem", "scan")
    assert result.exit_code == 0 and "no serial modem found on this host" in result.output


def test_modem_scan_shows_each_port_what_gammu_says_and_who_uses_it(tmp_path, sessions, settings):
    # A /dev of this test's own: a by-id link and its tty both lead to
    # /dev/null, a port that is no modem, so gammu's own refusal is shown.
    by_id = tmp_path / "serial" / "by-id"
    by_id.mkdir(parents=True)
    (tmp_path / "ttyUSB3").symlink_to("/dev/null")
    (by_id / "usb-Test_Modem_42-if00-port0").symlink_to("/dev/null")
    (tmp_path / "ttyACM0").symlink_to(os.devnull)
    with sessions.begin() as session:
        sims.add_sim(
            session, settings, "usb1", "+79990000001", device=str(by_id / "usb-Test_Modem_42-if00-port0")
        )

    with sessions.begin() as session:
        ports = modems_module.scan(session, settings, dev_root=str(tmp_path), timeout=10)

    assert [p.path for p in ports] == [str(by_id / "usb-Test_Modem_42-if00-port0")]  # one device, one line
    (port,) = ports
    assert port.used_by == "usb1" and port.probed and "Error opening device" in port.error
    assert modems_module.stable_path(str(tmp_path / "ttyUSB3"), dev_root=str(tmp_path)) == port.by_id


def test_identify_reads_what_gammu_reports(settings, tmp_path):
    # Gammu's dummy phone answers `gammu identify` like a modem does.
    found = modems_module.identify(str(tmp_path), connection="none", model="dummy")
    assert found == {
        "manufacturer": "Gammu",
        "model": "unknown (Dummy)",
        "imei": "999999999999999",
        "imsi": "994299429942994",
    }


def test_sim_show_lists_events_and_checks(runner, sessions, modems):
    modems.add("sim1", start=False)
    report_identity(sessions, "sim1", "250011234567890", "861234567890123", alive=False)
    passes.identity_pass(sessions)
    shown = invoke(runner, "sim", "show", "sim1")
    assert "identity_recorded: card IMSI 250011234567890" in shown.output
