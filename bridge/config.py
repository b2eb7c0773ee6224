"""Settings: one typed dataclass of names, types, defaults and help; read from a TOML
file and then from the environment (``SMSBRIDGE_<NAME>``, or
``SMSBRIDGE_<NAME>_FILE`` for secrets kept in a file).

Nothing is read at import time: callers build a ``Settings`` with
``load_settings()`` and pass it down.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import phonenumbers

from .errors import SettingsError


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {raw!r}")


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"expected a whole number >= 1, got {raw!r}")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected a whole number >= 0, got {raw!r}")
    return value


def parse_positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(f"expected a number > 0, got {raw!r}")
    return value


def parse_region(raw: str) -> str:
    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"not a phone-number region code (ISO 3166, e.g. RU, DE): {raw!r}")
    return region


def setting(
    default: Any, help: str, *, parse: Callable[[str], Any] | None = None, secret: bool = False
) -> Any:
    """One setting: its default, help text, how a text value is read (by
    default from the field's type) and whether it is a secret."""
    return dataclasses.field(default=default, metadata={"help": help, "parse": parse, "secret": secret})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting of smsbridge, with its type and default: the single
    table that ``load_settings``, ``smsbridge settings`` and the README's
    settings table (checked by a test) are made from."""

    database_url: str = setting(
        "mysql+pymysql://root@localhost/smsbridge?unix_socket=/run/mysqld/mysqld.sock",
        "SQLAlchemy URL of the MariaDB/MySQL database shared with gammu-smsd.",
        secret=True,
    )
    db_timeout: float = setting(
        5.0,
        "Seconds one database call (connect, read, write) may take before it is given up; "
        "the API then answers 503 with Retry-After and jobs try again at their next pass.",
        parse=parse_positive_float,
    )
    stop_timeout: float = setting(
        5.0,
        "Seconds a stopping gateway waits for running passes and requests to finish; "
        "then it exits without them (their open transactions roll back).",
        parse=parse_positive_float,
    )
    state_dir: str = setting("var", "Folder for pid files, logs and the simulated modems' folders.")
    smsdrc_dir: str = setting("gammu-smsdrc", "Folder where `sim add` writes one gammu-smsd config per SIM.")
    default_region: str = setting(
        "RU", "Region used for numbers written without a country code (ISO code).", parse=parse_region
    )
    gammu_db_user: str = setting(
        "",
        "DB account written into generated gammu-smsd configs; empty means the "
        "account of database_url. `db init --gammu-user` creates a least-privilege one.",
    )
    gammu_db_password: str = setting(
        "", "Password of gammu_db_user (or SMSBRIDGE_GAMMU_DB_PASSWORD_FILE).", secret=True
    )
    status_frequency: int = setting(
        5,
        "Seconds between a gammu-smsd daemon's heartbeats; a SIM is unhealthy after three missed ones.",
        parse=parse_positive_int,
    )
    dispatch_interval: float = setting(
        1.0, "Seconds between dispatch passes when nothing wakes it sooner.", parse=parse_positive_float
    )
    harvest_interval: float = setting(
        1.0, "Seconds between harvest passes (sentitems -> message state).", parse=parse_positive_float
    )
    health_interval: float = setting(
        2.0, "Seconds between health passes (heartbeats, take-back).", parse=parse_positive_float
    )
    identity_interval: float = setting(
        10.0,
        "Seconds between identity passes (each SIM's IMSI/IMEI in `phones` against the recorded ones).",
        parse=parse_positive_float,
    )
    balance_interval: float = setting(
        30.0,
        "Seconds between balance passes (scheduled USSD checks asked, answers read).",
        parse=parse_positive_float,
    )
    balance_timeout: float = setting(
        120.0,
        "Seconds a USSD balance request may wait for its answer; then it is recorded unanswered "
        "(and withdrawn from the outbox if its daemon never dialled it).",
        parse=parse_positive_float,
    )
    abandon_after: float = setting(
        60.0,
        "Seconds after its lease ran out that a text a now-dead daemon had started sending "
        "is settled by its on_uncertain policy (fail or resend: it may have gone out).",
        parse=parse_positive_float,
    )
    dispatch_batch: int = setting(
        500, "Messages one dispatch transaction claims at most.", parse=parse_positive_int
    )
    no_sim_backoff: float = setting(
        5.0,
        "Seconds a message that found no SIM waits before dispatch looks at it again.",
        parse=parse_positive_float,
    )
    pacing_lookahead: float = setting(
        60.0,
        "Seconds ahead a paced SIM is handed texts: its outbox holds only what its windows let it "
        "send that soon (and never more than its per-minute limit), so work stays movable.",
        parse=parse_positive_float,
    )
    max_parts: int = setting(10, "Longest text accepted, in SMS parts.", parse=parse_positive_int)
    max_recipients: int = setting(1000, "Most recipients one request may name.", parse=parse_positive_int)
    max_attempts: int = setting(5, "Highest `attempts` a request may ask for.", parse=parse_positive_int)
    opt_out_words: str = setting(
        "STOP,STOPALL,UNSUBSCRIBE,CANCEL,СТОП,ОТПИСКА",
        "Incoming texts that put the sender on the opt-out list (comma-separated, any case).",
    )
    opt_in_words: str = setting(
        "START,UNSTOP,СТАРТ", "Incoming texts that take the sender off the opt-out list."
    )
    opt_out_confirmation: str = setting(
        "",
        "Reply sent after STOP/START is honoured; empty sends none. "
        "{action} is 'unsubscribed' or 'subscribed'.",
    )
    inbound_part_wait: float = setting(
        300.0,
        "Seconds to wait for the missing parts of a long incoming text before keeping it as it is.",
        parse=parse_positive_float,
    )
    inbound_interval: float = setting(
        1.0, "Seconds between inbound passes (inbox -> messages -> rules).", parse=parse_positive_float
    )
    webhook_interval: float = setting(
        1.0, "Seconds between webhook delivery passes.", parse=parse_positive_float
    )
    webhook_backoff: float = setting(
        15.0,
        "First retry delay of a failed webhook, in seconds; it doubles each time (at most an hour).",
        parse=parse_positive_float,
    )
    webhook_retry_hours: float = setting(
        48.0,
        "A webhook that has not been delivered after this many hours is given up.",
        parse=parse_positive_float,
    )
    webhook_timeout: float = setting(
        10.0, "Seconds a webhook receiver has to answer.", parse=parse_positive_float
    )
    webhook_allow_private: bool = setting(
        False, "Allow webhook URLs on loopback or private addresses (off: refuse them)."
    )
    stuck_after: int = setting(
        600,
        "Seconds after acceptance (or its send_at) that a text not yet sent counts as stuck: "
        "the dashboard's count and the queue:stuck alert.",
        parse=parse_positive_int,
    )
    alert_repeat: int = setting(
        21600,
        "Seconds between reminders of an alert that is still open (raised and resolved are sent once).",
        parse=parse_positive_int,
    )
    alert_interval: float = setting(
        15.0, "Seconds between alert passes (the checks, then e-mails due).", parse=parse_positive_float
    )
    worker_down_after: int = setting(
        120,
        "Seconds without a job pass after which the worker counts as down "
        "(/readyz answers 503, the web app raises worker:down).",
        parse=parse_positive_int,
    )
    webhook_failing_after: int = setting(
        3600,
        "Seconds a user's webhook endpoint keeps failing before webhook:failing is raised.",
        parse=parse_positive_int,
    )
    metrics_token: str = setting(
        "",
        "Bearer token that /metrics asks for (or SMSBRIDGE_METRICS_TOKEN_FILE); "
        "empty: /metrics answers loopback clients only.",
        secret=True,
    )
    web_workers: int = setting(
        2, "Processes of the production web server (`smsbridge web`).", parse=parse_positive_int
    )
    web_threads: int = setting(4, "Threads in each web server process.", parse=parse_positive_int)
    secret_key: str = setting(
        "",
        "Key signing the admin's session cookies (or SMSBRIDGE_SECRET_KEY_FILE); "
        "generated into state_dir when empty.",
        secret=True,
    )
    notebook_db_password: str = setting(
        "",
        "Password of the Reports notebook's read-only DB account (or "
        "SMSBRIDGE_NOTEBOOK_DB_PASSWORD_FILE); empty: the one `db init` generates into "
        "state_dir/notebook_db_password. Set it where web servers of several hosts or "
        "state_dirs share one database.",
        secret=True,
    )
    secure_cookies: bool = setting(
        False,
        "Mark the admin's session cookie Secure on every answer (serve the admin over HTTPS only). "
        "Off, it is still Secure on answers to HTTPS requests.",
    )
    trusted_proxies: int = setting(
        0,
        "Reverse proxies in front of smsbridge whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed (client address for the login throttle, HTTPS for the cookie); 0 believes none.",
        parse=parse_non_negative_int,
    )


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False


_PARSE_BY_TYPE: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float, "bool": parse_bool}
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(
        f.name,
        f.metadata["parse"] or _PARSE_BY_TYPE[str(f.type)],
        f.default,
        f.metadata["help"],
        f.metadata["secret"],
    )
    for f in dataclasses.fields(Settings)
)


def load_settings(
    path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """File (``path`` or ``$SMSBRIDGE_CONFIG`` or ./smsbridge.toml if present),
    then environment, then keyword overrides (tests)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {s.name: s for s in SETTINGS}

    file_path = path or env.get("SMSBRIDGE_CONFIG")
    if file_path is None and Path("smsbridge.toml").exists():
        file_path = "smsbridge.toml"
    if file_path is not None:
        try:
            data = tomllib.loads(Path(file_path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {file_path}: {exc}") from exc
        for name, raw in data.items():
            if name not in known:
                raise SettingsError(f"{file_path}: unknown setting {name!r}")
            values[name] = _parse(
                known[name], str(raw).lower() if isinstance(raw, bool) else str(raw), f"{file_path}: {name}"
            )

    for setting in SETTINGS:
        var = f"SMSBRIDGE_{setting.name.upper()}"
        if var + "_FILE" in env:
            try:
                raw = Path(env[var + "_FILE"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(f"{var}_FILE: {exc}") from exc
            values[setting.name] = _parse(setting, raw, var + "_FILE")
        elif var in env:
            values[setting.name] = _parse(setting, env[var], var)

    for name, value in overrides.items():
        if name not in known:
            raise SettingsError(f"unknown setting {name!r}")
        values[name] = value
    return Settings(**values)


def _parse(setting: Setting, raw: str, where: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from exc


def secret_file(settings: Settings, name: str) -> str:
    """The secret in ``<state_dir>/<name>``, generated once (0600) when the
    file is missing. Every process of the host must read the same value, so
    it is created atomically: the first process writes it, the others read
    what it wrote."""
    path = Path(settings.state_dir) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(scratch, path)  # fails if another process won the race
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_text(encoding="utf-8").strip()
