"""The web admin through Flask's test client: access, roles, CSRF, the
archive actions and the notebook's read-only guard. The browser tests
(test_admin_browser.py) cover what needs JavaScript and real rendering."""

from __future__ import annotations

import os
import re
import stat
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from admin.auth import SESSION_LIFETIME, secret_key
from bridge import archive, notebooks, reports, users
from bridge.accept import SendOptions, accept
from bridge.clock import utcnow
from bridge.errors import ArchiveError
from bridge.models import AdminSession, Message, MessageStatus, OptOut, Sim, User

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path="/admin/login/") -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def log_in(client, user: dict):
    return client.post(
        "/admin/login/",
        data={"login": user["login"], "password": user["password"], "csrf_token": csrf(client)},
    )


def post(client, path: str, data: dict | None = None, page: str = "/admin/"):
    return client.post(path, data={**(data or {}), "csrf_token": csrf(client, page)})


def queue(sessions, settings, login: str, to="+79991234567", text="hello", attempts=1) -> int:
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.login == login))
        return accept(
            session, user, to, text, SendOptions(attempts=attempts), settings=settings, source="test"
        ).messages[0]["id"]


@pytest.fixture
def sim(sessions, settings):
    """A SIM row without a daemon: enough for accept() to take messages."""
    with sessions.begin() as session:
        session.add(Sim(name="simA", number="+79990000001", simulated=True, enabled=True))


def test_pages_need_a_login_and_the_login_page_logs_in(client, make_user):
    user = make_user()
    response = client.get("/admin/messages/")
    assert response.status_code == 302 and "/admin/login/" in response.headers["Location"]
    assert log_in(client, {**user, "password": "wrong password"}).status_code == 401
    response = log_in(client, user)
    assert response.status_code == 302
    assert client.get("/admin/messages/").status_code == 200


def test_a_user_is_kept_out_of_admin_pages_and_other_users_messages(
    client, make_user, sessions, settings, sim
):
    alice = make_user("alice")
    make_user("bob")
    bobs = queue(sessions, settings, "bob", text="bob's secret")
    log_in(client, alice)
    for page in ("/admin/users/", "/admin/sims/", "/admin/optouts/", "/admin/notebook/"):
        assert client.get(page).status_code == 403, page
    response = client.get(f"/admin/messages/{bobs}")
    assert response.status_code == 404
    assert "bob&#39;s secret" not in response.get_data(as_text=True)
    assert f'data-id="{bobs}"' not in client.get("/admin/messages/").get_data(as_text=True)
    assert post(client, f"/admin/messages/{bobs}/cancel").status_code == 302
    with sessions.begin() as session:
        assert session.get(Message, bobs).status == MessageStatus.QUEUED


def test_posts_without_the_csrf_token_are_refused_but_the_api_needs_none(client, make_user):
    user = make_user(admin=True)
    response = client.post("/admin/login/", data={"login": user["login"], "password": user["password"]})
    assert response.status_code == 400 and "refused" in response.get_data(as_text=True).lower()
    log_in(client, user)
    response = client.post("/admin/users/add", data={"login": "mallory", "password": "x" * 12})
    assert response.status_code == 400
    assert client.get("/admin/users/").get_data(as_text=True).count("mallory") == 0
    api = client.post(
        "/smsc", data={"login": user["login"], "pass": user["password"], "tel": "+79991234567", "msg": "hi"}
    )
    assert api.status_code == 403  # refused for having no SIM, not for a missing token


def test_blocking_or_a_new_password_ends_open_sessions(client, make_user, sessions):
    user = make_user()
    log_in(client, user)
    assert client.get("/admin/").status_code == 200
    with sessions.begin() as session:
        users.set_password(session, user["login"], "another password")
    assert client.get("/admin/").status_code == 302
    log_in(client, {**user, "password": "another password"})
    assert client.get("/admin/").status_code == 200
    with sessions.begin() as session:
        session.execute(update(User).where(User.login == user["login"]).values(blocked=True))
    assert client.get("/admin/").status_code == 302


def test_a_session_ends_after_eight_hours_whatever_the_activity(client, make_user, sessions):
    user = make_user()
    log_in(client, user)
    assert client.get("/admin/").status_code == 200
    with sessions.begin() as session:
        opened = session.scalars(select(AdminSession)).one()
        assert opened.expires_at - opened.created_at == SESSION_LIFETIME
        opened.expires_at = utcnow() - timedelta(seconds=1)
    assert client.get("/admin/").status_code == 302


def test_cancel_only_while_queued_and_retry_a_failed_message(client, make_user, sessions, settings, sim):
    user = make_user()
    log_in(client, user)
    queued = queue(sessions, settings, "alice")
    post(client, f"/admin/messages/{queued}/cancel", page=f"/admin/messages/{queued}")
    failed = queue(sessions, settings, "alice", text="will fail", attempts=2)
    with sessions.begin() as session:
        assert session.get(Message, queued).status == MessageStatus.CANCELLED
        session.execute(
            update(Message)
            .where(Message.id == failed)
            .values(status=MessageStatus.FAILED, attempts_made=2, finished_at=utcnow())
        )
    post(client, f"/admin/messages/{queued}/cancel")  # a second cancel changes nothing
    post(client, f"/admin/messages/{failed}/retry")
    with sessions.begin() as session:
        again = session.get(Message, failed)
        assert (again.status, again.attempts_allowed, again.finished_at) == (MessageStatus.QUEUED, 3, None)
        with pytest.raises(ArchiveError):
            archive.retry(session, failed, None)  # queued, not failed: refused


def test_archive_filters_and_csv_export(client, make_user, sessions, settings, sim):
    user = make_user(admin=True)
    log_in(client, user)
    queue(sessions, settings, user["login"], to="+79991110001", text="=HYPERLINK(evil)")
    queue(sessions, settings, user["login"], to="+79992220002", text="second")
    page = client.get("/admin/messages/?q=2220002").get_data(as_text=True)
    assert "+79992220002" in page and "+79991110001" not in page
    assert "0 messages" in client.get("/admin/messages/?status=failed").get_data(as_text=True)
    exported = client.get("/admin/messages/export.csv?q=79991110001").get_data(as_text=True)
    lines = exported.strip().splitlines()
    assert lines[0].startswith("id,created_at,user,to,status") and len(lines) == 2
    assert "'=HYPERLINK(evil)" in lines[1] and "+79991110001" in lines[1]


def test_send_form_queues_messages_and_names_the_bad_field(client, make_user, sessions, sim):
    user = make_user()
    log_in(client, user)
    response = post(
        client,
        "/admin/send/",
        {"to": "+79991234567\n+79991234568", "text": "hello", "attempts": "2", "report": "yes"},
        page="/admin/send/",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.count('class="accepted-id"') == 2
    with sessions.begin() as session:
        stored = session.scalars(select(Message)).all()
        assert [(m.attempts_allowed, m.delivery_report) for m in stored] == [(2, True), (2, True)]
    response = post(
        client, "/admin/send/", {"to": "not a number", "text": "hi", "attempts": "1"}, page="/admin/send/"
    )
    assert response.status_code == 400 and 'id="error-to"' in response.get_data(as_text=True)
    response = post(
        client, "/admin/send/", {"to": "+79991234567", "text": "hi", "attempts": "99"}, page="/admin/send/"
    )
    assert 'id="error-attempts"' in response.get_data(as_text=True)
    described = client.post(
        "/admin/send/describe", json={"text": "Привет"}, headers={"X-CSRFToken": csrf(client, "/admin/send/")}
    ).get_json()
    assert described == {"encoding": "UCS-2", "parts": 1, "characters": 6}


def test_admin_manages_users_sims_and_opt_outs(client, make_user, sessions, settings):
    admin = make_user("root", admin=True)
    log_in(client, admin)
    post(client, "/admin/users/add", {"login": "carol", "password": "long enough pw"})
    response = post(client, "/admin/users/carol/key")
    key = re.search(r"<code[^>]*>(sb_[^<]+)</code>", response.get_data(as_text=True)).group(1)
    post(client, "/admin/users/carol/block", {"blocked": "1"})
    post(
        client,
        "/admin/sims/add",
        {
            "name": "simZ",
            "number": "+79990000009",
            "simulated": "on",
            "monthly_limit": "100",
            "billing_day": "5",
            "owner": "carol",
        },
    )
    post(
        client,
        "/admin/sims/simZ/settings",
        {"monthly_limit": "", "billing_day": "7", "owner": "", "delivery_report": "on"},
    )
    post(client, "/admin/sims/simZ/enabled", {"enabled": "0"})
    post(client, "/admin/optouts/add", {"phone": "8 999 123-45-67", "reason": "asked by phone"})
    with sessions.begin() as session:
        carol = session.scalar(select(User).where(User.login == "carol"))
        simz = session.scalar(select(Sim).where(Sim.name == "simZ"))
        assert carol.blocked and key.startswith("sb_")
        assert (simz.monthly_limit, simz.billing_day, simz.owner_id, simz.enabled, simz.delivery_report) == (
            None,
            7,
            None,
            False,
            True,
        )
        assert session.get(OptOut, "+79991234567").reason == "asked by phone"
    assert os.path.exists(os.path.join(settings.smsdrc_dir, "simZ"))  # its gammu-smsd config
    post(client, "/admin/optouts/remove", {"phone": "+79991234567", "reason": "changed mind"})
    with sessions.begin() as session:
        assert session.get(OptOut, "+79991234567") is None


def test_notebook_refuses_writes_and_deletes_nothing(client, make_user, sessions, settings, sim, engine):
    admin = make_user(admin=True)
    queue(sessions, settings, admin["login"])
    log_in(client, admin)
    assert "Parts per SIM this billing month" in client.get("/admin/notebook/").get_data(as_text=True)
    book = first_notebook(sessions)
    response = post(client, f"/admin/notebook/{book}/cells", {"kind": "sql", "query": "DELETE FROM messages"})
    assert response.status_code == 400 and "only reads" in response.get_json()["error"]
    cell = starter_cells(sessions)[2]
    response = post(
        client, f"/admin/notebook/cell/{cell.id}/run", {"query": "UPDATE messages SET text = 'x'"}
    )
    assert response.status_code == 400 and "only reads" in response.get_data(as_text=True)
    assert starter_cells(sessions)[2].query == cell.query  # nothing saved
    for sql in (
        "SELECT 1; DELETE FROM messages",
        "SELECT * FROM messages FOR UPDATE",
        "SELECT LOAD_FILE('/etc/passwd')",
        "SELECT 1 INTO OUTFILE '/tmp/x'",
    ):
        assert reports.run_sql(engine, sql).error.startswith("refused"), sql
    assert reports.run_sql(engine, "WITH x AS (SELECT 1) DELETE FROM messages").error
    # Past the text check, the read-only transaction is what refuses.
    with pytest.raises(Exception, match="READ ONLY"):
        reports._read_only(engine, "DELETE FROM messages", 10, 5)
    assert reports._explain(_read_only_error(engine)).startswith("refused")
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1
    result = reports.run_sql(engine, "SELECT id, ':not_a_param' AS t FROM messages", row_cap=5)
    assert result.error is None and result.rows[0][1] == ":not_a_param"


def _read_only_error(engine) -> Exception:
    try:
        reports._read_only(engine, "UPDATE messages SET text = 'x'", 10, 5)
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("the write went through")


def test_notebook_caps_rows_and_time(engine):
    result = reports.run_sql(engine, "SELECT seq FROM seq_1_to_5000", row_cap=100)
    assert len(result.rows) == 100 and result.truncated
    result = reports.run_sql(engine, "SELECT SLEEP(5)", time_limit=1)
    assert result.error and "longer than" in result.error


def test_repeated_failed_logins_are_slowed_down(client, make_user):
    user = make_user()
    for _ in range(6):
        log_in(client, {**user, "password": "wrong password"})
    response = log_in(client, user)  # the right password, but too soon
    assert response.status_code == 401 and "Too many failed logins" in response.get_data(as_text=True)


def test_secret_key_is_generated_once_with_mode_0600(settings, tmp_path):
    local = type(settings)(**{**settings.__dict__, "secret_key": "", "state_dir": str(tmp_path)})
    first, second = secret_key(local), secret_key(local)
    assert first == second and len(first) > 40
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def first_notebook(sessions) -> int:
    with sessions.begin() as session:
        return notebooks.list_notebooks(session)[0].id


def starter_cells(sessions):
    with sessions.begin() as session:
        cells = notebooks.list_cells(session, notebooks.list_notebooks(session)[0].id)
        session.expunge_all()
        return cells


def test_notebook_cells_are_inserted_edited_run_moved_downloaded_and_deleted(client, make_user, sessions):
    admin = make_user(admin=True)
    log_in(client, admin)
    page = client.get("/admin/notebook/")  # creates the starter notebook
    assert page.status_code == 200 and "codemirror.js" in page.get_data(as_text=True)
    assert client.get("/admin/static/vendor/codemirror/codemirror.js").status_code == 200
    book = first_notebook(sessions)
    intro, parts = starter_cells(sessions)[:2]
    response = post(client, f"/admin/notebook/{book}/cells", {"kind": "sql", "before": str(parts.id)})
    assert response.status_code == 200 and 'class="card cell' in response.get_data(as_text=True)
    added = starter_cells(sessions)[1]
    assert added.kind == "sql" and added.id != parts.id
    output = post(
        client,
        f"/admin/notebook/cell/{added.id}/run",
        {"title": "users", "query": "SELECT login FROM users;", "chart": ""},
    ).get_data(as_text=True)
    assert "result-table" in output and admin["login"] in output and "1 row" in output
    assert starter_cells(sessions)[1].query == "SELECT login FROM users;"
    post(client, f"/admin/notebook/cell/{added.id}/move/up")
    assert [c.id for c in starter_cells(sessions)[:2]] == [added.id, intro.id]
    assert client.get(f"/admin/notebook/cell/{added.id}.csv").get_data(as_text=True).split() == [
        "login",
        admin["login"],
    ]
    assert client.get(f"/admin/notebook/cell/{added.id}.json").get_json()["rows"] == [[admin["login"]]]
    # A built-in keeps its report whatever the form says; its title and chart change.
    post(
        client, f"/admin/notebook/cell/{parts.id}/run", {"title": "Parts, renamed", "query": "x", "chart": ""}
    )
    renamed = next(c for c in starter_cells(sessions) if c.id == parts.id)
    assert (renamed.title, renamed.kind, renamed.query) == ("Parts, renamed", "builtin", "parts_per_sim")
    undo = post(client, f"/admin/notebook/cell/{added.id}/delete").get_json()["undo"]
    assert added.id not in [c.id for c in starter_cells(sessions)]
    assert undo["query"] == "SELECT login FROM users;" and undo["before"] == str(intro.id)
    post(client, f"/admin/notebook/{book}/cells", undo)
    back = starter_cells(sessions)[0]
    assert (back.title, back.query) == ("users", "SELECT login FROM users;")


def test_a_notebook_cell_takes_its_parameters_from_the_query_string(client, make_user, sessions):
    log_in(client, make_user(admin=True))
    client.get("/admin/notebook/")
    book = first_notebook(sessions)
    post(
        client,
        f"/admin/notebook/{book}/cells",
        {"kind": "sql", "title": "since", "query": "SELECT :since AS d"},
    )
    cell = starter_cells(sessions)[-1]
    page = client.get(f"/admin/notebook/{book}?since=2026-11-01").get_data(as_text=True)
    assert 'id="param-since"' in page and 'value="2026-11-01"' in page and 'id="param-until"' in page
    output = post(client, f"/admin/notebook/cell/{cell.id}/run?since=2026-11-01").get_data(as_text=True)
    assert "<td>2026-11-01</td>" in output and f"cell/{cell.id}.csv?since=2026-11-01" in output
    output = post(client, f"/admin/notebook/cell/{cell.id}/run?since=01.11.2026").get_data(as_text=True)
    assert 'data-parameter="since"' in output and ":since is a date" in output
    answer = client.get(f"/admin/notebook/cell/{cell.id}.json")
    assert answer.status_code == 400 and "needs a value for :since" in answer.get_json()["error"]


def test_notebooks_are_added_renamed_and_deleted_from_the_page(client, make_user, sessions):
    log_in(client, make_user(admin=True))
    client.get("/admin/notebook/")
    response = post(client, "/admin/notebook/new", {"name": "Billing"})
    with sessions.begin() as session:
        billing = [n for n in notebooks.list_notebooks(session) if n.name == "Billing"][0].id
    assert response.headers["Location"].endswith(f"/admin/notebook/{billing}")
    refused = post(client, "/admin/notebook/new", {"name": "billing"}, page="/admin/notebook/")
    assert "already a notebook" in client.get(refused.headers["Location"]).get_data(as_text=True)
    post(client, f"/admin/notebook/{billing}/rename", {"name": "Costs"})
    page = client.get(f"/admin/notebook/{billing}").get_data(as_text=True)
    assert ">Costs</a>" in page and ">Overview</a>" in page
    post(client, f"/admin/notebook/{billing}/delete")
    assert client.get(f"/admin/notebook/{billing}").status_code == 404


def test_a_user_who_is_no_admin_neither_reads_nor_runs_a_notebook_cell(client, make_user, sessions):
    log_in(client, make_user("boss", admin=True))
    client.get("/admin/notebook/")
    cell = starter_cells(sessions)[2]
    client.post("/admin/logout/", data={"csrf_token": csrf(client, "/admin/")})
    log_in(client, make_user("alice"))
    book = first_notebook(sessions)
    for path in (
        f"/admin/notebook/{book}",
        f"/admin/notebook/cell/{cell.id}.csv",
        f"/admin/notebook/cell/{cell.id}.json",
    ):
        assert client.get(path).status_code == 403, path
    for path in (
        f"/admin/notebook/cell/{cell.id}/run",
        f"/admin/notebook/cell/{cell.id}/delete",
        "/admin/notebook/new",
    ):
        assert post(client, path, {"query": "SELECT 1", "name": "x"}).status_code == 403, path
    assert len(starter_cells(sessions)) == len(notebooks.STARTER_CELLS)


def test_a_notebook_post_without_its_csrf_token_is_refused(client, make_user, sessions):
    log_in(client, make_user(admin=True))
    client.get("/admin/notebook/")
    cell = starter_cells(sessions)[2]
    assert client.post(f"/admin/notebook/cell/{cell.id}/delete").status_code == 400
    headers = {"X-CSRFToken": csrf(client, "/admin/notebook/")}
    assert client.post(f"/admin/notebook/cell/{cell.id}/move/down", headers=headers).status_code == 200


def test_markdown_cells_show_html_as_text(client, make_user, sessions):
    log_in(client, make_user(admin=True))
    client.get("/admin/notebook/")
    book = first_notebook(sessions)
    source = "# Costs\n<script>alert(1)</script> [x](javascript:alert(1)) **bold**"
    html = post(client, f"/admin/notebook/{book}/cells", {"kind": "markdown", "query": source}).get_data(
        as_text=True
    )
    assert "<h1>Costs</h1>" in html and "<strong>bold</strong>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert 'href="javascript' not in html


# ------------------------------------------------------------------ monitoring


def test_stuck_counts_from_acceptance_not_from_due_at_and_links_to_the_archive(
    client, make_user, sessions, settings, sim
):
    from datetime import timedelta

    admin = make_user("root", admin=True)
    late = queue(sessions, settings, "root")
    queue(sessions, settings, "root", to="+79991234568", text="fresh")
    with sessions.begin() as session:
        # Dispatch found no SIM and moved due_at on, as it does every few seconds.
        session.execute(
            update(Message)
            .where(Message.id == late)
            .values(created_at=utcnow() - timedelta(minutes=11), due_at=utcnow() + timedelta(seconds=5))
        )
    log_in(client, admin)
    page = client.get("/admin/").get_data(as_text=True)
    stuck_card = page[page.index('id="count-stuck"') :]
    assert 'href="/admin/messages/?stuck=1"' in page
    assert re.search(r'class="stat text-warning">1<', stuck_card)
    listed = client.get("/admin/messages/?stuck=1").get_data(as_text=True)
    assert f'data-id="{late}"' in listed and "1 message stuck" in listed


def test_status_line_says_the_worker_never_ran_and_alerts_show_on_every_page(
    client, make_user, sessions, settings, sim
):
    from bridge import alerts
    from bridge.alert_checks import Finding

    admin = make_user("root", admin=True)
    log_in(client, admin)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'data-level="red"' in page and "worker has never run" in page

    with sessions.begin() as session:
        alerts.reconcile(session, settings, "sim:down", [Finding("simA", "SIM simA is down: test")])
    for path in ("/admin/", "/admin/messages/", "/admin/send/", "/admin/alerts/"):
        shown = client.get(path).get_data(as_text=True)
        assert 'class="alert alert-danger py-2 mb-2 open-alert" data-kind="sim:down"' in shown, path
    listing = client.get("/admin/alerts/").get_data(as_text=True)
    assert 'data-kind="sim:down" data-state="open"' in listing

    with sessions.begin() as session:
        alerts.reconcile(session, settings, "sim:down", [])
    assert "open-alert" not in client.get("/admin/messages/").get_data(as_text=True)
    assert 'data-state="resolved"' in client.get("/admin/alerts/").get_data(as_text=True)


def test_alert_channels_are_added_and_removed_in_the_admin(client, make_user, sessions):
    admin = make_user("root", admin=True)
    log_in(client, admin)
    post(client, "/admin/alerts/channels", {"kind": "sms", "target": "+79990009999"}, page="/admin/alerts/")
    post(
        client,
        "/admin/alerts/channels",
        {
            "kind": "email",
            "target": "ops@example.org",
            "smtp_host": "mail.example.org",
            "smtp_security": "tls",
        },
        page="/admin/alerts/",
    )
    page = client.get("/admin/alerts/").get_data(as_text=True)
    assert "+79990009999" in page and "via mail.example.org:465 (tls)" in page
    refused = post(client, "/admin/alerts/channels", {"kind": "email", "target": "x"}, page="/admin/alerts/")
    assert refused.status_code == 302
    assert "not an e-mail address" in client.get("/admin/alerts/").get_data(as_text=True)
    from bridge.alerts import list_channels

    with sessions.begin() as session:
        first = list_channels(session)[0]["id"]
    post(client, f"/admin/alerts/channels/{first}/remove", page="/admin/alerts/")
    with sessions.begin() as session:
        assert [c["kind"] for c in list_channels(session)] == ["email"]


def test_archive_says_why_a_message_waits_failed_or_is_scheduled(client, make_user, sessions, settings, sim):
    from datetime import timedelta

    from bridge.clock import utcnow

    user = make_user(admin=True)
    log_in(client, user)
    failed = queue(sessions, settings, user["login"], to="+79991110001", text="gone")
    waiting = queue(sessions, settings, user["login"], to="+79991110002", text="waits")
    later = queue(sessions, settings, user["login"], to="+79991110003", text="in 2099")
    with sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == failed)
            .values(status=MessageStatus.FAILED, last_error="SIM simA: gammu-smsd reported a sending error")
        )
        session.execute(
            update(Message).where(Message.id == waiting).values(wait_reason="no SIM is available")
        )
        session.execute(
            update(Message).where(Message.id == later).values(send_at=utcnow() + timedelta(days=365))
        )
    page = client.get("/admin/messages/").get_data(as_text=True)
    reasons = re.findall(r'<td class="small text-muted reason">([^<]*)</td>', page)
    assert "SIM simA: gammu-smsd reported a sending error" in reasons
    assert "no SIM is available" in reasons
    assert any(r.startswith("scheduled for ") for r in reasons)
