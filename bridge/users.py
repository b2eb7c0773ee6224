"""Users, passwords, API keys and admin sessions: the one place credentials
are checked.

Invariants:
- A login is stored normalised (``normalise_login``: trimmed, lower case,
  letters, digits and ``. _ @ + -``), so every comparison is one of equals.
- A password or a key is never stored, only its hash; an admin session's
  token neither. Deleting a session row, revoking a key, a new password or
  a block ends access at the next request, in every web process.
- A refused login costs the same whether the login exists or not (a dummy
  hash made from random bytes at start-up, never one anybody can match).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from .clock import utcnow
from .errors import AuthError, NotFound, UserError
from .models import AdminSession, ApiKey, Message, MessageStatus, User
from .quiet_hours import SendWindow, check_timezone, parse_window

_hasher = PasswordHasher()
API_KEY_PREFIX = "sb_"
PREFIX_LENGTH = 10  # what `user keys` shows and `user revoke-key` takes
LOGIN = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,63}")
# last_used_at is written at most this often per key: not a write per request.
LAST_USE_PRECISION = timedelta(minutes=1)


def normalise_login(login: str) -> str:
    """The one form of a login: what is stored, looked up and compared."""
    return (login or "").strip().lower()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    return _hasher.hash(password)


class _VerifiedPasswords:
    """Argon2 is slow on purpose (~50 ms); a device calling /smsc for every
    text would pay that each time. Remember, per process, which (login,
    password) pairs matched which stored hash; a changed hash, a blocked
    user or a new process forgets. Only a digest of the password is kept."""

    def __init__(self, size: int = 1024):
        self._size = size
        self._entries: OrderedDict[tuple[str, bytes], str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(login: str, password: str, stored_hash: str) -> tuple[str, bytes]:
        digest = hashlib.sha256(stored_hash.encode() + b"\0" + password.encode()).digest()
        return login, digest

    def verify(self, login: str, password: str, stored_hash: str) -> bool:
        key = self._key(login, password, stored_hash)
        with self._lock:
            if self._entries.get(key) == stored_hash:
                self._entries.move_to_end(key)
                return True
        try:
            _hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        with self._lock:
            self._entries[key] = stored_hash
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return True


_verified = _VerifiedPasswords()


def create_user(session: Session, login: str, password: str, *, is_admin: bool = False) -> User:
    login = normalise_login(login)
    if not LOGIN.fullmatch(login):
        raise UserError(
            "a login is 1-64 letters, digits and . _ @ + - (starting with a letter or digit)",
            field="login",
        )
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise UserError(f"user {login!r} already exists")
    user = User(login=login, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == normalise_login(login)))
    if user is None:
        raise UserError(f"no user {login!r}")
    return user


def set_password(session: Session, login: str, password: str) -> int:
    """A new password ends the user's admin sessions and revokes their API
    keys (a password is changed because it may be known to someone else);
    returns how many keys were revoked."""
    user = get_user(session, login)
    user.password_hash = hash_password(password)
    end_sessions(session, user.id)
    return _revoke(session, ApiKey.user_id == user.id)


def set_blocked(session: Session, login: str, blocked: bool) -> None:
    """A block ends the user's admin sessions; their keys are refused while blocked."""
    user = get_user(session, login)
    user.blocked = blocked
    if blocked:
        end_sessions(session, user.id)


def set_timezone(session: Session, login: str, timezone: str) -> User:
    """The user's time zone, an IANA name ("UTC" or blank: UTC): the one
    their send window is read in and the admin shows them every time in.
    Messages a window held are looked at again at once."""
    user = get_user(session, login)
    user.timezone = check_timezone(timezone) if timezone.strip() else None
    wake_waiting(session, Message.user_id == user.id)
    return user


def set_send_window(session: Session, login: str, window: str | None, timezone: str | None = None) -> User:
    """Quiet hours: ``window`` "09:00-21:00" (local time in ``timezone``, an
    IANA name; the user's own, else UTC), "none" or None to send at any
    time. Messages the old window held are looked at again at once."""
    user = get_user(session, login)
    if timezone is not None:
        set_timezone(session, login, timezone)
    if window is not None:
        if window.strip().lower() == "none":
            user.send_window_start = user.send_window_end = None
        else:
            user.send_window_start, user.send_window_end = parse_window(window)
            user.timezone = user.timezone or "UTC"
    wake_waiting(session, Message.user_id == user.id)
    return user


def wake_waiting(session: Session, *which) -> None:
    """Queued messages that wait (they were due when dispatch held them)
    are looked at again at its next pass: a changed setting may free them."""
    session.execute(
        update(Message)
        .where(Message.status == MessageStatus.QUEUED, Message.wait_reason.is_not(None), *which)
        .values(due_at=utcnow())
    )


def send_window(user: User) -> SendWindow | None:
    if user.send_window_start is None or user.send_window_end is None:
        return None
    return SendWindow(user.send_window_start, user.send_window_end, user.timezone or "UTC")


def send_windows(session: Session, user_ids) -> dict[int, SendWindow]:
    """The send windows of those of ``user_ids`` that have one."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(User.id, User.send_window_start, User.send_window_end, User.timezone).where(
            User.id.in_(user_ids), User.send_window_start.is_not(None), User.send_window_end.is_not(None)
        )
    ).all()
    return {
        row.id: SendWindow(row.send_window_start, row.send_window_end, row.timezone or "UTC") for row in rows
    }


# --------------------------------------------------------------------------
# API keys


def issue_api_key(session: Session, login: str, *, replace: bool = False) -> str:
    """A new key for the user; only its hash is stored, so show it once.
    ``replace`` revokes the user's other keys in the same transaction."""
    user = get_user(session, login)
    if replace:
        _revoke(session, ApiKey.user_id == user.id)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user.id, key_hash=_key_hash(key), prefix=key[:PREFIX_LENGTH]))
    session.flush()
    return key


def list_api_keys(session: Session, login: str) -> list[ApiKey]:
    """The user's keys, newest first, revoked ones included (they say when)."""
    user = get_user(session, login)
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id.desc())))


def revoke_api_key(session: Session, prefix: str, *, owner: User | None = None) -> ApiKey:
    """Revoke the live key that starts with ``prefix`` (at least the
    ``PREFIX_LENGTH`` characters `user keys` shows). ``owner``: only among
    that user's keys (the API: a user revokes their own); None: any key.
    Another user's key is "not found", the same answer as no key."""
    prefix = (prefix or "").strip()
    if len(prefix) < PREFIX_LENGTH:
        raise UserError(f"give the key's first {PREFIX_LENGTH} characters", field="prefix")
    query = select(ApiKey).where(ApiKey.prefix == prefix[:PREFIX_LENGTH], ApiKey.revoked_at.is_(None))
    if owner is not None:
        query = query.where(ApiKey.user_id == owner.id)
    found = list(session.scalars(query.with_for_update()))
    whole = [k for k in found if k.key_hash == _key_hash(prefix)]  # the whole key was given
    found = whole or found
    shown = prefix[:PREFIX_LENGTH]  # never echo more of a key than its prefix
    if not found:
        raise NotFound(f"no live API key {shown!r}", field="prefix")
    if len(found) > 1:
        raise UserError(f"{len(found)} live keys start with {shown!r}; give the whole key", field="prefix")
    found[0].revoked_at = utcnow()
    session.flush()
    return found[0]


def _revoke(session: Session, *where) -> int:
    result = session.execute(
        update(ApiKey).where(*where, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return cast(CursorResult, result).rowcount


# --------------------------------------------------------------------------
# Admin sessions: a random token in the cookie, its hash in admin_sessions


def open_session(session: Session, user: User, lifetime: timedelta, now: datetime | None = None) -> str:
    """A new admin session for ``user``; returns the token for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.execute(delete(AdminSession).where(AdminSession.expires_at < now))  # tidy up
    session.add(AdminSession(id=_key_hash(token), user_id=user.id, created_at=now, expires_at=now + lifetime))
    session.flush()
    return token


def session_user(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The user whose live session ``token`` is; None when it ended,
    expired or its user is blocked."""
    if not token:
        return None
    row = session.execute(
        select(User)
        .join(AdminSession, AdminSession.user_id == User.id)
        .where(AdminSession.id == _key_hash(token), AdminSession.expires_at > (now or utcnow()))
    ).scalar()
    return row if row is not None and not row.blocked else None


def end_session(session: Session, token: str) -> None:
    session.execute(delete(AdminSession).where(AdminSession.id == _key_hash(token or "")))


def end_sessions(session: Session, user_id: int) -> None:
    """Every admin session of the user, in every browser."""
    session.execute(delete(AdminSession).where(AdminSession.user_id == user_id))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _active(user: User) -> User:
    if user.blocked:
        raise AuthError("user is blocked", status=403)
    return user


def authenticate_password(session: Session, login: str, password: str) -> User:
    login = normalise_login(login)
    user = session.execute(_USER_BY_LOGIN, {"login": login}).scalar()
    if user is None:
        # Spend the same time as a real check so logins cannot be probed:
        # a full argon2 verify against a hash nobody can match (never cached).
        try:
            _hasher.verify(_dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            pass
        raise AuthError("wrong login or password")
    if not _verified.verify(login, password, user.password_hash):
        raise AuthError("wrong login or password")
    return _active(user)


_KEY_OWNER = (
    select(ApiKey, User)
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
_USER_BY_LOGIN = select(User).where(User.login == bindparam("login"))


def authenticate_api_key(session: Session, key: str, now: datetime | None = None) -> User:
    """The key's user; records the key's last use (to the minute) in the caller's transaction."""
    row = session.execute(_KEY_OWNER, {"key_hash": _key_hash(key)}).first()
    if row is None or not hmac.compare_digest(row.ApiKey.key_hash, _key_hash(key)):
        raise AuthError("unknown or revoked API key")
    user = _active(row.User)
    now = now or utcnow()
    if row.ApiKey.last_used_at is None or row.ApiKey.last_used_at < now - LAST_USE_PRECISION:
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == row.ApiKey.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USE_PRECISION),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return user


@functools.cache
def _dummy_hash() -> str:
    """Made once per process from random bytes: no password matches it."""
    return _hasher.hash(secrets.token_hex(32))
