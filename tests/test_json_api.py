"""JSON API: /api/v1/messages, /api/v1/sims, the OpenAPI document."""

from __future__ import annotations

import json
import re

import pytest

from bridge.jobs.dispatch import NO_SIM
from tests.conftest import wait_for
from tests.helpers import dispatch_all, harvest_until, stored_counts


def post(client, key, body, **headers):
    # json.dumps escapes non-ASCII, so even a lone surrogate travels as a
    # client would send it: the six characters \ud800.
    return client.post(
        "/api/v1/messages",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}", **headers},
    )


def test_post_queues_then_message_reports_sim_parts_and_times(client, modems, make_user, sessions, settings):
    user = make_user()
    modems.add("simA")
    response = post(client, user["key"], {"to": ["+79991234567"], "text": "Order 42 is ready"})
    assert response.status_code == 202
    [accepted] = response.get_json()
    assert accepted["status"] == "queued" and accepted["to"] == "+79991234567"

    dispatch_all(sessions, settings)
    harvest_until(sessions, [accepted["id"]])
    view = client.get(
        f"/api/v1/messages/{accepted['id']}", headers={"Authorization": f"Bearer {user['key']}"}
    ).get_json()
    assert view["status"] == "sent"
    assert view["sim"] == "simA" and view["parts"] == 1 and view["attempts"] == 1
    assert view["created_at"] and view["dispatched_at"] and view["sent_at"]
    assert view["history"][0]["outcome"] == "sent"


def test_same_idempotency_key_and_payload_returns_the_same_ids(client, modems, make_user, sessions):
    user = make_user()
    modems.add("simA", start=False)
    body = {"to": "+79991234567,+79991234568", "text": "once"}
    first = post(client, user["key"], body, **{"Idempotency-Key": "k-1"})
    again = post(client, user["key"], body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 202 and again.status_code == 200
    assert [m["id"] for m in first.get_json()] == [m["id"] for m in again.get_json()]
    assert stored_counts(sessions)[:2] == (2, 1)


def test_same_idempotency_key_with_another_payload_is_422(client, modems, make_user, sessions):
    user = make_user()
    modems.add("simA", start=False)
    post(client, user["key"], {"to": "+79991234567", "text": "one"}, **{"Idempotency-Key": "k"})
    response = post(client, user["key"], {"to": "+79991234567", "text": "two"}, **{"Idempotency-Key": "k"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "idempotency_key"
    assert stored_counts(sessions)[:2] == (1, 1)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"text": "no recipient"}, "to"),
        ({"to": "+79991234567"}, "text"),
        ({"to": "+79991234567", "text": ""}, "text"),
        ({"to": 79991234567, "text": "x"}, "to"),
        ({"to": "+79991234567", "text": "x", "flash": "yes"}, "flash"),
        ({"to": "+79991234567", "text": "x", "attempts": True}, "attempts"),
        ({"to": "+79991234567", "text": "x", "priority": 10}, "priority"),
        ({"to": "+79991234567", "text": "x", "send_at": "tomorrow"}, "send_at"),
        ({"to": "+79991234567", "text": "x", "valid_for": 0}, "valid_for"),
        ({"to": "+79991234567", "text": "x", "colour": "red"}, "colour"),
        ({"to": ["+79991234567", "12"], "text": "x"}, "to"),
    ],
)
def test_bad_json_input_names_the_field_and_stores_nothing(client, modems, make_user, sessions, body, field):
    user = make_user()
    modems.add("simA", start=False)
    response = post(client, user["key"], body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    assert stored_counts(sessions) == (0, 0, 0)


def test_body_that_is_not_json_is_400(client, modems, make_user):
    user = make_user()
    response = client.post(
        "/api/v1/messages", data="to=1", headers={"Authorization": f"Bearer {user['key']}"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"


def test_missing_or_wrong_key_is_401_and_blocked_user_403(client, make_user):
    blocked = make_user("bob", blocked=True)
    assert client.post("/api/v1/messages", json={}).status_code == 401
    wrong = post(client, "sb_not-a-key", {"to": "+79991234567", "text": "x"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert post(client, blocked["key"], {"to": "+79991234567", "text": "x"}).status_code == 403
    # Credentials first: a stranger learns nothing about which fields are wrong.
    assert post(client, "sb_not-a-key", {"colour": "red"}).status_code == 401


def test_another_users_message_is_not_found(client, modems, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    modems.add("simA", start=False)
    [message] = post(client, alice["key"], {"to": "+79991234567", "text": "private"}).get_json()
    response = client.get(
        f"/api/v1/messages/{message['id']}", headers={"Authorization": f"Bearer {bob['key']}"}
    )
    assert response.status_code == 404


def test_message_waits_with_a_visible_reason_when_no_sim_is_healthy(
    client, modems, make_user, sessions, settings
):
    user = make_user()
    modems.add("simA", start=False)  # provisioned, but its daemon is not running
    [message] = post(client, user["key"], {"to": "+79991234567", "text": "x"}).get_json()
    dispatch_all(sessions, settings)
    view = client.get(
        f"/api/v1/messages/{message['id']}", headers={"Authorization": f"Bearer {user['key']}"}
    ).get_json()
    assert view["status"] == "queued"
    assert view["wait_reason"] == NO_SIM


def test_sims_lists_health_and_usage(client, modems, make_user, sessions, settings):
    user = make_user()
    modems.add("simA", limit=100)
    post(client, user["key"], {"to": "+79991234567", "text": "x" * 200})
    dispatch_all(sessions, settings)

    def listing():
        [sim] = client.get("/api/v1/sims", headers={"Authorization": f"Bearer {user['key']}"}).get_json()
        return sim if sim["signal"] != -1 else None  # -1 until the first status refresh

    sim = wait_for(listing, what="the daemon's first status refresh")
    assert sim["name"] == "simA" and sim["healthy"] is True
    assert sim["parts_used"] == 2 and sim["monthly_limit"] == 100
    assert sim["signal"] == 42 and sim["battery"] == 100  # what Gammu's dummy phone reports


def test_openapi_document_describes_every_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    routes = {
        re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert routes <= set(document["paths"])


def test_healthz_and_unknown_routes_answer_json(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.get_json()["error"]["status"] == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"to": "+79991234567", "text": "x", "send_at": "9999-12-31T23:59:59-05:00"}, "send_at"),
        ({"to": "+79991234567", "text": "x", "send_at": "9999-12-31T23:00:00", "valid_for": 7200}, "send_at"),
        ({"to": "+79991234567", "text": "broken \ud800 surrogate"}, "text"),
        ({"to": "+79991234567", "text": "x", "callback_url": "http://h:99999/"}, "callback_url"),
        ({"to": "+79991234567", "text": "x", "callback_url": "http://[::1/"}, "callback_url"),
        ({"to": "+79991234567", "text": "x", "callback_url": "http://a..b/"}, "callback_url"),
    ],
)
def test_edge_inputs_are_400_not_500(client, modems, make_user, sessions, body, field):
    user = make_user()
    modems.add("simA", start=False)
    client.put("/api/v1/webhook", json={"url": ""}, headers={"Authorization": f"Bearer {user['key']}"})
    response = post(client, user["key"], body)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field
    assert stored_counts(sessions)[0] == 0


def test_inbound_cursor_must_be_plain_digits(client, make_user):
    user = make_user()
    response = client.get("/api/v1/inbound?since=²", headers={"Authorization": f"Bearer {user['key']}"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "since"


@pytest.mark.parametrize(
    "raw", ["[" * 100_000 + "]" * 100_000, '{"to": ' + "[" * 100_000 + "]" * 100_000 + "}"]
)
@pytest.mark.parametrize(
    "path, method", [("/api/v1/messages", "post"), ("/api/v1/webhook", "put"), ("/api/v1/optouts", "post")]
)
def test_deeply_nested_json_is_400_not_500(client, make_user, sessions, raw, path, method):
    user = make_user()
    response = getattr(client, method)(
        path, data=raw, content_type="application/json", headers={"Authorization": f"Bearer {user['key']}"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"
    assert stored_counts(sessions) == (0, 0, 0)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"to": [1] * 300_000, "text": "x"}, "to"),
        ({"to": "+79991234567", "text": "x", **{f"k{i:06}": 1 for i in range(50_000)}}, "k000000"),
    ],
)
def test_huge_bad_bodies_are_400_naming_the_field(client, make_user, sessions, body, field):
    # pydantic would report every bad item and unknown key; one is enough.
    user = make_user()
    response = post(client, user["key"], body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field
    assert stored_counts(sessions) == (0, 0, 0)
