"""HTTP API: the classic ``/smsc`` call and the JSON ``/api/v1``. Thin:
parse the request, call accept / the views, shape the answer."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from . import wake
from .accept import AcceptError, SendOptions, accept, parse_send_at
from .messages import NotFound, message_view, visible_message
from .openapi import openapi_document
from .sims import sim_overview
from .users import AuthError, authenticate_api_key, authenticate_password

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


def _send(user, recipients, text, options, *, key=None, source):
    session = _session()
    with session.begin():
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
    try:
        with _session().begin():
            user = authenticate_password(_session(), values["login"], values["pass"])
        for field in ("tel", "msg"):
            if not values.get(field, "").strip():
                raise AcceptError(field, f"{field} is required")
        options = SendOptions(flash=_flag("flash"), attempts=_integer("attempts", 1))
        result = _send(user, values["tel"], values["msg"], options, source="smsc")
    except AuthError as exc:
        return _classic_error(None, exc.message, exc.status)
    except AcceptError as exc:
        field = CLASSIC_FIELDS.get(exc.field, exc.field)
        return _classic_error(field, f"{field}: {exc.message}", exc.status)
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


def _api_user():
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("send an API key: Authorization: Bearer <key>")
    with _session().begin():
        return authenticate_api_key(_session(), key.strip())


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
    user = _api_user()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AcceptError("body", "send a JSON object (Content-Type: application/json)")
    unknown = set(body) - {"to", "text", "flash", "attempts", "priority", "send_at", "valid_for"}
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
    options = SendOptions(flash=_typed(body, "flash", bool, False),
                          attempts=_typed(body, "attempts", int, 1),
                          priority=_typed(body, "priority", int, 0),
                          send_at=parse_send_at(send_at),
                          valid_for=_typed(body, "valid_for", int, None))
    result = _send(user, recipients, text, options,
                   key=request.headers.get("Idempotency-Key"), source="api")
    response = jsonify(result.messages)
    response.status_code = 200 if result.replayed else 202
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


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


@v1.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
