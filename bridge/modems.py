"""Finding modems on this host: serial ports and what ``gammu identify``
says about each.

``/dev/ttyUSB0`` names whichever modem the kernel found first, and the
order changes across reboots; ``/dev/serial/by-id/…`` names the modem
itself (vendor, model, serial number, interface). A SIM's device should be
the by-id path, which is why ``scan`` and ``stable_path`` lead to it.

A port that a running gammu-smsd holds is never probed: a second program
talking AT to the same modem would disturb the daemon's exchange."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import smsd
from .config import Settings
from .models import Sim

# gammu identify's labels -> ours.
FIELDS = {"Manufacturer": "manufacturer", "Model": "model", "IMEI": "imei", "SIM IMSI": "imsi"}


@dataclasses.dataclass
class Port:
    path: str  # the by-id path when there is one, else the tty
    tty: str  # what it resolves to, e.g. /dev/ttyUSB0
    by_id: str | None = None
    used_by: str | None = None  # the SIM configured on it
    probed: bool = False
    manufacturer: str | None = None
    model: str | None = None
    imei: str | None = None
    imsi: str | None = None
    error: str | None = None


def identify(device: str, *, connection: str = "at", model: str | None = None, timeout: float = 20.0) -> dict:
    """What ``gammu identify`` reports for a device: manufacturer, model,
    IMEI, IMSI (those it could read), or ``error`` with gammu's words."""
    lines = [f"device = {device}", f"connection = {connection}"] + ([f"model = {model}"] if model else [])
    with tempfile.NamedTemporaryFile("w", suffix=".gammurc", delete=False) as config:
        config.write("[gammu]\n" + "\n".join(lines) + "\n")
    try:
        done = subprocess.run(
            ["gammu", "-c", config.name, "identify"], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:.0f} s (not a modem's AT port?)"}
    except FileNotFoundError:
        return {"error": "gammu is not installed (apt install gammu)"}
    finally:
        os.unlink(config.name)
    found = parse_identify(done.stdout)
    if done.returncode != 0 and not found:
        words = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return {"error": words[-1] if words else f"gammu exited with {done.returncode}"}
    return found


def parse_identify(output: str) -> dict:
    found = {}
    for line in output.splitlines():
        label, sep, value = line.partition(":")
        if sep and label.strip() in FIELDS and value.strip():
            found[FIELDS[label.strip()]] = value.strip()
    return found


def ports(dev_root: str = "/dev") -> list[Port]:
    """Serial ports: every ``serial/by-id`` link, and ttyUSB*/ttyACM* without one."""
    root = Path(dev_root)
    found: dict[str, Port] = {}
    by_id = root / "serial" / "by-id"
    if by_id.is_dir():
        for link in sorted(by_id.iterdir()):
            tty = os.path.realpath(link)
            found.setdefault(tty, Port(path=str(link), tty=tty, by_id=str(link)))
    for pattern in ("ttyUSB*", "ttyACM*"):
        for tty_path in sorted(root.glob(pattern)):
            tty = os.path.realpath(tty_path)
            found.setdefault(tty, Port(path=str(tty_path), tty=tty))
    return sorted(found.values(), key=lambda p: p.path)


def stable_path(device: str, dev_root: str = "/dev") -> str | None:
    """The by-id path of a device given by its tty name, if it has one."""
    if "/serial/by-id/" in device:
        return None
    tty = os.path.realpath(device)
    return next((p.by_id for p in ports(dev_root) if p.by_id and p.tty == tty), None)


def scan(
    session: Session, settings: Settings, *, dev_root: str = "/dev", timeout: float = 20.0
) -> list[Port]:
    """Every serial port with what gammu says of it and which SIM uses it.
    Ports are probed in parallel; one held by a running daemon is not."""
    found = ports(dev_root)
    devices = session.execute(
        select(Sim.name, Sim.device).where(Sim.removed_at.is_(None), Sim.device.is_not(None))
    ).all()
    users = {os.path.realpath(device): name for name, device in devices if device}
    to_probe = []
    for port in found:
        port.used_by = users.get(port.tty)
        if port.used_by and smsd.running_pid(settings, port.used_by) is not None:
            port.error = f"not probed: SIM {port.used_by}'s gammu-smsd holds it"
        else:
            to_probe.append(port)
    if to_probe:
        with ThreadPoolExecutor(max_workers=min(8, len(to_probe))) as pool:
            answers = pool.map(lambda p: identify(p.tty, timeout=timeout), to_probe)
            for port, answer in zip(to_probe, answers, strict=True):
                port.probed = True
                for key, value in answer.items():
                    setattr(port, key, value)
    return found
