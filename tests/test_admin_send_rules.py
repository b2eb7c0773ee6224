"""The send form's scheduling, validity and SIM choice, and the rules page's
edit and pause, through Flask's test client and click's runner against the
real database (and real daemons where a text must arrive or leave). The
browser tests are in test_admin_send_rules_browser.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import cli
from bridge import rules, users
from bridge.clock import utcnow
from bridge.models import Message, MessageStatus, Rule, RuleResult, Sim
from tests.helpers import dispatch_all
from tests.test_admin_pages import log_in, post
from tests.test_incoming import wait_inbound


@pytest.fixture
def sim(sessions, settings):
    """A SIM row without a daemon: enough for accept() to take messages."""
    with sessions.begin() as session:
        session.add(Sim(name="simA", number="+79990000001", simulated=True, enabled=True))


def send(client, **fields):
    data = {"to": "+79991234567", "text": "hello", "attempts": "1", **fields}
    return post(client, "/admin/send/", data, page="/admin/send/")


def stored(sessions) -> list[Message]:
    with sessions.begin() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def invoke(runner, *args):
    return runner.invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


# ------------------------------------------------------------------ send form


def test_send_at_is_read_in_the_users_time_zone_and_the_page_says_so(client, make_user, sessions, sim):
    user = make_user(admin=True)
    with sessions.begin() as session:
        users.set_send_window(session, user["login"], None, "Europe/Moscow")  # UTC+3, no DST
    log_in(client, user)
    page = client.get("/admin/send/").get_data(as_text=True)
    assert "Read in <strong>Europe/Moscow</strong> (your time zone)" in page
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    response = send(client, send_at=tomorrow.strftime("%Y-%m-%dT09:30"), valid_for="3600")
    assert response.status_code == 200, response.get_data(as_text=True)
    [message] = stored(sessions)
    assert message.send_at == tomorrow.replace(hour=6)  # 09:30 Moscow is 06:30 UTC
    assert message.expires_at == tomorrow.replace(hour=7)
    assert message.due_at == message.send_at
    body = response.get_data(as_text=True)
    assert f"Scheduled for <strong>{tomorrow:%Y-%m-%d} 09:30:00 MSK</strong>" in body
    detail = client.get(f"/admin/messages/{message.id}").get_data(as_text=True)
    assert "scheduled for " + f"{tomorrow:%Y-%m-%d} 09:30:00 MSK" in detail  # the reader's zone


def test_without_a_time_zone_send_at_is_utc_and_the_page_says_so(client, make_user, sessions, sim):
    user = make_user()
    log_in(client, user)
    assert "Read in <strong>UTC</strong> (you have no time zone set" in client.get("/admin/send/").get_data(
        as_text=True
    )
    later = (utcnow() + timedelta(hours=2)).replace(second=0, microsecond=0)
    assert send(client, send_at=later.strftime("%Y-%m-%d %H:%M")).status_code == 200  # as placeholder
    assert stored(sessions)[0].send_at == later


@pytest.mark.parametrize(
    "send_at, words",
    [("2001-01-01T10:00", "is in the past"), ("tomorrow at nine", "is not an ISO 8601 date and time")],
)
def test_a_bad_send_at_is_shown_next_to_send_at_and_nothing_is_stored(
    client, make_user, sessions, sim, send_at, words
):
    log_in(client, make_user())
    response = send(client, send_at=send_at)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'id="error-send_at"' in body and words in body
    assert 'id="send_at" name="send_at" value="' + send_at in body
    assert stored(sessions) == []


def test_a_validity_outside_the_apis_range_names_valid_for(client, make_user, sessions, sim):
    log_in(client, make_user())
    response = send(client, valid_for=str(8 * 24 * 3600))
    assert response.status_code == 400
    assert 'id="error-valid_for"' in response.get_data(as_text=True)
    assert stored(sessions) == []


def test_recipients_field_is_focused_on_open_and_the_counter_is_there(client, make_user, sim):
    log_in(client, make_user())
    body = client.get("/admin/send/").get_data(as_text=True)
    assert 'id="to" name="to" rows="3" autofocus' in body
    assert 'id="sms-total"' in body


def test_only_admins_see_the_sim_choice_and_a_posted_choice_from_a_user_is_refused(
    client, make_user, sessions, sim
):
    log_in(client, make_user("alice"))
    page = client.get("/admin/send/").get_data(as_text=True)
    assert 'id="sim"' not in page and "any healthy SIM" not in page
    response = send(client, sim="simA")
    assert response.status_code == 400
    assert "only an admin may choose the SIM" in response.get_data(as_text=True)
    assert stored(sessions) == []


def test_an_admin_sees_sims_and_an_unknown_sim_is_refused_next_to_the_field(client, make_user, sessions, sim):
    log_in(client, make_user("root", admin=True))
    page = client.get("/admin/send/").get_data(as_text=True)
    assert '<option value="">any healthy SIM</option>' in page and '<option value="simA"' in page
    response = send(client, sim="nosuch")
    assert response.status_code == 400
    assert 'id="error-sim"' in response.get_data(as_text=True)
    assert stored(sessions) == []


def test_a_message_sent_through_a_chosen_sim_leaves_only_through_it(
    client, make_user, sessions, settings, modems
):
    modems.add("simA")
    modems.add("simB")
    log_in(client, make_user("root", admin=True))
    response = send(client, to="+79991234567, +79991234568", sim="simB")
    assert response.status_code == 200, response.get_data(as_text=True)
    dispatch_all(sessions, settings)
    with sessions.begin() as session:
        chosen = session.scalar(select(Sim.id).where(Sim.name == "simB"))
        rows = session.execute(select(Message.sim_id, Message.only_sim_id)).all()
    assert rows == [(chosen, chosen), (chosen, chosen)]


def test_a_chosen_sim_that_is_down_keeps_its_message_waiting(client, make_user, sessions, settings, modems):
    modems.add("simA")
    modems.add("simB", start=False)  # no daemon: never healthy
    log_in(client, make_user("root", admin=True))
    assert send(client, sim="simB").status_code == 200
    dispatch_all(sessions, settings)
    [message] = stored(sessions)
    assert (message.status, message.sim_id) == (MessageStatus.QUEUED, None)
    assert message.wait_reason == "the SIM chosen for it is not healthy, enabled and free to take it now"


# ----------------------------------------------------------------- rules page


def add(sessions, settings, **fields):
    values = {"login": None, "match_kind": "keyword", "pattern": "hours", "action": "reply"}
    values.update(fields)
    values.setdefault("argument", "Open 9-18")
    with sessions.begin() as session:
        return rules.add_rule(session, settings, **values).id


def rule(sessions, rule_id) -> Rule:
    with sessions.begin() as session:
        found = session.get(Rule, rule_id)
        session.expunge(found)
        return found


def test_a_rule_is_edited_in_place_and_keeps_its_position(client, make_user, sessions, settings):
    make_user("shop")
    first = add(sessions, settings, pattern="first")
    second = add(sessions, settings)
    log_in(client, make_user("root", admin=True))
    response = post(
        client,
        f"/admin/rules/{second}/edit",
        {
            "owner": "shop",
            "match_kind": "regex",
            "pattern": "open|hours",
            "action": "reply",
            "argument": "9-18",
        },
        page="/admin/rules/",
    )
    assert response.status_code == 302
    edited = rule(sessions, second)
    assert (edited.match_kind, edited.pattern, edited.argument, edited.position) == (
        "regex",
        "open|hours",
        "9-18",
        2,
    )
    assert edited.user_id is not None and rule(sessions, first).position == 1
    assert "Rule saved" in client.get("/admin/rules/").get_data(as_text=True)


def test_a_bad_edit_reopens_that_rules_form_with_the_error_and_changes_nothing(
    client, make_user, sessions, settings
):
    rule_id = add(sessions, settings)
    log_in(client, make_user("root", admin=True))
    response = post(
        client,
        f"/admin/rules/{rule_id}/edit",
        {"owner": "", "match_kind": "regex", "pattern": "(unclosed", "action": "reply", "argument": "x"},
        page="/admin/rules/",
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f'id="error-edit-{rule_id}"' in body and "not a regular expression" in body
    assert 'value="(unclosed"' in body
    assert rule(sessions, rule_id).pattern == "hours"


def test_editing_a_forward_url_rule_keeps_its_secret_unless_the_url_changes(
    client, make_user, sessions, settings
):
    rule_id = add(sessions, settings, action="forward_url", argument="http://127.0.0.1:9/sms")
    secret = rule(sessions, rule_id).secret
    log_in(client, make_user("root", admin=True))
    fields = {
        "owner": "",
        "match_kind": "keyword",
        "action": "forward_url",
        "argument": "http://127.0.0.1:9/sms",
    }
    response = post(
        client, f"/admin/rules/{rule_id}/edit", {**fields, "pattern": "order"}, page="/admin/rules/"
    )
    assert response.status_code == 302 and rule(sessions, rule_id).secret == secret
    response = post(
        client,
        f"/admin/rules/{rule_id}/edit",
        {**fields, "pattern": "order", "argument": "http://127.0.0.1:9/v2"},
        page="/admin/rules/",
    )
    new_secret = rule(sessions, rule_id).secret
    assert response.status_code == 200 and new_secret != secret
    body = response.get_data(as_text=True)
    assert 'id="new-secret"' in body and new_secret in body


def test_pause_and_resume_from_the_page(client, make_user, sessions, settings):
    rule_id = add(sessions, settings)
    log_in(client, make_user("root", admin=True))
    assert post(client, f"/admin/rules/{rule_id}/pause", page="/admin/rules/").status_code == 302
    assert rule(sessions, rule_id).enabled is False
    assert "rule-paused" in client.get("/admin/rules/").get_data(as_text=True)
    assert post(client, f"/admin/rules/{rule_id}/resume", page="/admin/rules/").status_code == 302
    assert rule(sessions, rule_id).enabled is True


def test_rule_edits_need_an_admin(client, make_user, sessions, settings):
    rule_id = add(sessions, settings)
    log_in(client, make_user("alice"))
    assert post(client, f"/admin/rules/{rule_id}/pause", page="/admin/send/").status_code == 403
    assert rule(sessions, rule_id).enabled is True


def test_an_everyone_reply_rule_warns_about_sims_without_an_owner(client, make_user, sessions, settings, sim):
    make_user("shop")
    log_in(client, make_user("root", admin=True))
    fields = {"owner": "", "match_kind": "keyword", "pattern": "hours", "action": "reply", "argument": "9-18"}
    response = post(client, "/admin/rules/add", fields, page="/admin/rules/")
    assert response.status_code == 302
    page = client.get("/admin/rules/").get_data(as_text=True)
    assert "SIM simA has no owner" in page and "this rule will not reply" in page
    assert "rule-warning" in page
    rule_id = rules_ids(sessions)[0]
    # A user's rule only sees that user's texts: nothing to warn about.
    post(client, f"/admin/rules/{rule_id}/edit", {**fields, "owner": "shop"}, page="/admin/rules/")
    assert "has no owner" not in client.get("/admin/rules/").get_data(as_text=True)


def rules_ids(sessions) -> list[int]:
    with sessions.begin() as session:
        return [r.id for r in rules.list_rules(session)]


# ------------------------------------------------------------ rules at work


def results(sessions, inbound_id) -> list[tuple[int | None, str, str]]:
    with sessions.begin() as session:
        return [
            tuple(r)
            for r in session.execute(
                select(RuleResult.rule_id, RuleResult.outcome, RuleResult.detail)
                .where(RuleResult.inbound_id == inbound_id)
                .order_by(RuleResult.id)
            )
        ]


def test_a_paused_rule_is_skipped_by_a_received_text_and_runs_again_once_resumed(
    runner, modems, make_user, sessions, settings
):
    make_user("shop")
    modems.add("simA", owner="shop")
    paused = add(sessions, settings, pattern="hours", argument="Open 9-18")
    running = add(sessions, settings, match_kind="regex", pattern="hours", action="opt_out", argument=None)
    assert invoke(runner, "rule", "pause", paused).output == f"rule {paused} paused\n"
    assert "(paused)" in invoke(runner, "rule", "list").output
    modems.receive("simA", "+79991112233", "hours?")
    [first] = wait_inbound(sessions, settings)
    assert [r[0] for r in results(sessions, first.id)] == [running]

    assert invoke(runner, "rule", "resume", paused).exit_code == 0
    modems.receive("simA", "+79991112244", "hours please")
    second = wait_inbound(sessions, settings, count=2)[1]
    assert [(r[0], r[1]) for r in results(sessions, second.id)] == [(paused, "done"), (running, "done")]


def test_an_everyone_reply_on_an_unowned_sim_says_whose_it_is_not_and_what_to_do(
    runner, modems, make_user, sessions, settings
):
    modems.add("simA")
    added = invoke(runner, "rule", "add", "--keyword", "hours", "--reply", "Open 9-18")
    assert "warning: SIM simA has no owner" in added.output and "will not reply" in added.output
    modems.receive("simA", "+79991112233", "hours?")
    [inbound] = wait_inbound(sessions, settings)
    [(_, outcome, detail)] = results(sessions, inbound.id)
    assert outcome == "error"
    assert detail.startswith("not sent: no user to send as. SIM simA has no owner")
    assert "+79991112233" in detail and "give the SIM an owner" in detail
    assert stored(sessions) == []


# ------------------------------------------------------------------ rule CLI


def test_rule_edit_changes_only_what_is_given(runner, make_user, sessions, settings):
    make_user("shop")
    rule_id = add(sessions, settings)
    result = invoke(runner, "rule", "edit", rule_id, "--pattern", "open", "--argument", "Open 10-19")
    assert result.exit_code == 0, result.output
    assert f"rule #{rule_id} [everyone] keyword 'open' -> reply Open 10-19" in result.output
    edited = rule(sessions, rule_id)
    assert (edited.match_kind, edited.action, edited.user_id) == ("keyword", "reply", None)
    assert invoke(runner, "rule", "edit", rule_id, "--user", "shop").exit_code == 0
    assert rule(sessions, rule_id).user_id is not None
    assert invoke(runner, "rule", "edit", rule_id, "--everyone").exit_code == 0
    assert rule(sessions, rule_id).user_id is None


def test_rule_edit_to_a_new_url_prints_the_new_secret_once(runner, sessions, settings):
    rule_id = add(sessions, settings, action="forward_url", argument="http://127.0.0.1:9/sms")
    old = rule(sessions, rule_id).secret
    kept = invoke(runner, "rule", "edit", rule_id, "--pattern", "order")
    assert "secret" not in kept.output and rule(sessions, rule_id).secret == old
    changed = invoke(runner, "rule", "edit", rule_id, "--argument", "http://127.0.0.1:9/v2")
    new = rule(sessions, rule_id).secret
    assert new != old and f"signed (X-Smsbridge-Signature) with: {new}" in changed.output


def test_rule_edit_refuses_bad_input_and_unknown_rules(runner, sessions, settings):
    rule_id = add(sessions, settings)
    bad = runner.invoke(cli.main, ["rule", "edit", str(rule_id), "--pattern", "two words"])
    assert bad.exit_code != 0 and "a keyword is one word" in bad.output
    assert rule(sessions, rule_id).pattern == "hours"
    missing = runner.invoke(cli.main, ["rule", "pause", "999999"])
    assert missing.exit_code != 0 and "no rule 999999" in missing.output


# ------------------------------------------------------ the same choice by API


def api_send(client, key, **body):
    return client.post(
        "/api/v1/messages",
        json={"to": "+79991234567", "text": "hi", **body},
        headers={"Authorization": f"Bearer {key}"},
    )


def test_the_api_takes_a_sim_choice_from_an_admins_key_only(client, make_user, sessions, sim):
    alice, root = make_user("alice"), make_user("root", admin=True)
    refused = api_send(client, alice["key"], sim="simA")
    assert refused.status_code == 403
    assert refused.get_json()["error"] == {
        "status": 403,
        "message": "only an admin may choose the SIM",
        "field": "sim",
    }
    assert stored(sessions) == []
    assert api_send(client, root["key"], sim="simA").status_code == 202
    with sessions.begin() as session:
        chosen = session.scalar(select(Sim.id).where(Sim.name == "simA"))
    assert [m.only_sim_id for m in stored(sessions)] == [chosen]
