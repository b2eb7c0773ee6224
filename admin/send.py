"""The send form: the same accept() as the API, with errors shown next to
the field they name."""

from __future__ import annotations

from flask import jsonify, request
from flask_admin import expose

from bridge import encoding, wake
from bridge.accept import SendOptions, accept
from bridge.errors import AcceptError, AuthError
from bridge.models import OnUncertain

from .auth import SecureView, signed_in_user
from .common import db, settings

FIELDS = ("to", "text", "attempts", "report", "on_uncertain")
# The form's choice -> SendOptions.delivery_report (None: the SIM's setting).
DELIVERY_REPORT = {"default": None, "yes": True, "no": False}


class SendView(SecureView):
    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = {
            "to": "",
            "text": "",
            "attempts": "1",
            "flash": False,
            "report": "default",
            "on_uncertain": "fail",
            "anytime": False,
        }
        errors: dict[str, str] = {}
        accepted = None
        if request.method == "POST":
            form = {
                "to": request.form.get("to", ""),
                "text": request.form.get("text", ""),
                "attempts": request.form.get("attempts", "1"),
                "flash": request.form.get("flash") == "on",
                "report": request.form.get("report", "default"),
                "on_uncertain": request.form.get("on_uncertain", "fail"),
                "anytime": request.form.get("anytime") == "on",
            }
            try:
                accepted = self._send(form)
            except AcceptError as exc:
                errors[exc.field if exc.field in FIELDS else "form"] = exc.message
            except AuthError as exc:
                errors["form"] = exc.message
        status = 400 if errors else 200
        return self.render(
            "smsbridge/send.html",
            form=form,
            errors=errors,
            accepted=accepted,
            max_attempts=settings().max_attempts,
        ), status

    def _send(self, form: dict):
        try:
            attempts = int(form["attempts"])
        except ValueError:
            raise AcceptError("attempts", "must be a whole number") from None
        if form["report"] not in DELIVERY_REPORT:
            raise AcceptError("report", "choose the SIM's default, yes or no")
        if form["on_uncertain"] not in ("fail", "resend"):
            raise AcceptError("on_uncertain", "choose fail or resend")
        options = SendOptions(
            flash=form["flash"],
            attempts=attempts,
            delivery_report=DELIVERY_REPORT[form["report"]],
            on_uncertain=OnUncertain(form["on_uncertain"]),
            quiet_hours=not form["anytime"],
        )
        with db().begin():
            result = accept(
                db(), signed_in_user(), form["to"], form["text"], options, settings=settings(), source="admin"
            )
        wake.notify(settings())
        return result

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
