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
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .errors import AuthError, UserError
from .models import ApiKey, User

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
