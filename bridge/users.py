"""Users, passwords and API keys: the one place credentials are checked."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from .clock import utcnow
from .errors import AuthError, UserError
from .models import ApiKey, Message, MessageStatus, User
from .quiet_hours import SendWindow, check_timezone, parse_window

_hasher = PasswordHasher()
API_KEY_PREFIX = "sb_"


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
    login = login.strip()
    if not login or len(login) > 64 or any(c.isspace() for c in login):
        raise UserError("a login is 1-64 characters without spaces")
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise UserError(f"user {login!r} already exists")
    user = User(login=login, password_hash=hash_password(password), is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login))
    if user is None:
        raise UserError(f"no user {login!r}")
    return user


def set_password(session: Session, login: str, password: str) -> None:
    get_user(session, login).password_hash = hash_password(password)


def set_blocked(session: Session, login: str, blocked: bool) -> None:
    get_user(session, login).blocked = blocked


def set_send_window(session: Session, login: str, window: str | None, timezone: str | None = None) -> User:
    """Quiet hours: ``window`` "09:00-21:00" (local time in ``timezone``, an
    IANA name; the user's own, else UTC), "none" or None to send at any
    time. Messages the old window held are looked at again at once."""
    user = get_user(session, login)
    if timezone is not None:
        user.timezone = check_timezone(timezone)
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


def issue_api_key(session: Session, login: str) -> str:
    """A new key for the user; only its hash is stored, so show it once."""
    user = get_user(session, login)
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user.id, key_hash=_key_hash(key), prefix=key[:10]))
    session.flush()
    return key


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _active(user: User) -> User:
    if user.blocked:
        raise AuthError("user is blocked", status=403)
    return user


def authenticate_password(session: Session, login: str, password: str) -> User:
    user = session.execute(_USER_BY_LOGIN, {"login": login}).scalar()
    if user is None:
        # Spend the same time as a real check so logins cannot be probed.
        _verified.verify("", password, _dummy_hash())
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


def authenticate_api_key(session: Session, key: str) -> User:
    row = session.execute(_KEY_OWNER, {"key_hash": _key_hash(key)}).first()
    if row is None or not hmac.compare_digest(row.ApiKey.key_hash, _key_hash(key)):
        raise AuthError("unknown or revoked API key")
    return _active(row.User)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("smsbridge-timing-equaliser")
