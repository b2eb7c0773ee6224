"""Admin-only pages that manage users, SIMs and the opt-out list, each
through the bridge function the CLI uses."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import func, select

from bridge import balance, optouts, sim_events, sims, smsd, users, wake
from bridge.errors import BridgeError, SmsdError, UserError
from bridge.models import ApiKey, Sim, User

from .auth import SecureView, signed_in_user
from .common import db, form_int, session_factory, settings, shown_sims


def _run(action, done) -> bool:
    """Run ``action`` in one transaction and flash the outcome: ``done``, or
    ``done(result)`` when it is a function. UserError and AcceptError (both
    BridgeErrors) are the operator's mistakes and are shown as such."""
    try:
        with db().begin():
            result = action()
    except BridgeError as exc:
        flash(str(exc), "error")  # "field: message" when a field is at fault
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
            live_keys = [
                {
                    "prefix": k.prefix,
                    "login": login,
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                }
                for k, login in db()
                .execute(
                    select(ApiKey, User.login)
                    .join(User, User.id == ApiKey.user_id)
                    .where(ApiKey.revoked_at.is_(None))
                    .order_by(User.login, ApiKey.id)
                )
                .all()
            ]
        return self.render(
            "smsbridge/users.html",
            users=rows,
            keys=keys,
            live_keys=live_keys,
            new_key=new_key,
            me=signed_in_user(),
        )

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
        if blocked and users.normalise_login(login) == users.normalise_login(signed_in_user().login):
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
            lambda revoked: (
                f"Password of {login} changed; their open sessions have ended and "
                f"{revoked} API key(s) were revoked."
            ),
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
        replace = request.form.get("replace") == "on"
        done = f"New API key for {login}" + ("; their other keys are revoked." if replace else ".")
        if _run(lambda: issued.append(users.issue_api_key(db(), login, replace=replace)), done):
            return self._page(new_key=(login, issued[0]))
        return redirect(url_for(".index"))

    @expose("/keys/<prefix>/revoke", methods=("POST",))
    def revoke_key(self, prefix: str):
        _run(lambda: users.revoke_api_key(db(), prefix), f"API key {prefix}… revoked.")
        return redirect(url_for(".index"))


class SimsView(SecureView):
    admin_only = True

    @expose("/")
    def index(self):
        with db().begin():
            overview = sims.sim_overview(db())
            billing = dict(db().execute(select(Sim.name, Sim.billing_day)).all())
            logins = db().scalars(select(User.login).order_by(User.login)).all()
            overview = shown_sims(overview)
        rows = []
        for row in overview:
            local = smsd.has_config(settings(), row["name"])
            rows.append(
                {**row, "local": local, "pid": smsd.running_pid(settings(), row["name"]) if local else None}
            )
        return self.render("smsbridge/sims.html", sims=rows, billing=billing, logins=logins)

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
                monthly_limit=form_int(form.get("monthly_limit"), field="monthly_limit"),
                billing_day=form_int(form.get("billing_day"), default=1, field="billing_day"),
                owner=form.get("owner") or None,
                delivery_report=form.get("delivery_report") == "on",
            )

        _run(add_sim, f"SIM {name} added. Start its daemon on its page, or run: smsbridge smsd start {name}")
        return redirect(url_for(".index"))

    @expose("/<sim_name>/")
    def detail(self, sim_name: str):
        try:
            with db().begin():
                sim = sims.get_sim(db(), sim_name)
        except BridgeError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".index"))
        with db().begin():
            sim = sims.get_sim(db(), sim_name)
            [overview] = shown_sims([row for row in sims.sim_overview(db()) if row["name"] == sim_name])
            events = sim_events.recent(db(), sim.id)
            checks = balance.history(db(), sim.id)
        local = smsd.has_config(settings(), sim_name)
        return self.render(
            "smsbridge/sim.html",
            sim=overview,
            record=sim,
            pattern=sim.balance_pattern or "",
            low=sim.balance_low,
            default_pattern=balance.DEFAULT_PATTERN,
            pin_set=local and smsd.configured_pin(settings(), sim_name) is not None,
            events=events,
            checks=checks,
            local=local,
            pid=smsd.running_pid(settings(), sim_name) if local else None,
        )

    @expose("/<sim_name>/modem", methods=("POST",))
    def modem(self, sim_name: str):
        form = request.form
        device = form.get("device", "").strip() or None
        connection = form.get("connection", "").strip() or None
        # The PIN field is write-only: empty keeps the PIN, the box removes it.
        pin = None if form.get("clear_pin") == "on" else (form.get("pin", "").strip() or smsd.KEEP)

        def change():
            number = form.get("number", "").strip()
            if number:
                sims.set_number(db(), settings(), sim_name, number)
            sim = sims.get_sim(db(), sim_name)
            if not sim.simulated or pin is not smsd.KEEP:
                sims.set_modem(
                    db(),
                    settings(),
                    sim_name,
                    device=None if sim.simulated else device,
                    connection=None if sim.simulated else connection,
                    pin=pin,
                )

        running = smsd.running_pid(settings(), sim_name) is not None
        _run(change, f"SIM {sim_name} saved." + (" Restart its daemon to apply it." if running else ""))
        return redirect(url_for(".detail", sim_name=sim_name))

    @expose("/<sim_name>/balance-settings", methods=("POST",))
    def balance_settings(self, sim_name: str):
        form = request.form

        def change():
            sims.set_balance(
                db(),
                sim_name,
                code=form.get("code", "").strip() or None,
                every=form_int(form.get("every")),
                pattern=form.get("pattern", "").strip() or None,
                low=form.get("low", "").strip() or None,
            )

        _run(change, f"Balance checks of SIM {sim_name} saved.")
        return redirect(url_for(".detail", sim_name=sim_name))

    @expose("/<sim_name>/watchdog", methods=("POST",))
    def watchdog(self, sim_name: str):
        form = request.form

        def change():
            sims.set_watchdog(
                db(),
                sim_name,
                stall_after=form_int(form.get("stall_after")),
                stall_errors=form_int(form.get("stall_errors")),
                restart_stalled=form.get("restart_stalled") == "on",
                reset_every=form_int(form.get("reset_every"), default=0),
                hard_reset_every=form_int(form.get("hard_reset_every"), default=0),
                settings=settings(),
            )

        _run(change, f"Watchdog of SIM {sim_name} saved (resets apply when its daemon restarts).")
        return redirect(url_for(".detail", sim_name=sim_name))

    @expose("/<sim_name>/balance", methods=("POST",))
    def ask_balance(self, sim_name: str):
        _run(
            lambda: balance.ask(
                db(), sims.get_sim(db(), sim_name), request.form.get("code", "").strip() or None
            ),
            lambda check: f"Asked {check.code} through SIM {sim_name}; the answer shows here when it comes.",
        )
        return redirect(url_for(".detail", sim_name=sim_name))

    @expose("/<sim_name>/accept", methods=("POST",))
    def accept(self, sim_name: str):
        if _run(lambda: sims.accept_card(db(), sim_name), lambda done: f"SIM {sim_name}: {done}."):
            wake.notify(settings())
        return redirect(url_for(".detail", sim_name=sim_name))

    @expose("/<sim_name>/remove", methods=("POST",))
    def remove(self, sim_name: str):
        take_back = request.form.get("take_back") == "on"
        if _run(lambda: sims.remove_sim(db(), settings(), sim_name, take_back=take_back), lambda done: done):
            wake.notify(settings())
            return redirect(url_for(".index"))
        return redirect(url_for(".detail", sim_name=sim_name))

    @expose("/<sim_name>/daemon", methods=("POST",))
    def daemon(self, sim_name: str):
        action = request.form.get("action")
        # Start and restart settle what a previous daemon had leased first, so
        # the new one never sends those texts a second time (as `smsd start`).
        run = {
            "start": lambda: sims.start_daemon(session_factory(), settings(), sim_name),
            "stop": lambda: smsd.stop(settings(), sim_name),
            "restart": lambda: sims.restart_daemon(session_factory(), settings(), sim_name),
        }.get(action or "")
        if run is None or not smsd.has_config(settings(), sim_name):
            flash(f"SIM {sim_name}'s daemon does not run on this host.", "error")
        else:
            try:
                run()
            except SmsdError as exc:
                flash(exc.message, "error")
            else:
                flash(f"SIM {sim_name}: daemon {action}{'ed' if action != 'stop' else 'ped'}.", "success")
        if request.form.get("back") == "list":
            return redirect(url_for(".index"))
        return redirect(url_for(".detail", sim_name=sim_name))

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
            sims.set_limit(db(), sim_name, form_int(form.get("monthly_limit"), field="monthly_limit"))
            sims.set_billing_day(
                db(), sim_name, form_int(form.get("billing_day"), default=1, field="billing_day") or 1
            )
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
                actor=signed_in_user().login,
                region=settings().default_region,
            ),
            lambda changed: f"{phone} {done if changed else unchanged}.",
        )
        return redirect(url_for(".index"))
