"""The classic smsc?login=&pass=&tel=&msg= call, end to end through real
gammu-smsd daemons."""

from __future__ import annotations

import pytest

from tests.helpers import dispatch_all, harvest_until, sent_parts, stored_counts


def test_classic_url_with_two_recipients_leaves_through_two_sims(
    client, modems, make_user, sessions, settings
):
    user = make_user()
    modems.add("simA")
    modems.add("simB")

    response = client.get(
        "/smsc",
        query_string={
            "login": user["login"],
            "pass": user["password"],
            "tel": "+7 (999) 123-45-67, 89991234568",
            "msg": "Power is back at the dacha",
        },
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["success"] is True
    assert [m["to"] for m in body["messages"]] == ["+79991234567", "+79991234568"]
    ids = body["ids"]
    assert dispatch_all(sessions, settings) == 2
    harvest_until(sessions, ids)
    senders = {sent_parts(sessions, i)[0].sender_id for i in ids}
    assert senders == {"simA", "simB"}
    for message_id in ids:
        (part,) = sent_parts(sessions, message_id)
        assert part.text_decoded == "Power is back at the dacha"
        assert part.status == "SendingOKNoReport"


def test_smsc_php_alias_accepts_post_form(client, modems, make_user):
    user = make_user()
    modems.add("simA", start=False)
    response = client.post(
        "/smsc.php",
        data={
            "login": user["login"],
            "pass": user["password"],
            "tel": "+79991234567",
            "msg": "hi",
            "flash": "1",
        },
    )
    assert response.status_code == 200
    assert response.get_json()["success"] is True


def test_replace_message_is_accepted_but_said_not_applied(client, modems, make_user):
    user = make_user()
    modems.add("simA", start=False)
    response = client.get(
        "/smsc",
        query_string={
            "login": user["login"],
            "pass": user["password"],
            "tel": "+79991234567",
            "msg": "code 1234",
            "replacemessages_id": "7",
        },
    )
    assert response.status_code == 200
    assert "replacemessages_id is not applied" in response.get_json()["description"]


@pytest.mark.parametrize(
    "change, status, field",
    [
        ({"tel": None}, 400, "tel"),
        ({"msg": None}, 400, "msg"),
        ({"tel": "+79991234567,not-a-number"}, 400, "tel"),
        ({"tel": "+7999"}, 400, "tel"),
        ({"msg": "x" * 100_000}, 400, "msg"),
        ({"attempts": "many"}, 400, "attempts"),
        ({"attempts": "99"}, 400, "attempts"),
        ({"flash": "maybe"}, 400, "flash"),
        ({"login": None}, 400, "login"),
        ({"pass": None}, 400, "pass"),
        ({"pass": "wrong password"}, 401, None),
        ({"login": "nobody"}, 401, None),
    ],
)
def test_bad_classic_input_gets_a_clear_error_and_stores_nothing(
    client, modems, make_user, sessions, change, status, field
):
    user = make_user()
    modems.add("simA", start=False)
    params = {"login": user["login"], "pass": user["password"], "tel": "+79991234567", "msg": "hello"}
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}

    response = client.post("/smsc", data=params)

    assert response.status_code == status
    body = response.get_json()
    assert body["success"] is False and body["description"]
    if field:
        assert body["field"] == field
    assert stored_counts(sessions) == (0, 0, 0)


def test_a_right_password_forgets_that_logins_failures(client, modems, make_user, sessions):
    user = make_user()
    modems.add("simA", start=False)
    wrong = {"login": user["login"], "pass": "guess", "tel": "+79991234567", "msg": "hi"}
    right = {**wrong, "pass": user["password"]}
    statuses = [client.get("/smsc", query_string=wrong).status_code for _ in range(4)]
    statuses.append(client.get("/smsc", query_string=right).status_code)
    statuses += [client.get("/smsc", query_string=wrong).status_code for _ in range(5)]
    assert statuses == [401] * 4 + [200] + [401] * 5  # 9 wrong ones, never 5 in a row: no lockout
    assert client.get("/smsc", query_string=wrong).status_code == 401
    assert client.get("/smsc", query_string=wrong).status_code == 429  # the 7th after the success


def test_blocked_user_is_refused(client, modems, make_user, sessions):
    user = make_user(blocked=True)
    modems.add("simA", start=False)
    response = client.get(
        "/smsc",
        query_string={"login": user["login"], "pass": user["password"], "tel": "+79991234567", "msg": "hi"},
    )
    assert response.status_code == 403
    assert response.get_json() == {"success": False, "description": "user is blocked"}
    assert stored_counts(sessions) == (0, 0, 0)


def test_user_without_a_sim_is_refused(client, modems, make_user, sessions):
    user = make_user("alice")
    make_user("bob")
    modems.add("bobs-sim", owner="bob", start=False)
    response = client.get(
        "/smsc",
        query_string={"login": user["login"], "pass": user["password"], "tel": "+79991234567", "msg": "hi"},
    )
    assert response.status_code == 403
    assert "no SIM" in response.get_json()["description"]
    assert stored_counts(sessions) == (0, 0, 0)


def test_password_guessing_is_slowed_down_with_429(client, modems, make_user, sessions):
    user = make_user()
    modems.add("simA", start=False)
    wrong = {"login": user["login"], "pass": "guess", "tel": "+79991234567", "msg": "hi"}
    statuses = [client.get("/smsc", query_string=wrong).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:]
    refused = client.get("/smsc", query_string={**wrong, "pass": user["password"]})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["success"] is False
    assert stored_counts(sessions) == (0, 0, 0)
