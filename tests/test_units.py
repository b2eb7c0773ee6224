"""Pure logic: fast, no database."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from bridge import encoding
from bridge.accept import normalise_recipients, parse_send_at
from bridge.config import SETTINGS, load_settings
from bridge.errors import AcceptError, SettingsError
from bridge.phones import normalise_number
from bridge.usage import period_start

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize(
    "billing_day, today, start",
    [
        (1, date(2026, 11, 24), date(2026, 11, 1)),
        (25, date(2026, 11, 24), date(2026, 10, 25)),
        (24, date(2026, 11, 24), date(2026, 11, 24)),
        (15, date(2026, 1, 3), date(2025, 12, 15)),
        (28, date(2026, 3, 1), date(2026, 2, 28)),
    ],
)
def test_billing_month_starts_on_the_billing_day(billing_day, today, start):
    assert period_start(billing_day, today) == start


def test_gsm_text_fits_160_characters_in_one_part():
    assert encoding.count_parts("a" * 160) == 1
    assert encoding.count_parts("a" * 161) == 2
    assert encoding.describe("hello")["encoding"] == "GSM-7"


def test_one_cyrillic_letter_makes_the_text_ucs2():
    assert encoding.describe("a" * 70 + "я") == {"encoding": "UCS-2", "parts": 2, "characters": 71}
    assert encoding.count_parts("я" * 70) == 1


def test_concatenation_reference_comes_from_the_message_id():
    parts = encoding.encode("x" * 300, reference=0x1234)
    assert [p.udh[6:8] for p in parts] == ["34", "34"]
    assert encoding.encode("short", reference=7)[0].udh == ""


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("+7 (999) 123-45-67", "+79991234567"),
        ("8 999 123 45 67", "+79991234567"),
        ("9991234567", "+79991234567"),
        ("+49 30 901820", "+4930901820"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, e164):
    assert normalise_number(raw, "RU") == e164


@pytest.mark.parametrize("raw", ["abc", "+7999", "12", "+1 555 000"])
def test_what_is_not_a_phone_number_is_refused(raw):
    with pytest.raises(AcceptError) as error:
        normalise_number(raw, "RU")
    assert error.value.field == "to"


def test_recipients_split_on_commas_and_lines_and_repeat_once():
    assert normalise_recipients("+79991234567,\n89991234567; +79991234568", "RU", 10) == [
        "+79991234567",
        "+79991234568",
    ]


def test_send_at_with_offset_is_stored_as_utc():
    assert parse_send_at("2026-11-24T12:00:00+03:00").isoformat() == "2026-11-24T09:00:00"
    assert parse_send_at("2026-11-24T12:00:00Z").isoformat() == "2026-11-24T12:00:00"


def test_settings_come_from_file_then_environment(tmp_path):
    config = tmp_path / "smsbridge.toml"
    config.write_text('default_region = "de"\nmax_parts = 4\n')
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    settings = load_settings(
        config, env={"SMSBRIDGE_MAX_PARTS": "6", "SMSBRIDGE_GAMMU_DB_PASSWORD_FILE": str(secret)}
    )
    assert (settings.default_region, settings.max_parts, settings.gammu_db_password) == (
        "DE",
        6,
        "from-a-file",
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SMSBRIDGE_MAX_PARTS": "lots"}, "SMSBRIDGE_MAX_PARTS"),
        ({"SMSBRIDGE_MAX_PARTS": "0"}, "SMSBRIDGE_MAX_PARTS"),
        ({"SMSBRIDGE_DEFAULT_REGION": "Narnia"}, "SMSBRIDGE_DEFAULT_REGION"),
        ({"SMSBRIDGE_DISPATCH_INTERVAL": "-1"}, "SMSBRIDGE_DISPATCH_INTERVAL"),
    ],
)
def test_a_bad_setting_fails_loudly_naming_it(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_unknown_setting_in_the_file_is_an_error(tmp_path):
    config = tmp_path / "smsbridge.toml"
    config.write_text("max_part = 4\n")
    with pytest.raises(SettingsError, match="unknown setting 'max_part'"):
        load_settings(config, env={})


def test_readme_documents_every_setting():
    documented = set(re.findall(r"`SMSBRIDGE_([A-Z_]+)`", README.read_text()))
    assert {s.name.upper() for s in SETTINGS} <= documented


def test_a_stale_pid_file_naming_another_program_is_not_a_daemon(tmp_path):
    import os

    from bridge import smsd

    settings = load_settings(env={}, state_dir=str(tmp_path))
    pid_file = tmp_path / "run" / "smsd-simA.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(str(os.getpid()))  # this pytest process, not gammu-smsd
    assert smsd.running_pid(settings, "simA") is None
    assert smsd.stop(settings, "simA") is False
