"""The OpenAPI 3.1 description of the HTTP API (``api.py`` and ``web.py``;
not the HTML admin under ``/admin``), served at ``GET /api/v1/openapi.json``.
It is data: keep it in step with the routes, their status codes and the field
names ``message_view``, ``sim_overview``, ``inbound_view``,
``list_opt_outs``, ``webhooks.message_data`` and ``messages.inbound_data``
produce."""

from __future__ import annotations

from ..accept import MAX_PRIORITY, MAX_VALID_FOR
from ..models import AttemptOutcome, MessageStatus
from ..webhooks import EVENTS

_SCHEMAS = "#/components/schemas/"
_RESPONSES = "#/components/responses/"


def _ref(name: str) -> dict:
    return {"$ref": _SCHEMAS + name}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _classic_path(path: str, name: str) -> dict:
    """``/smsc`` and ``/smsc.php`` are one view; only the operationIds differ."""
    responses = {
        "200": {
            "description": "Every recipient was queued, one message each.",
            "content": _json(_ref("ClassicResult")),
        },
        "400": {
            "description": "A parameter is missing or invalid; nothing was stored. "
                           "`field` names it (login, pass, tel, msg, flash, dlr or "
                           "attempts) "
                           "and `description` starts with it, e.g. `tel: at least one "
                           "recipient is required`.",
            "content": _json(_ref("ClassicError")),
        },
        "401": {
            "description": "Wrong login or password (no `field`).",
            "content": _json(_ref("ClassicError")),
        },
        "403": {
            "description": "The user is blocked, or no SIM is available to this user "
                           "(no `field`).",
            "content": _json(_ref("ClassicError")),
        },
        "429": {
            "description": "Too many wrong passwords from this address: after 5, each "
                           "further one locks the address out twice as long (1 s, 2 s, … "
                           "15 min). Try again after `Retry-After` seconds.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": _json(_ref("ClassicError")),
        },
    }
    return {
        "get": {
            "operationId": f"{name}Get",
            "tags": ["classic"],
            "summary": f"Send a text, classic style ({path})",
            "description": "Parameters in the query string. `login`, `pass`, `tel` and "
                           "`msg` are required: without one the answer is 400.",
            "security": [],
            "parameters": [{"$ref": "#/components/parameters/" + p}
                           for p in ("ClassicLogin", "ClassicPass", "ClassicTel", "ClassicMsg",
                                     "ClassicFlash", "ClassicDlr", "ClassicAttempts",
                                     "ClassicReplaceMessagesId")],
            "responses": responses,
        },
        "post": {
            "operationId": f"{name}Post",
            "tags": ["classic"],
            "summary": f"Send a text, classic style ({path})",
            "description": "The same parameters as the GET call, as a form body or in the "
                           "query string (the query string wins when both name one). "
                           "`login`, `pass`, `tel` and `msg` are required: without one the "
                           "answer is 400.",
            "security": [],
            "requestBody": {
                "required": False,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": _ref("ClassicRequest")},
                    "multipart/form-data": {"schema": _ref("ClassicRequest")},
                },
            },
            "responses": {
                **responses,
                "413": {
                    "description": "The request body is larger than 1 MiB.",
                    "content": _json(_ref("ClassicError")),
                },
            },
        },
    }


_WEBHOOK_SUMMARIES = {
    "sms:received": ("A text attributed to the user arrived (after the rules ran).",
                     "InboundData"),
    "sms:sent": ("The network took every part of a message (status `sent`).",
                 "MessageEventData"),
    "sms:delivered": ("A delivery report says the message arrived (status `delivered`).",
                      "MessageEventData"),
    "sms:failed": ("The message failed for good (status `failed`), or a delivery report "
                   "says it did not arrive (status `undelivered`).", "MessageEventData"),
}


def _webhook(event: str) -> dict:
    """One event as an OpenAPI 3.1 webhook: the POST smsbridge makes."""
    summary, data = _WEBHOOK_SUMMARIES[event]
    header = lambda name, description, schema: {  # noqa: E731
        "name": name, "in": "header", "required": True,
        "description": description, "schema": schema}
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
                header("X-Smsbridge-Signature",
                       "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" keyed "
                       "with the user's secret>`.",
                       {"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"}),
                header("X-Smsbridge-Event", "The event name.", {"const": event}),
                header("X-Smsbridge-Delivery", "The delivery id, also `id` in the body.",
                       {"type": "string", "pattern": "^[0-9a-f]{32}$"}),
            ],
            "requestBody": {
                "required": True,
                "content": _json({
                    "allOf": [_ref("WebhookEvent")],
                    "properties": {"event": {"const": event}, "data": _ref(data)},
                }),
            },
            "responses": {
                "2XX": {"description": "Acknowledged; not sent again."},
                "default": {"description": "Anything else (also a redirect or no answer "
                                           "within `webhook_timeout`): retried later."},
            },
        },
    }


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "smsbridge",
            "version": "0.1.0",
            "description": (
                "Self-hosted SMS gateway over Gammu SMSD. Two styles of call send a text:\n\n"
                "* **Classic** — `GET|POST /smsc` (or `/smsc.php`) with `login`, `pass`, "
                "`tel` and `msg` as query or form parameters, answering "
                "`{success, description, ...}`; a drop-in for the old PHP gateway.\n"
                "* **JSON API** — `/api/v1`, authenticated with an API key "
                "(`Authorization: Bearer <key>`), with JSON bodies, idempotency keys, "
                "scheduling and message status; errors are "
                "`{error: {status, message, field?}}`.\n\n"
                "Both store one message per distinct recipient and queue it; dispatch hands "
                "it to a SIM later. Times are UTC, ISO 8601 with a `Z`.\n\n"
                "## Webhooks\n\n"
                "Events are POSTed as JSON `{id, event, created_at, data}` (see `webhooks` "
                "below) to the user's URL (`PUT /api/v1/webhook`) or, for a message sent "
                "with `callback_url`, to that URL instead. Events: `sms:received` (a text "
                "attributed to the user arrived; `data` as in `GET /api/v1/inbound` without "
                "`id` and `rules`), `sms:sent`, `sms:delivered` and `sms:failed` (also sent "
                "for `undelivered`; `data` is the message's state).\n\n"
                "Every request carries these headers:\n\n"
                "* `X-Smsbridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "
                "\"<t>.<raw body>\" keyed with the secret>` — the secret is the user's, "
                "returned by `PUT /api/v1/webhook` (`callback_url` events are signed with it "
                "too). `t` is the time of this attempt. To verify, compute the HMAC over the "
                "raw body bytes exactly as received, compare in constant time, and reject an "
                "old `t` (smsbridge's own check allows 300 seconds).\n"
                "* `X-Smsbridge-Event` — the event name.\n"
                "* `X-Smsbridge-Delivery` — the delivery id, also `id` in the payload.\n\n"
                "Any 2xx answer acknowledges a delivery; anything else, a redirect (never "
                "followed) or no answer within `webhook_timeout` (default 10 s) is retried "
                "with exponential backoff — first after `webhook_backoff` (default 15 s), "
                "doubling, at most an hour apart — until `webhook_retry_hours` (default 48 h) "
                "after the event, then given up. Delivery is at least once: the same "
                "delivery may arrive more than once, so de-duplicate by `id`. Order is not "
                "guaranteed. The URL must be http(s); loopback and private addresses are "
                "refused (400) unless the operator sets `SMSBRIDGE_WEBHOOK_ALLOW_PRIVATE=1`, "
                "and are checked again before each attempt."
            ),
        },
        "tags": [
            {"name": "classic",
             "description": "The old gateway's call; credentials are parameters."},
            {"name": "messages", "description": "JSON API: send texts and follow them."},
            {"name": "sims", "description": "JSON API: the SIMs a user may send through."},
            {"name": "inbound", "description": "JSON API: texts received by the SIMs."},
            {"name": "optouts",
             "description": "JSON API: numbers that asked not to be texted; dispatch never "
                            "sends to them (the message becomes `opted_out`)."},
            {"name": "webhooks", "description": "JSON API: where events are POSTed."},
            {"name": "meta", "description": "Health and this document."},
        ],
        "paths": {
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "tags": ["meta"],
                    "summary": "Liveness: the app answers and reaches its database",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The database answered `SELECT 1`.",
                            "content": _json({
                                "type": "object",
                                "properties": {"status": {"const": "ok"}},
                                "required": ["status"],
                                "additionalProperties": False,
                            }),
                        },
                        "500": {
                            "description": "The database could not be reached.",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
            },
            "/smsc": _classic_path("/smsc", "smsc"),
            "/smsc.php": _classic_path("/smsc.php", "smscPhp"),
            "/api/v1/messages": {
                "post": {
                    "operationId": "createMessages",
                    "tags": ["messages"],
                    "summary": "Queue a text to one or more recipients",
                    "description": (
                        "Stores one queued message per distinct recipient. With an "
                        "`Idempotency-Key`, repeating the same request answers with the "
                        "messages of the first one (200) instead of sending again."
                    ),
                    "security": [{"bearerAuth": []}],
                    "parameters": [{
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Any string of 1-255 characters, unique per request "
                                       "for this user. Otherwise 400 with field "
                                       "`idempotency_key`.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    }],
                    "requestBody": {
                        "required": True,
                        "content": _json(_ref("SendRequest")),
                    },
                    "responses": {
                        "202": {
                            "description": "Queued: one entry per distinct recipient, "
                                           "in the order given, status `queued`.",
                            "content": _json({"type": "array", "items": _ref("AcceptedMessage")}),
                        },
                        "200": {
                            "description": "Idempotent replay: this key was used before with "
                                           "the same payload. Nothing new was stored; the "
                                           "entries are the earlier messages with their "
                                           "current status.",
                            "headers": {
                                "Idempotent-Replayed": {
                                    "description": "Always `true` on a replay.",
                                    "schema": {"const": "true"},
                                },
                            },
                            "content": _json({"type": "array", "items": _ref("AcceptedMessage")}),
                        },
                        "400": {
                            "description": "Invalid input; nothing was stored. `field` names it: "
                                           "`body` (not a JSON object), the first unknown field, "
                                           "`to`, `text`, `flash`, `attempts`, `priority`, "
                                           "`send_at`, `valid_for`, `delivery_report`, "
                                           "`callback_url` (not an http(s) URL, host not "
                                           "resolvable, or a loopback/private address the "
                                           "operator does not allow) or `idempotency_key`.",
                            "content": _json(_ref("Error")),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {
                            "description": "The user is blocked, or no SIM is available to "
                                           "this user.",
                            "content": _json(_ref("Error")),
                        },
                        "413": {
                            "description": "The request body is larger than 1 MiB.",
                            "content": _json(_ref("Error")),
                        },
                        "422": {
                            "description": "The `Idempotency-Key` was already used for a "
                                           "different request (field `idempotency_key`).",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
            },
            "/api/v1/messages/{message_id}": {
                "get": {
                    "operationId": "getMessage",
                    "tags": ["messages"],
                    "summary": "One message: its state and every hand-off to a SIM",
                    "security": [{"bearerAuth": []}],
                    "parameters": [{
                        "name": "message_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }],
                    "responses": {
                        "200": {"description": "The message.", "content": _json(_ref("Message"))},
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {"$ref": _RESPONSES + "Blocked"},
                        "404": {
                            "description": "No such message, or it belongs to another user "
                                           "(only admins see every message).",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
            },
            "/api/v1/sims": {
                "get": {
                    "operationId": "listSims",
                    "tags": ["sims"],
                    "summary": "The SIMs this user may send through (admins: all), by name",
                    "security": [{"bearerAuth": []}],
                    "responses": {
                        "200": {
                            "description": "Shared SIMs and the user's own, disabled "
                                           "ones included.",
                            "content": _json({"type": "array", "items": _ref("SIM")}),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {"$ref": _RESPONSES + "Blocked"},
                    },
                },
            },
            "/api/v1/inbound": {
                "get": {
                    "operationId": "listInbound",
                    "tags": ["inbound"],
                    "summary": "Received texts, oldest first, cursor-paged",
                    "description": (
                        "Texts with an id greater than `since`, at most `limit` of them. "
                        "Pass the answer's `next_since` as `since` to get the next page; an "
                        "empty `items` means there is nothing newer yet. A text belongs to "
                        "the user who last texted its sender through that SIM, else to the "
                        "SIM's owner; users see their own, admins see every text."
                    ),
                    "security": [{"bearerAuth": []}],
                    "parameters": [
                        {
                            "name": "since", "in": "query", "required": False,
                            "description": "The last id already seen; 0 (the default) "
                                           "starts from the beginning. Otherwise 400 with "
                                           "field `since`.",
                            "schema": {"type": "integer", "minimum": 0,
                                       "maximum": 2**63 - 1, "default": 0},
                        },
                        {
                            "name": "limit", "in": "query", "required": False,
                            "description": "At most this many items. Otherwise 400 with "
                                           "field `limit`.",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000,
                                       "default": 100},
                        },
                    ],
                    "responses": {
                        "200": {"description": "One page.",
                                "content": _json(_ref("InboundPage"))},
                        "400": {
                            "description": "`since` or `limit` is not a whole number in its "
                                           "range (`field` names it).",
                            "content": _json(_ref("Error")),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {"$ref": _RESPONSES + "Blocked"},
                    },
                },
            },
            "/api/v1/optouts": {
                "get": {
                    "operationId": "listOptOuts",
                    "tags": ["optouts"],
                    "summary": "The whole opt-out list, oldest first",
                    "description": "Admins only: the list holds every user's customers "
                                   "and what they texted.",
                    "security": [{"bearerAuth": []}],
                    "responses": {
                        "200": {
                            "description": "Every number on the list.",
                            "content": _json({"type": "array", "items": _ref("OptOut")}),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {
                            "description": "Not an admin, or a blocked user.",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
                "post": {
                    "operationId": "addOptOut",
                    "tags": ["optouts"],
                    "summary": "Put a number on the opt-out list",
                    "description": "Any user may add a number; only admins may remove one. "
                                   "The change is recorded with the user's login.",
                    "security": [{"bearerAuth": []}],
                    "requestBody": {"required": True, "content": _json(_ref("OptOutRequest"))},
                    "responses": {
                        "201": {"description": "Added.",
                                "content": _json(_ref("OptOutAdded"))},
                        "200": {"description": "Already on the list; nothing changed "
                                               "(`added` is false).",
                                "content": _json(_ref("OptOutAdded"))},
                        "400": {
                            "description": "`field` names the fault: `body` (not a JSON "
                                           "object), `phone` (missing or not a string), "
                                           "`to` (`phone` is not a valid phone number) or "
                                           "`reason` (not a string of at most 255 "
                                           "characters).",
                            "content": _json(_ref("Error")),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {"$ref": _RESPONSES + "Blocked"},
                        "413": {
                            "description": "The request body is larger than 1 MiB.",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
            },
            "/api/v1/optouts/{phone}": {
                "delete": {
                    "operationId": "removeOptOut",
                    "tags": ["optouts"],
                    "summary": "Take a number off the opt-out list (admins only)",
                    "description": "A reason may come as a JSON body `{\"reason\": ...}` or "
                                   "as the query parameter `reason` (the body wins). The "
                                   "change is recorded with the admin's login.",
                    "security": [{"bearerAuth": []}],
                    "parameters": [
                        {
                            "name": "phone", "in": "path", "required": True,
                            "description": "The number, in any form `to` accepts (URL-encode "
                                           "`+` as `%2B`); it is normalised to E.164.",
                            "schema": {"type": "string", "minLength": 1},
                        },
                        {
                            "name": "reason", "in": "query", "required": False,
                            "description": "Why, when the body gives no reason.",
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": False,
                        "content": _json({
                            "type": "object",
                            "properties": {"reason": _ref("OptOutReason")},
                        }),
                    },
                    "responses": {
                        "200": {
                            "description": "Removed: the number may be texted again.",
                            "content": _json({
                                "type": "object",
                                "properties": {
                                    "phone": {"type": "string",
                                              "description": "As given in the path."},
                                    "removed": {"const": True},
                                },
                                "required": ["phone", "removed"],
                                "additionalProperties": False,
                            }),
                        },
                        "400": {
                            "description": "`field` is `to` (not a valid phone number) or "
                                           "`reason` (the body's reason is not a string of at "
                                           "most 255 characters).",
                            "content": _json(_ref("Error")),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {
                            "description": "The user is not an admin, or is blocked.",
                            "content": _json(_ref("Error")),
                        },
                        "404": {
                            "description": "The number is not on the opt-out list.",
                            "content": _json(_ref("Error")),
                        },
                        "413": {
                            "description": "The request body is larger than 1 MiB.",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
            },
            "/api/v1/webhook": {
                "put": {
                    "operationId": "setWebhook",
                    "tags": ["webhooks"],
                    "summary": "Set this user's webhook URL and get a new signing secret",
                    "description": (
                        "Every call makes a new secret; the old one stops signing new "
                        "deliveries (those already queued keep the secret they were queued "
                        "with). The same secret signs this user's `callback_url` events. "
                        "See Webhooks in the description above and `webhooks` below."
                    ),
                    "security": [{"bearerAuth": []}],
                    "requestBody": {"required": True, "content": _json(_ref("WebhookRequest"))},
                    "responses": {
                        "200": {"description": "Set.", "content": _json(_ref("WebhookSettings"))},
                        "400": {
                            "description": "`field` is `body` (not a JSON object) or `url` "
                                           "(missing, not an http(s) URL, host not resolvable, "
                                           "or a loopback/private address the operator does "
                                           "not allow).",
                            "content": _json(_ref("Error")),
                        },
                        "401": {"$ref": _RESPONSES + "Unauthorized"},
                        "403": {"$ref": _RESPONSES + "Blocked"},
                        "413": {
                            "description": "The request body is larger than 1 MiB.",
                            "content": _json(_ref("Error")),
                        },
                    },
                },
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "tags": ["meta"],
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document.",
                            "content": _json({"type": "object"}),
                        },
                    },
                },
            },
        },
        "webhooks": {event: _webhook(event) for event in EVENTS},
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `smsbridge user token LOGIN` "
                                   "(starts with `sb_`).",
                },
            },
            "parameters": {
                "ClassicLogin": {
                    "name": "login", "in": "query", "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "The user's login.",
                },
                "ClassicPass": {
                    "name": "pass", "in": "query", "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "The user's password.",
                },
                "ClassicTel": {
                    "name": "tel", "in": "query", "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "Recipients, separated by commas (also `;` or newlines).",
                },
                "ClassicMsg": {
                    "name": "msg", "in": "query", "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "The text.",
                },
                "ClassicFlash": {
                    "name": "flash", "in": "query", "required": False,
                    "schema": _ref("ClassicFlag"),
                    "description": "1 sends a flash SMS (shown, not stored, by the phone).",
                },
                "ClassicDlr": {
                    "name": "dlr", "in": "query", "required": False,
                    "schema": _ref("ClassicFlag"),
                    "description": "1 asks the network for a delivery report, so the "
                                   "message can become `delivered` or `undelivered`. 0 or "
                                   "absent leaves it to the SIM's default (it does not "
                                   "turn reports off).",
                },
                "ClassicAttempts": {
                    "name": "attempts", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "default": 1},
                    "description": "How many SIMs may try the message, at most the "
                                   "`max_attempts` setting (default 5).",
                },
                "ClassicReplaceMessagesId": {
                    "name": "replacemessages_id", "in": "query", "required": False,
                    "schema": {"type": "string"},
                    "description": "Accepted but not applied: gammu-smsd cannot send "
                                   "replace-type messages from its database. When given, "
                                   "the answer's `description` says so.",
                },
            },
            "responses": {
                "Unauthorized": {
                    "description": "No `Authorization: Bearer <key>` header, or an unknown "
                                   "or revoked API key.",
                    "headers": {
                        "WWW-Authenticate": {
                            "description": "`Bearer realm=\"smsbridge\"`",
                            "schema": {"type": "string"},
                        },
                    },
                    "content": _json(_ref("Error")),
                },
                "Blocked": {
                    "description": "The API key's user is blocked.",
                    "content": _json(_ref("Error")),
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "description": "Every JSON API and /healthz error, also 404/405/413 "
                                   "raised by the web framework itself.",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "integer", "description": "The HTTP status."},
                                "message": {"type": "string"},
                                "field": {
                                    "type": "string",
                                    "description": "The input at fault, when one is.",
                                },
                            },
                            "required": ["status", "message"],
                            "additionalProperties": False,
                        },
                    },
                    "required": ["error"],
                    "additionalProperties": False,
                },
                "ClassicFlag": {
                    "type": "string",
                    "description": "Case-insensitive 1, true, yes or on; 0, false, no, off "
                                   "or empty (the default). Anything else is a 400.",
                    "default": "0",
                    "examples": ["1", "0"],
                },
                "ClassicRequest": {
                    "type": "object",
                    "description": "`login`, `pass`, `tel` and `msg` are required "
                                   "(here or in the query string).",
                    "properties": {
                        "login": {"type": "string"},
                        "pass": {"type": "string"},
                        "tel": {
                            "type": "string",
                            "description": "Recipients, separated by commas (also `;` or "
                                           "newlines).",
                        },
                        "msg": {"type": "string"},
                        "flash": _ref("ClassicFlag"),
                        "dlr": {
                            **_ref("ClassicFlag"),
                            "description": "1 asks the network for a delivery report; 0 or "
                                           "absent leaves it to the SIM's default.",
                        },
                        "attempts": {
                            "type": "integer", "minimum": 1, "default": 1,
                            "description": "At most the `max_attempts` setting (default 5).",
                        },
                        "replacemessages_id": {
                            "type": "string",
                            "description": "Accepted but not applied (gammu-smsd cannot send "
                                           "replace-type messages from its database).",
                        },
                    },
                },
                "ClassicResult": {
                    "type": "object",
                    "properties": {
                        "success": {"const": True},
                        "description": {
                            "type": "string",
                            "description": "`queued N message(s)`, plus a note when "
                                           "`replacemessages_id` was given and ignored.",
                            "examples": ["queued 2 messages"],
                        },
                        "ids": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "The ids of `messages`, in the same order.",
                        },
                        "messages": {"type": "array", "items": _ref("AcceptedMessage")},
                    },
                    "required": ["success", "description", "ids", "messages"],
                    "additionalProperties": False,
                },
                "ClassicError": {
                    "type": "object",
                    "description": "Every error of /smsc and /smsc.php, also those raised by "
                                   "the web framework itself (which carry no `field`).",
                    "properties": {
                        "success": {"const": False},
                        "description": {"type": "string"},
                        "field": {
                            "type": "string",
                            "description": "The parameter at fault, for a 400.",
                            "enum": ["login", "pass", "tel", "msg", "flash", "dlr", "attempts"],
                        },
                    },
                    "required": ["success", "description"],
                    "additionalProperties": False,
                },
                "SendRequest": {
                    "type": "object",
                    "properties": {
                        "to": {
                            "description": "Recipients: one number, a string of them separated "
                                           "by commas (also `;` or newlines), or a list. At most "
                                           "the `max_recipients` setting (default 1000); "
                                           "repeated numbers are sent once. Numbers without a "
                                           "country code are read in the `default_region`.",
                            "oneOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "string"}},
                            ],
                            "examples": ["+79161234567", ["+79161234567", "8 916 765-43-21"]],
                        },
                        "text": {
                            "type": "string",
                            "minLength": 1,
                            "description": "At most the `max_parts` setting (default 10) SMS "
                                           "parts; no NUL characters.",
                        },
                        "flash": {"type": ["boolean", "null"], "default": False},
                        "attempts": {
                            "type": ["integer", "null"], "minimum": 1, "default": 1,
                            "description": "How many SIMs may try the message, at most the "
                                           "`max_attempts` setting (default 5).",
                        },
                        "priority": {
                            "type": ["integer", "null"], "minimum": 0, "maximum": MAX_PRIORITY,
                            "default": 0,
                            "description": "Higher is sent first.",
                        },
                        "send_at": {
                            "type": ["string", "null"], "format": "date-time",
                            "description": "ISO 8601; without an offset it is UTC. Not before "
                                           "this time; a past time means now.",
                        },
                        "valid_for": {
                            "type": ["integer", "null"], "minimum": 1, "maximum": MAX_VALID_FOR,
                            "description": "Seconds after `send_at` (or now) after which an "
                                           "unsent message expires. No expiry when absent.",
                        },
                        "delivery_report": {
                            "type": ["boolean", "null"], "default": None,
                            "description": "Ask the network for a delivery report (true) or "
                                           "not (false); null or absent is the SIM's default. "
                                           "With a report the message can end `delivered` "
                                           "or `undelivered`.",
                        },
                        "callback_url": {
                            "type": ["string", "null"], "format": "uri", "maxLength": 2048,
                            "description": "An http(s) URL. This message's events "
                                           "(`sms:sent`, `sms:delivered`, `sms:failed`) are "
                                           "POSTed here instead of to the user's webhook, "
                                           "signed with the user's secret (see Webhooks). "
                                           "Loopback and private hosts are refused (400, "
                                           "field `callback_url`) unless the operator "
                                           "allows them.",
                        },
                    },
                    "required": ["to", "text"],
                    "additionalProperties": False,
                    "description": "`null` for flash, attempts, priority, send_at, "
                                   "valid_for, delivery_report or callback_url means the "
                                   "default.",
                },
                "AcceptedMessage": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "to": {"type": "string", "description": "The recipient in E.164."},
                        "status": _ref("MessageStatus"),
                    },
                    "required": ["id", "to", "status"],
                    "additionalProperties": False,
                },
                "MessageStatus": {
                    "type": "string",
                    "enum": [s.value for s in MessageStatus],
                    "description": "`queued` → `dispatched` (in a SIM's outbox) → `sent` "
                                   "(the network took every part) → `delivered` or "
                                   "`undelivered` when a delivery report comes back. Also "
                                   "final: `failed`, `expired` (not sent within "
                                   "`valid_for`), `opted_out` (the recipient is on the "
                                   "opt-out list) and `cancelled`.",
                },
                "Message": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "to": {"type": "string", "description": "The recipient in E.164."},
                        "text": {"type": "string"},
                        "status": _ref("MessageStatus"),
                        "flash": {"type": "boolean"},
                        "priority": {"type": "integer", "minimum": 0, "maximum": MAX_PRIORITY},
                        "sim": {
                            "type": ["string", "null"],
                            "description": "Name of the SIM that has it, once dispatched.",
                        },
                        "parts": {"type": ["integer", "null"], "description": "SMS parts."},
                        "attempts": {"type": "integer", "description": "Attempts made."},
                        "attempts_allowed": {"type": "integer"},
                        "wait_reason": {
                            "type": ["string", "null"],
                            "description": "Why a queued message is not dispatched yet.",
                        },
                        "last_error": {"type": ["string", "null"]},
                        "delivery_report": {
                            "type": ["boolean", "null"],
                            "description": "Asked for a delivery report; null: the SIM's default.",
                        },
                        "delivery_status": {
                            "type": ["integer", "null"],
                            "description": "The network's status code from the delivery report.",
                        },
                        "created_at": {"type": "string", "format": "date-time"},
                        "send_at": {"type": ["string", "null"], "format": "date-time"},
                        "expires_at": {"type": ["string", "null"], "format": "date-time"},
                        "dispatched_at": {"type": ["string", "null"], "format": "date-time"},
                        "sent_at": {"type": ["string", "null"], "format": "date-time"},
                        "finished_at": {"type": ["string", "null"], "format": "date-time"},
                        "history": {
                            "type": "array",
                            "description": "Every hand-off to a SIM, oldest first.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "sim": {"type": "string"},
                                    "outcome": {
                                        "type": "string",
                                        "enum": [o.value for o in AttemptOutcome],
                                    },
                                    "parts": {"type": "integer"},
                                    "dispatched_at": {"type": "string", "format": "date-time"},
                                    "finished_at": {"type": ["string", "null"],
                                                    "format": "date-time"},
                                    "error": {"type": ["string", "null"]},
                                },
                                "required": ["sim", "outcome", "parts", "dispatched_at",
                                             "finished_at", "error"],
                                "additionalProperties": False,
                            },
                        },
                    },
                    "required": ["id", "to", "text", "status", "flash", "priority", "sim",
                                 "parts", "attempts", "attempts_allowed", "wait_reason",
                                 "last_error", "delivery_report", "delivery_status",
                                 "created_at", "send_at", "expires_at",
                                 "dispatched_at", "sent_at", "finished_at", "history"],
                    "additionalProperties": False,
                },
                "InboundPage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": _ref("InboundMessage")},
                        "next_since": {
                            "type": "integer", "minimum": 0,
                            "description": "The last item's id, or `since` when there are "
                                           "no items: the `since` of the next call.",
                        },
                    },
                    "required": ["items", "next_since"],
                    "additionalProperties": False,
                },
                "InboundData": {
                    "type": "object",
                    "description": "A received text: the `data` of an `sms:received` event.",
                    "properties": {
                        "inbound_id": {"type": "integer"},
                        "from": {"type": "string", "description": "The sender's number."},
                        "sim": {"type": "string",
                                "description": "Name of the SIM that received it."},
                        "text": {"type": "string",
                                 "description": "The whole text, long texts joined."},
                        "parts": {"type": "integer", "minimum": 1,
                                  "description": "SMS parts received."},
                        "complete": {
                            "type": "boolean",
                            "description": "False when some parts never arrived and the "
                                           "text was joined without them after waiting "
                                           "`inbound_part_wait` (default 300 s).",
                        },
                        "received_at": {"type": "string", "format": "date-time"},
                    },
                    "required": ["inbound_id", "from", "sim", "text", "parts", "complete",
                                 "received_at"],
                    "additionalProperties": False,
                },
                "InboundMessage": {
                    "type": "object",
                    "description": "A received text and what the rules did with it.",
                    "properties": {
                        "inbound_id": {"type": "integer", "description": "The same as `id`."},
                        "from": {"type": "string", "description": "The sender's number."},
                        "sim": {"type": "string",
                                "description": "Name of the SIM that received it."},
                        "text": {"type": "string",
                                 "description": "The whole text, long texts joined."},
                        "parts": {"type": "integer", "minimum": 1,
                                  "description": "SMS parts received."},
                        "complete": {
                            "type": "boolean",
                            "description": "False when some parts never arrived and the "
                                           "text was joined without them after waiting "
                                           "`inbound_part_wait` (default 300 s).",
                        },
                        "received_at": {"type": "string", "format": "date-time"},
                        "id": {"type": "integer", "description": "The paging cursor."},
                        "rules": {
                            "type": "array",
                            "description": "Every rule that matched (and the opt-out/opt-in "
                                           "words), in the order they ran.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "rule": {
                                        "type": "string",
                                        "description": "`opt-out word`, `opt-in word` or "
                                                       "the rule, e.g. `#3 [everyone] "
                                                       "keyword 'stop' -> reply Bye`.",
                                    },
                                    "outcome": {"type": "string", "enum": ["done", "error"]},
                                    "detail": {
                                        "type": "string",
                                        "description": "What it did, or why it failed.",
                                    },
                                },
                                "required": ["rule", "outcome", "detail"],
                                "additionalProperties": False,
                            },
                        },
                    },
                    "required": ["inbound_id", "from", "sim", "text", "parts", "complete",
                                 "received_at", "id", "rules"],
                    "additionalProperties": False,
                },
                "OptOut": {
                    "type": "object",
                    "properties": {
                        "phone": {"type": "string", "description": "E.164."},
                        "reason": {"type": ["string", "null"]},
                        "source": {
                            "type": "string",
                            "description": "Where it came from: `api`, `sms` (the number "
                                           "texted an opt-out word), or another interface.",
                        },
                        "since": {"type": "string", "format": "date-time"},
                    },
                    "required": ["phone", "reason", "source", "since"],
                    "additionalProperties": False,
                },
                "OptOutReason": {
                    "type": ["string", "null"], "maxLength": 255,
                    "description": "Why; recorded with the change.",
                },
                "OptOutRequest": {
                    "type": "object",
                    "properties": {
                        "phone": {
                            "type": "string",
                            "description": "In any form `to` accepts; stored in E.164.",
                            "examples": ["+79161234567"],
                        },
                        "reason": _ref("OptOutReason"),
                    },
                    "required": ["phone"],
                    "description": "Other fields are ignored.",
                },
                "OptOutAdded": {
                    "type": "object",
                    "properties": {
                        "phone": {"type": "string", "description": "As given in the request."},
                        "added": {"type": "boolean",
                                  "description": "False: it was already on the list."},
                    },
                    "required": ["phone", "added"],
                    "additionalProperties": False,
                },
                "WebhookRequest": {
                    "type": "object",
                    "properties": {
                        "url": {
                            "type": "string", "format": "uri", "maxLength": 2048,
                            "description": "An http(s) URL; loopback and private hosts are "
                                           "refused unless the operator allows them.",
                            "examples": ["https://example.com/smsbridge"],
                        },
                    },
                    "required": ["url"],
                    "description": "Other fields are ignored.",
                },
                "WebhookSettings": {
                    "type": "object",
                    "properties": {
                        "url": {"type": "string"},
                        "secret": {
                            "type": "string", "pattern": "^[0-9a-f]{64}$",
                            "description": "The new signing secret (64 hex digits); the API "
                                           "never shows it again.",
                        },
                        "events": {
                            "type": "array",
                            "items": {"type": "string", "enum": list(EVENTS)},
                            "description": "Every event there is.",
                        },
                        "signature_header": {"const": "X-Smsbridge-Signature"},
                    },
                    "required": ["url", "secret", "events", "signature_header"],
                    "additionalProperties": False,
                },
                "MessageEventData": {
                    "type": "object",
                    "description": "A message's state: the `data` of `sms:sent`, "
                                   "`sms:delivered` and `sms:failed`.",
                    "properties": {
                        "message_id": {"type": "integer",
                                       "description": "As in `GET /api/v1/messages/{id}`."},
                        "to": {"type": "string", "description": "The recipient in E.164."},
                        "status": _ref("MessageStatus"),
                        "parts": {"type": ["integer", "null"], "description": "SMS parts."},
                        "sent_at": {"type": ["string", "null"], "format": "date-time"},
                        "finished_at": {"type": ["string", "null"], "format": "date-time"},
                        "delivery_status": {
                            "type": ["integer", "null"],
                            "description": "The network's status code from the delivery "
                                           "report, when there was one.",
                        },
                        "error": {"type": ["string", "null"]},
                    },
                    "required": ["message_id", "to", "status", "parts", "sent_at",
                                 "finished_at", "delivery_status", "error"],
                    "additionalProperties": False,
                },
                "WebhookEvent": {
                    "type": "object",
                    "description": "The body of every webhook POST.",
                    "properties": {
                        "id": {
                            "type": "string", "pattern": "^[0-9a-f]{32}$",
                            "description": "The delivery id, also in `X-Smsbridge-Delivery`; "
                                           "the same on every retry: de-duplicate by it.",
                        },
                        "event": {"type": "string", "enum": list(EVENTS)},
                        "created_at": {"type": "string", "format": "date-time",
                                       "description": "When the event happened."},
                        "data": {"oneOf": [_ref("InboundData"), _ref("MessageEventData")]},
                    },
                    "required": ["id", "event", "created_at", "data"],
                    "additionalProperties": False,
                },
                "SIM": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "Also gammu-smsd's PhoneID."},
                        "number": {"type": "string", "description": "E.164."},
                        "enabled": {"type": "boolean"},
                        "healthy": {"type": "boolean"},
                        "health_changed_at": {"type": ["string", "null"], "format": "date-time"},
                        "signal": {
                            "type": ["integer", "null"],
                            "description": "Percent, from gammu-smsd's last heartbeat; null "
                                           "before the first.",
                        },
                        "battery": {"type": ["integer", "null"], "description": "Percent."},
                        "network": {"type": ["string", "null"]},
                        "parts_used": {
                            "type": "integer",
                            "description": "SMS parts reserved or sent this billing period.",
                        },
                        "monthly_limit": {
                            "type": ["integer", "null"],
                            "description": "SMS parts per billing period; null is no cap.",
                        },
                        "period_start": {"type": "string", "format": "date"},
                        "waiting": {
                            "type": "integer",
                            "description": "Rows in this SIM's gammu-smsd outbox.",
                        },
                        "owner": {
                            "type": ["string", "null"],
                            "description": "Login of the owner; null for a shared SIM.",
                        },
                        "simulated": {"type": "boolean"},
                        "delivery_report": {
                            "type": "boolean",
                            "description": "Delivery reports by default for this SIM's messages.",
                        },
                    },
                    "required": ["name", "number", "enabled", "healthy", "health_changed_at",
                                 "signal", "battery", "network", "parts_used", "monthly_limit",
                                 "period_start", "waiting", "owner", "simulated", "delivery_report"],
                    "additionalProperties": False,
                },
            },
        },
    }
