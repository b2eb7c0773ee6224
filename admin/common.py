"""Small helpers every admin page uses."""

from __future__ import annotations

from typing import overload

from flask import current_app, g
from sqlalchemy import select

from bridge.errors import AcceptError
from bridge.models import Phone


def db():
    """This request's session (opened and closed by bridge.web)."""
    return g.db_session


def settings():
    return current_app.config["SMSBRIDGE_SETTINGS"]


def report_engine():
    """The notebook account's engine (a longer time bound); None until
    `db init` has made the account."""
    return current_app.extensions["smsbridge"]["report_engine"].get()


def session_factory():
    """The session factory, for bridge functions that frame their own transactions."""
    return current_app.extensions["smsbridge"]["sessions"]


def new_session():
    """A session of its own, for work that outlives the request (streams)."""
    return current_app.extensions["smsbridge"]["sessions"]()


# The largest id or count a query parameter may name (BIGINT).
MAX_QUERY_INT = 2**63 - 1


# With a default, a blank field has a number too.
@overload
def form_int(value: str | None, *, default: int, field: str = ..., maximum: int = ...) -> int: ...
@overload
def form_int(
    value: str | None, *, default: None = None, field: str = ..., maximum: int = ...
) -> int | None: ...
def form_int(
    value: str | None, *, default: int | None = None, field: str = "value", maximum: int = 2**31 - 1
) -> int | None:
    """A whole number from a form field (ASCII digits, up to ``maximum``);
    ``default`` when blank; AcceptError naming ``field`` otherwise."""
    value = (value or "").strip()
    if value == "":
        return default
    digits = value[1:] if value.startswith("-") else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 20 or abs(int(value)) > maximum:
        raise AcceptError(field, f"{value[:40]!r} is not a whole number up to {maximum}")
    return int(value)


def query_int(args, name: str, problems: list[str], *, maximum: int = MAX_QUERY_INT) -> int | None:
    """A query parameter of plain ASCII digits up to ``maximum``; None when
    absent; otherwise a problem naming the parameter (the page answers 400)."""
    raw = args.get(name) or ""
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > maximum:
        problems.append(f"{name}: {raw[:40]!r} is not a whole number from 0 to {maximum}")
        return None
    return int(raw)


def shown_sims(rows: list[dict]) -> list[dict]:
    """``sims.sim_overview`` rows as every page shows them: a SIM whose
    daemon never ran (no row in Gammu's phones) is "never started", not
    "dead", which would send the operator looking for a crash;
    ``heartbeat_seen`` tells the pages so. Run inside the caller's transaction."""
    seen = set(db().scalars(select(Phone.id).where(Phone.id.in_([row["name"] for row in rows]))))
    shown = []
    for row in rows:
        heartbeat_seen = row["name"] in seen
        if row["state"] == "dead" and not heartbeat_seen:
            state, reason = "never started", "its gammu-smsd has never run: no heartbeat was ever written"
        else:
            state, reason = row["state"], row["state_reason"]
        shown.append({**row, "state": state, "state_reason": reason, "heartbeat_seen": heartbeat_seen})
    return shown
