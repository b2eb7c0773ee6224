"""Small helpers every admin page uses."""

from __future__ import annotations

from typing import overload

from flask import current_app, g


def db():
    """This request's session (opened and closed by bridge.web)."""
    return g.db_session


def settings():
    return current_app.config["SMSBRIDGE_SETTINGS"]


def report_engine():
    """The engine the reports notebook runs cells on (a longer time bound)."""
    return current_app.extensions["smsbridge"]["report_engine"]


def session_factory():
    """The session factory, for bridge functions that frame their own transactions."""
    return current_app.extensions["smsbridge"]["sessions"]


def new_session():
    """A session of its own, for work that outlives the request (streams)."""
    return current_app.extensions["smsbridge"]["sessions"]()


# With a default, a blank field has a number too.
@overload
def form_int(value: str | None, *, default: int) -> int: ...
@overload
def form_int(value: str | None, *, default: None = None) -> int | None: ...
def form_int(value: str | None, *, default: int | None = None) -> int | None:
    """A whole number from a form field; ``default`` when blank; ValueError when not a number."""
    value = (value or "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
