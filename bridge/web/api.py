"""HTTP API: the classic ``/smsc`` call and the JSON ``/api/v1``. Thin:
parse the request, call accept / the views, shape the answer."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from .. import optouts, wake, webhooks
from ..accept import SendOptions, accept, parse_send_at
from ..errors import AcceptError, AuthError, NotFound
from ..messages import inbound_view, list_inbound, message_view, visible_message
from ..sims import sim_overview
from ..users import authenticate_api_key, authenticate_password
from .openapi import openapi_document

classic = Blueprint("classic", __name__)
v1 = Blueprint("v1", __name__, url_prefix="/api/v1")

# The classic call names its fields after the old PHP gateway.
CLASSIC_FIELDS = {"to": "tel", "text": "msg"}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def _session():
    return g.db_session


def _settings():
    return current_app.config["SMSBRIDGE_SETTINGS"]


def _send(authenticate, read_fields, *, key=None, source):
    """Authenticate, then read the request's fields (so an unknown caller
    learns nothing about them), then accept: one transaction, one commit."""
    session = _session()
    with session.begin():
        user = authenticate(session)
        recipients, text, options = read_fields()
        result = accept(session, user, recipients, text, options, settings=_settings(),
                        idempotency_key=key, source=source)
    if not result.replayed:
        wake.notify(_settings())
    return result


# --------------------------------------------------------------------------
# Classic: GET|POST /smsc?login=&pass=&tel=&msg=&flash=&attempts=&replacemessages_id=

def _classic_error(field: str | None, message: str, status: int):
    body = {"success": False, "description": message}
    if field:
        body["field"] = field
    return jsonify(body), status


def _flag(name: str) -> bool:
    raw = request.values.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise AcceptError(name, "must be 1 or 0")


def _integer(name: str, default: int) -> int:
    raw = request.values.get(name, "").strip()
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise AcceptError(name, "must be a whole number") from None


@classic.route("/smsc", methods=["GET", "POST"])
@classic.route("/smsc.php", methods=["GET", "POST"])
def smsc():
    values = request.values
    for field in ("login", "pass"):
        if not values.get(field):
            return _classic_error(field, f"{field} is required", 400)

    def read_fields():
        for field in ("tel", "msg"):
            if not values.get(field, "").strip():
                raise AcceptError(field, f"{field} is required")
        options = SendOptions(flash=_flag("flash"), attempts=_integer("attempts", 1),
                              delivery_report=True if _flag("dlr") else None)
        return values["tel"], values["msg"], options

    throttle = current_app.extensions["smsbridge"]["throttle"]
    address = request.remote_addr or "?"
    wait = throttle.wait_seconds(address)
    if wait:
        response, status = _classic_error(None, f"too many wrong passwords; try again in {wait} s", 429)
        response.headers["Retry-After"] = str(wait)
        return response, status
    try:
        result = _send(lambda session: authenticate_password(session, values["login"], values["pass"]),
                       read_fields, source="smsc")
    except AuthError as exc:
        if exc.status == 401:
            throttle.failed(address)
        return _classic_error(None, exc.message, exc.status)
    except AcceptError as exc:
        field = CLASSIC_FIELDS.get(exc.field, exc.field)
        return _classic_error(field, f"{field}: {exc.message}", exc.status)
    throttle.succeeded(address)
    count = len(result.messages)
    description = f"queued {count} message{'s' if count != 1 else ''}"
    if values.get("replacemessages_id"):
        # gammu-smsd's SQL outbox has no field for TP-PID "replace message".
        description += ("; replacemessages_id is not applied: gammu-smsd cannot send "
                        "replace-type messages from its database")
    return jsonify({"success": True, "description": description,
                    "ids": [m["id"] for m in result.messages], "messages": result.messages})


# --------------------------------------------------------------------------
# JSON API

def api_error(status: int, message: str, field: str | None = None, headers=None):
    body = {"error": {"status": status, "message": message}}
    if field:
        body["error"]["field"] = field
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@v1.errorhandler(AuthError)
def _auth_error(exc: AuthError):
    headers = {"WWW-Authenticate": 'Bearer realm="smsbridge"'} if exc.status == 401 else None
    return api_error(exc.status, exc.message, headers=headers)


@v1.errorhandler(AcceptError)
def _accept_error(exc: AcceptError):
    return api_error(exc.status, exc.message, field=exc.field)


@v1.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return api_error(404, str(exc))


def _bearer_key() -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("send an API key: Authorization: Bearer <key>")
    return key.strip()


def _api_user():
    key = _bearer_key()
    with _session().begin():
        return authenticate_api_key(_session(), key)


def _typed(body: dict, name: str, kind: type, default):
    value = body.get(name, default)
    if value is None:
        return default
    # bool is an int in Python; a JSON true is no number of attempts.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise AcceptError(name, f"must be {'a boolean' if kind is bool else 'an integer'}")
    return value


@v1.post("/messages")
def create_messages():
    key = _bearer_key()
    result = _send(lambda session: authenticate_api_key(session, key), _message_fields,
                   key=request.headers.get("Idempotency-Key"), source="api")
    response = jsonify(result.messages)
    response.status_code = 200 if result.replayed else 202
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _message_fields():
    body = _json_body()
    unknown = set(body) - {"to", "text", "flash", "attempts", "priority", "send_at", "valid_for",
                           "delivery_report", "callback_url"}
    if unknown:
        raise AcceptError(sorted(unknown)[0], "unknown field")
    recipients = body.get("to")
    if not isinstance(recipients, (str, list)) or (
            isinstance(recipients, list) and not all(isinstance(r, str) for r in recipients)):
        raise AcceptError("to", "a phone number, a comma-separated string or a list of them")
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise AcceptError("text", "must be a string")
    send_at = body.get("send_at")
    if send_at is not None and not isinstance(send_at, str):
        raise AcceptError("send_at", "must be an ISO 8601 string")
    callback_url = body.get("callback_url")
    if callback_url is not None and not isinstance(callback_url, str):
        raise AcceptError("callback_url", "must be a URL string")
    options = SendOptions(flash=_typed(body, "flash", bool, False),
                          attempts=_typed(body, "attempts", int, 1),
                          priority=_typed(body, "priority", int, 0),
                          send_at=parse_send_at(send_at),
                          valid_for=_typed(body, "valid_for", int, None),
                          delivery_report=_typed(body, "delivery_report", bool, None),
                          callback_url=callback_url)
    return recipients, text, options


@v1.get("/messages/<int:message_id>")
def get_message(message_id: int):
    user = _api_user()
    with _session().begin():
        return jsonify(message_view(visible_message(_session(), message_id, user)))


@v1.get("/sims")
def list_sims():
    user = _api_user()
    with _session().begin():
        return jsonify(sim_overview(_session(), user=user))


def _query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise AcceptError(name, f"must be a whole number from {low} to {high}")
    return int(raw)


@v1.get("/inbound")
def inbound_messages():
    """Cursor-paged: pass the last id you saw as ``since``."""
    user = _api_user()
    since = _query_int("since", 0, 0, 2**63 - 1)
    limit = _query_int("limit", 100, 1, 1000)
    with _session().begin():
        items = [inbound_view(m) for m in list_inbound(_session(), user, since=since, limit=limit)]
    return jsonify({"items": items, "next_since": items[-1]["id"] if items else since})


@v1.get("/optouts")
def get_opt_outs():
    # Every user's customers, with what they texted: for admins only.
    if not _api_user().is_admin:
        raise AuthError("only an admin may read the opt-out list", status=403)
    with _session().begin():
        return jsonify(optouts.list_opt_outs(_session()))


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AcceptError("body", "send a JSON object (Content-Type: application/json)")
    return body


@v1.post("/optouts")
def add_opt_out():
    user = _api_user()
    body = _json_body()
    if not isinstance(body.get("phone"), str):
        raise AcceptError("phone", "a phone number is required")
    with _session().begin():
        added = optouts.opt_out(_session(), body["phone"], reason=_reason(body), source="api",
                                actor=user.login, region=_settings().default_region)
    return jsonify({"phone": body["phone"], "added": added}), 201 if added else 200


@v1.delete("/optouts/<path:phone>")
def remove_opt_out(phone: str):
    user = _api_user()
    if not user.is_admin:
        raise AuthError("only an admin may take a number off the opt-out list", status=403)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    with _session().begin():
        reason = _reason(body) or _reason({"reason": request.args.get("reason")})
        removed = optouts.opt_in(_session(), phone, reason=reason,
                                 source="api", actor=user.login, region=_settings().default_region)
    if not removed:
        raise NotFound(f"{phone} is not on the opt-out list")
    return jsonify({"phone": phone, "removed": True})


def _reason(body: dict) -> str | None:
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise AcceptError("reason", "a text of at most 255 characters")
    return reason


@v1.put("/webhook")
def put_webhook():
    user = _api_user()
    body = _json_body()
    if not isinstance(body.get("url"), str):
        raise AcceptError("url", "an http(s) URL, or \"\" for a signing secret only")
    with _session().begin():
        secret = webhooks.set_webhook(_session(), _settings(), user.login, body["url"])
    return jsonify({"url": body["url"], "secret": secret,
                    "events": list(webhooks.EVENTS), "signature_header": "X-Smsbridge-Signature"})


@v1.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
