"""Errors a person can act on, in one shape.

Every error the bridge raises on purpose is a ``BridgeError``: ``message`` in
plain words, ``field`` naming the input at fault when there is one, and the
HTTP ``status`` an interface answers with. The API turns one into its JSON
error, the CLI into one line, the admin into a form error or a flash, none of
them caring which kind it is. ``str(exc)`` is "field: message", or the
message alone. A ground module: it imports nothing of the project."""

from __future__ import annotations


class BridgeError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class AcceptError(BridgeError):
    """Bad input, named by ``field``; nothing was stored."""

    field: str  # always named

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message, field=field, status=status)


class AuthError(BridgeError):
    """Credentials refused: 401 (who are you?) or 403 (not allowed)."""

    status = 401


class NotFound(BridgeError):
    """No such thing, or not one this user may see (the same answer, on purpose)."""

    status = 404


class UserError(BridgeError):
    """An operator asked for something that cannot be done."""


class ArchiveError(BridgeError):
    """The action does not apply to the message as it is now."""

    status = 409


class ReportError(BridgeError):
    """A report cell cannot run; the message says why in words an admin can act on."""


class SchemaError(BridgeError):
    """The database holds something init or upgrade cannot work with."""

    status = 500


class SmsdError(BridgeError):
    """A gammu-smsd daemon or its config cannot be handled as asked."""

    status = 500


class SettingsError(BridgeError):
    """A setting has a value that cannot be used; the message names it."""

    status = 500
