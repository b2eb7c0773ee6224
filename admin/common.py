"""Small helpers every admin page uses."""

from __future__ import annotations

from flask import current_app, g


def db():
    """This request's session (opened and closed by bridge.web)."""
    return g.db_session


def settings():
    return current_app.config["SMSBRIDGE_SETTINGS"]


def report_engine():
    """The notebook account's engine (a longer time bound); None until
    `db init` has made the account."""
    return current_app.extensions["smsbridge"]["report_engine"].get()


def new_session():
    """A session of its own, for work that outlives the request (streams)."""
    return current_app.extensions["smsbridge"]["sessions"]()


def form_int(value: str | None, *, default: int | None = None) -> int | None:
    """A whole number from a form field; ``default`` when blank; ValueError when not a number."""
    value = (value or "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
