"""Text -> SMS parts, through python-gammu (the library gammu-smsd itself
uses), so the split we bill for is the split the modem sends."""

from __future__ import annotations

import dataclasses
import functools

import gammu

UCS2 = "Unicode_No_Compression"
GSM7 = "Default_No_Compression"


@dataclasses.dataclass(frozen=True)
class Part:
    coding: str  # Gammu's coding name, as in the outbox table
    udh: str  # hex, '' for a single-part text
    sms_class: int  # -1 normal, 0 flash
    text: str


def encode(text: str, *, flash: bool = False, reference: int | None = None) -> tuple[Part, ...]:
    """Split ``text`` into parts: GSM-7 when every character fits the GSM
    alphabet, UCS-2 otherwise; concatenated with UDH when it is long.

    Gammu derives the concatenation reference from the clock, so two long
    texts to one phone in the same second would share it and the phone
    could splice them together; ``reference`` (e.g. the message id) replaces it.
    """
    parts = _encode_cached(text, flash)
    if reference is None or len(parts) == 1:
        return parts
    return tuple(dataclasses.replace(p, udh=_with_reference(p.udh, reference)) for p in parts)


def count_parts(text: str) -> int:
    return len(_encode_cached(text, False))


def describe(text: str) -> dict[str, object]:
    """What a sender sees before sending: encoding, parts, characters."""
    parts = _encode_cached(text, False)
    return {
        "encoding": "UCS-2" if parts[0].coding == UCS2 else "GSM-7",
        "parts": len(parts),
        "characters": len(text),
    }


@functools.lru_cache(maxsize=4096)
def _encode_cached(text: str, flash: bool) -> tuple[Part, ...]:
    info = {"Class": 0 if flash else -1, "Entries": [{"ID": "ConcatenatedAutoTextLong", "Buffer": text}]}
    return tuple(
        Part(
            coding=sms["Coding"],
            udh=sms["UDH"]["Text"].hex().upper() if sms["UDH"]["Type"] != "NoUDH" else "",
            sms_class=sms["Class"],
            text=sms["Text"],
        )
        for sms in gammu.EncodeSMS(info)
    )


def _with_reference(udh: str, reference: int) -> str:
    # 05 00 03 RR TT NN: concatenation with an 8-bit reference RR.
    if udh.startswith("050003") and len(udh) == 12:
        return udh[:6] + f"{reference & 0xFF:02X}" + udh[8:]
    # 06 08 04 RRRR TT NN: the 16-bit form.
    if udh.startswith("060804") and len(udh) == 14:
        return udh[:6] + f"{reference & 0xFFFF:04X}" + udh[10:]
    return udh
