"""Settings: one table of names, types, defaults and help; read from a TOML
file and then from the environment (``SMSBRIDGE_<NAME>``, or
``SMSBRIDGE_<NAME>_FILE`` for secrets kept in a file).

Nothing is read at import time: callers build a ``Settings`` with
``load_settings()`` and pass it down.
"""

from __future__ import annotations

import dataclasses
import os
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


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", str,
            "mysql+pymysql://root@localhost/smsbridge?unix_socket=/run/mysqld/mysqld.sock",
            "SQLAlchemy URL of the MariaDB/MySQL database shared with gammu-smsd.",
            secret=True),
    Setting("db_timeout", parse_positive_float, 5.0,
            "Seconds one database call (connect, read, write) may take before it is given up; "
            "the API then answers 503 with Retry-After and jobs try again at their next pass."),
    Setting("stop_timeout", parse_positive_float, 5.0,
            "Seconds a stopping gateway waits for running passes and requests to finish; "
            "then it exits without them (their open transactions roll back)."),
    Setting("state_dir", str, "var",
            "Folder for pid files, logs and the simulated modems' folders."),
    Setting("smsdrc_dir", str, "gammu-smsdrc",
            "Folder where `sim add` writes one gammu-smsd config per SIM."),
    Setting("default_region", parse_region, "RU",
            "Region used for numbers written without a country code (ISO code)."),
    Setting("gammu_db_user", str, "",
            "DB account written into generated gammu-smsd configs; empty means the "
            "account of database_url. `db init --gammu-user` creates a least-privilege one."),
    Setting("gammu_db_password", str, "",
            "Password of gammu_db_user (or SMSBRIDGE_GAMMU_DB_PASSWORD_FILE).", secret=True),
    Setting("status_frequency", parse_positive_int, 5,
            "Seconds between a gammu-smsd daemon's heartbeats; a SIM is unhealthy "
            "after three missed ones."),
    Setting("dispatch_interval", parse_positive_float, 1.0,
            "Seconds between dispatch passes when nothing wakes it sooner."),
    Setting("harvest_interval", parse_positive_float, 1.0,
            "Seconds between harvest passes (sentitems -> message state)."),
    Setting("health_interval", parse_positive_float, 2.0,
            "Seconds between health passes (heartbeats, take-back)."),
    Setting("abandon_after", parse_positive_float, 3600.0,
            "Seconds a SIM may stay dead while a text it had started sending waits; "
            "then the text ends failed (it may have gone out, so it is not resent)."),
    Setting("dispatch_batch", parse_positive_int, 500,
            "Messages one dispatch transaction claims at most."),
    Setting("no_sim_backoff", parse_positive_float, 5.0,
            "Seconds a message that found no SIM waits before dispatch looks at it again."),
    Setting("max_parts", parse_positive_int, 10,
            "Longest text accepted, in SMS parts."),
    Setting("max_recipients", parse_positive_int, 1000,
            "Most recipients one request may name."),
    Setting("max_attempts", parse_positive_int, 5,
            "Highest `attempts` a request may ask for."),
    Setting("opt_out_words", str, "STOP,STOPALL,UNSUBSCRIBE,CANCEL,СТОП,ОТПИСКА",
            "Incoming texts that put the sender on the opt-out list (comma-separated, any case)."),
    Setting("opt_in_words", str, "START,UNSTOP,СТАРТ",
            "Incoming texts that take the sender off the opt-out list."),
    Setting("opt_out_confirmation", str, "",
            "Reply sent after STOP/START is honoured; empty sends none. {action} is 'unsubscribed' or 'subscribed'."),
    Setting("inbound_part_wait", parse_positive_float, 300.0,
            "Seconds to wait for the missing parts of a long incoming text before keeping it as it is."),
    Setting("inbound_interval", parse_positive_float, 1.0,
            "Seconds between inbound passes (inbox -> messages -> rules)."),
    Setting("webhook_interval", parse_positive_float, 1.0,
            "Seconds between webhook delivery passes."),
    Setting("webhook_backoff", parse_positive_float, 15.0,
            "First retry delay of a failed webhook, in seconds; it doubles each time (at most an hour)."),
    Setting("webhook_retry_hours", parse_positive_float, 48.0,
            "A webhook that has not been delivered after this many hours is given up."),
    Setting("webhook_timeout", parse_positive_float, 10.0,
            "Seconds a webhook receiver has to answer."),
    Setting("webhook_allow_private", parse_bool, False,
            "Allow webhook URLs on loopback or private addresses (off: refuse them)."),
    Setting("web_workers", parse_positive_int, 2,
            "Processes of the production web server (`smsbridge web`)."),
    Setting("web_threads", parse_positive_int, 4,
            "Threads in each web server process."),
    Setting("secret_key", str, "",
            "Key signing the admin's session cookies (or SMSBRIDGE_SECRET_KEY_FILE); "
            "generated into state_dir when empty.", secret=True),
)


def _fields() -> list[tuple[str, type, dataclasses.Field]]:
    return [(s.name, Any, dataclasses.field(default=s.default)) for s in SETTINGS]


Settings = dataclasses.make_dataclass(
    "Settings", _fields(), frozen=True,
    namespace={"__doc__": "Every setting of smsbridge; see SETTINGS for help."},
)
# make_dataclass names the module "types" on 3.11; pickling (the worker
# process of `smsbridge run`) must find the class here.
Settings.__module__ = __name__


def load_settings(path: str | os.PathLike | None = None,
                  env: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
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
            values[name] = _parse(known[name], str(raw).lower() if isinstance(raw, bool) else str(raw),
                                  f"{file_path}: {name}")

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
