"""The OpenAPI document: it names every route the app serves and no other,
it is valid OpenAPI 3.1, and what the real API answers fits both the
schemas it documents and the pydantic models they were built from."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import TypeAdapter

from bridge.jobs.passes import webhook_pass
from bridge.web.api_schemas import WebhookEvent
from bridge.web.openapi import ROUTES, openapi_document
from tests.conftest import wait_for
from tests.helpers import dispatch_all, harvest_until
from tests.test_incoming import wait_inbound

API_PREFIXES = ("/api/v1/", "/smsc", "/healthz", "/readyz", "/metrics")


class Contract:
    """Checks an answer against the served document and the route's model."""

    def __init__(self, client):
        self.document = client.get("/api/v1/openapi.json").get_json()
        self.checked: set[tuple[str, str, str]] = set()

    def check(self, response, method: str, path: str):
        status = str(response.status_code)
        reply = self.document["paths"][path][method]["responses"].get(status)
        assert reply is not None, f"{method.upper()} {path} answered {status}: not documented"
        reply = self._resolve(reply)
        schema = reply["content"]["application/json"]["schema"]
        self.validate(response.get_json(), schema)
        route = next(r for r in ROUTES if (r.method, r.path) == (method, path))
        body = route.replies[status].body
        if not isinstance(body, dict):
            TypeAdapter(body).validate_json(response.data, strict=True)
        self.checked.add((method, path, status))
        return response

    def validate(self, value, schema: dict) -> None:
        # The refs point into the document: validate with it as the root.
        jsonschema.validate(
            value, {**schema, "components": self.document["components"]}, cls=jsonschema.Draft202012Validator
        )

    def _resolve(self, reply: dict) -> dict:
        if "$ref" in reply:
            return self.document["components"]["responses"][reply["$ref"].rsplit("/", 1)[1]]
        return reply


def served_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIXES):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_route_the_app_serves_is_documented_and_nothing_more(app):
    document = openapi_document()
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served_routes(app) == documented


def test_served_document_is_valid_openapi_3_1(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    # Every nested model is hoisted into components, none left in a $defs.
    assert "$defs" not in json.dumps(document)


def test_request_schemas_are_the_validating_models():
    schemas = openapi_document()["components"]["schemas"]
    assert schemas["SendRequest"]["additionalProperties"] is False
    assert schemas["SendRequest"]["required"] == ["to", "text"]
    assert set(schemas["SendRequest"]["properties"]) == {
        "to",
        "text",
        "flash",
        "attempts",
        "priority",
        "send_at",
        "valid_for",
        "delivery_report",
        "callback_url",
        "on_uncertain",
        "quiet_hours",
        "sim",
    }


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"to": "+79991234567", "text": "x", "attempts": "3"}, "attempts", "must be an integer"),
        ({"to": "+79991234567", "text": "x", "attempts": 3.0}, "attempts", "must be an integer"),
        ({"to": "+79991234567", "text": "x", "flash": 1}, "flash", "must be a boolean"),
        ({"to": "+79991234567", "text": None}, "text", "a message text is required"),
        (
            {"to": ["+79991234567", 7], "text": "x"},
            "to",
            "a phone number, a comma-separated string or a list of them",
        ),
        ({"to": 7, "text": 7, "zebra": 1, "apple": 1}, "apple", "unknown field"),
        ({"to": "+79991234567", "text": "x", "priority": 10}, "priority", "must be between 0 and 9"),
    ],
)
def test_refused_fields_are_named_in_the_projects_words(client, make_user, modems, body, field, message):
    user = make_user()
    response = client.post("/api/v1/messages", json=body, headers={"Authorization": f"Bearer {user['key']}"})
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "message": message, "field": field}}


def test_answers_of_the_real_api_fit_the_document(client, modems, make_user, sessions, settings, receiver):
    api = Contract(client)
    alice, admin = make_user("alice"), make_user("root", admin=True)
    blocked = make_user("bob", blocked=True)
    auth = {"Authorization": f"Bearer {alice['key']}"}
    as_admin = {"Authorization": f"Bearer {admin['key']}"}
    modems.add("simA", owner="alice")
    hook = receiver()

    api.check(client.get("/healthz"), "get", "/healthz")
    api.check(client.get("/readyz"), "get", "/readyz")  # the worker never ran: 503
    api.check(client.get("/api/v1/openapi.json"), "get", "/api/v1/openapi.json")
    webhook = api.check(
        client.put("/api/v1/webhook", headers=auth, json={"url": hook.url}), "put", "/api/v1/webhook"
    )
    api.check(client.put("/api/v1/webhook", headers=auth, json={"url": 5}), "put", "/api/v1/webhook")

    messages = "/api/v1/messages"
    body = {"to": "+79991234567,+79991234568", "text": "Order 42 is ready", "send_at": None}
    [first, second] = api.check(
        client.post(messages, headers={**auth, "Idempotency-Key": "k"}, json=body), "post", messages
    ).get_json()
    api.check(client.post(messages, headers={**auth, "Idempotency-Key": "k"}, json=body), "post", messages)
    api.check(
        client.post(messages, headers={**auth, "Idempotency-Key": "k"}, json={**body, "text": "2"}),
        "post",
        messages,
    )
    api.check(client.post(messages, headers=auth, json={"to": "+7"}), "post", messages)
    api.check(client.post(messages, json=body), "post", messages)
    api.check(
        client.post(messages, headers={"Authorization": f"Bearer {blocked['key']}"}, json=body),
        "post",
        messages,
    )
    dispatch_all(sessions, settings)
    harvest_until(sessions, [first["id"], second["id"]])  # sms:sent, twice
    one = "/api/v1/messages/{message_id}"
    view = api.check(client.get(f"{messages}/{first['id']}", headers=auth), "get", one).get_json()
    assert view["history"], "a dispatched message shows its hand-off"
    api.check(client.get(f"{messages}/999999", headers=auth), "get", one)

    sims = wait_for(
        lambda: (r := client.get("/api/v1/sims", headers=auth)).get_json()[0]["signal"] != -1 and r,
        what="the daemon's first status refresh",
    )
    api.check(sims, "get", "/api/v1/sims")

    # STOP puts the sender on the opt-out list: a rule result, and an opt-out from `sms`.
    modems.receive("simA", "+79991112233", "STOP")
    wait_inbound(sessions, settings)
    page = api.check(client.get("/api/v1/inbound", headers=as_admin), "get", "/api/v1/inbound")
    assert page.get_json()["items"][0]["rules"]
    api.check(client.get("/api/v1/inbound?limit=0", headers=auth), "get", "/api/v1/inbound")
    wait_for(
        lambda: webhook_pass(sessions, settings) and len(hook.requests) >= 3,
        what="the sms:sent and sms:received webhooks",
    )
    for post in hook.requests:
        event = post["headers"]["X-Smsbridge-Event"]
        request_body = api.document["webhooks"][event]["post"]["requestBody"]["content"]
        api.validate(json.loads(post["body"]), request_body["application/json"]["schema"])
        WebhookEvent.model_validate_json(post["body"], strict=True)
    assert {p["headers"]["X-Smsbridge-Event"] for p in hook.requests} == {"sms:sent", "sms:received"}
    assert webhook.get_json()["events"] == list(api.document["webhooks"])

    optouts, one_optout = "/api/v1/optouts", "/api/v1/optouts/{phone}"
    api.check(
        client.post(optouts, headers=auth, json={"phone": "+79991112244", "reason": "asked"}), "post", optouts
    )
    api.check(client.post(optouts, headers=auth, json={"phone": "+79991112244"}), "post", optouts)
    api.check(client.post(optouts, headers=auth, json={"phone": "12"}), "post", optouts)
    api.check(client.post(optouts, headers=as_admin, json={"phone": "+79991112244"}), "post", optouts)
    listing = api.check(client.get(optouts, headers=as_admin), "get", optouts).get_json()
    assert {o["source"] for o in listing} == {"api", "sms"}
    own = api.check(client.get(optouts, headers=auth), "get", optouts).get_json()
    assert [o["phone"] for o in own] == ["+79991112244"]
    api.check(client.delete(f"{optouts}/+79991112244", headers=auth), "delete", one_optout)
    api.check(client.delete(f"{optouts}/+79991112244?reason=ok", headers=as_admin), "delete", one_optout)
    api.check(client.delete(f"{optouts}/+79991112244", headers=as_admin), "delete", one_optout)

    classic = {"login": "alice", "pass": alice["password"], "tel": "+79991234567", "msg": "hi"}
    api.check(client.get("/smsc", query_string=classic), "get", "/smsc")
    api.check(client.post("/smsc.php", data={**classic, "flash": "maybe"}), "post", "/smsc.php")
    api.check(client.get("/smsc", query_string={**classic, "pass": "wrong"}), "get", "/smsc")

    statuses = {status for _, _, status in api.checked}
    assert statuses >= {"200", "201", "202", "400", "401", "403", "404", "422"}
