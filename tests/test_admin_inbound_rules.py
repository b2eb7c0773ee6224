"""The admin's received-texts, rules and webhook pages through Flask's test
client: texts arrive through real gammu-smsd daemons on Gammu's dummy phone."""

from __future__ import annotations

import re

from sqlalchemy import func, select

import admin.inbound
from bridge import rules
from bridge.clock import utcnow
from bridge.jobs.inbound import receive
from bridge.messages import list_inbound
from bridge.models import InboundMessage, Rule, Webhook
from tests.conftest import wait_for
from tests.test_admin_pages import log_in, post

SECRET = re.compile(r"<code[^>]*>([0-9a-f]{64})</code>")


def wait_inbound(sessions, settings, count=1) -> list[InboundMessage]:
    def arrived():
        with sessions.begin() as session:
            receive(session, settings)
        with sessions.begin() as session:
            rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        return rows if len(rows) >= count else None

    return wait_for(arrived, what=f"{count} incoming text(s)")


def add_rule(sessions, settings, pattern: str, argument: str = "thanks", *, login=None) -> int:
    with sessions.begin() as session:
        return rules.add_rule(
            session,
            settings,
            login=login,
            match_kind="keyword",
            pattern=pattern,
            action="reply",
            argument=argument,
        ).id


def rule_order(sessions) -> list[int]:
    with sessions.begin() as session:
        return [r.id for r in rules.list_rules(session)]


def rule_count(sessions) -> int:
    with sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Rule))


def test_inbound_page_shows_a_received_text_with_its_rule_outcome(
    client, make_user, modems, sessions, settings
):
    alice = make_user("alice")
    modems.add("simA", owner="alice")
    add_rule(sessions, settings, "hours", "Open 9-18, Mon-Sat")
    modems.receive("simA", "+79991112233", "Hours today?")
    [inbound] = wait_inbound(sessions, settings)
    log_in(client, alice)
    page = client.get("/admin/inbound/").get_data(as_text=True)
    row = page[page.index(f'data-id="{inbound.id}"') :]
    assert "simA" in row and "+79991112233" in row and "Hours today?" in row
    assert 'data-outcome="done"' in row and "-&gt; reply Open 9-18, Mon-Sat" in row
    assert re.search(r"queued message \d+", row)


def test_a_user_does_not_see_another_users_inbound_text(client, make_user, modems, sessions, settings):
    make_user("alice")
    bob, root = make_user("bob"), make_user("root", admin=True)
    modems.add("simA", owner="alice")
    modems.receive("simA", "+79991112233", "for alice only")
    wait_inbound(sessions, settings)
    log_in(client, bob)
    assert "for alice only" not in client.get("/admin/inbound/").get_data(as_text=True)
    log_in(client, root)
    page = client.get("/admin/inbound/").get_data(as_text=True)
    assert "for alice only" in page and "<td>alice</td>" in page


def test_a_script_in_an_inbound_text_is_escaped(client, make_user, modems, sessions, settings):
    alice = make_user("alice")
    modems.add("simA", owner="alice")
    modems.receive("simA", "+79991112233", "<script>alert(1)</script>")
    wait_inbound(sessions, settings)
    log_in(client, alice)
    page = client.get("/admin/inbound/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_inbound_pages_run_from_the_newest_back_with_an_older_link(client, make_user, sessions, monkeypatch):
    root = make_user("root", admin=True)
    with sessions.begin() as session:
        session.add_all(
            InboundMessage(
                sim_name="simA",
                sender="+79991112233",
                text=f"text {n}",
                parts=1,
                complete=True,
                received_at=utcnow(),
                created_at=utcnow(),
            )
            for n in range(5)
        )
    with sessions.begin() as session:
        ids = [m.id for m in list_inbound(session, None)]
        assert [m.id for m in list_inbound(session, None, newest_first=True)] == ids[::-1]
        assert [m.id for m in list_inbound(session, None, since=ids[2], newest_first=True)] == ids[1::-1]
    monkeypatch.setattr(admin.inbound, "PAGE_SIZE", 2)
    log_in(client, root)
    first = client.get("/admin/inbound/").get_data(as_text=True)
    assert re.findall(r'data-id="(\d+)"', first) == [str(i) for i in ids[:-3:-1]]
    older = re.search(r'id="older" href="([^"]+)"', first).group(1)
    second = client.get(older).get_data(as_text=True)
    assert re.findall(r'data-id="(\d+)"', second) == [str(ids[2]), str(ids[1])]
    last = client.get(re.search(r'id="older" href="([^"]+)"', second).group(1)).get_data(as_text=True)
    assert re.findall(r'data-id="(\d+)"', last) == [str(ids[0])] and 'id="older"' not in last


def test_admin_adds_a_keyword_reply_rule_through_the_form(client, make_user, sessions):
    root = make_user("root", admin=True)
    make_user("alice")
    log_in(client, root)
    response = post(
        client,
        "/admin/rules/add",
        {
            "owner": "alice",
            "match_kind": "keyword",
            "pattern": "Hours",
            "action": "reply",
            "argument": "Open 9-18",
        },
        page="/admin/rules/",
    )
    assert response.status_code == 302
    with sessions.begin() as session:
        [rule] = rules.list_rules(session)
        assert (rule.user.login, rule.match_kind, rule.pattern, rule.action, rule.argument, rule.secret) == (
            "alice",
            "keyword",
            "hours",
            "reply",
            "Open 9-18",
            None,
        )
    page = client.get("/admin/rules/").get_data(as_text=True)
    assert f'data-rule="{rule.id}"' in page
    assert "[alice] keyword &#39;hours&#39; -&gt; reply Open 9-18" in page


def test_rules_move_up_and_down_and_are_removed(client, make_user, sessions, settings):
    root = make_user("root", admin=True)
    first, second, third = (add_rule(sessions, settings, word) for word in ("one", "two", "three"))
    log_in(client, root)
    post(client, f"/admin/rules/{third}/move/up", page="/admin/rules/")
    assert rule_order(sessions) == [first, third, second]
    post(client, f"/admin/rules/{first}/move/down", page="/admin/rules/")
    assert rule_order(sessions) == [third, first, second]
    post(client, f"/admin/rules/{third}/move/up", page="/admin/rules/")  # already first
    assert rule_order(sessions) == [third, first, second]
    post(client, f"/admin/rules/{first}/remove", page="/admin/rules/")
    assert rule_order(sessions) == [third, second]
    post(client, f"/admin/rules/{first}/remove", page="/admin/rules/")  # gone already
    page = client.get("/admin/rules/").get_data(as_text=True)
    assert f"no rule {first}" in page and rule_order(sessions) == [third, second]


def test_a_user_gets_403_on_the_rules_page(client, make_user, sessions):
    alice = make_user("alice")
    log_in(client, alice)
    assert client.get("/admin/rules/").status_code == 403
    response = post(
        client,
        "/admin/rules/add",
        {"match_kind": "keyword", "pattern": "hi", "action": "reply", "argument": "hello"},
    )
    assert response.status_code == 403 and rule_count(sessions) == 0


def test_a_rule_with_a_bad_regex_shows_the_error_and_stores_nothing(client, make_user, sessions):
    root = make_user("root", admin=True)
    log_in(client, root)
    response = post(
        client,
        "/admin/rules/add",
        {"owner": "", "match_kind": "regex", "pattern": "order(", "action": "reply", "argument": "thanks"},
        page="/admin/rules/",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="error-form"' in body
    assert "not a regular expression" in body and 'value="order("' in body
    assert rule_count(sessions) == 0


def test_a_forward_url_rule_shows_its_secret_once(client, make_user, sessions, receiver):
    root = make_user("root", admin=True)
    hook = receiver()
    log_in(client, root)
    response = post(
        client,
        "/admin/rules/add",
        {
            "owner": "",
            "match_kind": "regex",
            "pattern": "order",
            "action": "forward_url",
            "argument": hook.url,
        },
        page="/admin/rules/",
    )
    shown = SECRET.search(response.get_data(as_text=True)).group(1)
    with sessions.begin() as session:
        assert session.scalar(select(Rule.secret)) == shown
    assert shown not in client.get("/admin/rules/").get_data(as_text=True)


def test_webhook_set_through_the_page_stores_the_url_and_shows_the_secret_once(
    client, make_user, sessions, receiver
):
    alice, bob = make_user("alice"), make_user("bob")
    hook = receiver()
    log_in(client, alice)
    # A user's form always sets their own webhook, whatever login it names.
    response = post(client, "/admin/webhook/", {"login": "bob", "url": hook.url}, page="/admin/webhook/")
    assert response.status_code == 200
    shown = SECRET.search(response.get_data(as_text=True)).group(1)
    with sessions.begin() as session:
        stored = session.get(Webhook, alice["id"])
        assert (stored.url, stored.secret) == (hook.url, shown)
        assert session.get(Webhook, bob["id"]) is None
    again = client.get("/admin/webhook/").get_data(as_text=True)
    assert shown not in again and hook.url in again


def test_a_bad_webhook_url_is_shown_next_to_its_field_and_an_admin_sets_anyones(
    client, make_user, sessions, receiver
):
    root, bob = make_user("root", admin=True), make_user("bob")
    log_in(client, root)
    response = post(
        client, "/admin/webhook/", {"login": "bob", "url": "ftp://example.com/x"}, page="/admin/webhook/"
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="error-url">URL: must be an http:// or https:// URL<', body)
    hook = receiver()
    response = post(client, "/admin/webhook/", {"login": "bob", "url": hook.url}, page="/admin/webhook/")
    shown = SECRET.search(response.get_data(as_text=True)).group(1)
    with sessions.begin() as session:
        assert session.get(Webhook, bob["id"]).secret == shown
        assert session.get(Webhook, root["id"]) is None


def test_posts_without_the_csrf_token_are_refused(client, make_user, sessions, settings, receiver):
    root = make_user("root", admin=True)
    log_in(client, root)
    response = client.post(
        "/admin/rules/add",
        data={"match_kind": "keyword", "pattern": "hi", "action": "reply", "argument": "hello"},
    )
    assert response.status_code == 400 and "refused" in response.get_data(as_text=True).lower()
    assert client.post("/admin/webhook/", data={"login": "root", "url": receiver().url}).status_code == 400
    first = add_rule(sessions, settings, "one")
    assert client.post(f"/admin/rules/{first}/remove").status_code == 400
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Webhook)) == 0
        assert session.scalar(select(func.count()).select_from(Rule)) == 1
