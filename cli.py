"""smsbridge command line: provisioning and operations. Thin: parse, call
bridge functions, print.

Every command's mistakes are handled in one place (``Smsbridge.invoke``): a
BridgeError or an unreachable database is one line on stderr and exit 1,
never a traceback. The passes run once under ``smsbridge job``."""

from __future__ import annotations

import functools
import json
import logging
import secrets
import sys
import time

import click

from bridge import alerts as alerts_module
from bridge import (
    balance,
    migrations,
    modems,
    notebook_files,
    notebooks,
    optouts,
    reports,
    rules,
    schema,
    sim_events,
    sims,
    smsd,
    users,
    wake,
    webhooks,
)
from bridge.accept import SendOptions, accept, parse_send_at
from bridge.clock import iso_utc, utcnow
from bridge.config import SETTINGS, load_settings
from bridge.db import UNAVAILABLE, make_engine, make_session_factory
from bridge.errors import BridgeError, SchemaError
from bridge.jobs import passes
from bridge.messages import inbound_view, list_inbound, message_view, visible_message
from bridge.models import BalanceCheck, OnUncertain
from bridge.server import cli_command, run_worker, serve_web, supervise


class Context:
    def __init__(self, config_path):
        self.config_path = config_path

    @functools.cached_property
    def settings(self):
        return load_settings(self.config_path)  # a SettingsError is one line, see Smsbridge

    @functools.cached_property
    def engine(self):
        return make_engine(self.settings.database_url)

    @functools.cached_property
    def sessions(self):
        return make_session_factory(self.engine)


pass_ctx = click.make_pass_decorator(Context)


class Smsbridge(click.Group):
    """The root group: turns the errors a person can act on into one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BridgeError as exc:
            raise click.ClickException(str(exc)) from None
        except UNAVAILABLE as exc:
            cause = getattr(exc, "orig", None) or exc
            raise click.ClickException(f"the database is unavailable: {cause}") from None


@click.group(cls=Smsbridge)
@click.option(
    "--config",
    "config_path",
    envvar="SMSBRIDGE_CONFIG",
    type=click.Path(dir_okay=False),
    help="Settings file (TOML); every setting can also be SMSBRIDGE_<NAME>.",
)
@click.pass_context
def main(ctx, config_path):
    """smsbridge: an SMS gateway over Gammu SMSD."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Alembic narrates each step at INFO; the db commands print what was done.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx.obj = Context(config_path)


@main.command("settings")
def show_settings():
    """List every setting with its default and help."""
    for s in SETTINGS:
        click.echo(f"{s.name} (SMSBRIDGE_{s.name.upper()}, default {s.default!r})\n    {s.help}")


# ---------------------------------------------------------------- database


@main.group()
def db():
    """Create and inspect the database."""


@db.command("init")
@click.option("--gammu-user", help="Also create this least-privilege DB account for gammu-smsd.")
@click.option(
    "--gammu-password-stdin",
    is_flag=True,
    help="Read its password from stdin (default: generate one and print it).",
)
@click.option(
    "--notebook-host",
    help="Host part of the notebook's read-only account (default: localhost for a local server, else %).",
)
@pass_ctx
def db_init(ctx, gammu_user, gammu_password_stdin, notebook_host):
    """Create the database and its tables, or bring them up to date (idempotent);
    (re)make the reports notebook's read-only account."""
    schema.create_database_if_missing(ctx.settings.database_url)
    for line in schema.init_schema(ctx.engine):
        click.echo(line)
    _notebook_account(ctx, notebook_host)
    if gammu_user:
        password = sys.stdin.readline().rstrip("\n") if gammu_password_stdin else secrets.token_urlsafe(18)
        schema.create_gammu_account(ctx.engine, gammu_user, password)
        click.echo(
            f"gammu-smsd account {gammu_user} can use Gammu's tables only; set "
            "SMSBRIDGE_GAMMU_DB_USER and SMSBRIDGE_GAMMU_DB_PASSWORD before `sim add`."
        )
        if not gammu_password_stdin:
            click.echo(f"password: {password}")


@db.command("upgrade")
@click.option("--notebook-host", help="As for `db init`.")
@pass_ctx
def db_upgrade(ctx, notebook_host):
    """Apply the schema migrations this version brings (run after updating smsbridge)."""
    for line in schema.upgrade_schema(ctx.engine):
        click.echo(line)
    _notebook_account(ctx, notebook_host)


def _notebook_account(ctx, host):
    try:
        account = schema.create_notebook_account(ctx.engine, ctx.settings, host)
    except SchemaError as exc:
        # The schema is done; without the account only the notebook's SQL cells stay off.
        click.echo(
            f"warning: {exc.message}; the Reports notebook's SQL cells will not run until then", err=True
        )
        return
    click.echo(
        f"reports notebook account {account}: SELECT on the bridge's tables without secrets; "
        f"password in {reports.notebook_password_path(ctx.settings)}"
    )


@db.command("status")
@pass_ctx
def db_status(ctx):
    """Show the database's schema revision and the one this smsbridge needs."""
    current, head = schema.schema_state(ctx.engine)
    click.echo(f"database: {current or 'no schema version'}\nneeded:   {head}")
    problem = schema.schema_problem(current, head)
    if problem:
        raise click.ClickException(problem)
    click.echo("up to date")


@db.command("revision")
@click.argument("message")
@pass_ctx
def db_revision(ctx, message):
    """For developers: draft the next migration by comparing the database
    (at head) with the models. Review the file before committing it."""
    schema.require_current_schema(ctx.engine)
    with ctx.engine.connect() as conn:
        path = migrations.new_revision(conn, message)
    click.echo(f"drafted {path}")


@db.command("ddl")
@pass_ctx
def db_ddl(ctx):
    """Print the bridge's DDL (bridge/sql/bridge.sql is this output)."""
    click.echo(schema.bridge_ddl(ctx.engine), nl=False)


# ---------------------------------------------------------------- users


@main.group()
def user():
    """Users who may send."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("add")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--admin", is_flag=True, help="May see and manage everything.")
@pass_ctx
def user_add(ctx, login, password_stdin, admin):
    """Add a user who may send (API key: `user token`)."""
    password = _read_password(password_stdin)
    with ctx.sessions.begin() as session:
        users.create_user(session, login, password, is_admin=admin)
    click.echo(f"user {login} added")


@user.command("password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True)
@pass_ctx
def user_password(ctx, login, password_stdin):
    """Change a user's password; ends their admin sessions and revokes their API keys."""
    password = _read_password(password_stdin)
    with ctx.sessions.begin() as session:
        revoked = users.set_password(session, login, password)
    click.echo(
        f"password of {login} changed; admin sessions ended, {revoked} API key(s) revoked "
        "(issue a new one with `user token`)"
    )


@user.command("block")
@click.argument("login")
@pass_ctx
def user_block(ctx, login):
    """Refuse a user's logins and API keys; their queued messages stay."""
    with ctx.sessions.begin() as session:
        users.set_blocked(session, login, True)
    click.echo(f"user {login} blocked")


@user.command("unblock")
@click.argument("login")
@pass_ctx
def user_unblock(ctx, login):
    """Let a blocked user send again."""
    with ctx.sessions.begin() as session:
        users.set_blocked(session, login, False)
    click.echo(f"user {login} unblocked")


@user.command("set")
@click.argument("login")
@click.option(
    "--send-window",
    metavar="HH:MM-HH:MM|none",
    help="Quiet hours: texts go out only in this window of local time (e.g. 09:00-21:00; "
    "22:00-06:00 spans midnight) and wait outside it; 'none' sends at any time.",
)
@click.option(
    "--timezone",
    metavar="ZONE",
    help="The user's time zone, an IANA name (default UTC): their send window is read in it "
    "and the admin shows them every time in it.",
)
@pass_ctx
def user_set(ctx, login, send_window, timezone):
    """Change a user's settings; options not given stay as they are."""
    if send_window is None and timezone is None:
        raise click.UsageError("nothing to change: give at least one option")
    with ctx.sessions.begin() as session:
        window = users.send_window(users.set_send_window(session, login, send_window, timezone))
    click.echo(
        f"user {login}: "
        + (f"texts go out {window.describe()}, held outside it" if window else "texts go out at any time")
    )


@user.command("token")
@click.argument("login")
@click.option("--replace", is_flag=True, help="Revoke the user's other keys at the same time.")
@pass_ctx
def user_token(ctx, login, replace):
    """Issue an API key; it is shown once, as the last word."""
    with ctx.sessions.begin() as session:
        key = users.issue_api_key(session, login, replace=replace)
    click.echo(f"API key for {login} (store it now, it is not shown again): {key}")


@user.command("keys")
@click.argument("login")
@pass_ctx
def user_keys(ctx, login):
    """A user's API keys by prefix: created, last used (to the minute), revoked."""
    with ctx.sessions.begin() as session:
        keys = users.list_api_keys(session, login)
    click.echo(f"{'prefix':<12} {'created':<20} {'last used':<20} revoked")
    for key in keys:
        click.echo(
            f"{key.prefix:<12} {iso_utc(key.created_at):<20} {iso_utc(key.last_used_at) or 'never':<20} "
            f"{iso_utc(key.revoked_at) or '-'}"
        )


@user.command("revoke-key")
@click.argument("prefix")
@pass_ctx
def user_revoke_key(ctx, prefix):
    """Revoke the API key that starts with PREFIX (as `user keys` shows it)."""
    with ctx.sessions.begin() as session:
        key = users.revoke_api_key(session, prefix)
        owner = key.user.login
    click.echo(f"API key {key.prefix} of {owner} revoked")


# ---------------------------------------------------------------- SIMs


@main.group()
def sim():
    """SIM cards and their modems."""


@sim.command("add")
@click.argument("name")
@click.option("--number", required=True, help="The SIM's own phone number.")
@click.option("--device", help="Modem port: its /dev/serial/by-id/… path (see `modem scan`).")
@click.option("--connection", default="at", show_default=True, help="Gammu connection type.")
@click.option("--simulated", is_flag=True, help="A simulated modem (Gammu's dummy phone).")
@click.option("--monthly-limit", type=click.IntRange(min=0), help="SMS parts per billing month.")
@click.option("--billing-day", type=click.IntRange(1, 28), default=1, show_default=True)
@click.option("--user", "owner", help="Only this user's messages use the SIM.")
@click.option(
    "--delivery-reports",
    type=click.Choice(["on", "off"]),
    default="off",
    show_default=True,
    help="Ask for delivery reports unless a message says otherwise.",
)
@pass_ctx
def sim_add(
    ctx, name, number, device, connection, simulated, monthly_limit, billing_day, owner, delivery_reports
):
    """Add a SIM and write its gammu-smsd config."""
    with ctx.sessions.begin() as session:
        sims.add_sim(
            session,
            ctx.settings,
            name,
            number,
            device=device,
            connection=connection,
            simulated=simulated,
            monthly_limit=monthly_limit,
            billing_day=billing_day,
            owner=owner,
            delivery_report=delivery_reports == "on",
        )
    click.echo(f"SIM {name} added; its daemon config is {smsd.config_path(ctx.settings, name)}")
    stable = modems.stable_path(device) if device else None
    if stable:
        click.echo(
            f"note: {device} may name another modem after a reboot; {stable} is this modem's own "
            f"name: `smsbridge sim set {name} --device {stable}`"
        )


@sim.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def sim_list(ctx, as_json):
    """Every SIM: state, signal, parts used this month, messages waiting, balance, pacing."""
    with ctx.sessions.begin() as session:
        rows = sims.sim_overview(session)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{'SIM':<12} {'number':<14} {'state':<12} {'signal':>6} {'used/limit':>12} {'waiting':>7}  balance"
    )
    for r in rows:
        limit = r["monthly_limit"] if r["monthly_limit"] is not None else "-"
        signal_ = f"{r['signal']}%" if r["signal"] is not None and r["signal"] >= 0 else "-"
        money = "-"
        if r["balance"] is not None:
            money = f"{r['balance']:.2f} at {r['balance_at'][:16]}" + (" LOW" if r["balance_low"] else "")
        pace = " ".join(
            f"{w['used']}/{w['limit']} per {w['window']}" for w in r["windows"] if w["limit"] is not None
        )
        click.echo(
            f"{r['name']:<12} {r['number']:<14} {r['state']:<12} {signal_:>6} "
            f"{str(r['parts_used']) + '/' + str(limit):>12} {r['waiting']:>7}  {money}"
            + (f"  {pace}" if pace else "")
        )
        if r["state_reason"]:
            click.echo(f"{'':<12} {r['state']}: {r['state_reason']}")
        if r["new_imsi"]:
            click.echo(
                f"{'':<12} card in service: IMSI {r['imsi'] or '-'} (modem IMEI {r['imei'] or '-'}); "
                f"seen now: IMSI {r['new_imsi']} (modem IMEI {r['new_imei'] or '-'})"
            )
        if r["balance_error"]:
            click.echo(f"{'':<12} last balance check: {r['balance_error']}")


@sim.command("show")
@click.argument("name")
@pass_ctx
def sim_show(ctx, name):
    """One SIM: identity, state, its events and its balance checks."""
    with ctx.sessions.begin() as session:
        sim_row = sims.get_sim(session, name)
        state, reason = sims.sim_state(sim_row)
        click.echo(f"SIM {name} ({sim_row.number}): {state}" + (f" — {reason}" if reason else ""))
        click.echo(f"device: {sim_row.device or ('simulated' if sim_row.simulated else '-')}")
        click.echo(f"card: IMSI {sim_row.imsi or 'not seen yet'}, modem IMEI {sim_row.imei or '-'}")
        if sim_row.new_imsi:
            click.echo(f"new card waiting: IMSI {sim_row.new_imsi}, modem IMEI {sim_row.new_imei or '-'}")
        click.echo("events:")
        for event in sim_events.recent(session, sim_row.id):
            click.echo(f"  {iso_utc(event.created_at)}  {event.kind}: {event.detail}")
        click.echo("balance checks:")
        for check in balance.history(session, sim_row.id):
            click.echo(f"  {_check_line(check)}")


def _check_line(check) -> str:
    when = iso_utc(check.answered_at or check.requested_at)
    amount = f" amount {check.amount}" if check.amount is not None else ""
    answer = f" {check.answer!r}" if check.answer else ""
    error = f" ({check.error})" if check.error else ""
    return f"{when}  {check.code or 'unasked'}  {check.state}{amount}{answer}{error}"


@sim.command("enable")
@click.argument("name")
@pass_ctx
def sim_enable(ctx, name):
    """Let dispatch hand messages to this SIM again."""
    with ctx.sessions.begin() as session:
        sims.set_enabled(session, name, True)
    click.echo(f"SIM {name} enabled")


@sim.command("disable")
@click.argument("name")
@pass_ctx
def sim_disable(ctx, name):
    """Hand this SIM nothing new (what it already has still goes out)."""
    with ctx.sessions.begin() as session:
        sims.set_enabled(session, name, False)
    click.echo(f"SIM {name} disabled")


on_off = click.Choice(["on", "off"])


def _limit(value: str | None, option: str = "--monthly-limit") -> int | None:
    if value is None or value.lower() == "none":
        return None
    if not value.isdigit():
        raise click.BadParameter("a whole number, or 'none'", param_hint=option)
    return int(value)


def _none(value: str | None):
    """An option's value, None for 'none', UNSET when the option was not given."""
    if value is None:
        return sims.UNSET
    return None if value.lower() == "none" else value


PACING_OPTIONS = {
    "max_per_minute": "SMS parts per rolling minute; also spaces texts evenly. 'none': no limit.",
    "max_per_hour": "SMS parts per rolling hour; 'none': no limit.",
    "max_per_day": "SMS parts per rolling 24 hours; 'none': no limit.",
    "max_recipients_per_month": "Distinct numbers per billing month; 'none': no limit.",
}


def pacing_options(command):
    for name, help_ in reversed(PACING_OPTIONS.items()):
        command = click.option("--" + name.replace("_", "-"), name, metavar="N|none", help=help_)(command)
    return click.option(
        "--jitter",
        type=click.IntRange(0, 3600),
        metavar="SECONDS",
        help="A random 0-SECONDS between two texts.",
    )(command)


@sim.command("set")
@click.argument("name")
@click.option("--monthly-limit", help="SMS parts per billing month; 'none' removes the limit.")
@click.option("--billing-day", type=click.IntRange(1, 28), help="Day of the month the count restarts.")
@click.option("--user", "owner", help="Only this user's messages use the SIM; 'none' serves everyone.")
@click.option(
    "--delivery-reports", type=on_off, help="Ask for delivery reports unless a message says otherwise."
)
@click.option(
    "--stall-after",
    type=int,
    help="Seconds due texts may sit untouched while the daemon heartbeats before the SIM counts "
    "as stalled (default 60).",
)
@click.option("--stall-errors", type=int, help="Failed sends in a row that make the SIM stalled (default 3).")
@click.option("--restart-stalled", type=on_off, help="Restart a stalled daemon running on this host.")
@click.option(
    "--reset-every", type=int, help="Gammu's preventive soft reset of the modem, seconds (0 = off)."
)
@click.option("--hard-reset-every", type=int, help="Gammu's preventive hard reset, seconds (0 = off).")
@click.option("--number", help="The SIM's own phone number.")
@click.option("--device", help="Modem port; prefer its /dev/serial/by-id/… path (`modem scan`).")
@click.option("--connection", help="Gammu connection type, e.g. at or at115200.")
@click.option("--pin", help="The card's PIN (kept in the daemon config only); 'none' removes it.")
@click.option("--balance-code", help="USSD code that asks the balance, e.g. '*100#'; 'none' stops checks.")
@click.option("--balance-every", help="Check the balance every this many hours; 'none': only when asked.")
@click.option("--balance-pattern", help="Regex that finds the amount in the answer; 'none': the default.")
@click.option("--balance-low", help="Below this amount the SIM raises balance_low; 'none': never.")
@pacing_options
@pass_ctx
def sim_set(
    ctx,
    name,
    monthly_limit,
    billing_day,
    owner,
    delivery_reports,
    stall_after,
    stall_errors,
    restart_stalled,
    reset_every,
    hard_reset_every,
    number,
    device,
    connection,
    pin,
    balance_code,
    balance_every,
    balance_pattern,
    balance_low,
    jitter,
    **limits,
):
    """Change a SIM's settings; options not given stay as they are."""
    options = click.get_current_context().params
    if all(value is None for key, value in options.items() if key != "name"):
        raise click.UsageError("nothing to change: give at least one option")
    pacing = {k: _limit(v, "--" + k.replace("_", "-")) for k, v in limits.items() if v is not None}
    if jitter is not None:
        pacing["jitter"] = jitter
    every = _none(balance_every)
    if isinstance(every, str):
        if not every.isdigit():
            raise click.BadParameter("a whole number of hours, or 'none'", param_hint="--balance-every")
        every = int(every)
    watchdog = {
        "stall_after": stall_after,
        "stall_errors": stall_errors,
        "restart_stalled": None if restart_stalled is None else restart_stalled == "on",
        "reset_every": reset_every,
        "hard_reset_every": hard_reset_every,
    }
    with ctx.sessions.begin() as session:
        sims.set_watchdog(session, name, **watchdog, settings=ctx.settings)
        if monthly_limit is not None:
            sims.set_limit(session, name, _limit(monthly_limit))
        if billing_day is not None:
            sims.set_billing_day(session, name, billing_day)
        if owner is not None:
            sims.set_owner(session, name, None if owner.lower() == "none" else owner)
        if delivery_reports is not None:
            sims.set_delivery_report(session, name, delivery_reports == "on")
        if number is not None:
            sims.set_number(session, ctx.settings, name, number)
        modem_changed = device is not None or connection is not None or pin is not None
        if modem_changed:
            new_pin = smsd.KEEP if pin is None else _none(pin)
            sims.set_modem(session, ctx.settings, name, device=device, connection=connection, pin=new_pin)
        balance_options = {
            "code": _none(balance_code),
            "every": every,
            "pattern": _none(balance_pattern),
            "low": _none(balance_low),
        }
        if any(v is not sims.UNSET for v in balance_options.values()):
            sims.set_balance(session, name, **balance_options)
        if pacing:
            sims.set_pacing(session, name, **pacing)
    click.echo(f"SIM {name} changed")
    if modem_changed:
        if smsd.running_pid(ctx.settings, name) is not None:
            click.echo(
                f"its daemon runs here with the old config: `smsbridge smsd restart {name}` applies it"
            )
        if device and (stable := modems.stable_path(device)):
            click.echo(
                f"note: {device} may name another modem after a reboot; {stable} is this modem's own name"
            )


@sim.command("accept")
@click.argument("name")
@pass_ctx
def sim_accept(ctx, name):
    """Take the new card seen in a quarantined SIM's modem into service."""
    with ctx.sessions.begin() as session:
        done = sims.accept_card(session, name)
    wake.notify(ctx.settings)
    click.echo(f"SIM {name}: {done}")


@sim.command("remove")
@click.argument("name")
@click.option("--take-back", is_flag=True, help="Send what waits in its outbox through other SIMs first.")
@pass_ctx
def sim_remove(ctx, name, take_back):
    """Take a SIM out of service: daemon stopped, config deleted, history kept."""
    with ctx.sessions.begin() as session:
        done = sims.remove_sim(session, ctx.settings, name, take_back=take_back)
    wake.notify(ctx.settings)
    click.echo(done)


@sim.command("balance")
@click.argument("name")
@click.option("--code", help="USSD code to dial (default: the SIM's --balance-code).")
@click.option("--wait", type=click.FloatRange(min=0), default=60, show_default=True, help="Seconds to wait.")
@pass_ctx
def sim_balance(ctx, name, code, wait):
    """Ask a SIM's balance by USSD and print the operator's answer."""
    with ctx.sessions.begin() as session:
        check = balance.ask(session, sims.get_sim(session, name), code)
        check_id = check.id
    click.echo(f"asked {check.code} through SIM {name}; waiting for the answer…")
    deadline = time.monotonic() + wait
    while True:
        with ctx.sessions.begin() as session:
            balance.collect(session)
            balance.settle(session, timeout=ctx.settings.balance_timeout)
        with ctx.sessions.begin() as session:
            check = session.get(BalanceCheck, check_id)
            if check.state != "asked":
                click.echo(_check_line(check))
                if check.state != "answered":
                    raise click.ClickException(check.error or check.state)
                return
        if time.monotonic() >= deadline:
            raise click.ClickException(
                f"no answer within {wait:.0f} s; the worker records it if it comes (`sim show {name}`)"
            )
        time.sleep(0.5)


# ---------------------------------------------------------------- daemons


@main.group("smsd")
def smsd_group():
    """gammu-smsd daemons for the SIMs configured on this host."""


def _names(ctx, names):
    chosen = list(names) or smsd.configured_sims(ctx.settings)
    if not chosen:
        raise click.ClickException(f"no SIM configs in {ctx.settings.smsdrc_dir}; add one with `sim add`")
    return chosen


@smsd_group.command("start")
@click.argument("names", nargs=-1)
@pass_ctx
def smsd_start(ctx, names):
    """Start the daemons of these SIMs (default: every SIM configured here).
    Texts a previous daemon had started sending are settled first by their
    on_uncertain policy, so the new daemon never sends them a second time.
    One that cannot start is reported and the others start anyway."""
    failed = 0
    for name in _names(ctx, names):
        try:
            click.echo(f"{name}: running, pid {sims.start_daemon(ctx.sessions, ctx.settings, name)}")
        except BridgeError as exc:
            failed += 1
            click.echo(f"{name}: NOT started: {exc}", err=True)
    if failed:
        raise click.ClickException(f"{failed} daemon(s) did not start; see above")


@smsd_group.command("restart")
@click.argument("names", nargs=-1)
@pass_ctx
def smsd_restart(ctx, names):
    """Restart the daemons of these SIMs, e.g. after `sim set --device` (default:
    every SIM configured here); settles what the old one had leased, as start does."""
    for name in _names(ctx, names):
        click.echo(f"{name}: running, pid {sims.restart_daemon(ctx.sessions, ctx.settings, name)}")


@smsd_group.command("prepare")
@click.argument("names", nargs=-1)
@pass_ctx
def smsd_prepare(ctx, names):
    """What `smsd start` does before a daemon starts, for a daemon started by
    systemd (its ExecStartPre): settle the texts a previous daemon had
    leased, and rewrite the config from the database."""
    for name in _names(ctx, names):
        with ctx.sessions.begin() as session:
            settled = sims.prepare_start(session, ctx.settings, name)
        click.echo(f"{name}: ready ({settled} text(s) its previous daemon had started settled)")


@smsd_group.command("stop")
@click.argument("names", nargs=-1)
@pass_ctx
def smsd_stop(ctx, names):
    """Stop the daemons of these SIMs (default: every SIM configured here)."""
    for name in _names(ctx, names):
        click.echo(f"{name}: {'stopped' if smsd.stop(ctx.settings, name) else 'was not running'}")


@smsd_group.command("status")
@click.argument("names", nargs=-1)
@pass_ctx
def smsd_status(ctx, names):
    """Say which daemons run (default: every SIM configured here)."""
    for name in _names(ctx, names):
        pid = smsd.running_pid(ctx.settings, name)
        click.echo(f"{name}: " + (f"running, pid {pid}" if pid else "stopped"))


# ---------------------------------------------------------------- modems


@main.group()
def modem():
    """Modems attached to this host."""


@modem.command("scan")
@pass_ctx
def modem_scan(ctx):
    """List serial ports with what `gammu identify` says of each, and which SIM uses it."""
    with ctx.sessions.begin() as session:
        found = modems.scan(session, ctx.settings)
    if not found:
        click.echo(
            "no serial modem found on this host (looked in /dev/serial/by-id, /dev/ttyUSB*, /dev/ttyACM*)"
        )
        return
    for port in found:
        where = f" -> {port.tty}" if port.by_id else ""
        click.echo(f"{port.path}{where}" + (f"  [SIM {port.used_by}]" if port.used_by else "  [free]"))
        if port.error:
            click.echo(f"    {port.error}")
        else:
            facts = ", ".join(
                f"{label} {value}"
                for label, value in (
                    ("", " ".join(filter(None, (port.manufacturer, port.model)))),
                    ("IMEI", port.imei),
                    ("IMSI", port.imsi or "not readable"),
                )
                if value
            )
            click.echo(f"    {facts.strip()}")
    if any(not p.by_id for p in found if not p.used_by):
        click.echo(
            "use a /dev/serial/by-id/… path for `sim add --device`: /dev/ttyUSB numbers change across reboots"
        )


# ---------------------------------------------------------------- sending


@main.command()
@click.option("--to", required=True, help="Recipients, comma-separated.")
@click.option("--text", required=True)
@click.option("--flash", is_flag=True, help="Class 0: shown on screen, not stored.")
@click.option("--attempts", type=int, default=1, show_default=True, help="Tries across SIMs.")
@click.option("--user", "login", required=True, help="Send as this user.")
@click.option(
    "--on-uncertain",
    type=click.Choice(["fail", "resend"]),
    default="fail",
    show_default=True,
    help="If its SIM's daemon goes away mid-send: fail (at most once) or resend (at least once).",
)
@click.option(
    "--quiet-hours/--ignore-quiet-hours",
    default=True,
    show_default=True,
    help="Hold it outside the user's send window, or send it whenever due (codes, alarms).",
)
@click.option(
    "--send-at",
    metavar="WHEN",
    help="Send later: '2026-12-24 18:00' in the user's time zone (UTC if none), or ISO 8601 with an offset.",
)
@click.option(
    "--valid-for",
    type=int,
    metavar="SECONDS",
    help="Give up if it has not gone out this long after it was due.",
)
@click.option(
    "--sim", help="Only through this SIM; it waits for that SIM rather than leave through another (admins)."
)
@pass_ctx
def send(ctx, to, text, flash, attempts, login, on_uncertain, quiet_hours, send_at, valid_for, sim):
    """Queue a text, as the API would."""
    with ctx.sessions.begin() as session:
        sender = users.get_user(session, login)
        result = accept(
            session,
            sender,
            to,
            text,
            SendOptions(
                flash=flash,
                attempts=attempts,
                on_uncertain=OnUncertain(on_uncertain),
                quiet_hours=quiet_hours,
                # A person typed it, as on the send form: read in their zone, a past time refused.
                send_at=parse_send_at(send_at, timezone=sender.timezone or "UTC", now=utcnow()),
                valid_for=valid_for,
                sim=sim,
            ),
            settings=ctx.settings,
            source="cli",
        )
    wake.notify(ctx.settings)
    for message in result.messages:
        click.echo(f"{message['id']}\t{message['to']}\t{message['status']}")


@main.command()
@click.argument("message_id", type=int)
@pass_ctx
def status(ctx, message_id):
    """Show one message as JSON."""
    with ctx.sessions.begin() as session:
        view = message_view(visible_message(session, message_id, None))
    click.echo(json.dumps(view, indent=2, ensure_ascii=False))


# ---------------------------------------------------------------- incoming


@main.command()
@click.option("--sim", help="Only texts that came to this SIM.")
@click.option("--since", type=int, default=0, help="Only texts with an id above this.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@pass_ctx
def inbox(ctx, sim, since, limit):
    """Show received texts and what the rules did with them."""
    with ctx.sessions.begin() as session:
        rows = [
            inbound_view(m)
            for m in list_inbound(session, None, since=since, limit=limit)
            if sim is None or m.sim_name == sim
        ]
    for row in rows:
        click.echo(f"{row['id']}\t{row['received_at']}\t{row['sim']}\t{row['from']}\t{row['text']}")
        for result in row["rules"]:
            click.echo(f"\t  {result['outcome']}: {result['rule']}: {result['detail']}")


@main.group()
def rule():
    """Rules for incoming texts, run in order."""


@rule.command("add")
@click.option("--user", "login", help="Only texts attributed to this user (default: every text).")
@click.option("--keyword", help="Match when the text's first word is this (any case).")
@click.option("--regex", help="Match when this regular expression is found (any case).")
@click.option("--reply", help="Answer with this text.")
@click.option("--forward-url", help="POST the text as signed JSON to this URL.")
@click.option("--forward-to", help="Send the text on to this phone number.")
@click.option("--opt-out", is_flag=True, help="Put the sender on the opt-out list.")
@click.option("--opt-in", is_flag=True, help="Take the sender off the opt-out list.")
@pass_ctx
def rule_add(ctx, login, keyword, regex, reply, forward_url, forward_to, opt_out, opt_in):
    """Add a rule at the end: one match (--keyword or --regex), one action."""
    if (keyword is None) == (regex is None):
        raise click.UsageError("give exactly one of --keyword and --regex")
    actions = {
        "reply": reply,
        "forward_url": forward_url,
        "forward_to": forward_to,
        "opt_out": opt_out or None,
        "opt_in": opt_in or None,
    }
    chosen = [(name, value) for name, value in actions.items() if value]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one action: --reply, --forward-url, --forward-to, --opt-out or --opt-in"
        )
    action, argument = chosen[0]
    with ctx.sessions.begin() as session:
        created = rules.add_rule(
            session,
            ctx.settings,
            login=login,
            match_kind="keyword" if keyword else "regex",
            pattern=keyword or regex,
            action=action,
            argument=argument if isinstance(argument, str) else None,
        )
        click.echo(f"rule {rules.describe(created)}")
        if created.secret:
            click.echo(f"posts are signed (X-Smsbridge-Signature) with: {created.secret}")
        _warn_nobody(session, created)


def _warn_nobody(session, rule_row) -> None:
    warning = rules.nobody_warning(rule_row, rules.unowned_sims(session))
    if warning:
        click.echo(f"warning: {warning}", err=True)


@rule.command("edit")
@click.argument("rule_id", type=int)
@click.option("--user", "login", help="Only texts attributed to this user.")
@click.option("--everyone", is_flag=True, help="Every text (the rule has no owner).")
@click.option("--match", "match_kind", type=click.Choice(["keyword", "regex"]), help="Match by.")
@click.option("--pattern", help="The keyword or regular expression.")
@click.option("--action", type=click.Choice(rules.ACTIONS), help="What the rule does.")
@click.option("--argument", help="The reply text, URL or number the action takes.")
@pass_ctx
def rule_edit(ctx, rule_id, login, everyone, match_kind, pattern, action, argument):
    """Change RULE_ID in place; what is not given stays as it is."""
    if login and everyone:
        raise click.UsageError("give --user or --everyone, not both")
    keep = rules.KEEP
    with ctx.sessions.begin() as session:
        edited, secret = rules.edit_rule(
            session,
            ctx.settings,
            rule_id,
            login=None if everyone else (login or keep),
            match_kind=match_kind or keep,
            pattern=pattern if pattern is not None else keep,
            action=action or keep,
            argument=argument if argument is not None else keep,
        )
        click.echo(f"rule {rules.describe(edited)}")
        if secret:
            click.echo(f"a new URL: posts are now signed (X-Smsbridge-Signature) with: {secret}")
        _warn_nobody(session, edited)


@rule.command("pause")
@click.argument("rule_id", type=int)
@pass_ctx
def rule_pause(ctx, rule_id):
    """Skip RULE_ID until it is resumed (it keeps its place)."""
    with ctx.sessions.begin() as session:
        rules.set_enabled(session, rule_id, False)
    click.echo(f"rule {rule_id} paused")


@rule.command("resume")
@click.argument("rule_id", type=int)
@pass_ctx
def rule_resume(ctx, rule_id):
    """Run RULE_ID again."""
    with ctx.sessions.begin() as session:
        resumed = rules.set_enabled(session, rule_id, True)
        click.echo(f"rule {rule_id} resumed")
        _warn_nobody(session, resumed)


@rule.command("list")
@pass_ctx
def rule_list(ctx):
    """The rules in the order they run."""
    with ctx.sessions.begin() as session:
        for position, item in enumerate(rules.list_rules(session), start=1):
            click.echo(f"{position}. {rules.describe(item)}" + ("" if item.enabled else " (paused)"))


@rule.command("remove")
@click.argument("rule_id", type=int)
@pass_ctx
def rule_remove(ctx, rule_id):
    """Remove a rule (its past outcomes stay with the texts)."""
    with ctx.sessions.begin() as session:
        rules.remove_rule(session, rule_id)
    click.echo(f"rule {rule_id} removed")


@rule.command("move")
@click.argument("rule_id", type=int)
@click.argument("position", type=click.IntRange(min=1))
@pass_ctx
def rule_move(ctx, rule_id, position):
    """Run RULE_ID at POSITION (1 = first)."""
    with ctx.sessions.begin() as session:
        rules.move_rule(session, rule_id, position)
    click.echo(f"rule {rule_id} is now number {position}")


@main.group()
def optout():
    """The opt-out list (numbers that must not be texted)."""


@optout.command("add")
@click.argument("phone")
@click.option("--reason", required=True)
@pass_ctx
def optout_add(ctx, phone, reason):
    """Put a number on the opt-out list."""
    with ctx.sessions.begin() as session:
        added = optouts.opt_out(
            session, phone, reason=reason, source="cli", actor="cli", region=ctx.settings.default_region
        )
    click.echo(f"{phone}: {'added' if added else 'already on the list'}")


@optout.command("remove")
@click.argument("phone")
@click.option("--reason", required=True)
@pass_ctx
def optout_remove(ctx, phone, reason):
    """Take a number off the opt-out list."""
    with ctx.sessions.begin() as session:
        removed = optouts.opt_in(
            session, phone, reason=reason, source="cli", actor="cli", region=ctx.settings.default_region
        )
    click.echo(f"{phone}: {'removed' if removed else 'was not on the list'}")


@optout.command("list")
@pass_ctx
def optout_list(ctx):
    """The numbers on the opt-out list, with when and why."""
    with ctx.sessions.begin() as session:
        for row in optouts.list_opt_outs(session):
            click.echo(f"{row['phone']}\t{row['since']}\t{row['source']}\t{row['reason'] or ''}")


@main.group()
def webhook():
    """Where a user's events (sms:received, sms:sent, …) are POSTed."""


@webhook.command("set")
@click.option("--user", "login", required=True)
@click.option("--url", required=True)
@pass_ctx
def webhook_set(ctx, login, url):
    """Set the URL; prints the signing secret as the last word."""
    with ctx.sessions.begin() as session:
        secret = webhooks.set_webhook(session, ctx.settings, login, url)
    click.echo(f"webhook for {login}: {url}; signing secret: {secret}")


# ---------------------------------------------------------------- alerts


@main.group()
def alert():
    """Where alerts go: e-mail, a user's webhook, a text to a phone."""


@alert.command("add")
@click.argument("kind", type=click.Choice(alerts_module.CHANNEL_KINDS))
@click.argument("target")
@click.option("--user", "login", help="sms: the account the texts are sent as (default: the first admin).")
@click.option("--smtp-host", help="email: the SMTP server.")
@click.option("--smtp-port", type=int, help="email: its port (default: 587, 465 with tls, 25 with none).")
@click.option(
    "--smtp-security",
    type=click.Choice(tuple(alerts_module.SECURITY)),
    default="starttls",
    show_default=True,
    help="email: STARTTLS, TLS from the first byte, or none (a local relay).",
)
@click.option("--smtp-login", help="email: the SMTP login, if the server wants one.")
@click.option("--smtp-password-stdin", is_flag=True, help="email: read the SMTP password from stdin.")
@click.option("--from", "mail_from", help="email: the From address (default: the login).")
@pass_ctx
def alert_add(
    ctx, kind, target, login, smtp_host, smtp_port, smtp_security, smtp_login, smtp_password_stdin, mail_from
):
    """Add a channel: `email ADDRESS --smtp-host …`, `webhook LOGIN` or `sms NUMBER`."""
    password = sys.stdin.readline().rstrip("\n") if smtp_password_stdin else None
    with ctx.sessions.begin() as session:
        channel = alerts_module.add_channel(
            session,
            ctx.settings,
            kind,
            target,
            login=login,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_security=smtp_security,
            smtp_login=smtp_login,
            smtp_password=password,
            mail_from=mail_from,
        )
        view = alerts_module.channel_view(channel)
    click.echo(f"alert channel {view['id']} added: {view['kind']} {view['target']} {view['how']}")


@alert.command("list")
@pass_ctx
def alert_list(ctx):
    """Every channel, with its id."""
    with ctx.sessions.begin() as session:
        for row in alerts_module.list_channels(session):
            click.echo(f"{row['id']}\t{row['kind']}\t{row['target']}\t{row['how']}")


@alert.command("remove")
@click.argument("channel_id", type=int)
@pass_ctx
def alert_remove(ctx, channel_id):
    """Remove a channel by its id (see `alert list`)."""
    with ctx.sessions.begin() as session:
        alerts_module.remove_channel(session, channel_id)
    click.echo(f"alert channel {channel_id} removed")


@alert.command("test")
@pass_ctx
def alert_test(ctx):
    """Send one test notice through every channel, now."""
    with ctx.sessions.begin() as session:
        queued = alerts_module.send_test(session, ctx.settings)
    passes.send_now(ctx.sessions, ctx.settings, queued)
    for problem in queued.problems:
        click.echo(f"not sent: {problem}", err=True)
    click.echo(
        f"test sent: {len(queued.email_ids)} e-mail(s), {len(queued.webhook_ids)} webhook(s), "
        f"{len(queued.message_ids)} text(s) (texts leave when a SIM takes them)"
    )
    if queued.problems:
        sys.exit(1)


@main.command("alerts")
@click.option("--open", "open_only", is_flag=True, help="Only those still open.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
@pass_ctx
def alerts_command(ctx, open_only, as_json, limit):
    """Alerts, open ones first: kind, subject, since when, resolved when."""
    with ctx.sessions.begin() as session:
        rows = alerts_module.list_alerts(session, open_only=open_only, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        until = f"resolved {r['resolved_at']}" if r["resolved_at"] else "OPEN"
        click.echo(
            f"{r['id']}\t{r['level']}\t{r['kind']}\t{r['subject'] or '-'}\t"
            f"{r['opened_at']}\t{until}\t{r['detail']}"
        )


# ---------------------------------------------------------------- reports notebooks


@main.group()
def notebook():
    """The admin's report notebooks: list, export and import (one JSON file each)."""


@notebook.command("list")
@pass_ctx
def notebook_list(ctx):
    """Notebooks in tab order: id, name, number of cells."""
    with ctx.sessions.begin() as session:
        for book in notebooks.list_notebooks(session):
            click.echo(f"{book.id}\t{book.name}\t{len(book.cells)} cells")


@notebook.command("export")
@click.argument("name")
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout)."
)
@pass_ctx
def notebook_export(ctx, name, output):
    """Write notebook NAME (or its id) as one JSON file, to import on another gateway."""
    with ctx.sessions.begin() as session:
        document = notebook_files.export_notebook(session, _notebook_id(session, name))
    json.dump(document, output, ensure_ascii=False, indent=2)
    output.write("\n")


@notebook.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--name", help="Name of the new notebook (default: the file's; a taken name gets ' (2)').")
@pass_ctx
def notebook_import(ctx, file, name):
    """Add the notebook in FILE (made by `notebook export` or the admin's Export) as a new notebook."""
    document = notebook_files.parse_file(file.read(notebook_files.MAX_FILE_BYTES + 1))
    with ctx.sessions.begin() as session:
        book = notebook_files.import_notebook(session, document, name)
        cells = len(notebooks.list_cells(session, book.id))
        click.echo(f"notebook {book.id} {book.name!r}: {cells} cells imported")


def _notebook_id(session, name: str) -> int:
    for book in notebooks.list_notebooks(session):
        if book.name.lower() == name.strip().lower() or str(book.id) == name.strip():
            return book.id
    raise click.ClickException(f"no notebook named {name!r} (see `smsbridge notebook list`)")


# ---------------------------------------------------------------- jobs, once


@main.group()
def job():
    """Run one pass of a job now, as the worker would (debugging)."""


@job.command("dispatch")
@pass_ctx
def job_dispatch(ctx):
    """Hand due messages to SIMs until nothing is due."""
    click.echo(f"dispatched {passes.dispatch_until_idle(ctx.sessions, ctx.settings)}")


@job.command("harvest")
@pass_ctx
def job_harvest(ctx):
    """Read what the daemons sent (sentitems) and delivery reports."""
    click.echo(str(passes.harvest_pass(ctx.sessions)))


@job.command("inbound")
@pass_ctx
def job_inbound(ctx):
    """Take received texts from the daemons' inbox and run the rules."""
    click.echo(str(passes.inbound_pass(ctx.sessions, ctx.settings)))


@job.command("webhooks")
@pass_ctx
def job_webhooks(ctx):
    """POST the webhook deliveries that are due."""
    click.echo(str(passes.webhook_pass(ctx.sessions, ctx.settings)))


@job.command("identity")
@pass_ctx
def job_identity(ctx):
    """Compare each SIM's reported IMSI/IMEI with the recorded ones; quarantine swapped cards."""
    click.echo(str(passes.identity_pass(ctx.sessions)))


@job.command("balance")
@pass_ctx
def job_balance(ctx):
    """Ask the balance checks that are due; read USSD answers."""
    click.echo(str(passes.balance_pass(ctx.sessions, ctx.settings)))


@job.command("alerts")
@pass_ctx
def job_alerts(ctx):
    """Run the alert checks (all but worker:down) and send the e-mails due."""
    click.echo(str(passes.alert_pass(ctx.sessions, ctx.settings)))


@job.command("health")
@pass_ctx
def job_health(ctx):
    """Check the daemons' heartbeats; take messages back from dead SIMs."""
    click.echo(str(passes.health_pass(ctx.sessions, ctx.settings)))


# ---------------------------------------------------------------- services


@main.command()
@pass_ctx
def worker(ctx):
    """Run the jobs (dispatch, harvest, inbound, webhooks, alerts, health, identity, balance)
    until stopped."""
    schema.require_current_schema(ctx.engine)
    sys.exit(run_worker(ctx.settings))


host_option = click.option("--host", default="127.0.0.1", show_default=True)
port_option = click.option("--port", default=8080, show_default=True, type=int)


@main.command()
@host_option
@port_option
@pass_ctx
def web(ctx, host, port):
    """Serve the HTTP API and the admin with gunicorn (starts no jobs)."""
    schema.require_current_schema(ctx.engine)
    serve_web(ctx.settings, host, port)


@main.command()
@host_option
@port_option
@pass_ctx
def run(ctx, host, port):
    """Web and worker in one go, for a single box; SIGTERM or Ctrl-C stops both."""
    # Checked here too, so a stale schema is one clear line, not two children failing.
    schema.require_current_schema(ctx.engine)
    sys.exit(
        supervise(
            {
                "web": cli_command("web", "--host", host, "--port", str(port), config_path=ctx.config_path),
                "worker": cli_command("worker", config_path=ctx.config_path),
            },
            stop_timeout=ctx.settings.stop_timeout,
        )
    )


if __name__ == "__main__":
    main()
