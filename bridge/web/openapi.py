"""The OpenAPI 3.1 description of the HTTP API (``api.py`` and ``web.py``;
not the HTML admin under ``/admin``), served at ``GET /api/v1/openapi.json``.

Built, not written: the schemas are the pydantic models of ``api_schemas``
(the same ones ``api.py`` validates with), the paths come from ``ROUTES``
below, one entry per route and method, with the prose a caller needs. A
test checks that ``ROUTES`` and the app's URL map name the same routes.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from ..webhooks import EVENTS
from . import api_schemas as s

REF = "#/components/schemas/{model}"
MAX_BODY = "The request body is larger than 1 MiB."

DESCRIPTION = """\
Self-hosted SMS gateway over Gammu SMSD. Two styles of call send a text:

* **Classic** — `GET|POST /smsc` (or `/smsc.php`) with `login`, `pass`, `tel` and `msg` as \
query or form parameters, answering `{success, description, ...}`; a drop-in for the old PHP \
gateway.
* **JSON API** — `/api/v1`, authenticated with an API key (`Authorization: Bearer <key>`), with \
JSON bodies, idempotency keys, scheduling and message status; errors are \
`{error: {status, message, field?}}`.

Both store one message per distinct recipient and queue it; dispatch hands it to a SIM later. \
Times are UTC, ISO 8601 with a `Z`.

## Webhooks

Events are POSTed as JSON `{id, event, created_at, data}` (see `webhooks` below) to the user's \
URL (`PUT /api/v1/webhook`) or, for a message sent with `callback_url`, to that URL instead. \
Events: `sms:received` (a text attributed to the user arrived; `data` as in \
`GET /api/v1/inbound` without `id` and `rules`), `sms:sent`, `sms:delivered` and `sms:failed` \
(also sent for `undelivered`; `data` is the message's state).

Every request carries these headers:

* `X-Smsbridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the \
secret>` — the secret is the user's, returned by `PUT /api/v1/webhook` (`callback_url` events \
are signed with it too). `t` is the time of this attempt. To verify, compute the HMAC over the \
raw body bytes exactly as received, compare in constant time, and reject an old `t` \
(smsbridge's own check allows 300 seconds).
* `X-Smsbridge-Event` — the event name.
* `X-Smsbridge-Delivery` — the delivery id, also `id` in the payload.

Any 2xx answer acknowledges a delivery; anything else, a redirect (never followed) or no answer \
within `webhook_timeout` (default 10 s) is retried with exponential backoff — first after \
`webhook_backoff` (default 15 s), doubling, at most an hour apart — until `webhook_retry_hours` \
(default 48 h) after the event, then given up. Delivery is at least once: the same delivery may \
arrive more than once, so de-duplicate by `id`. Order is not guaranteed. The URL must be \
http(s); loopback and private addresses are refused (400) unless the operator sets \
`SMSBRIDGE_WEBHOOK_ALLOW_PRIVATE=1`, and are checked again before each attempt."""

TAGS = {
    "classic": "The old gateway's call; credentials are parameters.",
    "messages": "JSON API: send texts and follow them.",
    "sims": "JSON API: the SIMs a user may send through.",
    "inbound": "JSON API: texts received by the SIMs.",
    "optouts": "JSON API: numbers that asked not to be texted; dispatch never sends to them "
    "(the message becomes `opted_out`).",
    "webhooks": "JSON API: where events are POSTed.",
    "keys": "JSON API: the user's API keys.",
    "reports": "A report of the admin's notebook as CSV, for a spreadsheet's \"import from web\".",
    "meta": "Health and this document.",
}


@dataclasses.dataclass(frozen=True)
class Reply:
    """One status of a route. ``body`` is a model, ``list[model]``, a plain
    JSON schema or None; a ``name`` makes it a shared component."""

    description: str
    body: object = None
    headers: dict | None = None
    name: str | None = None
    media: str = "application/json"


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    replies: dict[str, Reply]
    description: str | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    media: tuple[str, ...] = ("application/json",)
    query: type[BaseModel] | None = None  # its fields are the query parameters
    parameters: tuple[dict, ...] = ()
    public: bool = False  # no API key


def _header(description: str, schema: dict) -> dict:
    return {"description": description, "schema": schema}


UNAUTHORIZED = Reply(
    "No `Authorization: Bearer <key>` header, or an unknown or revoked API key.",
    s.Error,
    headers={"WWW-Authenticate": _header('`Bearer realm="smsbridge"`', {"type": "string"})},
    name="Unauthorized",
)
BLOCKED = Reply("The API key's user is blocked.", s.Error, name="Blocked")
TOO_LARGE = Reply(MAX_BODY, s.Error, name="TooLarge")
RETRY_AFTER = {"Retry-After": _header("Seconds to wait before trying again.", {"type": "integer"})}
UNAVAILABLE_TEXT = (
    "The database is unreachable (stopped, restarting, or slower than "
    "`db_timeout`). Nothing was stored, unless the connection broke during the "
    "commit itself: try again after `Retry-After` seconds, with the same "
    "`Idempotency-Key` where the route takes one."
)
UNAVAILABLE = Reply(UNAVAILABLE_TEXT, s.Error, headers=RETRY_AFTER, name="Unavailable")


def _classic(method: str, path: str, operation_id: str) -> Route:
    """``/smsc`` and ``/smsc.php`` are one view; GET reads the query string,
    POST a form as well."""

    def error(text: str) -> Reply:
        return Reply(text, s.ClassicError)

    replies = {
        "200": Reply("Every recipient was queued, one message each.", s.ClassicResult),
        "400": error(
            "A parameter is missing or invalid; nothing was stored. `field` names it "
            "(login, pass, tel, msg, flash, dlr or attempts) and `description` starts "
            "with it, e.g. `tel: at least one recipient is required`."
        ),
        "401": error("Wrong login or password (no `field`)."),
        "403": error("The user is blocked, or no SIM is available to this user (no `field`)."),
        "429": Reply(
            "Too many wrong passwords: after 5 for one login from one address (or 20 "
            "for any logins from one address), each further one locks it out twice "
            "as long (1 s, 2 s, … 15 min), in every web process. A right password "
            "clears only its own login's count. Try again after `Retry-After` seconds.",
            s.ClassicError,
            headers={"Retry-After": {"schema": {"type": "integer"}}},
        ),
        "503": Reply(UNAVAILABLE_TEXT, s.ClassicError, headers=RETRY_AFTER),
    }
    required = "`login`, `pass`, `tel` and `msg` are required: without one the answer is 400."
    if method == "get":
        return Route(
            "get",
            path,
            operation_id + "Get",
            "classic",
            f"Send a text, classic style ({path})",
            replies,
            public=True,
            description="Parameters in the query string. " + required,
            query=s.ClassicRequest,
        )
    return Route(
        "post",
        path,
        operation_id + "Post",
        "classic",
        f"Send a text, classic style ({path})",
        {**replies, "413": Reply(MAX_BODY, s.ClassicError)},
        public=True,
        description="The same parameters as the GET call, as a form body or in the "
        "query string (the query string wins when both name one). " + required,
        body=s.ClassicRequest,
        body_required=False,
        media=("application/x-www-form-urlencoded", "multipart/form-data"),
    )


ROUTES = (
    Route(
        "get",
        "/healthz",
        "healthz",
        "meta",
        "Liveness: this web process answers",
        public=True,
        description="Does not touch the database, so an outage of it does not get a "
        "healthy process restarted; `/readyz` says whether the gateway can work.",
        replies={"200": Reply("The process is up.", s.Health)},
    ),
    Route(
        "get",
        "/readyz",
        "readyz",
        "meta",
        "Readiness: the database answers, the worker runs, a SIM is healthy",
        public=True,
        replies={
            "200": Reply("Ready: every check passed.", s.Readiness),
            "503": Reply(
                "Not ready: `problems` says what is wrong (the database did not answer within "
                "`db_timeout`, the worker has not passed within `worker_down_after`, or no SIM is healthy).",
                s.Readiness,
                headers=RETRY_AFTER,
            ),
        },
    ),
    Route(
        "get",
        "/metrics",
        "metrics",
        "meta",
        "Prometheus metrics, read from the database when scraped",
        public=True,
        description="Served to loopback clients only, unless `metrics_token` is set: then to "
        'anyone with `Authorization: Bearer <metrics_token>`. README "Monitoring" lists the names.',
        replies={
            "200": Reply(
                "The Prometheus text exposition format (0.0.4).",
                {"type": "string"},
                media="text/plain; version=0.0.4; charset=utf-8",
            ),
            "401": Reply(
                "`metrics_token` is set and the Bearer token is missing or wrong.",
                {"type": "string"},
                media="text/plain",
            ),
            "403": Reply(
                "Not a loopback client, and no `metrics_token` is set.",
                {"type": "string"},
                media="text/plain",
            ),
        },
    ),
    *(
        _classic(method, path, name)
        for path, name in (("/smsc", "smsc"), ("/smsc.php", "smscPhp"))
        for method in ("get", "post")
    ),
    Route(
        "post",
        "/api/v1/messages",
        "createMessages",
        "messages",
        "Queue a text to one or more recipients",
        description="Stores one queued message per distinct recipient. With an "
        "`Idempotency-Key`, repeating the same request answers with the messages "
        "of the first one (200) instead of sending again.",
        body=s.SendRequest,
        parameters=(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Any string of 1-255 characters, unique per request for "
                "this user. Otherwise 400 with field `idempotency_key`.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
        ),
        replies={
            "202": Reply(
                "Queued: one entry per distinct recipient, in the order given, status `queued`.",
                list[s.AcceptedMessage],
            ),
            "200": Reply(
                "Idempotent replay: this key was used before with the same payload. "
                "Nothing new was stored; the entries are the earlier messages with "
                "their current status.",
                list[s.AcceptedMessage],
                headers={"Idempotent-Replayed": _header("Always `true` on a replay.", {"const": "true"})},
            ),
            "400": Reply(
                "Invalid input; nothing was stored. `field` names it: `body` (not a "
                "JSON object), the first unknown field, `to`, `text`, `flash`, "
                "`attempts`, `priority`, `send_at`, `valid_for`, `delivery_report`, "
                "`callback_url` (not an http(s) URL, host not resolvable, or a "
                "loopback/private address the operator does not allow) or "
                "`idempotency_key`.",
                s.Error,
            ),
            "401": UNAUTHORIZED,
            "403": Reply("The user is blocked, or no SIM is available to this user.", s.Error),
            "413": TOO_LARGE,
            "422": Reply(
                "The `Idempotency-Key` was already used for a different request (field `idempotency_key`).",
                s.Error,
            ),
        },
    ),
    Route(
        "get",
        "/api/v1/messages/{message_id}",
        "getMessage",
        "messages",
        "One message: its state and every hand-off to a SIM",
        parameters=(
            {
                "name": "message_id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0},
            },
        ),
        replies={
            "200": Reply("The message.", s.Message),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
            "404": Reply(
                "No such message, or it belongs to another user (only admins see every message).", s.Error
            ),
        },
    ),
    Route(
        "get",
        "/api/v1/sims",
        "listSims",
        "sims",
        "The SIMs this user may send through (admins: all), by name",
        replies={
            "200": Reply("Shared SIMs and the user's own, disabled ones included.", list[s.SIM]),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
        },
    ),
    Route(
        "get",
        "/api/v1/inbound",
        "listInbound",
        "inbound",
        "Received texts, oldest first, cursor-paged",
        description="Texts with an id greater than `since`, at most `limit` of them. Pass the "
        "answer's `next_since` as `since` to get the next page; an empty `items` "
        "means there is nothing newer yet. A text belongs to the user who last "
        "texted its sender through that SIM, else to the SIM's owner; users see "
        "their own, admins see every text.",
        query=s.InboundQuery,
        replies={
            "200": Reply("One page.", s.InboundPage),
            "400": Reply(
                "`since` or `limit` is not a whole number in its range (`field` names it).", s.Error
            ),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
        },
    ),
    Route(
        "get",
        "/api/v1/optouts",
        "listOptOuts",
        "optouts",
        "The opt-out list, oldest first",
        description="An admin reads the global list (every user's customers and what they "
        "texted); any other user reads their own list.",
        replies={
            "200": Reply("Every number on the list.", list[s.OptOut]),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
        },
    ),
    Route(
        "post",
        "/api/v1/optouts",
        "addOptOut",
        "optouts",
        "Put a number on the opt-out list",
        description="An admin adds to the global list (no user's messages reach the number; "
        "STOP replies feed it too); any other user adds to their own list (only their "
        "messages are kept from the number). The change is recorded with the user's login.",
        body=s.OptOutRequest,
        replies={
            "201": Reply("Added.", s.OptOutAdded),
            "200": Reply(
                "Already on that list (the global one for an admin, the user's own otherwise); "
                "nothing changed (`added` is false).",
                s.OptOutAdded,
            ),
            "400": Reply(
                "`field` names the fault: `body` (not a JSON object), `phone` "
                "(missing, not a string or not a valid phone number) or `reason` "
                "(not a string of at most 255 characters).",
                s.Error,
            ),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
            "413": TOO_LARGE,
        },
    ),
    Route(
        "delete",
        "/api/v1/optouts/{phone}",
        "removeOptOut",
        "optouts",
        "Take a number off the opt-out list",
        description="An admin takes it off the global list, any other user off their own. "
        'A reason may come as a JSON body `{"reason": ...}` or as the query '
        "parameter `reason` (the body wins). The change is recorded with the "
        "user's login.",
        body=s.OptOutRemoval,
        body_required=False,
        parameters=(
            {
                "name": "phone",
                "in": "path",
                "required": True,
                "description": "The number, in any form `to` accepts (URL-encode `+` as "
                "`%2B`); it is normalised to E.164.",
                "schema": {"type": "string", "minLength": 1},
            },
            {
                "name": "reason",
                "in": "query",
                "required": False,
                "description": "Why, when the body gives no reason.",
                "schema": {"type": "string", "maxLength": 255},
            },
        ),
        replies={
            "200": Reply("Removed: the number may be texted again.", s.OptOutRemoved),
            "400": Reply(
                "`field` is `phone` (not a valid phone number) or `reason` (not a "
                "string of at most 255 characters).",
                s.Error,
            ),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
            "404": Reply("The number is not on that list.", s.Error),
            "413": TOO_LARGE,
        },
    ),
    Route(
        "put",
        "/api/v1/webhook",
        "setWebhook",
        "webhooks",
        "Set this user's webhook URL and get a new signing secret",
        description="Every call makes a new secret; the old one stops signing new deliveries "
        "(those already queued keep the secret they were queued with). The same "
        "secret signs this user's `callback_url` events. See Webhooks in the "
        "description above and `webhooks` below.",
        body=s.WebhookRequest,
        replies={
            "200": Reply("Set.", s.WebhookSettings),
            "400": Reply(
                "`field` is `body` (not a JSON object) or `url` (missing, not an "
                "http(s) URL, host not resolvable, or a loopback/private address "
                "the operator does not allow).",
                s.Error,
            ),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
            "413": TOO_LARGE,
        },
    ),
    Route(
        "delete",
        "/api/v1/keys/{prefix}",
        "revokeKey",
        "keys",
        "Revoke an API key",
        description="A user revokes one of their own keys, an admin any user's. The key "
        "stops working at once, in every process; it may be the key of this very request. "
        "`smsbridge user keys LOGIN` lists a user's keys by prefix.",
        parameters=(
            {
                "name": "prefix",
                "in": "path",
                "required": True,
                "description": "The key's first 10 characters (`sb_` and 7 more), or the whole key.",
                "schema": {"type": "string", "minLength": 10},
            },
        ),
        replies={
            "200": Reply("Revoked.", s.KeyRevoked),
            "400": Reply(
                "`field` is `prefix`: shorter than 10 characters, or more than one live key "
                "starts with it (give the whole key).",
                s.Error,
            ),
            "401": UNAUTHORIZED,
            "403": BLOCKED,
            "404": Reply(
                "No live key of this user starts with the prefix (also for another user's key).",
                s.Error,
            ),
        },
    ),
    Route(
        "get",
        "/api/v1/reports/{cell_id}.csv",
        "getReportCsv",
        "reports",
        "A notebook cell's result as CSV",
        description="Runs the cell now, as the notebook's read-only database account (its time "
        "limit and row cap hold), and answers its table as CSV. For administrators' keys only. "
        "The cell's `:parameters` come from the query string (`?since=2026-11-01&sim=tele2`); "
        'dates are `YYYY-MM-DD` or `YYYY-MM-DD HH:MM`. A spreadsheet\'s "import from web" '
        "cannot send a header, so the key may also come as `?key=` — a URL with a key in it "
        "is a secret: give such a sheet a key of its own and revoke it when done.",
        parameters=(
            {
                "name": "cell_id",
                "in": "path",
                "required": True,
                "description": "The cell's number (the admin's notebook shows it in the cell's link).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "key",
                "in": "query",
                "required": False,
                "description": "The API key, when no `Authorization` header can be sent.",
                "schema": {"type": "string"},
            },
        ),
        replies={
            "200": Reply(
                "The result: a header row, then the rows (formulas neutralised). A cell with "
                "nothing to show answers one `message` column saying why.",
                {"type": "string"},
                media="text/csv",
            ),
            "400": Reply(
                "`field` names the parameter with a missing or bad value, or is `cell` for a "
                "text (markdown) cell.",
                s.Error,
            ),
            "401": UNAUTHORIZED,
            "403": Reply("The key's user is blocked, or is not an administrator.", s.Error),
            "404": Reply("No such cell.", s.Error),
            "422": Reply(
                "The cell could not run (refused, too slow, or the database said no); `message` says why.",
                s.Error,
            ),
        },
    ),
    Route(
        "get",
        "/api/v1/openapi.json",
        "getOpenApi",
        "meta",
        "This document",
        public=True,
        replies={"200": Reply("The OpenAPI 3.1 document.", {"type": "object"})},
    ),
)

# The POST smsbridge makes for each event: (summary, the model of `data`).
WEBHOOKS: dict[str, tuple[str, type[BaseModel]]] = {
    "sms:received": ("A text attributed to the user arrived (after the rules ran).", s.InboundData),
    "sms:sent": ("The network took every part of a message (status `sent`).", s.MessageEventData),
    "sms:delivered": ("A delivery report says the message arrived (status `delivered`).", s.MessageEventData),
    "sms:failed": (
        "The message failed for good (status `failed`), or a delivery report says "
        "it did not arrive (status `undelivered`).",
        s.MessageEventData,
    ),
}


class _Untitled(GenerateJsonSchema):
    """No ``title`` on every field: the names say it."""

    def field_title_should_be_set(self, schema) -> bool:
        return False


def _model(body: object) -> type[BaseModel] | None:
    model = get_args(body)[0] if get_origin(body) is list else body
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


class _Builder:
    """Schemas for every model the routes and webhooks name, each once under
    components/schemas (nested models hoisted there too, not into ``$defs``)."""

    def __init__(self):
        bodies = {r.body for r in ROUTES if r.body}
        queries = {r.query for r in ROUTES if r.query}
        answers = {m for r in ROUTES for reply in r.replies.values() if (m := _model(reply.body))}
        answers |= {s.WebhookEvent} | {data for _, data in WEBHOOKS.values()}
        keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in bodies | queries]
        keys += [(m, "serialization") for m in answers]
        self.refs, top = models_json_schema(
            sorted(keys, key=lambda k: k[0].__name__), ref_template=REF, schema_generator=_Untitled
        )
        self.schemas = top["$defs"]
        for schema in self.schemas.values():
            schema.pop("title", None)
            if "description" in schema:  # a docstring's line breaks are no paragraphs
                schema["description"] = re.sub(r"(?<!\n)\n(?!\n)", " ", schema["description"])
        # A query's fields become parameters; the model itself is no component.
        name = lambda model: self.refs[(model, "validation")]["$ref"].rsplit("/", 1)[1]  # noqa: E731
        self.queries = {m: self.schemas[name(m)] for m in queries}
        for model in queries - bodies:
            del self.schemas[name(model)]

    def schema(self, body: object, mode: JsonSchemaMode = "serialization") -> dict:
        if isinstance(body, dict):
            return body
        if get_origin(body) is list:
            return {"type": "array", "items": self.schema(get_args(body)[0], mode)}
        # What is left of a body (Reply.body, Route.body) is a model.
        assert isinstance(body, type) and issubclass(body, BaseModel), body
        return self.refs[(body, mode)]

    def reply(self, reply: Reply) -> dict:
        if reply.name:
            return {"$ref": "#/components/responses/" + reply.name}
        return self.inline_reply(reply)

    def inline_reply(self, reply: Reply) -> dict:
        answer: dict = {"description": reply.description}
        if reply.headers:
            answer["headers"] = reply.headers
        if reply.body is not None:
            answer["content"] = {reply.media: {"schema": self.schema(reply.body)}}
        return answer

    def parameters(self, route: Route) -> list[dict]:
        parameters = list(route.parameters)
        if route.query:
            schema = self.queries[route.query]
            for name, field in schema["properties"].items():
                field = dict(field)
                description = field.pop("description", None)
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in schema.get("required", ()),
                        **({"description": description} if description else {}),
                        "schema": field,
                    }
                )
        return parameters

    def operation(self, route: Route) -> dict:
        operation: dict = {"operationId": route.operation_id, "tags": [route.tag], "summary": route.summary}
        if route.description:
            operation["description"] = route.description
        operation["security"] = [] if route.public else [{"bearerAuth": []}]
        if parameters := self.parameters(route):
            operation["parameters"] = parameters
        if route.body:
            schema = self.schema(route.body, "validation")
            operation["requestBody"] = {
                "required": route.body_required,
                "content": {m: {"schema": schema} for m in route.media},
            }
        # Any route that reads or writes the database can find it gone.
        replies = {"503": UNAVAILABLE, **route.replies}
        operation["responses"] = {status: self.reply(r) for status, r in sorted(replies.items())}
        return operation

    def webhook(self, event: str) -> dict:
        """One event as an OpenAPI 3.1 webhook: the POST smsbridge makes."""
        summary, data = WEBHOOKS[event]
        header = lambda name, description, schema: {  # noqa: E731
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": schema,
        }
        return {
            "post": {
                "operationId": "webhook" + "".join(w.title() for w in event.split(":")),
                "tags": ["webhooks"],
                "summary": summary,
                "description": "Sent to the user's webhook URL or, for a message sent with "
                "`callback_url`, to that URL. Retried until a 2xx answer, with "
                "exponential backoff, for `webhook_retry_hours` (default 48 h).",
                "security": [],
                "parameters": [
                    header(
                        "X-Smsbridge-Signature",
                        '`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the '
                        "user's secret>`.",
                        {"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"},
                    ),
                    header("X-Smsbridge-Event", "The event name.", {"const": event}),
                    header(
                        "X-Smsbridge-Delivery",
                        "The delivery id, also `id` in the body.",
                        {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                    ),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "allOf": [self.schema(s.WebhookEvent)],
                                "properties": {"event": {"const": event}, "data": self.schema(data)},
                            }
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Acknowledged; not sent again."},
                    "default": {
                        "description": "Anything else (also a redirect or no answer within "
                        "`webhook_timeout`): retried later."
                    },
                },
            }
        }


@functools.cache
def openapi_document() -> dict:
    """The document; built once, it never changes while the app runs."""
    build = _Builder()
    paths: dict[str, dict] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = build.operation(route)
    shared = {
        reply.name: build.inline_reply(reply) for reply in (UNAUTHORIZED, BLOCKED, TOO_LARGE, UNAVAILABLE)
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "smsbridge", "version": "0.1.0", "description": DESCRIPTION},
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": paths,
        "webhooks": {event: build.webhook(event) for event in EVENTS},
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `smsbridge user token LOGIN` (starts with `sb_`).",
                }
            },
            "responses": shared,
            "schemas": build.schemas,
        },
    }
