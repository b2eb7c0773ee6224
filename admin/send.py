"""The send form: the same accept() and the same option checks as the API
(``bridge.accept``), with errors shown next to the field they name.

A typed ``send_at`` is read in the signed-in user's time zone (their
``timezone`` setting, else UTC) and the page says which; a time in the past
is refused rather than sent at once. Only admins see, and may post, a SIM
choice (``accept`` refuses it from anyone else)."""

from __future__ import annotations

from flask import jsonify, request
from flask_admin import expose

from bridge import encoding, sims, wake
from bridge.accept import SendOptions, accept, parse_send_at
from bridge.clock import show_time, utcnow
from bridge.errors import AcceptError, AuthError
from bridge.models import OnUncertain, User

from .auth import SecureView, signed_in_user, viewer_zone
from .common import db, form_int, settings, shown_sims

FIELDS = ("to", "text", "attempts", "report", "on_uncertain", "send_at", "valid_for", "sim")
# The form's choice -> SendOptions.delivery_report (None: the SIM's setting).
DELIVERY_REPORT = {"default": None, "yes": True, "no": False}
# Validity choices, in seconds ("" = until sent); the API takes any 1..7 days.
VALIDITY = [
    ("", "until sent"),
    ("600", "10 minutes"),
    ("3600", "1 hour"),
    ("21600", "6 hours"),
    ("86400", "1 day"),
    ("259200", "3 days"),
    ("604800", "7 days"),
]
DEFAULTS = {
    "to": "",
    "text": "",
    "attempts": "1",
    "flash": False,
    "report": "default",
    "on_uncertain": "fail",
    "anytime": False,
    "send_at": "",
    "valid_for": "",
    "sim": "",
}


class SendView(SecureView):
    @expose("/", methods=("GET", "POST"))
    def index(self):
        user = signed_in_user()
        # Read before anything can roll back (and so expire) the user's row.
        zone, is_admin, has_zone = viewer_zone(), user.is_admin, bool(user.timezone)
        form = dict(DEFAULTS)
        errors: dict[str, str] = {}
        accepted = scheduled = None
        if request.method == "POST":
            form = {
                **{name: request.form.get(name, DEFAULTS[name]) for name in DEFAULTS},
                "flash": request.form.get("flash") == "on",
                "anytime": request.form.get("anytime") == "on",
            }
            try:
                accepted, send_at = self._send(form, user, zone)
                scheduled = show_time(send_at, zone) if send_at else None
            except AcceptError as exc:
                shown = (
                    FIELDS if is_admin else [f for f in FIELDS if f != "sim"]
                )  # no SIM field to show it by
                errors[exc.field if exc.field in shown else "form"] = exc.message
            except AuthError as exc:
                errors["form"] = exc.message
        status = 400 if errors else 200
        return self.render(
            "smsbridge/send.html",
            form=form,
            errors=errors,
            accepted=accepted,
            scheduled=scheduled,
            zone=zone,
            zone_is_users=has_zone,
            validity=VALIDITY,
            sim_choices=self._sim_choices() if is_admin else None,
            max_attempts=settings().max_attempts,
        ), status

    def _sim_choices(self) -> list[tuple[str, str]]:
        with db().begin():
            rows = shown_sims(sims.sim_overview(db()))
        return [(row["name"], f"{row['name']} ({row['number']}) — {row['state']}") for row in rows]

    def _send(self, form: dict, user: User, zone: str):
        attempts = form_int(form["attempts"], default=1, field="attempts")
        if form["report"] not in DELIVERY_REPORT:
            raise AcceptError("report", "choose the SIM's default, yes or no")
        if form["on_uncertain"] not in ("fail", "resend"):
            raise AcceptError("on_uncertain", "choose fail or resend")
        send_at = parse_send_at(form["send_at"], timezone=zone, now=utcnow())
        options = SendOptions(
            flash=form["flash"],
            attempts=attempts,
            send_at=send_at,
            valid_for=form_int(form["valid_for"], field="valid_for"),
            delivery_report=DELIVERY_REPORT[form["report"]],
            on_uncertain=OnUncertain(form["on_uncertain"]),
            quiet_hours=not form["anytime"],
            sim=form["sim"] or None,
        )
        with db().begin():
            result = accept(
                db(), user, form["to"], form["text"], options, settings=settings(), source="admin"
            )
        wake.notify(settings())
        return result, send_at

    @expose("/describe", methods=("POST",))
    def describe(self):
        """Encoding and parts exactly as dispatch will split the text (the
        page's own counter is an instant estimate)."""
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            # The json module nests by recursion: "[[[[…" is a refusal, not a 500.
            return jsonify({"error": "the JSON is nested too deeply", "field": "body"}), 400
        text = body.get("text", "") if isinstance(body, dict) else ""
        if not isinstance(text, str):
            return jsonify({"error": "must be a string", "field": "text"}), 400
        if len(text) > settings().max_parts * 160 * 2:
            return jsonify({"error": "text too long", "field": "text"}), 400
        if not text:
            return jsonify({"encoding": "GSM-7", "parts": 0, "characters": 0})
        return jsonify(encoding.describe(text))
