"""The OpenAPI 3.1 description of the HTTP API (``api.py`` and ``web.py``),
served at ``GET /api/v1/openapi.json``. It is data: keep it in step with the
routes, their status codes and the field names ``message_view`` and
``sim_overview`` produce."""

from __future__ import annotations

from .accept import MAX_PRIORITY, MAX_VALID_FOR
from .models import AttemptOutcome, MessageStatus

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
                           "`field` names it (login, pass, tel, msg, flash or attempts) "
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
                                     "ClassicFlash", "ClassicAttempts",
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
                "it to a SIM later. Times are UTC, ISO 8601 with a `Z`."
            ),
        },
        "tags": [
            {"name": "classic",
             "description": "The old gateway's call; credentials are parameters."},
            {"name": "messages", "description": "JSON API: send texts and follow them."},
            {"name": "sims", "description": "JSON API: the SIMs a user may send through."},
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
                                           "`send_at`, `valid_for` or `idempotency_key`.",
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
                            "enum": ["login", "pass", "tel", "msg", "flash", "attempts"],
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
                    },
                    "required": ["to", "text"],
                    "additionalProperties": False,
                    "description": "`null` for flash, attempts, priority, send_at or "
                                   "valid_for means the default.",
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
                                 "last_error", "created_at", "send_at", "expires_at",
                                 "dispatched_at", "sent_at", "finished_at", "history"],
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
                    },
                    "required": ["name", "number", "enabled", "healthy", "health_changed_at",
                                 "signal", "battery", "network", "parts_used", "monthly_limit",
                                 "period_start", "waiting", "owner", "simulated"],
                    "additionalProperties": False,
                },
            },
        },
    }
