"""Slowing down password guessing: the admin's login page and the classic
/smsc call, whose every wrong password would otherwise cost an argon2 check
and could be repeated without end.

Failures are counted twice, in the database (``login_failures``) so that
every web process of every host sees the same counts:

- per (client address, login): after ``FREE_PER_LOGIN`` failures each
  further one locks that login *from that address* twice as long as the
  last (1 s, 2 s, 4 s … up to ``LONGEST``);
- per client address, whatever the login: the same after
  ``FREE_PER_ADDRESS`` failures, so that spraying many logins is slowed too.

A success clears only its own (address, login) counter: logging in as
oneself does not wipe the failures against someone else's login, nor the
address's count. A counter with no failure for ``FORGET_AFTER`` starts
again from nothing. Behind a reverse proxy the address is the client's only
when the proxy is trusted (the ``trusted_proxies`` setting).

``sign_in`` is the one way a password is checked under these counters (the
admin's login page and the classic call): one read of the counters, the
password, and a delete only when there are failures to forget, all in the
caller's transaction. A wrong password is counted by ``failed`` in a
transaction of its own, since the caller's rolls back.

Functions take a Session and do not commit, like every domain function."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.orm import Session

from .clock import utcnow
from .errors import AuthError
from .models import LoginFailure, User
from .users import authenticate_password

FREE_PER_LOGIN = 5
FREE_PER_ADDRESS = 20
LONGEST = 900.0
FORGET_AFTER = timedelta(hours=1)
ANY_LOGIN = ""
_KEY_LENGTH = 64  # the columns' size; longer logins are no user's anyway


def _keys(address: str, login: str) -> tuple[tuple[str, str], tuple[str, str]]:
    address = (address or "?")[:_KEY_LENGTH]
    return (address, (login or "").strip().lower()[:_KEY_LENGTH]), (address, ANY_LOGIN)


class LockedOut(AuthError):
    """Too many wrong passwords from this address: 429, try again in ``retry_after`` s."""

    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"too many wrong passwords; try again in {retry_after} s")
        self.retry_after = retry_after


def sign_in(session: Session, address: str, login: str, password: str, now: datetime | None = None) -> User:
    """The user whose password this is, unless ``login`` is locked out from
    ``address`` (LockedOut, before the password is even checked). A success
    forgets that pair's failures. AuthError on a wrong password: count it
    with ``failed``."""
    now = now or utcnow()
    pair, anyone = _keys(address, login)
    counters = session.execute(
        select(LoginFailure.login, LoginFailure.locked_until).where(
            LoginFailure.address == pair[0], LoginFailure.login.in_({pair[1], anyone[1]})
        )
    ).all()
    until = max((c.locked_until for c in counters if c.locked_until > now), default=None)
    if until is not None:
        raise LockedOut(max(1, math.ceil((until - now).total_seconds())))
    user = authenticate_password(session, login, password)
    if any(c.login == pair[1] for c in counters):  # the common case, none, costs no write
        session.execute(
            delete(LoginFailure).where(LoginFailure.address == pair[0], LoginFailure.login == pair[1])
        )
    return user


def failed(session: Session, address: str, login: str, now: datetime | None = None) -> None:
    """Count a wrong password for ``login`` from ``address``."""
    now = now or utcnow()
    pair, anyone = _keys(address, login)
    for (addr, who), free in ((pair, FREE_PER_LOGIN), (anyone, FREE_PER_ADDRESS)):
        # One statement, so that two processes counting at once both count.
        upsert = insert(LoginFailure).values(
            address=addr, login=who, failures=1, locked_until=now, last_failed_at=now
        )
        session.execute(
            upsert.on_duplicate_key_update(
                # MariaDB assigns in order: this reads last_failed_at before it changes.
                failures=_restart_or_add(now),
                last_failed_at=upsert.inserted.last_failed_at,
            )
        )
        count = session.scalar(
            select(LoginFailure.failures).where(LoginFailure.address == addr, LoginFailure.login == who)
        )
        if count and count > free:
            delay = min(2.0 ** (count - free - 1), LONGEST)
            until = now + timedelta(seconds=delay)
            if until.microsecond:  # the column keeps whole seconds: round up, never shorten
                until = until.replace(microsecond=0) + timedelta(seconds=1)
            session.execute(
                update(LoginFailure)
                .where(LoginFailure.address == addr, LoginFailure.login == who)
                .values(locked_until=until)
            )
    _forget_stale(session, now)


def _restart_or_add(now: datetime):
    return case((LoginFailure.last_failed_at < now - FORGET_AFTER, 1), else_=LoginFailure.failures + 1)


def _forget_stale(session: Session, now: datetime) -> None:
    # Bounded table under a spray of addresses and logins.
    session.execute(
        delete(LoginFailure)
        .where(LoginFailure.last_failed_at < now - FORGET_AFTER, LoginFailure.locked_until < now)
        .with_dialect_options(mysql_limit=100)
        .execution_options(synchronize_session=False)
    )
