"""gammu-smsd daemons: one config file per SIM, and start/stop/status of the
daemons whose configs are on this host.

A SIM's PIN lives in its config file only (mode 0600, beside the DB
password): never in the database, where the reports notebook could read
it, and never in a log. Rewriting a config keeps the PIN it had."""

from __future__ import annotations

import configparser
import os
import re
import signal
import string
import subprocess
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from .config import Settings
from .errors import SmsdError

TEMPLATE = Path(__file__).resolve().parent / "smsdrc.template"


def config_path(settings: Settings, name: str) -> Path:
    return Path(settings.smsdrc_dir) / name


def modem_dir(settings: Settings, name: str) -> Path:
    """The simulated modem's folder (Gammu's dummy phone)."""
    return Path(settings.state_dir).resolve() / "modems" / name


def _ini_value(value: str) -> str:
    if any(c in value for c in "\r\n"):
        raise SmsdError("config values cannot contain line breaks")
    return value


PIN = re.compile(r"^[0-9]{4,8}$")
KEEP = object()  # write_config's pin: whatever the current config has


def render_config(settings: Settings, sim, pin: str | None = None) -> str:
    url = make_url(settings.database_url)
    user = settings.gammu_db_user or url.username or "root"
    password = settings.gammu_db_password if settings.gammu_db_user else (url.password or "")
    host = url.host or "localhost"
    socket = url.query.get("unix_socket")
    if url.port:
        host = f"{host}:{url.port}"
    elif socket and host == "localhost":
        # libmysqlclient takes a socket path after the colon.
        host = f"localhost:{socket}"
    if sim.simulated:
        device_lines = {"model": "dummy", "connection": "none", "device": str(modem_dir(settings, sim.name))}
    else:
        device_lines = {"connection": sim.connection or "at", "device": sim.device}
    device_block = "\n".join(f"{key} = {_ini_value(value)}" for key, value in device_lines.items())
    state = Path(settings.state_dir).resolve()
    freq = settings.status_frequency
    values = {
        "device_block": device_block,
        "phone_id": sim.name,
        "db_host": host,
        "db_user": user,
        "db_password": password,
        "db_name": url.database,
        "status_frequency": str(freq),
        "heartbeat_seconds": str(3 * freq),
        "reset_every": str(sim.reset_every or 0),
        "hard_reset_every": str(sim.hard_reset_every or 0),
        "logfile": str(state / "log" / f"smsd-{sim.name}.log"),
        "pin_line": f"PIN = {pin}" if pin else "# No PIN (`smsbridge sim set NAME --pin` sets one).",
    }
    checked = {k: v if k == "device_block" else _ini_value(v) for k, v in values.items()}
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(checked)


def client_environment(settings: Settings) -> dict[str, str]:
    """Where gammu-smsd's MySQL client finds the server after a reconnect.

    gammu-smsd cuts ``:port`` or ``:socket`` off its ``host`` setting in place
    on its first connect (``SMSDMySQL_Connect`` in Gammu's
    ``smsd/services/mysql.c``), so after the database restarts it reconnects
    to the client library's defaults: another port or socket. The MariaDB
    client library takes those defaults from ``MYSQL_TCP_PORT`` and
    ``MYSQL_UNIX_PORT``; setting them to ours makes every reconnect land on
    the same server."""
    url = make_url(settings.database_url)
    env = {}
    if url.port:
        env["MYSQL_TCP_PORT"] = str(url.port)
    if url.query.get("unix_socket"):
        env["MYSQL_UNIX_PORT"] = str(url.query["unix_socket"])
    return env


def environment_path(settings: Settings, name: str) -> Path:
    """``NAME.env`` beside the config: read by ``smsd start`` and by the systemd unit."""
    return Path(settings.smsdrc_dir) / f"{name}.env"


def configured_pin(settings: Settings, name: str) -> str | None:
    """The PIN in the SIM's current config on this host, if any."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(config_path(settings, name), encoding="utf-8")
    except configparser.Error:
        return None
    return parser.get("smsd", "pin", fallback=None) or None


def write_config(settings: Settings, sim, pin: object = KEEP) -> Path:
    """Write the SIM's config (``pin``: a PIN, None for none, or KEEP) and its
    ``.env``, each whole or not at all: rendered first (a value that cannot
    be written refuses before any file is touched), then written to a
    scratch file and renamed over the old."""
    if pin is KEEP:
        pin = configured_pin(settings, sim.name)
    if pin is not None and not (isinstance(pin, str) and PIN.match(pin)):
        raise SmsdError("a PIN is 4 to 8 digits")
    path = config_path(settings, sim.name)
    config = render_config(settings, sim, pin)
    environment = "".join(
        f"{key}={_ini_value(value)}\n" for key, value in client_environment(settings).items()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    (Path(settings.state_dir) / "log").mkdir(parents=True, exist_ok=True)
    if sim.simulated:
        modem_dir(settings, sim.name).mkdir(parents=True, exist_ok=True)
    _write_atomically(path, config)  # holds a DB password: 0600
    _write_atomically(environment_path(settings, sim.name), environment)
    return path


def _write_atomically(path: Path, content: str) -> None:
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def remove_config(settings: Settings, name: str) -> bool:
    """Delete the SIM's config and its environment file; False if there was none."""
    existed = config_path(settings, name).exists()
    config_path(settings, name).unlink(missing_ok=True)
    environment_path(settings, name).unlink(missing_ok=True)
    return existed


def has_config(settings: Settings, name: str) -> bool:
    """Whether this SIM's daemon is run from this host (its config is here)."""
    return config_path(settings, name).is_file()


def configured_sims(settings: Settings) -> list[str]:
    folder = Path(settings.smsdrc_dir)
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and "." not in p.name
    )


def _pid_file(settings: Settings, name: str) -> Path:
    return Path(settings.state_dir).resolve() / "run" / f"smsd-{name}.pid"


def running_pid(settings: Settings, name: str) -> int | None:
    try:
        pid = int(_pid_file(settings, name).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # A stale pid file may name a pid the system has since given to another
    # program: never signal anything that is not gammu-smsd.
    return pid if b"gammu-smsd" in command else None


def start(settings: Settings, name: str, timeout: float = 10.0) -> int:
    """Start the SIM's daemon unless it runs; return its pid."""
    pid = running_pid(settings, name)
    if pid is not None:
        return pid
    config = config_path(settings, name)
    if not config.is_file():
        raise SmsdError(f"no gammu-smsd config for SIM {name!r} at {config}")
    pid_file = _pid_file(settings, name)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.unlink(missing_ok=True)
    result = subprocess.run(
        ["gammu-smsd", "--config", str(config), "--daemon", "--pid", str(pid_file)],
        capture_output=True,
        text=True,
        env={**os.environ, **client_environment(settings)},
    )
    if result.returncode != 0:
        raise SmsdError(
            f"gammu-smsd for {name} did not start: {result.stderr.strip() or result.stdout.strip()}"
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = running_pid(settings, name)
        if pid is not None:
            return pid
        time.sleep(0.05)
    raise SmsdError(
        f"gammu-smsd for {name} wrote no pid file within {timeout:.0f} s; "
        f"see {Path(settings.state_dir) / 'log' / f'smsd-{name}.log'}"
    )


def stop(settings: Settings, name: str, timeout: float = 10.0, sig: int = signal.SIGTERM) -> bool:
    """Stop the SIM's daemon; False if it was not running."""
    pid = running_pid(settings, name)
    if pid is None:
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file(settings, name).unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
