"""What gammu-smsd's words and numbers in ``sentitems`` mean, in one table.

``Status`` is the daemon's word for a part (gammu-smsd-tables(7));
``StatusError`` is the TP-Status of the part's delivery report (3GPP TS
23.040, section 9.2.3.15; GSM 03.40), -1 when there is none (no report was
asked for or has come, or the part never left the phone). Codes not in the
table are explained by their range, as the standard groups them.
"""

from __future__ import annotations

STATUS = {
    "SendingOK": "sent; waiting for its delivery report",
    "SendingOKNoReport": "sent, without asking for a delivery report",
    "SendingError": "the phone could not send it (the network or the modem refused it)",
    "DeliveryOK": "the delivery report says it reached the phone",
    "DeliveryFailed": "the delivery report says it will not reach the phone",
    "DeliveryPending": "the delivery report says the network is still trying",
    "DeliveryUnknown": "the delivery report gave an unknown status",
    "Error": "gammu-smsd failed while processing it (not the network)",
}

TP_STATUS = {
    0x00: "received by the phone",
    0x01: "forwarded to the phone, delivery not confirmed",
    0x02: "replaced by the message centre",
    0x20: "congestion; the message centre keeps trying",
    0x21: "the phone is busy; the message centre keeps trying",
    0x22: "no response from the phone; the message centre keeps trying",
    0x23: "service rejected; the message centre keeps trying",
    0x24: "quality of service not available; the message centre keeps trying",
    0x25: "error in the phone; the message centre keeps trying",
    0x40: "remote procedure error",
    0x41: "incompatible destination",
    0x42: "connection rejected by the phone",
    0x43: "number not obtainable",
    0x44: "quality of service not available",
    0x45: "no interworking available",
    0x46: "validity period expired",
    0x47: "deleted by the sender",
    0x48: "deleted by the message centre's administration",
    0x49: "the message does not exist",
    0x60: "congestion; the message centre gave up",
    0x61: "the phone is busy; the message centre gave up",
    0x62: "no response from the phone; the message centre gave up",
    0x63: "service rejected; the message centre gave up",
    0x64: "quality of service not available; the message centre gave up",
    0x65: "error in the phone; the message centre gave up",
}


def status_meaning(status: str | None) -> str | None:
    return STATUS.get(status or "")


def code_meaning(code: int | None) -> str | None:
    """Words for a ``StatusError``; None when there is no code (-1 or NULL)."""
    if code is None or code < 0:
        return None
    if code in TP_STATUS:
        return TP_STATUS[code]
    if code < 0x20:
        return "delivered (a code reserved by the standard)"
    if code < 0x40:
        return "temporary error; the message centre keeps trying"
    if code < 0x60:
        return "permanent error; the message centre gave up"
    if code < 0x80:
        return "temporary error; the message centre gave up"
    return "a code the standard does not define"
