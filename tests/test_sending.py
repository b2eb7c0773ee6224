"""What leaves through gammu-smsd: encoding, parts, flash, exact text."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bridge.accept import SendOptions, accept
from bridge.clock import utcnow
from bridge.jobs.dispatch import dispatch
from bridge.models import Message, MessageStatus, OptOut, User
from tests.helpers import dispatch_all, harvest_until, sent_parts


def queue(sessions, settings, login, to, text, **options):
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.login == login))
        result = accept(session, user, to, text, SendOptions(**options), settings=settings)
    return [m["id"] for m in result.messages]


def test_200_cyrillic_characters_leave_as_3_ucs2_parts_with_matching_udh(
    modems, make_user, sessions, settings
):
    make_user()
    modems.add("simA")
    text = ("Привет! Заказ №42 готов к выдаче. " * 7)[:200]
    [message_id] = queue(sessions, settings, "alice", "+79991234567", text)
    dispatch_all(sessions, settings)
    harvest_until(sessions, [message_id])

    parts = sent_parts(sessions, message_id)
    assert len(parts) == 3
    assert {p.coding for p in parts} == {"Unicode_No_Compression"}
    reference = f"{message_id & 0xFF:02X}"
    assert [p.udh for p in parts] == [f"050003{reference}03{n:02X}" for n in (1, 2, 3)]
    assert "".join(p.text_decoded for p in parts) == text


def test_flash_message_is_sent_as_class_0(modems, make_user, sessions, settings):
    make_user()
    modems.add("simA")
    [flash_id] = queue(sessions, settings, "alice", "+79991234567", "Door open", flash=True)
    [plain_id] = queue(sessions, settings, "alice", "+79991234567", "Door closed")
    dispatch_all(sessions, settings)
    harvest_until(sessions, [flash_id, plain_id])
    assert [p.sms_class for p in sent_parts(sessions, flash_id)] == [0]
    assert [p.sms_class for p in sent_parts(sessions, plain_id)] == [-1]


def test_quotes_markup_format_strings_and_emoji_arrive_byte_for_byte(
    modems, make_user, sessions, settings, client
):
    user = make_user()
    modems.add("simA")
    text = "It's \"quoted\" <script>alert('x')</script> %s %d {0} `rm -rf` \\ 😀🚀 ё"
    response = client.post(
        "/api/v1/messages",
        json={"to": "+79991234567", "text": text},
        headers={"Authorization": f"Bearer {user['key']}"},
    )
    [accepted] = response.get_json()
    with sessions.begin() as session:
        assert session.get(Message, accepted["id"]).text == text
    dispatch_all(sessions, settings)
    harvest_until(sessions, [accepted["id"]])
    assert "".join(p.text_decoded for p in sent_parts(sessions, accepted["id"])) == text


def test_opted_out_recipient_ends_opted_out_without_an_outbox_row(modems, make_user, sessions, settings):
    make_user()
    modems.add("simA", start=False)
    with sessions.begin() as session:
        session.add(OptOut(phone="+79991234567", source="test", created_at=utcnow()))
    [message_id] = queue(sessions, settings, "alice", "+79991234567", "promo")
    dispatch_all(sessions, settings)
    with sessions.begin() as session:
        message = session.get(Message, message_id)
        assert message.status == MessageStatus.OPTED_OUT and message.attempts_made == 0
    assert sent_parts(sessions, message_id) == []


def test_expired_message_is_not_sent(modems, make_user, sessions, settings):
    make_user()
    modems.add("simA", start=False)
    [message_id] = queue(sessions, settings, "alice", "+79991234567", "code 1234", valid_for=60)
    with sessions.begin() as session:
        dispatch(session, settings, now=utcnow() + timedelta(seconds=61))
        assert session.get(Message, message_id).status == MessageStatus.EXPIRED


def test_scheduled_message_waits_for_send_at(modems, make_user, sessions, settings):
    make_user()
    modems.add("simA")
    later = utcnow() + timedelta(hours=1)
    [message_id] = queue(sessions, settings, "alice", "+79991234567", "later", send_at=later)
    assert dispatch_all(sessions, settings) == 0
    with sessions.begin() as session:
        assert dispatch(session, settings, now=later).dispatched == 1
