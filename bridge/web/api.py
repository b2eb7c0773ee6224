"""HTTP API: the classic ``/smsc`` call and the JSON ``/api/v1``. Thin:
parse the request with the models of ``api_schemas``, call accept / the
views, shape the answer. The bodies it reads and answers are declared there,
and the OpenAPI document is built from them (``openapi.py``)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from admin.spreadsheet import cell_csv

from .. import notebooks, optouts, reports, throttle, users, wake, webhooks
from ..accept import accept
from ..clock import iso_utc
from ..errors import AcceptError, AuthError, BridgeError, NotFound, ReportError
from ..messages import inbound_view, list_inbound, message_view, visible_message
from ..sims import sim_overview
from ..users import authenticate_api_key
from .api_schemas import (
    ClassicCredentials,
    ClassicSend,
    InboundQuery,
    OptOutRemoval,
    OptOutRequest,
    SendRequest,
    WebhookRequest,
    parse,
)
from .openapi import openapi_document

classic = Blueprint("classic", __name__)
v1 = Blueprint("v1", __name__, url_prefix="/api/v1")

# The classic call names its fields after the old PHP gateway.
CLASSIC_FIELDS = {"to": "tel", "text": "msg"}


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
        result = accept(
            session, user, recipients, text, options, settings=_settings(), idempotency_key=key, source=source
        )
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


def _classic_values(model) -> dict:
    """The model's parameters as given, the query string before the form."""
    names = [field.alias or name for name, field in model.model_fields.items()]
    return {name: request.values[name] for name in names if name in request.values}


@classic.route("/smsc", methods=["GET", "POST"])
@classic.route("/smsc.php", methods=["GET", "POST"])
def smsc():
    try:
        credentials = parse(ClassicCredentials, _classic_values(ClassicCredentials))
    except AcceptError as exc:
        return _classic_error(exc.field, exc.message, 400)
    send: ClassicSend | None = None

    def read_fields():
        nonlocal send
        send = parse(ClassicSend, _classic_values(ClassicSend))
        return send.tel, send.msg, send.options()

    address = request.remote_addr or "?"
    try:
        result = _send(
            lambda session: throttle.sign_in(session, address, credentials.login, credentials.password),
            read_fields,
            source="smsc",
        )
    except throttle.LockedOut as exc:
        response, status = _classic_error(None, exc.message, exc.status)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response, status
    except AuthError as exc:
        if exc.status == 401:  # counted in a transaction of its own: the send's rolled back
            session = _session()
            with session.begin():
                throttle.failed(session, address, credentials.login)
        return _classic_error(None, exc.message, exc.status)
    except AcceptError as exc:
        field = CLASSIC_FIELDS.get(exc.field, exc.field)
        return _classic_error(field, f"{field}: {exc.message}", exc.status)
    assert send is not None  # _send read the fields before it could accept them
    count = len(result.messages)
    description = f"queued {count} message{'s' if count != 1 else ''}"
    if send.replacemessages_id:
        # gammu-smsd's SQL outbox has no field for TP-PID "replace message".
        description += (
            "; replacemessages_id is not applied: gammu-smsd cannot send "
            "replace-type messages from its database"
        )
    return jsonify(
        {
            "success": True,
            "description": description,
            "ids": [m["id"] for m in result.messages],
            "messages": result.messages,
        }
    )


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


@v1.errorhandler(BridgeError)
def _bridge_error(exc: BridgeError):
    # One shape for every refusal: status, message and the field at fault.
    headers = (
        {"WWW-Authenticate": 'Bearer realm="smsbridge"'}
        if isinstance(exc, AuthError) and exc.status == 401
        else None
    )
    return api_error(exc.status, exc.message, field=exc.field, headers=headers)


def _bearer_key() -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError("send an API key: Authorization: Bearer <key>")
    return key.strip()


def _api_user():
    key = _bearer_key()
    with _session().begin():
        return authenticate_api_key(_session(), key)


@v1.post("/messages")
def create_messages():
    key = _bearer_key()
    result = _send(
        lambda session: authenticate_api_key(session, key),
        _message_fields,
        key=request.headers.get("Idempotency-Key"),
        source="api",
    )
    response = jsonify(result.messages)
    response.status_code = 200 if result.replayed else 202
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _message_fields():
    body = parse(SendRequest, _json_body())
    return body.to, body.text, body.options()


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


@v1.get("/inbound")
def inbound_messages():
    """Cursor-paged: pass the last id you saw as ``since``."""
    user = _api_user()
    query = parse(InboundQuery, request.args.to_dict())
    with _session().begin():
        items = [
            inbound_view(m) for m in list_inbound(_session(), user, since=query.since, limit=query.limit)
        ]
    return jsonify({"items": items, "next_since": items[-1]["id"] if items else query.since})


@v1.get("/optouts")
def get_opt_outs():
    # The global list holds every user's customers, with what they texted:
    # for admins only. A user reads their own list.
    user = _api_user()
    with _session().begin():
        return jsonify(optouts.list_opt_outs(_session(), owner=_list_owner(user)))


def _list_owner(user):
    """Whose opt-out list a call changes: an admin's calls change the
    global list, a user's their own."""
    return None if user.is_admin else user


def _json_body() -> object:
    """The parsed JSON body, or None when there is none; the models refuse
    anything but an object (field ``body``)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        # The json module nests by recursion: within the 1 MiB a request may
        # carry, a body of "[[[[…" is a refusal, not a 500.
        raise AcceptError("body", "the JSON is nested too deeply") from None


@v1.post("/optouts")
def add_opt_out():
    user = _api_user()
    body = parse(OptOutRequest, _json_body())
    with _session().begin():
        added = optouts.opt_out(
            _session(),
            body.phone,
            reason=body.reason,
            source="api",
            actor=user.login,
            region=_settings().default_region,
            owner=_list_owner(user),
        )
    return jsonify({"phone": body.phone, "added": added}), 201 if added else 200


@v1.delete("/optouts/<path:phone>")
def remove_opt_out(phone: str):
    user = _api_user()
    # The body is optional here: anything but an object is no reason at all.
    body = _json_body()
    reason = (
        parse(OptOutRemoval, body if isinstance(body, dict) else {}).reason
        or parse(OptOutRemoval, {"reason": request.args.get("reason")}).reason
    )
    with _session().begin():
        removed = optouts.opt_in(
            _session(),
            phone,
            reason=reason,
            source="api",
            actor=user.login,
            region=_settings().default_region,
            owner=_list_owner(user),
        )
    if not removed:
        raise NotFound(f"{phone} is not on the opt-out list")
    return jsonify({"phone": phone, "removed": True})


@v1.put("/webhook")
def put_webhook():
    user = _api_user()
    body = parse(WebhookRequest, _json_body())
    with _session().begin():
        secret = webhooks.set_webhook(_session(), _settings(), user.login, body.url)
    return jsonify(
        {
            "url": body.url,
            "secret": secret,
            "events": list(webhooks.EVENTS),
            "signature_header": "X-Smsbridge-Signature",
        }
    )


@v1.delete("/keys/<prefix>")
def revoke_key(prefix: str):
    """A user revokes one of their own keys (an admin any), by its prefix
    or the whole key; the key of this very request may be the one."""
    user = _api_user()
    with _session().begin():
        key = users.revoke_api_key(_session(), prefix, owner=None if user.is_admin else user)
        answer = {"prefix": key.prefix, "revoked_at": iso_utc(key.revoked_at)}
    return jsonify(answer)


# A report cell's result for a spreadsheet's "import from web", which can
# send no header: there the key may come as ?key=.
REPORT_KEY_PARAMETER = "key"


@v1.get("/reports/<int:cell_id>.csv")
def report_csv(cell_id: int):
    """One notebook cell, run now as the notebook's read-only account, as
    CSV; the query string gives its parameters (``?since=2026-11-01``)."""
    if request.headers.get("Authorization"):
        key = _bearer_key()
    else:
        key = request.args.get(REPORT_KEY_PARAMETER, "").strip()
        if not key:
            raise AuthError(f"send an API key: Authorization: Bearer <key>, or ?{REPORT_KEY_PARAMETER}=<key>")
    session = _session()
    with session.begin():
        user = authenticate_api_key(session, key)
        if not user.is_admin:
            raise AuthError("reports are for administrators", status=403)
        cell = notebooks.get_cell(session, cell_id)
    if cell.kind == "markdown":
        raise ReportError(f"cell {cell_id} is a text cell; it has no result", field="cell")
    # As on the notebook's page, a date left out is the last 30 days: a sheet
    # that names none follows a rolling month.
    parameters = reports.cell_parameters(cell)
    values = {p.name: p.default for p in parameters} | {
        name: value for name, value in request.args.items() if name != REPORT_KEY_PARAMETER
    }
    reports.bind_parameters(parameters, values)  # a bad value: 400 naming it
    engine = current_app.extensions["smsbridge"]["report_engine"].get()
    result = reports.run_cell(session, engine, cell, values)
    if result.error:
        raise ReportError(result.error, field="cell", status=422)
    return Response(
        cell_csv(result),
        mimetype="text/csv",
        headers={"Content-Disposition": f"inline; filename=cell-{cell_id}.csv", "Cache-Control": "no-store"},
    )


@v1.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
