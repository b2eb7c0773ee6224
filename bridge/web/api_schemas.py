"""The HTTP API's bodies, declared once as pydantic models: what callers send
(``api.py`` validates it with ``parse``) and what the API answers (the views
build it; the tests check the live answers against these models).
``openapi.py`` builds the OpenAPI document from the same models, so the
document and the validation cannot drift apart. (Not ``schema.py``: that one
creates the database tables.)

Invariants:
- A refused body is one ``AcceptError`` naming one field, in the project's
  words, never pydantic's: the first unknown field, else the first field at
  fault in declaration order. Nothing of a refused body reaches ``accept``.
- JSON request fields are strict: "3" is no number of attempts and true is
  no integer. The classic call's form parameters are strings, read with the
  old gateway's rules (flag words, whole numbers, blank means absent).
- Limits that depend on settings (max_attempts, max_parts, max_recipients)
  stay in ``accept``, which every interface shares; fixed ones are declared
  here as well, so the document shows them.
- Model docstrings and field descriptions are user documentation: they are
  served in the OpenAPI document.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, TypeVar

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, PydanticCustomError, PydanticUseDefault

from ..accept import MAX_PRIORITY, MAX_VALID_FOR, SendOptions, parse_send_at
from ..errors import AcceptError
from ..models import AttemptOutcome, MessageStatus, OnUncertain
from ..webhooks import MAX_URL, Event

NOT_AN_OBJECT = "send a JSON object (Content-Type: application/json)"
MAX_CURSOR = 2**63 - 1
# The range of attempts is checked by accept, against the max_attempts
# setting, for every interface; the models only document it.
ATTEMPTS = "How many SIMs may try the message, at most the `max_attempts` setting (default 5)."
Model = TypeVar("Model", bound=BaseModel)


# --------------------------------------------------------------------------
# Refusals: pydantic's errors in the project's words


ON_UNCERTAIN = (
    "What to do when the SIM's daemon goes away while sending this message, so that it may "
    "or may not have gone out: `fail` (the default) ends it `failed` — at most once, right "
    "for marketing; `resend` queues it again — at least once, right for alarms and one-time "
    "codes. Either way its attempts say it may have gone out."
)


class Refusal:
    """What to tell a caller whose field was refused, put in the field's
    ``Annotated[...]``. ``words`` answer a missing value or one of the wrong
    type; ``by_type`` answers other pydantic error types (a limit, say);
    ``always`` makes ``words`` the answer to everything."""

    def __init__(self, words: str | None = None, *, always: bool = False, **by_type: str):
        self.words = words
        self.always = always
        self.by_type = by_type


# Errors about a value's size or content rather than its kind: these keep
# their own words unless a Refusal names them.
_LIMITS = {"greater_than_equal", "less_than_equal", "string_too_long", "string_unicode", "value_error"}
_WORDS = {
    "int_type": "must be an integer",
    "bool_type": "must be a boolean",
    "string_type": "must be a string",
    "string_unicode": "is not valid Unicode (a lone surrogate)",
    "string_too_long": "at most {max_length} characters",
}


def parse(model: type[Model], data: object) -> Model:
    """``data`` as ``model``, or AcceptError naming the field at fault."""
    if model.model_config.get("extra") == "forbid" and isinstance(data, dict):
        # Checked here, not by pydantic: it would build one error per unknown
        # key, and a 1 MiB body holds a hundred thousand of them.
        unknown = data.keys() - {f.alias or name for name, f in model.model_fields.items()}
        if unknown:
            raise AcceptError(min(unknown), "unknown field")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _refusal(model, exc) from None


def _refusal(model: type[BaseModel], exc: ValidationError) -> AcceptError:
    error = exc.errors(include_url=False)[0]
    if not error["loc"]:
        return AcceptError("body", NOT_AN_OBJECT)
    # A union reports one error per member, located below the field: the
    # field is what the caller named.
    field = str(error["loc"][0])
    return AcceptError(field, _words(model, field, error))


def _words(model: type[BaseModel], field: str, error: ErrorDetails) -> str:
    info = next((f for name, f in model.model_fields.items() if (f.alias or name) == field), None)
    metadata = info.metadata if info else []
    says = next((m for m in metadata if isinstance(m, Refusal)), Refusal())
    kind, context = error["type"], error.get("ctx", {})
    if (
        error.get("input") is None
        and kind != "missing"
        or kind == "string_too_short"
        and context.get("min_length") == 1
    ):
        kind = "missing"  # null or an empty string is as good as none
    if kind in says.by_type:
        return says.by_type[kind]
    if says.words and (says.always or kind not in _LIMITS):
        return says.words
    if kind == "missing":
        return f"{field} is required"
    if kind == "value_error":
        return str(context["error"])
    if kind in ("greater_than_equal", "less_than_equal"):
        low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
        high = next((m.le for m in metadata if isinstance(m, Le)), None)
        if low is not None and high is not None:
            return f"must be between {low} and {high}"
        return f"must be at least {low}" if high is None else f"must be at most {high}"
    return _WORDS[kind].format(**context) if kind in _WORDS else error["msg"]


def _present(value: str) -> str:
    """A required form parameter: blank is as good as absent."""
    if not value.strip():
        raise PydanticCustomError("missing", "is required")
    return value


def _absent_not_null(schema: dict) -> None:
    """A field that is left out rather than null: document only its type."""
    schema.pop("default", None)
    schema.update(next(s for s in schema.pop("anyOf") if s.get("type") != "null"))


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ResponseModel(BaseModel):
    # Every key the API answers is declared: an undeclared one fails the tests.
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------
# JSON API requests

# Fail fast: a body of half a million numbers that are not strings is one
# error, not half a million (seconds of work for pydantic).
Recipients = Annotated[list[StrictStr], Field(fail_fast=True)]


class SendRequest(RequestModel):
    """`null` for flash, attempts, priority, send_at, valid_for, delivery_report,
    callback_url, quiet_hours or sim means the default."""

    model_config = ConfigDict(extra="forbid")

    to: Annotated[
        StrictStr | Recipients, Refusal("a phone number, a comma-separated string or a list of them")
    ] = Field(
        description="Recipients: one number, a string of them separated by commas (also `;` or "
        "newlines), or a list. At most the `max_recipients` setting (default 1000); "
        "repeated numbers are sent once. Numbers without a country code are read "
        "in the `default_region`.",
        examples=["+79161234567", ["+79161234567", "8 916 765-43-21"]],
    )
    text: Annotated[StrictStr, Refusal("must be a string", missing="a message text is required")] = Field(
        min_length=1, description="At most the `max_parts` setting (default 10) SMS parts; no NUL characters."
    )
    flash: StrictBool | None = Field(False, description="A flash SMS: shown, not stored, by the phone.")
    attempts: StrictInt | None = Field(1, json_schema_extra={"minimum": 1}, description=ATTEMPTS)
    priority: StrictInt | None = Field(0, ge=0, le=MAX_PRIORITY, description="Higher is sent first.")
    send_at: Annotated[StrictStr | None, Refusal("must be an ISO 8601 string")] = Field(
        None,
        json_schema_extra={"format": "date-time"},
        description="ISO 8601; without an offset it is UTC. Not before this time; a past time means now.",
    )
    valid_for: Annotated[
        StrictInt | None,
        Refusal(
            greater_than_equal=f"must be between 1 and {MAX_VALID_FOR} seconds",
            less_than_equal=f"must be between 1 and {MAX_VALID_FOR} seconds",
        ),
    ] = Field(
        None,
        ge=1,
        le=MAX_VALID_FOR,
        description="Seconds after `send_at` (or now) after which an unsent message expires. "
        "No expiry when absent.",
    )
    delivery_report: StrictBool | None = Field(
        None,
        description="Ask the network for a delivery report (true) or not (false); null or "
        "absent is the SIM's default. With a report the message can end "
        "`delivered` or `undelivered`.",
    )
    callback_url: Annotated[StrictStr | None, Refusal("must be a URL string")] = Field(
        None,
        max_length=MAX_URL,
        json_schema_extra={"format": "uri"},
        description="An http(s) URL. This message's events (`sms:sent`, `sms:delivered`, "
        "`sms:failed`) are POSTed here instead of to the user's webhook, signed "
        "with the user's secret (see Webhooks). Loopback and private hosts are "
        "refused (400, field `callback_url`) unless the operator allows them.",
    )
    on_uncertain: Annotated[Literal["fail", "resend"] | None, Refusal("must be fail or resend")] = Field(
        None, description=ON_UNCERTAIN
    )
    quiet_hours: StrictBool | None = Field(
        True,
        description="true (the default): held outside the user's send window (quiet hours, "
        "set by the operator, e.g. 09:00-21:00 Europe/Moscow) until it opens, with a "
        "`wait_reason` saying until when. false: sent whenever due, for one-time codes and alarms.",
    )

    sim: Annotated[StrictStr | None, Refusal("must be a SIM's name")] = Field(
        None,
        max_length=64,
        description="An admin's key only (403, field `sim`, for anyone else): the name of the SIM "
        "the message must leave through; it waits for that SIM rather than use another. "
        "Null or absent: any SIM the user may use.",
    )

    def options(self) -> SendOptions:
        """What ``accept`` takes: null is the default, send_at parsed."""
        given = {
            name: getattr(self, name)
            for name in (
                "flash",
                "attempts",
                "priority",
                "valid_for",
                "delivery_report",
                "callback_url",
                "on_uncertain",
                "quiet_hours",
                "sim",
            )
        }
        return SendOptions(
            **{k: v for k, v in given.items() if v is not None}, send_at=parse_send_at(self.send_at)
        )


OptOutReason = Annotated[StrictStr | None, Refusal("a text of at most 255 characters", always=True)]


class OptOutRequest(RequestModel):
    """Other fields are ignored."""

    phone: Annotated[StrictStr, Refusal("a phone number is required")] = Field(
        description="In any form `to` accepts; stored in E.164.", examples=["+79161234567"]
    )
    reason: OptOutReason = Field(None, max_length=255, description="Why; recorded with the change.")


class OptOutRemoval(RequestModel):
    """Other fields are ignored."""

    reason: OptOutReason = Field(None, max_length=255, description="Why; recorded with the change.")


class WebhookRequest(RequestModel):
    """Other fields are ignored."""

    url: Annotated[StrictStr, Refusal('an http(s) URL, or "" for a signing secret only')] = Field(
        max_length=MAX_URL,
        examples=["https://example.com/smsbridge", ""],
        description="An http(s) URL; loopback and private hosts are refused unless the operator "
        'allows them. `""`: no URL, only a signing secret for `callback_url`.',
    )


def _cursor_digits(raw: object) -> int:
    """A query parameter: plain ASCII digits (not ², not -1); blank is the default."""
    if raw == "":
        raise PydanticUseDefault()
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        raise ValueError("not digits")
    return int(raw)


class InboundQuery(RequestModel):
    since: Annotated[
        int,
        BeforeValidator(_cursor_digits),
        Refusal(f"must be a whole number from 0 to {MAX_CURSOR}", always=True),
    ] = Field(
        0,
        ge=0,
        le=MAX_CURSOR,
        description="The last id already seen; 0 (the default) starts from the beginning. "
        "Otherwise 400 with field `since`.",
    )
    limit: Annotated[
        int, BeforeValidator(_cursor_digits), Refusal("must be a whole number from 1 to 1000", always=True)
    ] = Field(100, ge=1, le=1000, description="At most this many items. Otherwise 400 with field `limit`.")


# --------------------------------------------------------------------------
# Classic /smsc parameters: strings from the query string or a form

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def _flag(raw: object) -> bool:
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("must be 1 or 0")


def _whole_number(raw: object) -> int:
    text = str(raw).strip()
    if not text:
        raise PydanticUseDefault()
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be a whole number") from None


ClassicFlag = Annotated[
    bool, PlainValidator(_flag), WithJsonSchema({"type": "string", "examples": ["1", "0"]})
]


def _flag_field(description: str):
    return Field(
        False,
        json_schema_extra={"default": "0"},
        description=f"{description} Case-insensitive 1, true, yes or on; 0, false, no, "
        "off or empty (the default). Anything else is a 400.",
    )


class ClassicCredentials(RequestModel):
    """Checked before anything else: a caller without them learns nothing more."""

    login: str = Field(min_length=1, description="The user's login.")
    password: str = Field(alias="pass", min_length=1, description="The user's password.")


class ClassicSend(RequestModel):
    """What to send; read only once the caller is known."""

    tel: Annotated[str, AfterValidator(_present)] = Field(
        description="Recipients, separated by commas (also `;` or newlines)."
    )
    msg: Annotated[str, AfterValidator(_present)] = Field(description="The text.")
    flash: ClassicFlag = _flag_field("1 sends a flash SMS (shown, not stored, by the phone).")
    attempts: Annotated[int, BeforeValidator(_whole_number)] = Field(
        1, json_schema_extra={"minimum": 1}, description=ATTEMPTS
    )
    dlr: ClassicFlag = _flag_field(
        "1 asks the network for a delivery report, so the message can "
        "become `delivered` or `undelivered`; 0 or absent leaves it to "
        "the SIM's default (it does not turn reports off)."
    )
    on_uncertain: Annotated[
        Literal["fail", "resend"] | None,
        BeforeValidator(lambda v: v or None),
        Refusal("must be fail or resend"),
    ] = Field(None, description=ON_UNCERTAIN)
    replacemessages_id: str | None = Field(
        None,
        description="Accepted but not applied: gammu-smsd cannot send replace-type "
        "messages from its database. When given, the answer's `description` "
        "says so.",
    )

    def options(self) -> SendOptions:
        return SendOptions(
            flash=self.flash,
            attempts=self.attempts,
            delivery_report=True if self.dlr else None,
            on_uncertain=OnUncertain(self.on_uncertain or OnUncertain.FAIL),
        )


class ClassicRequest(ClassicSend, ClassicCredentials):
    """`login`, `pass`, `tel` and `msg` are required (as a form field or in the
    query string; the query string wins when both name one). Other
    parameters are ignored."""


# --------------------------------------------------------------------------
# Answers


class ErrorDetail(ResponseModel):
    status: int = Field(description="The HTTP status.")
    message: str
    field: str | None = Field(
        None, json_schema_extra=_absent_not_null, description="The input at fault, when one is."
    )


class Error(ResponseModel):
    """Every JSON API and /healthz error, also 404/405/413 raised by the web
    framework itself."""

    error: ErrorDetail


class Health(ResponseModel):
    status: Literal["ok"]


class Readiness(ResponseModel):
    """Whether the gateway can do its job: the database answers, the worker
    passed within `worker_down_after` and at least one SIM is healthy."""

    status: Literal["ready", "unready"]
    problems: list[str] = Field(description="What is wrong, in words; empty when ready.")
    database: bool = Field(description="The database answered within `db_timeout`.")
    worker_last_pass_seconds_ago: float | None = Field(
        description="Seconds since the worker last finished a pass; null: never, or the database is away."
    )
    sims_healthy: int | None = Field(description="Enabled SIMs in the `healthy` state.")
    sims_total: int | None = Field(description="Every SIM, enabled or not.")


class AcceptedMessage(ResponseModel):
    id: int
    to: str = Field(description="The recipient in E.164.")
    status: MessageStatus


class ClassicResult(ResponseModel):
    success: Literal[True]
    description: str = Field(
        description="`queued N message(s)`, plus a note when `replacemessages_id` was given and ignored.",
        examples=["queued 2 messages"],
    )
    ids: list[int] = Field(description="The ids of `messages`, in the same order.")
    messages: list[AcceptedMessage]


class ClassicError(ResponseModel):
    """Every error of /smsc and /smsc.php, also those raised by the web
    framework itself (which carry no `field`)."""

    success: Literal[False]
    description: str
    field: Literal["login", "pass", "tel", "msg", "flash", "dlr", "attempts", "on_uncertain"] | None = Field(
        None, json_schema_extra=_absent_not_null, description="The parameter at fault, for a 400."
    )


class Attempt(ResponseModel):
    """One hand-off of a message to a SIM."""

    sim: str
    outcome: AttemptOutcome
    parts: int
    dispatched_at: datetime
    finished_at: datetime | None
    error: str | None


class Message(ResponseModel):
    id: int
    to: str = Field(description="The recipient in E.164.")
    text: str
    status: MessageStatus
    flash: bool
    priority: int = Field(ge=0, le=MAX_PRIORITY)
    sim: str | None = Field(description="Name of the SIM that has it, once dispatched.")
    parts: int | None = Field(description="SMS parts.")
    attempts: int = Field(description="Attempts made.")
    attempts_allowed: int
    wait_reason: str | None = Field(
        description="Why a queued message is not dispatched yet, and until when: no SIM, "
        "a monthly limit, a SIM's sending window (per minute, hour or day, distinct recipients "
        "per month) or the user's quiet hours."
    )
    quiet_hours: bool = Field(description="Held in the user's quiet hours (false: sent whenever due).")
    last_error: str | None
    delivery_report: bool | None = Field(description="Asked for a delivery report; null: the SIM's default.")
    delivery_status: int | None = Field(description="The network's status code from the delivery report.")
    on_uncertain: Literal["fail", "resend"] = Field(description=ON_UNCERTAIN)
    created_at: datetime
    send_at: datetime | None
    expires_at: datetime | None
    dispatched_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None
    history: list[Attempt] = Field(description="Every hand-off to a SIM, oldest first.")


class Watchdog(ResponseModel):
    """How the SIM is watched (`smsbridge sim set NAME --stall-after …`)."""

    stall_after: int = Field(description="Seconds due texts may wait untouched before it counts as stalled.")
    stall_errors: int = Field(description="Failed sends in a row that make it stalled.")
    restart_stalled: bool = Field(description="Whether the worker restarts its daemon when it stalls.")
    restarts: int = Field(description="Restarts during the current stall.")
    restarted_at: datetime | None


class PaceWindow(ResponseModel):
    window: Literal["minute", "hour", "day"]
    limit: int | None = Field(description="SMS parts per rolling window; null is no limit.")
    used: int = Field(
        ge=0,
        description="Parts sent in the last minute, hour or day, plus those in the SIM's "
        "outbox (they may go any moment).",
    )


class SIM(ResponseModel):
    name: str = Field(description="Also gammu-smsd's PhoneID.")
    number: str = Field(description="E.164.")
    state: Literal["disabled", "quarantined", "dead", "stalled", "healthy"] = Field(
        description="The first that holds, in this order: `disabled` (by an operator), `quarantined` "
        "(another card in its modem, or another SIM's card: it gets nothing until an operator "
        "acts), `dead` (no heartbeat from its gammu-smsd), `stalled` (alive but not sending), "
        "`healthy`."
    )
    state_reason: str | None = Field(description="Why it is not `healthy`, in words.")
    enabled: bool
    healthy: bool = Field(description="Its gammu-smsd's heartbeat is alive.")
    health_changed_at: datetime | None
    signal: int | None = Field(
        description="Percent, from gammu-smsd's last heartbeat; null before the first."
    )
    battery: int | None = Field(description="Percent.")
    network: str | None
    parts_used: int = Field(description="SMS parts reserved or sent this billing period.")
    monthly_limit: int | None = Field(description="SMS parts per billing period; null is no cap.")
    period_start: date
    waiting: int = Field(description="Rows in this SIM's gammu-smsd outbox.")
    owner: str | None = Field(description="Login of the owner; null for a shared SIM.")
    simulated: bool
    delivery_report: bool = Field(description="Delivery reports by default for this SIM's messages.")
    device: str | None = Field(description="The modem's port; null for a simulated SIM.")
    connection: str | None = Field(description="Gammu's connection type, e.g. `at`.")
    imsi: str | None = Field(description="The card in service, as gammu-smsd first reported it.")
    imei: str | None = Field(description="The modem that card was last seen in.")
    identity_since: datetime | None = Field(description="When that card was recorded or accepted.")
    new_imsi: str | None = Field(
        description="Another card seen in its modem, waiting for `smsbridge sim accept`; null when none."
    )
    new_imei: str | None
    quarantined_at: datetime | None
    balance: float | None = Field(description="The last amount read from a USSD balance answer.")
    balance_at: datetime | None = Field(description="When that answer came.")
    balance_low: bool = Field(description="`balance` is below the SIM's low mark.")
    balance_answer: str | None = Field(description="The operator's last answer, as it came.")
    balance_error: str | None = Field(
        description="Why the last balance check gave no amount (no answer, refused, not matched)."
    )
    balance_code: str | None = Field(description="The USSD code that asks the balance.")
    balance_every: int | None = Field(description="Hours between scheduled checks; null: only when asked.")
    stalled_since: datetime | None
    watchdog: Watchdog
    windows: list[PaceWindow] = Field(
        description="The SIM's pacing: SMS parts per rolling minute, hour and day. Dispatch hands "
        "it only what fits; the rest waits or goes to another SIM."
    )
    max_recipients_per_month: int | None = Field(
        description="Distinct numbers this SIM may text per billing period; null is no cap."
    )
    recipients_this_period: int | None = Field(
        description="Distinct numbers texted this billing period (counted while a cap is set)."
    )
    jitter: int = Field(ge=0, description="A random 0 to `jitter` seconds between two of its texts.")


class InboundData(ResponseModel):
    """A received text: the `data` of an `sms:received` event."""

    inbound_id: int
    sender: str = Field(alias="from", description="The sender's number.")
    sim: str = Field(description="Name of the SIM that received it.")
    text: str = Field(description="The whole text, long texts joined.")
    parts: int = Field(ge=1, description="SMS parts received.")
    complete: bool = Field(
        description="False when some parts never arrived and the text was "
        "joined without them after waiting `inbound_part_wait` "
        "(default 300 s)."
    )
    received_at: datetime


class RuleRun(ResponseModel):
    rule: str = Field(
        description="`opt-out word`, `opt-in word` or the rule, e.g. "
        "`#3 [everyone] keyword 'stop' -> reply Bye`."
    )
    outcome: Literal["done", "error"]
    detail: str = Field(description="What it did, or why it failed.")


class InboundMessage(InboundData):
    """A received text and what the rules did with it."""

    inbound_id: int = Field(description="The same as `id`.")
    id: int = Field(description="The paging cursor.")
    rules: list[RuleRun] = Field(
        description="Every rule that matched (and the opt-out/opt-in words), in the order they ran."
    )


class InboundPage(ResponseModel):
    items: list[InboundMessage]
    next_since: int = Field(
        ge=0,
        description="The last item's id, or `since` when there are no items: the `since` of the next call.",
    )


class OptOut(ResponseModel):
    phone: str = Field(description="E.164.")
    reason: str | None
    source: str = Field(
        description="Where it came from: `api`, `sms` (the number texted an "
        "opt-out word), or another interface."
    )
    since: datetime


class OptOutAdded(ResponseModel):
    phone: str = Field(description="As given in the request.")
    added: bool = Field(description="False: it was already on that list.")


class OptOutRemoved(ResponseModel):
    phone: str = Field(description="As given in the path.")
    removed: Literal[True]


class KeyRevoked(ResponseModel):
    prefix: str = Field(description="The revoked key's first 10 characters.")
    revoked_at: datetime


class WebhookSettings(ResponseModel):
    url: str
    secret: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="The new signing secret (64 hex digits); the API never shows it again.",
    )
    events: list[Event] = Field(description="Every event there is.")
    signature_header: Literal["X-Smsbridge-Signature"]


class MessageEventData(ResponseModel):
    """A message's state: the `data` of `sms:sent`, `sms:delivered` and `sms:failed`."""

    message_id: int = Field(description="As in `GET /api/v1/messages/{id}`.")
    to: str = Field(description="The recipient in E.164.")
    status: MessageStatus
    parts: int | None = Field(description="SMS parts.")
    sent_at: datetime | None
    finished_at: datetime | None
    delivery_status: int | None = Field(
        description="The network's status code from the delivery report, when there was one."
    )
    error: str | None


class WebhookEvent(ResponseModel):
    """The body of every webhook POST."""

    id: str = Field(
        pattern="^[0-9a-f]{32}$",
        description="The delivery id, also in `X-Smsbridge-Delivery`; the same on "
        "every retry: de-duplicate by it.",
    )
    event: Event
    created_at: datetime = Field(description="When the event happened.")
    data: InboundData | MessageEventData
