"""Admin-only page for the rules incoming texts run through, in order:
add, move, remove, each through the bridge function the CLI uses."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from bridge import rules
from bridge.errors import BridgeError
from bridge.models import User

from .auth import SecureView
from .common import db, settings
from .manage import _run

EMPTY_FORM = {"owner": "", "match_kind": "keyword", "pattern": "", "action": "reply", "argument": ""}


class RulesView(SecureView):
    admin_only = True

    def _page(
        self, form: dict | None = None, error: str | None = None, new_secret: tuple[str, str] | None = None
    ):
        with db().begin():
            listed = [
                {"id": r.id, "text": rules.describe(r), "enabled": r.enabled} for r in rules.list_rules(db())
            ]
            logins = db().scalars(select(User.login).order_by(User.login)).all()
        return self.render(
            "smsbridge/rules.html",
            rules=listed,
            logins=logins,
            actions=rules.ACTIONS,
            form=form or EMPTY_FORM,
            error=error,
            new_secret=new_secret,
        )

    @expose("/")
    def index(self):
        return self._page()

    @expose("/add", methods=("POST",))
    def add(self):
        form = {name: request.form.get(name, "") for name in EMPTY_FORM}
        try:
            with db().begin():
                rule = rules.add_rule(
                    db(),
                    settings(),
                    login=form["owner"] or None,
                    match_kind=form["match_kind"],
                    pattern=form["pattern"],
                    action=form["action"],
                    argument=form["argument"].strip() or None,
                )
                described, secret = rules.describe(rule), rule.secret
        except BridgeError as exc:
            return self._page(form=form, error=exc.message), 400
        flash(f"Rule added: {described}", "success")
        if secret:
            # Rendered, not redirected: the secret must not travel through the
            # (signed, not encrypted) session cookie that carries flashes.
            return self._page(new_secret=(described, secret))
        return redirect(url_for(".index"))

    @expose("/<int:rule_id>/move/<direction>", methods=("POST",))
    def move(self, rule_id: int, direction: str):
        step = -1 if direction == "up" else 1

        def move():
            order = [r.id for r in rules.list_rules(db())]
            position = order.index(rule_id) + 1 if rule_id in order else 0
            rules.move_rule(db(), rule_id, position + step)  # "no rule N" when it is gone

        _run(move, f"Rule #{rule_id} moved {'up' if step < 0 else 'down'}.")
        return redirect(url_for(".index"))

    @expose("/<int:rule_id>/remove", methods=("POST",))
    def remove(self, rule_id: int):
        _run(lambda: rules.remove_rule(db(), rule_id), f"Rule #{rule_id} removed.")
        return redirect(url_for(".index"))
