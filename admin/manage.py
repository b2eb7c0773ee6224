"""Admin-only pages that manage users, SIMs and the opt-out list, each
through the bridge function the CLI uses."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import func, select

from bridge import optouts, sims, users
from bridge.errors import BridgeError, UserError
from bridge.models import ApiKey, Sim, User

from .auth import SecureView, current_user
from .common import db, form_int, settings


def _run(action, done) -> bool:
    """Run ``action`` in one transaction and flash the outcome: ``done``, or
    ``done(result)`` when it is a function. UserError and AcceptError (both
    BridgeErrors) are the operator's mistakes and are shown as such."""
    try:
        with db().begin():
            result = action()
    except BridgeError as exc:
        flash(exc.message, "error")
        return False
    flash(done(result) if callable(done) else done, "success")
    return True


class UsersView(SecureView):
    admin_only = True

    def _page(self, new_key: tuple[str, str] | None = None):
        with db().begin():
            keys = dict(
                db()
                .execute(
                    select(ApiKey.user_id, func.count())
                    .where(ApiKey.revoked_at.is_(None))
                    .group_by(ApiKey.user_id)
                )
                .all()
            )
            rows = db().scalars(select(User).order_by(User.login)).all()
        return self.render("smsbridge/users.html", users=rows, keys=keys, new_key=new_key, me=current_user())

    @expose("/")
    def index(self):
        return self._page()

    @expose("/add", methods=("POST",))
    def add(self):
        login = request.form.get("login", "")
        _run(
            lambda: users.create_user(
                db(), login, request.form.get("password", ""), is_admin=request.form.get("is_admin") == "on"
            ),
            f"User {login.strip()} created.",
        )
        return redirect(url_for(".index"))

    @expose("/<login>/block", methods=("POST",))
    def block(self, login: str):
        blocked = request.form.get("blocked") == "1"
        if blocked and login == current_user().login:
            flash("You cannot block yourself.", "error")
        else:
            _run(
                lambda: users.set_blocked(db(), login, blocked),
                f"User {login} {'blocked' if blocked else 'unblocked'}.",
            )
        return redirect(url_for(".index"))

    @expose("/<login>/password", methods=("POST",))
    def password(self, login: str):
        _run(
            lambda: users.set_password(db(), login, request.form.get("password", "")),
            f"Password of {login} changed; their open sessions have ended.",
        )
        return redirect(url_for(".index"))

    @expose("/<login>/window", methods=("POST",))
    def window(self, login: str):
        """Quiet hours: the send window ("" or none: any time) and its time zone."""
        _run(
            lambda: users.set_send_window(
                db(),
                login,
                request.form.get("send_window", "").strip() or "none",
                request.form.get("timezone", "").strip() or None,
            ),
            f"Send window of {login} saved.",
        )
        return redirect(url_for(".index"))

    @expose("/<login>/key", methods=("POST",))
    def key(self, login: str):
        # Rendered, not redirected: the key must not travel through the
        # (signed, not encrypted) session cookie that carries flashes.
        issued: list[str] = []
        if _run(lambda: issued.append(users.issue_api_key(db(), login)), f"New API key for {login}."):
            return self._page(new_key=(login, issued[0]))
        return redirect(url_for(".index"))


class SimsView(SecureView):
    admin_only = True

    @expose("/")
    def index(self):
        with db().begin():
            overview = sims.sim_overview(db())
            billing = dict(db().execute(select(Sim.name, Sim.billing_day)).all())
            logins = db().scalars(select(User.login).order_by(User.login)).all()
        return self.render("smsbridge/sims.html", sims=overview, billing=billing, logins=logins)

    @expose("/add", methods=("POST",))
    def add(self):
        form = request.form
        name = form.get("name", "").strip()

        def add_sim():
            simulated = form.get("simulated") == "on"
            sims.add_sim(
                db(),
                settings(),
                name,
                form.get("number", ""),
                device=form.get("device", "").strip() or None,
                connection=form.get("connection", "").strip() or "at",
                simulated=simulated,
                monthly_limit=form_int(form.get("monthly_limit")),
                billing_day=form_int(form.get("billing_day"), default=1),
                owner=form.get("owner") or None,
                delivery_report=form.get("delivery_report") == "on",
            )

        _run(add_sim, f"SIM {name} added; start its daemon with `smsbridge smsd start {name}`.")
        return redirect(url_for(".index"))

    # "name" would clash with Flask-Admin's own argument of that name.
    @expose("/<sim_name>/enabled", methods=("POST",))
    def enabled(self, sim_name: str):
        enabled = request.form.get("enabled") == "1"
        _run(
            lambda: sims.set_enabled(db(), sim_name, enabled),
            f"SIM {sim_name} {'enabled' if enabled else 'disabled'}.",
        )
        return redirect(url_for(".index"))

    @expose("/<sim_name>/settings", methods=("POST",))
    def change(self, sim_name: str):
        form = request.form

        def change():
            sims.set_limit(db(), sim_name, form_int(form.get("monthly_limit")))
            sims.set_billing_day(db(), sim_name, form_int(form.get("billing_day"), default=1))
            sims.set_owner(db(), sim_name, form.get("owner") or None)
            sims.set_delivery_report(db(), sim_name, form.get("delivery_report") == "on")
            sims.set_pacing(db(), sim_name, **_pacing(form))

        _run(change, f"SIM {sim_name} saved.")
        return redirect(url_for(".index"))


def _pacing(form) -> dict[str, int | None]:
    """The pacing inputs of a SIM's settings form; blank is no limit (no jitter)."""
    values: dict[str, int | None] = {}
    for name in sims.PACING:
        raw = form.get(name, "").strip()
        if raw and not raw.isdigit():
            raise UserError(f"{name.replace('_', ' ')}: {raw!r} is not a whole number", field=name)
        values[name] = int(raw) if raw else (0 if name == "jitter" else None)
    return values


class OptOutsView(SecureView):
    admin_only = True

    @expose("/")
    def index(self):
        search = request.args.get("q", "").strip()[:40]
        with db().begin():
            rows = [row for row in optouts.list_opt_outs(db()) if search in row["phone"]]
        return self.render("smsbridge/optouts.html", rows=rows, search=search)

    @expose("/add", methods=("POST",))
    def add(self):
        return self._change(optouts.opt_out, "will not be texted", "is already on the list")

    @expose("/remove", methods=("POST",))
    def remove(self):
        return self._change(optouts.opt_in, "may be texted again", "was not on the list")

    def _change(self, change, done: str, unchanged: str):
        phone = request.form.get("phone", "").strip()
        _run(
            lambda: change(
                db(),
                phone,
                reason=request.form.get("reason", "").strip()[:255] or None,
                source="admin",
                actor=current_user().login,
                region=settings().default_region,
            ),
            lambda changed: f"{phone} {done if changed else unchanged}.",
        )
        return redirect(url_for(".index"))
