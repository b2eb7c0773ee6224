"""The reports notebook in a real browser (Debian's chromium, Playwright)
against `smsbridge run`: cells edited in place (CodeMirror), Shift+Enter
running one cell while the others keep their output, insert above, move,
delete and undo, parameters in the URL, markdown shown as text, charts,
the schema browser, and the page at a phone's 390 px.
Fixtures in tests/conftest.py, steps in tests/browser.py.
"""

from __future__ import annotations

from sqlalchemy import select

from bridge import notebooks, usage
from bridge.accept import SendOptions, accept
from bridge.clock import utcnow
from bridge.models import Sim, SimUsage, User
from tests.browser import XSS, log_in, message_count, needs_chromium, screenshot
from tests.conftest import steady_billing_day

pytestmark = needs_chromium

ALL_RUN = "document.querySelectorAll('.cell .not-run, .cell-output[aria-busy]').length === 0"


def traffic(sessions, settings, login: str, recipients: int = 3, text: str = "report me") -> None:
    """A SIM without a daemon, ``recipients`` parts of its month used and as
    many texts queued: something to report on."""
    with sessions.begin() as session:
        if session.scalar(select(Sim.id)) is None:
            sim = Sim(
                name="simA",
                number="+79990000001",
                simulated=True,
                enabled=True,
                monthly_limit=3000,
                billing_day=steady_billing_day(),
            )
            session.add(sim)
            session.flush()
            start = usage.period_start(sim.billing_day, utcnow().date())
            session.add(SimUsage(sim_id=sim.id, period_start=start, parts=recipients))
    with sessions.begin() as session:
        user = session.scalar(select(User).where(User.login == login))
        for n in range(recipients):
            accept(session, user, f"+7999123456{n}", text, SendOptions(), settings=settings, source="test")


def open_notebook(page, path: str = "/admin/notebook/") -> None:
    page.goto(path)
    page.locator(".cell .CodeMirror").first.wait_for()


def cell(page, title: str):
    return page.locator(f'.cell[data-title="{title}"]')


def type_sql(page, card, sql: str) -> None:
    """Select all in the cell's editor and type over it, as a person would."""
    card.locator(".CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(sql)


def shift_enter(page, card) -> None:
    """Shift+Enter in the cell (its editor has the focus); back when its output is in."""
    cell_id = card.get_attribute("data-id")
    with page.expect_response(lambda r: f"/cell/{cell_id}/run" in r.url):
        page.keyboard.press("Shift+Enter")
    card.locator(".cell-output:not([aria-busy])").wait_for()


def run_all(page) -> None:
    page.click("#run-all")
    page.wait_for_function(ALL_RUN)


def test_shift_enter_runs_the_edited_cell_and_every_other_cell_keeps_its_output(
    page, make_user, sessions, settings
):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"])
    log_in(page, user)
    open_notebook(page)
    run_all(page)
    per_day = cell(page, "Messages per day from :since to :until")
    per_day_table = per_day.locator(".result-table").inner_html()
    parts_table = cell(page, "Parts per SIM this billing month").locator(".result-table").inner_html()
    page.evaluate("window.notReloaded = true")

    hours = cell(page, "Busiest hours (UTC, last 30 days)")
    type_sql(page, hours, "SELECT COUNT(*) AS queued FROM messages WHERE status = 'queued'")
    shift_enter(page, hours)

    assert hours.locator(".result-table th").all_inner_texts() == ["queued"]
    assert hours.locator(".result-table td").inner_text() == "3"
    assert hours.locator(".row-count").inner_text() == "1 row"
    assert per_day.locator(".result-table").inner_html() == per_day_table
    assert cell(page, "Parts per SIM this billing month").locator(".result-table").inner_html() == parts_table
    assert page.locator(".cell .not-run").count() == 0
    assert page.evaluate("window.notReloaded") is True  # no page load: the other outputs stayed
    with sessions.begin() as session:  # and the edit is saved
        saved = notebooks.get_cell(session, int(hours.get_attribute("data-id")))
        assert saved.query == "SELECT COUNT(*) AS queued FROM messages WHERE status = 'queued'"
    screenshot(page, "notebook")


def test_a_parameterised_cell_takes_its_values_from_inputs_kept_in_the_url(
    page, make_user, sessions, settings
):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"])
    log_in(page, user)
    open_notebook(page)
    since, until = page.input_value("#param-since"), page.input_value("#param-until")
    assert f"since={since}" in page.url and f"until={until}" in page.url  # a stable address
    per_sim = cell(page, "Messages per SIM from :since to :until")

    page.fill("#param-since", "2099-01-01")
    page.click("#apply-parameters")
    page.wait_for_function(ALL_RUN)
    assert "since=2099-01-01" in page.url
    assert "no rows for :since = 2099-01-01" in per_sim.locator(".result-table").inner_text()

    page.fill("#param-since", "01.01.2026")
    page.click("#apply-parameters")
    page.wait_for_function(ALL_RUN)
    error = per_sim.locator(".cell-error").inner_text()
    assert ":since is a date" in error and "01.01.2026" in error
    assert "is-invalid" in page.get_attribute("#param-since", "class")

    # The address alone brings the view back.
    page.goto(page.url.replace("since=01.01.2026", f"since={since}"))
    page.locator(".cell .CodeMirror").first.wait_for()
    page.click("#run-all")
    page.wait_for_function(ALL_RUN)
    assert per_sim.locator(".result-table tbody tr").all_inner_texts() == ["(no SIM yet)\t3\t0\t0"]
    csv_link = per_sim.locator("a.download-csv").get_attribute("href")
    assert f"since={since}" in csv_link and f"until={until}" in csv_link


def test_insert_above_move_delete_and_undo_keep_the_order(page, make_user, sessions):
    log_in(page, make_user(admin=True))
    open_notebook(page)
    parts = cell(page, "Parts per SIM this billing month")
    parts_id = parts.get_attribute("data-id")

    parts.locator(".insert-above").click()
    before_parts = page.locator(f".cell:has(+ #cell-{parts_id})")
    before_parts.locator(".CodeMirror-focused").wait_for()  # the new cell, its editor focused
    added = page.locator(f"#cell-{before_parts.get_attribute('data-id')}")
    page.keyboard.type("SELECT 42 AS answer FROM ")  # over the example query, selected
    page.locator('#schema .schema-name[data-name="sims"]').click()  # the schema browser inserts the name
    page.keyboard.type(" LIMIT 1")
    added.locator(".cell-title").fill("The answer")
    added.locator(".CodeMirror").click()
    shift_enter(page, added)
    # No SIM: no row; still the query ran with the name the schema inserted.
    assert added.locator(".result-table th").inner_text() == "answer"
    added_id = int(added.get_attribute("data-id"))
    with sessions.begin() as session:
        order = [c.id for c in notebooks.list_cells(session, notebooks.list_notebooks(session)[0].id)]
        assert order[1:3] == [added_id, int(parts_id)]
        assert notebooks.get_cell(session, added_id).query == "SELECT 42 AS answer FROM sims LIMIT 1"

    added.locator(".move-up").click()
    page.wait_for_function(f"document.querySelector('#cells .cell').id === 'cell-{added_id}'")
    added.locator(".delete").click()
    page.locator("#undo-bar").wait_for()
    assert page.locator(f"#cell-{added_id}").count() == 0
    page.click("#undo")
    back = page.locator("#cells .cell").first
    back.locator(".result-table").wait_for()  # put back where it was, and run
    assert back.get_attribute("data-title") == "The answer"

    page.reload()
    assert page.locator("#cells .cell").first.get_attribute("data-title") == "The answer"
    # A cell's address opens its notebook with that cell run.
    back_id = page.locator("#cells .cell").first.get_attribute("data-id")
    page.goto(page.url.split("?")[0] + f"#cell-{parts_id}")
    cell(page, "Parts per SIM this billing month").locator(
        ".cell-output:not([aria-busy]) .cell-note"
    ).wait_for()
    assert page.locator(f"#cell-{back_id} .not-run").count() == 1
    assert page.locator("#schema").inner_text().count("password_hash") == 0
    assert page.locator('#schema .schema-table[data-table="admin_sessions"]').count() == 0


def test_a_markdown_cell_shows_script_as_text(page, make_user):
    log_in(page, make_user(admin=True))
    open_notebook(page)
    page.select_option("#insert-kind", "markdown")
    page.click("#add-cell")
    text = page.locator(".cell-markdown").last
    source = text.locator("textarea.markdown-source")
    source.wait_for()
    source.fill("# Costs\n<script>window.pwned = 1</script> <img src=x onerror=alert(1)> **in bold**")
    cell_id = text.get_attribute("data-id")
    with page.expect_response(lambda r: f"/cell/{cell_id}/run" in r.url):
        source.press("Shift+Enter")
    text.locator(".markdown h1").wait_for()
    shown = text.locator(".markdown").inner_text()
    assert "<script>window.pwned = 1</script>" in shown and "<img src=x onerror=alert(1)>" in shown
    assert text.locator(".markdown strong").inner_text() == "in bold"
    assert source.is_hidden()
    page.reload()
    page.locator(".cell-markdown .markdown h1", has_text="Costs").wait_for()
    assert page.locator("img[src=x]").count() == 0 and page.locator(".markdown script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.dialogs == []


def test_html_in_a_title_a_result_and_a_notebook_name_shows_as_text(page, make_user, sessions, settings):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"], recipients=1, text=XSS)
    log_in(page, user)
    open_notebook(page)
    page.click(".notebook-bar summary")
    page.fill("#new-notebook-name", XSS)
    page.click("#new-notebook button")
    page.locator("#notebook-tabs .nav-link.active", has_text=XSS).wait_for()
    page.click("#add-cell")
    card = page.locator(".cell").last
    card.locator(".CodeMirror-focused").wait_for()
    page.keyboard.type("SELECT text, recipient FROM messages")
    card.locator(".cell-title").fill(XSS)
    card.locator(".CodeMirror").click()
    shift_enter(page, card)
    assert card.locator(".result-table td").first.inner_text() == XSS
    page.reload()
    card = page.locator(".cell").last
    assert card.locator(".cell-title").input_value() == XSS
    card.locator(".run").click()
    card.locator(".result-table").wait_for()
    assert page.locator("img[src=x]").count() == 0
    assert page.dialogs == []


def test_a_cell_that_deletes_is_refused_and_deletes_nothing(page, make_user, sessions, settings):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"], recipients=2, text="keep me")
    before = message_count(sessions)
    log_in(page, user)
    open_notebook(page)
    card = cell(page, "Delivery rate per SIM")
    type_sql(page, card, "DELETE FROM messages")
    shift_enter(page, card)
    assert "only reads" in card.locator(".cell-error").inner_text()
    type_sql(page, card, "SELECT 1; DELETE FROM messages")
    shift_enter(page, card)
    assert "one statement" in card.locator(".cell-error").inner_text()
    assert message_count(sessions) == before == 2
    with sessions.begin() as session:
        assert notebooks.get_cell(session, int(card.get_attribute("data-id"))).query.startswith(
            "SELECT s.name"
        )


def test_a_cell_shows_a_table_and_charts_that_keep_small_values_visible(page, make_user, sessions, settings):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"])
    log_in(page, user)
    open_notebook(page)
    run_all(page)
    assert page.locator(".cell-error").count() == 0
    hours = cell(page, "Busiest hours (UTC, last 30 days)")
    assert hours.locator(".result-table tbody tr").count() == 24
    assert hours.locator(".chart svg rect").count() == 24
    assert sum(int(v) for v in hours.locator(".result-table tbody td:nth-child(2)").all_inner_texts()) == 3
    # Parts used (3) against a limit of 3000: a scale each, so the used bar is tall.
    parts = cell(page, "Parts per SIM this billing month")
    assert "(right axis)" in parts.locator(".legend").inner_text()
    used, limit = (float(bar.get_attribute("height")) for bar in parts.locator(".chart svg rect").all())
    assert used > limit / 2 > 0
    assert "No inbound messages yet" in cell(page, "Top inbound keywords").inner_text()
    # The chart's columns are chosen on the cell, and saved with it.
    parts.locator(".chart-columns summary").click()
    with page.expect_response(lambda r: "/run" in r.url):
        parts.locator('input[name=chart_y2][value="monthly_limit"]').uncheck()
    parts.locator(".cell-output:not([aria-busy]) .legend").wait_for()
    assert "(right axis)" not in parts.locator(".legend").inner_text()
    assert parts.locator(".chart-columns").get_attribute("open") is not None  # still open to go on choosing
    with sessions.begin() as session:
        saved = notebooks.get_cell(session, int(parts.get_attribute("data-id")))
        assert (saved.chart_x, saved.chart_y, saved.chart_y2) == ("sim", "parts_used,monthly_limit", None)
    # Click-to-sort, numbers as numbers, and back.
    header = hours.locator(".result-table th", has_text="messages")
    header.click()
    header.click()
    assert hours.locator(".result-table tbody td:nth-child(2)").first.inner_text() == "3"


def test_the_notebook_fits_a_phone(phone_page, make_user, sessions, settings):
    page = phone_page
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"])
    page.goto("/admin/")
    page.fill("#login", user["login"])
    page.fill("#password", user["password"])
    page.click("button[type=submit]")
    page.wait_for_selector("text=Log out", state="attached")  # in the collapsed menu
    open_notebook(page)
    page.locator("#run-all").click()
    page.wait_for_function(ALL_RUN)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for card in page.locator(".cell").all():
        box, close = card.bounding_box(), card.locator(".delete").bounding_box()
        assert close["x"] + close["width"] <= box["x"] + box["width"], card.get_attribute("data-title")
        title = card.locator(".cell-title")
        if title.count():
            assert title.bounding_box()["width"] > 200  # a line of its own, not one word a line
    # The screenshot: a short notebook (a phone's full page of every starter cell is huge).
    with sessions.begin() as session:
        book = notebooks.create_notebook(session, "Delivery")
        for title, kind, query, chart, x, y, y2 in notebooks.STARTER_CELLS[1:4:2]:
            notebooks.save_cell(
                session,
                None,
                notebook_id=book.id,
                title=title,
                kind=kind,
                query=query,
                chart=chart,
                chart_x=x,
                chart_y=y,
                chart_y2=y2,
            )
        book_id = book.id
    open_notebook(page, f"/admin/notebook/{book_id}")
    page.click("#run-all")
    page.wait_for_function(ALL_RUN)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "notebook-phone")


def test_a_notebook_exported_as_a_file_and_imported_again_comes_back_whole(
    page, make_user, sessions, settings, tmp_path
):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"])
    log_in(page, user)
    open_notebook(page)
    titles = page.locator(".cell").evaluate_all("cells => cells.map(c => c.dataset.title)")
    page.click(".notebook-bar details summary")
    with page.expect_download() as download:
        page.click("#export-notebook")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "Overview.json"

    page.set_input_files("#import-file", str(saved))
    page.click("#import-notebook button")
    page.wait_for_selector("text=Notebook 'Overview (2)' imported")
    assert page.locator("#notebook-tabs .nav-link.active").inner_text() == "Overview (2)"
    assert page.locator(".cell").evaluate_all("cells => cells.map(c => c.dataset.title)") == titles
    run_all(page)
    assert page.locator(".cell-error").count() == 0

    # A file that is not a notebook is refused in words, and nothing is added.
    bad = tmp_path / "photo.json"
    bad.write_text('{"name": "holiday"}', encoding="utf-8")
    page.click(".notebook-bar details summary")
    page.set_input_files("#import-file", str(bad))
    page.click("#import-notebook button")
    page.wait_for_selector("text=Not imported: not an smsbridge notebook file")
    assert page.locator("#notebook-tabs .nav-link").all_inner_texts() == ["Overview", "Overview (2)"]


def test_a_cells_spreadsheet_url_answers_its_csv_with_an_admins_key(page, make_user, sessions, settings):
    user = make_user(admin=True)
    traffic(sessions, settings, user["login"])
    log_in(page, user)
    open_notebook(page)
    run_all(page)
    per_day = cell(page, "Messages per day from :since to :until")
    per_day.locator(".sheet-link summary").click()
    url = per_day.locator(".sheet-url").input_value()
    assert "/api/v1/reports/" in url and "key=YOUR_API_KEY" in url and "since=" in url
    # What a spreadsheet does with it, once the key is filled in: a plain GET, no cookie.
    answer = page.context.request.get(url.replace("YOUR_API_KEY", user["key"]))
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    lines = answer.text().splitlines()
    table = per_day.locator(".result-table")
    assert lines[0].split(",") == table.locator("th").all_inner_texts()
    assert len(lines) - 1 == table.locator("tbody tr").count()
    assert page.context.request.get(url).status == 401  # the placeholder is no key
