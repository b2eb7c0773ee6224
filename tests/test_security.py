"""Issue #11, as an attacker and a curious logged-in user would try it, on
the real stack: sessions that end, a throttle every process shares, a
notebook that cannot reach files or secrets, revocable keys, safe CSV,
opt-out lists that do not leak, no 5xx on bad input."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

import cli
from bridge import notebooks, optouts, reports, schema, sims, smsd, users, webhooks
from bridge.clock import utcnow
from bridge.errors import AcceptError, AuthError, ReportError, SchemaError, UserError
from bridge.jobs.dispatch import dispatch
from bridge.models import ApiKey, InboundMessage, Message, MessageStatus, ReportCell, Sim, User
from bridge.web import create_app
from tests.conftest import PASSWORD, running_gateway
from tests.test_admin_pages import csrf, log_in, post, queue

AUTH = "Authorization"


def bearer(key: str) -> dict:
    return {AUTH: f"Bearer {key}"}


@pytest.fixture
def sim(sessions):
    with sessions.begin() as session:
        session.add(Sim(name="simA", number="+79990000001", simulated=True, enabled=True))


# --------------------------------------------------------------------------
# 1. Sessions end on the server


def test_a_copied_session_cookie_is_worthless_after_logout(app, client, make_user):
    user = make_user()
    log_in(client, user)
    assert client.get("/admin/messages/").status_code == 200
    stolen = client.get_cookie("session", path="/admin").value
    post(client, "/admin/login/logout")
    replay = app.test_client()
    replay.set_cookie("session", stolen, path="/admin")
    assert replay.get("/admin/messages/").status_code == 302


def test_a_new_password_or_a_block_ends_every_session_of_the_user(app, client, make_user, sessions):
    user = make_user()
    log_in(client, user)
    other_browser = app.test_client()
    log_in(other_browser, user)
    with sessions.begin() as session:
        users.set_blocked(session, user["login"], True)
        users.set_blocked(session, user["login"], False)
    assert client.get("/admin/").status_code == 302 and other_browser.get("/admin/").status_code == 302


# --------------------------------------------------------------------------
# 2. The throttle counts per (address, login) and per address, in the database


def test_logging_in_as_oneself_does_not_clear_the_failures_against_another_login(client, make_user):
    admin, mallory = make_user("admin", admin=True), make_user("mallory")
    refused = None
    for _ in range(3):
        for _ in range(4):
            refused = log_in(client, {**admin, "password": "guess guess"})
        assert log_in(client, mallory).status_code == 302
        post(client, "/admin/login/logout")
    assert "Too many failed logins" in refused.get_data(as_text=True)
    response = log_in(client, admin)  # the right password, but too soon
    assert response.status_code == 401 and "Too many failed logins" in response.get_data(as_text=True)


def test_smsc_guesses_are_not_wiped_by_a_good_send(client, make_user):
    victim, attacker = make_user("victim"), make_user("attacker")
    answers = []
    for _ in range(3):
        for _ in range(5):
            answers.append(
                client.post("/smsc", data={"login": "victim", "pass": "nope", "tel": "1", "msg": "x"})
            )
        client.post("/smsc", data={"login": "attacker", "pass": attacker["password"], "tel": "1", "msg": "x"})
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) >= 1
    right = client.post("/smsc", data={"login": "victim", "pass": victim["password"], "tel": "1", "msg": "x"})
    assert right.status_code == 429


def test_spraying_many_logins_from_one_address_is_slowed_too(client):
    for n in range(22):  # 20 free, the 21st locks for a second
        response = client.post("/smsc", data={"login": f"nobody{n}", "pass": "x", "tel": "1", "msg": "x"})
    assert response.status_code == 429


def test_the_lockout_holds_across_the_web_processes(settings, engine, sessions, make_user):
    # The default two gunicorn workers: in-process counters let every other
    # attempt through; the database's do not.
    user = make_user()
    with running_gateway(settings) as base:

        def smsc(password: str) -> int:
            body = urllib.parse.urlencode({"login": user["login"], "pass": password, "tel": "1", "msg": "x"})
            try:
                return urllib.request.urlopen(f"{base}/smsc", body.encode(), timeout=10).status
            except urllib.error.HTTPError as exc:
                return exc.code

        wrong = [smsc("wrong password") for _ in range(6)]
        right = smsc(user["password"])  # the sixth failure locked it for at least a second
    assert wrong == [401] * 6 and right == 429
    with sessions.begin() as session:  # every worker counted into the same row
        counted = session.execute(text("SELECT failures FROM login_failures WHERE login = 'alice'")).scalar()
    assert counted == 6


# --------------------------------------------------------------------------
# 3 and 9. The notebook runs on an account that cannot touch files or secrets

ATTACKS = [
    "SELECT LOAD_FILE/**/('/etc/hostname')",
    "SELECT /*!LOAD_FILE*/('/etc/hostname')",
    "SELECT 'x' INTO/**/OUTFILE '/tmp/smsbridge-nb-{n}'",
    "SELECT 'x' /*!INTO*/ OUTFILE '/tmp/smsbridge-nb-{n}'",
    "SELECT 'x' INTO/**/DUMPFILE '/tmp/smsbridge-nb-{n}'",
    "SELECT id FROM messages LOCK/**/IN SHARE MODE",
    "SELECT id FROM messages /*M!100000 FOR UPDATE */",
]


@pytest.mark.parametrize("n, attack", list(enumerate(ATTACKS)))
def test_comments_do_not_get_file_access_or_locks_past_the_notebook(client, make_user, sessions, n, attack):
    log_in(client, make_user(admin=True))
    sql = attack.format(n=n)
    with pytest.raises(ReportError, match="refused"):
        reports.check_read_only_sql(sql)  # the text check refuses it early …
    with sessions.begin() as session:  # … and a cell stored before this release runs refused too
        book = notebooks.create_notebook(session, "attacks")
        cell = ReportCell(
            notebook_id=book.id,
            position=99,
            title="attack",
            kind="sql",
            query=sql,
            chart="",
            updated_at=utcnow(),
        )
        session.add(cell)
    page = post(client, f"/admin/notebook/cell/{cell.id}/run").get_data(as_text=True)
    assert "refused" in page
    assert not os.path.exists(f"/tmp/smsbridge-nb-{n}")


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT LOAD_FILE('/etc/hostname')", "null"),
        ("SELECT 'x' INTO OUTFILE '/tmp/smsbridge-nb-direct'", "refused"),
        ("SELECT secret FROM webhooks", "refused"),
        ("SELECT password_hash FROM users", "refused"),
        ("SELECT key_hash FROM api_keys", "refused"),
        ("SELECT * FROM admin_sessions", "refused"),
        ("SELECT secret FROM rules", "refused"),
    ],
)
def test_the_notebook_account_itself_refuses_files_and_secrets(app, sql, expected):
    # Past the text check, straight to the server: the account is the guard.
    engine = app.extensions["smsbridge"]["report_engine"].get()
    try:
        columns, rows, _ = reports._read_only(engine, sql, 10, 5)
    except Exception as exc:  # noqa: BLE001 - what the server said
        assert expected == "refused", exc
        assert reports._explain(exc).startswith("refused"), reports._explain(exc)
    else:
        assert expected == "null" and rows == [(None,)]
    assert not os.path.exists("/tmp/smsbridge-nb-direct")


def test_the_notebook_account_has_no_global_privilege_and_a_time_limit(app, settings):
    engine = app.extensions["smsbridge"]["report_engine"].get()
    with engine.connect() as conn:
        who = conn.execute(text("SELECT CURRENT_USER()")).scalar_one()
        grants = " ".join(row[0] for row in conn.execute(text("SHOW GRANTS")))
    assert who.startswith(reports.notebook_account(settings.database_url) + "@")
    assert "GRANT USAGE ON *.*" in grants and "FILE" not in grants and "PROCESS" not in grants
    assert f"MAX_STATEMENT_TIME {reports.TIME_LIMIT_SECONDS}" in grants
    password_file = reports.notebook_password_path(settings)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_no_column_named_like_a_secret_is_granted_to_the_notebook():
    for table, columns in schema.notebook_grants().items():
        assert table not in ("admin_sessions", "login_failures")
        for column in columns or []:
            assert not any(word in column for word in ("secret", "hash", "password", "token")), (
                table,
                column,
            )
    # Everything of a user but the password hash (the send window is no secret).
    assert schema.notebook_grants()["users"] == [
        "id",
        "login",
        "is_admin",
        "blocked",
        "created_at",
        "send_window_start",
        "send_window_end",
        "timezone",
    ]


def test_without_its_account_the_notebook_runs_no_sql(settings, engine, tmp_path):
    elsewhere = dataclasses.replace(settings, state_dir=str(tmp_path))
    holder = reports.NotebookEngine(elsewhere)
    assert holder.get() is None
    assert "db init" in reports.run_sql(holder.get(), "SELECT 1").error


def test_db_init_makes_the_notebook_account(runner, settings):
    result = runner.invoke(cli.main, ["db", "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"reports notebook account '{reports.notebook_account(settings.database_url)}'@" in result.output


# --------------------------------------------------------------------------
# 4. API keys: listed, revoked, retired, last use recorded


def test_keys_are_listed_and_revoked_from_the_cli(runner, make_user, client, sessions):
    user = make_user()
    prefix = user["key"][:10]
    assert client.get("/api/v1/sims", headers=bearer(user["key"])).status_code == 200
    listing = runner.invoke(cli.main, ["user", "keys", user["login"]], catch_exceptions=False).output
    assert prefix in listing and "never" not in listing  # its last use is recorded
    result = runner.invoke(cli.main, ["user", "revoke-key", prefix], catch_exceptions=False)
    assert result.exit_code == 0 and f"API key {prefix} of alice revoked" in result.output
    assert client.get("/api/v1/sims", headers=bearer(user["key"])).status_code == 401
    assert runner.invoke(cli.main, ["user", "revoke-key", prefix]).exit_code == 1  # not live any more


def test_a_user_revokes_their_own_key_over_the_api_but_not_anothers(client, make_user, sessions):
    alice, bob = make_user("alice"), make_user("bob")
    response = client.delete(f"/api/v1/keys/{bob['key'][:10]}", headers=bearer(alice["key"]))
    assert response.status_code == 404 and response.get_json()["error"]["field"] == "prefix"
    response = client.delete(f"/api/v1/keys/{alice['key'][:10]}", headers=bearer(alice["key"]))
    assert response.status_code == 200 and response.get_json()["prefix"] == alice["key"][:10]
    assert client.get("/api/v1/sims", headers=bearer(alice["key"])).status_code == 401
    assert client.get("/api/v1/sims", headers=bearer(bob["key"])).status_code == 200


def test_a_new_password_revokes_the_keys_and_replace_retires_old_ones(client, make_user, sessions):
    user = make_user()
    with sessions.begin() as session:
        second = users.issue_api_key(session, user["login"])
        third = users.issue_api_key(session, user["login"], replace=True)
    assert client.get("/api/v1/sims", headers=bearer(user["key"])).status_code == 401
    assert client.get("/api/v1/sims", headers=bearer(second)).status_code == 401
    assert client.get("/api/v1/sims", headers=bearer(third)).status_code == 200
    with sessions.begin() as session:
        assert users.set_password(session, user["login"], "a brand new password") == 1
    assert client.get("/api/v1/sims", headers=bearer(third)).status_code == 401


def test_an_admin_revokes_a_key_on_the_users_page(client, make_user, sessions):
    admin, user = make_user("boss", admin=True), make_user("alice")
    log_in(client, admin)
    page = client.get("/admin/users/").get_data(as_text=True)
    assert user["key"][:10] in page and user["key"] not in page
    post(client, f"/admin/users/keys/{user['key'][:10]}/revoke", page="/admin/users/")
    with sessions.begin() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.prefix == user["key"][:10]))
        assert key.revoked_at is not None


# --------------------------------------------------------------------------
# 5. One CSV writer: no formula leaves a download raw


def test_a_texted_formula_is_neutralised_in_the_notebooks_csv(client, make_user, sessions):
    log_in(client, make_user(admin=True))
    now = utcnow()
    with sessions.begin() as session:
        session.add(
            InboundMessage(
                sim_name="simA",
                sender="+79991234567",
                text='=HYPERLINK("http://evil.example","x")',
                parts=1,
                complete=True,
                received_at=now,
                created_at=now,
            )
        )
        cell = ReportCell(
            notebook_id=notebooks.create_notebook(session, "t").id,
            position=1,
            title="t",
            kind="sql",
            query="SELECT text, sender, -5 AS n FROM inbound_messages",
            chart="",
            updated_at=now,
        )
        session.add(cell)
    rows = list(
        csv.reader(io.StringIO(client.get(f"/admin/notebook/cell/{cell.id}.csv").get_data(as_text=True)))
    )
    assert rows[1] == ['\'=HYPERLINK("http://evil.example","x")', "+79991234567", "-5"]


# --------------------------------------------------------------------------
# 6. Opt-outs: a user's own list, answers that do not leak the global one


def test_a_user_neither_learns_nor_changes_the_global_opt_out_list(
    client, make_user, sessions, settings, sim
):
    alice, bob = make_user("alice"), make_user("bob")
    with sessions.begin() as session:
        optouts.opt_out(session, "+79991112233", reason="STOP", source="sms", actor="+79991112233")
    on_global = client.post("/api/v1/optouts", headers=bearer(alice["key"]), json={"phone": "+79991112233"})
    not_on = client.post("/api/v1/optouts", headers=bearer(alice["key"]), json={"phone": "+79994445566"})
    assert (on_global.status_code, on_global.get_json()["added"]) == (not_on.status_code, True) == (201, True)
    alices = queue(sessions, settings, "alice", to="+79994445566")
    bobs = queue(sessions, settings, "bob", to="+79994445566")
    with sessions.begin() as session:
        dispatch(session, settings)
    with sessions.begin() as session:
        assert session.get(Message, alices).status == MessageStatus.OPTED_OUT
        assert session.get(Message, bobs).status == MessageStatus.QUEUED  # only alice's list
        assert optouts.list_opt_outs(session) == [
            {
                "phone": "+79991112233",
                "reason": "STOP",
                "source": "sms",
                "since": optouts.list_opt_outs(session)[0]["since"],
            }
        ]
    removed = client.delete("/api/v1/optouts/+79991112233", headers=bearer(bob["key"]))
    assert removed.status_code == 404  # not on bob's own list; the global one is untouched
    with sessions.begin() as session:
        assert len(optouts.list_opt_outs(session)) == 1


# --------------------------------------------------------------------------
# 7. An unknown login costs a full password check


def test_an_unknown_login_takes_as_long_as_a_real_one(sessions, make_user):
    user = make_user()

    def timed(login: str, password: str) -> float:
        started = time.perf_counter()
        with sessions.begin() as session, pytest.raises(AuthError):
            users.authenticate_password(session, login, password)
        return time.perf_counter() - started

    timed("nobody", "smsbridge-timing-equaliser")  # a cache would remember this one
    unknown = min(timed("nobody", "smsbridge-timing-equaliser") for _ in range(3))
    real = min(timed(user["login"], "wrong password") for _ in range(3))
    assert unknown > real / 3, (unknown, real)


# --------------------------------------------------------------------------
# 8. Logins normalised once, with characters a URL can carry


def test_logins_are_normalised_and_you_cannot_block_yourself_in_capitals(client, make_user, sessions):
    admin = make_user("admin2", admin=True)
    log_in(client, {**admin, "login": "ADMIN2"})
    post(client, "/admin/users/ADMIN2/block", {"blocked": "1"}, page="/admin/users/")
    with sessions.begin() as session:
        assert not users.get_user(session, "admin2").blocked
        with pytest.raises(UserError, match="login"):
            users.create_user(session, "a/b", PASSWORD)
        assert users.create_user(session, "  Carol ", PASSWORD).login == "carol"


# --------------------------------------------------------------------------
# 10. Webhook addresses: IPv4 inside IPv6, multicast


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",
        "[::ffff:0:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "224.0.0.1",
        "[ff02::1]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",
    ],
)
def test_webhook_urls_that_reach_private_hosts_in_disguise_are_refused(host):
    with pytest.raises(AcceptError, match="loopback, private, multicast"):
        webhooks.check_url(f"http://{host}/hook", allow_private=False)


def test_public_addresses_and_their_nat64_form_stay_allowed():
    assert webhooks.is_public("8.8.8.8") and webhooks.is_public("64:ff9b::808:808")


# --------------------------------------------------------------------------
# 11. Bad input is a 4xx naming the field, never a 5xx


@pytest.mark.parametrize("body", ['{"phone": "+79991234567", "reason": "\\ud800"}'])
@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_lone_surrogate_in_an_opt_out_reason_is_400(client, make_user, body, method):
    user = make_user(admin=True)
    path = "/api/v1/optouts" + ("/+79991234567" if method == "delete" else "")
    response = getattr(client, method)(
        path, data=body, content_type="application/json", headers=bearer(user["key"])
    )
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "reason"


def test_deeply_nested_json_to_the_admins_describe_is_400(client, make_user):
    log_in(client, make_user())
    response = client.post(
        "/admin/send/describe",
        data="[" * 100_000 + "]" * 100_000,
        content_type="application/json",
        headers={"X-CSRFToken": csrf(client, "/admin/send/")},
    )
    assert response.status_code == 400 and response.get_json()["field"] == "body"


@pytest.mark.parametrize(
    "path, field",
    [
        ("/admin/messages/?page=²", "page"),
        ("/admin/messages/?sim=²", "sim"),
        ("/admin/messages/?sim=1234567890123456789012345", "sim"),
        ("/admin/messages/?user=²", "user"),
        ("/admin/messages/?page=1234567890123456789012345", "page"),
        ("/admin/messages/export.csv?sim=²", "sim"),
        ("/admin/inbound/?before=²", "before"),
        ("/admin/inbound/?before=1234567890123456789012345", "before"),
    ],
)
def test_bad_numbers_in_admin_query_parameters_are_400_naming_them(client, make_user, path, field):
    log_in(client, make_user(admin=True))
    response = client.get(path)
    assert response.status_code == 400 and f"{field}: " in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/admin/\r\nSet-Cookie: x=1", "/\\evil.example", "//evil.example/"])
def test_the_login_pages_next_cannot_split_headers_or_leave_the_site(client, make_user, target):
    user = make_user()
    response = client.post(
        "/admin/login/?" + urllib.parse.urlencode({"next": target}),
        data={"login": user["login"], "password": user["password"], "csrf_token": csrf(client)},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"


@pytest.mark.parametrize(
    "form, field",
    [
        ({"device": "/dev/ttyUSB0\nlogfile = /etc/passwd"}, "device"),
        ({"device": "/dev/ttyUSB0", "connection": "at\r\nx"}, "connection"),
        ({"simulated": "on", "monthly_limit": "1" * 30}, "monthly_limit"),
    ],
)
def test_bad_sim_forms_are_refused_naming_the_field_and_write_nothing(
    client, make_user, settings, form, field
):
    log_in(client, make_user(admin=True))
    data = {"name": "badsim", "number": "+79990000009", **form}
    response = post(client, "/admin/sims/add", data, page="/admin/sims/")
    assert response.status_code == 302
    assert f"{field}: " in client.get("/admin/sims/").get_data(as_text=True)
    assert not smsd.config_path(settings, "badsim").exists()


def test_a_30_digit_limit_on_an_existing_sim_is_refused(client, make_user, sim):
    log_in(client, make_user(admin=True))
    post(client, "/admin/sims/simA/settings", {"monthly_limit": "9" * 30}, page="/admin/sims/")
    assert "monthly_limit: " in client.get("/admin/sims/").get_data(as_text=True)


# --------------------------------------------------------------------------
# 12. A refused `sim add` writes nothing; `smsd start` starts the good ones


def test_a_refused_sim_add_leaves_no_file(runner, settings, sessions):
    # Names no other test uses: the configs folder is shared by the whole run.
    result = runner.invoke(cli.main, ["sim", "add", "refused1\n", "--number", "+79990000002", "--simulated"])
    assert result.exit_code == 1 and "SIM name" in result.output
    result = runner.invoke(
        cli.main, ["sim", "add", "refused2", "--number", "+79990000003", "--device", "/dev/ttyUSB0\nx"]
    )
    assert result.exit_code == 1 and "device" in result.output
    assert not {"refused1\n", "refused1", "refused2"} & set(smsd.configured_sims(settings))
    assert not list(Path(settings.smsdrc_dir).glob(".*.tmp"))


def test_smsd_start_starts_every_good_config_and_reports_the_bad_one(
    runner, settings, sessions, tmp_path, monkeypatch
):
    # A folder of its own: `smsd start` with no names starts everything in it.
    local = dataclasses.replace(settings, smsdrc_dir=str(tmp_path))
    monkeypatch.setenv("SMSBRIDGE_SMSDRC_DIR", str(tmp_path))
    with sessions.begin() as session:
        sims.add_sim(session, local, "good1", "+79990000004", simulated=True)
    smsd.config_path(local, "broken").write_text("", encoding="utf-8")
    try:
        result = runner.invoke(cli.main, ["smsd", "start"])
        assert result.exit_code == 1
        assert "good1: running, pid" in result.output and "broken: NOT started" in result.output
        assert smsd.running_pid(local, "good1")
    finally:
        smsd.stop(local, "good1")


# --------------------------------------------------------------------------
# 13. Body size, Allow, Secure cookies


def test_the_admin_refuses_a_huge_body_unread(client):
    response = client.post("/admin/login/", data={"login": "x" * (8 * 1024 * 1024)})
    assert response.status_code == 413


def test_405_answers_say_what_is_allowed(client, make_user):
    response = client.get("/api/v1/messages")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert response.get_json()["error"]["status"] == 405
    response = client.get("/admin/login/logout")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


def _login_cookie(app, make_user, **headers) -> str:
    client = app.test_client()
    user = make_user()
    token = csrf(client)
    response = client.post(
        "/admin/login/",
        data={"login": user["login"], "password": user["password"], "csrf_token": token},
        headers={"Referer": "https://localhost/admin/login/", **headers},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Set-Cookie"]


def test_the_session_cookie_is_secure_over_https_behind_a_trusted_proxy(settings, engine, make_user):
    plain = create_app(settings, engine=engine)
    assert "Secure" not in _login_cookie(plain, make_user, **{"X-Forwarded-Proto": "https"})


def test_the_session_cookie_is_secure_when_a_trusted_proxy_says_https(settings, engine, make_user):
    app = create_app(dataclasses.replace(settings, trusted_proxies=1), engine=engine)
    cookie = _login_cookie(app, make_user, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_the_session_cookie_is_always_secure_when_the_setting_says_so(settings, engine, make_user):
    app = create_app(dataclasses.replace(settings, secure_cookies=True), engine=engine)
    assert "Secure" in _login_cookie(app, make_user)


def test_the_throttle_counts_the_clients_address_behind_a_trusted_proxy(settings, engine, sessions):
    app = create_app(dataclasses.replace(settings, trusted_proxies=1), engine=engine)
    client = app.test_client()
    for _ in range(6):
        client.post(
            "/smsc",
            data={"login": "x", "pass": "y", "tel": "1", "msg": "m"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
    with sessions.begin() as session:
        rows = session.execute(text("SELECT DISTINCT address FROM login_failures")).scalars().all()
    assert rows == ["203.0.113.7"]


def test_session_rows_expire(sessions, make_user):
    make_user()
    with sessions.begin() as session:
        user = session.scalar(select(User))
        token = users.open_session(session, user, timedelta(seconds=-1))
        assert users.session_user(session, token) is None
        session.execute(update(User).values(blocked=False))


def test_an_account_that_may_not_create_users_gets_words_not_a_traceback(app, settings):
    weak = app.extensions["smsbridge"]["report_engine"].get()  # the notebook's own account
    with pytest.raises(SchemaError, match="may CREATE USER and GRANT"):
        schema.create_notebook_account(weak, settings)
