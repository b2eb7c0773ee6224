"""Admin-only page for the rules incoming texts run through, in order:
add, edit in place, pause/resume, move, remove, each through the bridge
function the CLI uses. A sending rule that can meet texts no user is
attributed to is flagged in words (``rules.nobody_warning``) when it is
saved and on its row."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from bridge import rules
from bridge.errors import BridgeError
from bridge.models import Rule, User

from .auth import SecureView
from .common import db, settings
from .manage import _run

EMPTY_FORM = {"owner": "", "match_kind": "keyword", "pattern": "", "action": "reply", "argument": ""}


def _form_of(rule: Rule) -> dict:
    return {
        "owner": rule.user.login if rule.user else "",
        "match_kind": rule.match_kind,
        "pattern": rule.pattern,
        "action": rule.action,
        "argument": rule.argument or "",
    }


class RulesView(SecureView):
    admin_only = True

    def _page(
        self,
        form: dict | None = None,
        error: str | None = None,
        new_secret: tuple[str, str] | None = None,
        editing: tuple[int, dict, str] | None = None,
    ):
        """``editing``: (rule id, the posted form, its error) to show that
        rule's edit row open with what was typed."""
        with db().begin():
            unowned = rules.unowned_sims(db())
            listed = []
            for r in rules.list_rules(db()):
                open_edit = editing is not None and editing[0] == r.id
                listed.append(
                    {
                        "id": r.id,
                        "text": rules.describe(r),
                        "enabled": r.enabled,
                        "form": editing[1] if editing and open_edit else _form_of(r),
                        "edit_error": editing[2] if editing and open_edit else None,
                        "warning": rules.nobody_warning(r, unowned),
                    }
                )
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
                warning = rules.nobody_warning(rule, rules.unowned_sims(db()))
        except BridgeError as exc:
            return self._page(form=form, error=exc.message), 400
        flash(f"Rule added: {described}", "success")
        if warning:
            flash(f"Rule #{rule.id}: {warning}", "warning")
        if secret:
            # Rendered, not redirected: the secret must not travel through the
            # (signed, not encrypted) session cookie that carries flashes.
            return self._page(new_secret=(described, secret))
        return redirect(url_for(".index"))

    @expose("/<int:rule_id>/edit", methods=("POST",))
    def edit(self, rule_id: int):
        form = {name: request.form.get(name, "") for name in EMPTY_FORM}
        try:
            with db().begin():
                rule, secret = rules.edit_rule(
                    db(),
                    settings(),
                    rule_id,
                    login=form["owner"] or None,
                    match_kind=form["match_kind"],
                    pattern=form["pattern"],
                    action=form["action"],
                    argument=form["argument"].strip() or None,
                )
                described = rules.describe(rule)
                warning = rules.nobody_warning(rule, rules.unowned_sims(db()))
        except BridgeError as exc:
            return self._page(editing=(rule_id, form, exc.message)), 400
        flash(f"Rule saved: {described}", "success")
        if warning:
            flash(f"Rule #{rule_id}: {warning}", "warning")
        if secret:
            # As add: a new URL gets a new secret, shown once, never in a cookie.
            return self._page(new_secret=(described, secret))
        return redirect(url_for(".index"))

    @expose("/<int:rule_id>/pause", methods=("POST",))
    def pause(self, rule_id: int):
        _run(lambda: rules.set_enabled(db(), rule_id, False), f"Rule #{rule_id} paused.")
        return redirect(url_for(".index"))

    @expose("/<int:rule_id>/resume", methods=("POST",))
    def resume(self, rule_id: int):
        _run(lambda: rules.set_enabled(db(), rule_id, True), f"Rule #{rule_id} resumed.")
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
