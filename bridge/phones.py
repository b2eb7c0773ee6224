"""Phone numbers: every number the bridge stores or compares is E.164, made
by ``phonenumbers`` from what a person typed (spaces, dashes, brackets, a
trunk prefix, a number without a country code in ``region``)."""

from __future__ import annotations

import phonenumbers

from .errors import AcceptError


def normalise_number(raw: str, region: str, *, field: str = "to") -> str:
    """E.164, or AcceptError naming ``field`` and the number."""
    cleaned = raw.strip()
    if not cleaned:
        raise AcceptError(field, "empty phone number")
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        raise AcceptError(field, f"{cleaned!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise AcceptError(field, f"{cleaned!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
