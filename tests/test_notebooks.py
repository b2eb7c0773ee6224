"""Notebooks and their cells on the real MariaDB: names, order, insertion,
named parameters bound by the driver (never pasted into the SQL), and a
starter notebook whose every cell says something on an empty and on a busy
database. The pages are tested in test_admin_pages.py and, in a browser,
test_admin_notebook_browser.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from admin import charts
from bridge import notebooks, reports
from bridge.accept import SendOptions, accept
from bridge.clock import utcnow
from bridge.errors import ReportError
from bridge.models import Message, Notebook, ReportCell, Sim, User
from bridge.reports import Parameter


@pytest.fixture
def notebook_engine(settings, engine):
    """The notebook's own read-only account, as the web app makes it."""
    made = reports.NotebookEngine(settings).get()
    assert made is not None
    yield made
    made.dispose()


def add_sql(session, notebook_id: int, title: str, query: str, **where) -> ReportCell:
    return notebooks.save_cell(session, None, notebook_id=notebook_id, title=title, query=query, **where)


def test_notebooks_are_created_renamed_and_deleted_with_their_cells(sessions):
    with sessions.begin() as session:
        billing = notebooks.create_notebook(session, "  Billing ")
        delivery = notebooks.create_notebook(session, "Delivery")
        add_sql(session, billing.id, "one", "SELECT 1")
        billing_id, delivery_id = billing.id, delivery.id
    with sessions.begin() as session:
        assert [n.name for n in notebooks.list_notebooks(session)] == ["Billing", "Delivery"]
        notebooks.rename_notebook(session, delivery_id, "Marketing")
        notebooks.rename_notebook(session, delivery_id, "Marketing")  # its own name is no clash
    with sessions.begin() as session:
        assert notebooks.get_notebook(session, delivery_id).name == "Marketing"
        notebooks.delete_notebook(session, billing_id)
    with sessions.begin() as session:
        assert [n.name for n in notebooks.list_notebooks(session)] == ["Marketing"]
        assert session.scalar(select(func.count()).select_from(ReportCell)) == 0
        with pytest.raises(ReportError, match="no notebook"):
            notebooks.get_notebook(session, billing_id)


@pytest.mark.parametrize(
    "name, words", [("", "1-100"), ("   ", "1-100"), ("x" * 101, "1-100"), ("billing", "already")]
)
def test_a_notebook_name_must_be_present_short_and_free(sessions, name, words):
    with sessions.begin() as session:
        notebooks.create_notebook(session, "Billing")
    with sessions.begin() as session, pytest.raises(ReportError, match=words) as refused:
        notebooks.create_notebook(session, name)
    assert refused.value.field == "name"
    with sessions.begin() as session:
        other = notebooks.create_notebook(session, "Other")
        with pytest.raises(ReportError, match=words):
            notebooks.rename_notebook(session, other.id, name)


def test_cells_go_before_or_after_a_cell_or_at_the_end_and_move_within_their_notebook(sessions):
    with sessions.begin() as session:
        book = notebooks.create_notebook(session, "Book")
        other = notebooks.create_notebook(session, "Other")
        a = add_sql(session, book.id, "a", "SELECT 1")
        c = add_sql(session, book.id, "c", "SELECT 3")
        add_sql(session, other.id, "elsewhere", "SELECT 9")
        add_sql(session, book.id, "b", "SELECT 2", before=c.id)
        add_sql(session, book.id, "a2", "SELECT 1.5", after=a.id)
        add_sql(session, book.id, "first", "SELECT 0", before=a.id)
        book_id, c_id = book.id, c.id
    with sessions.begin() as session:
        cells = notebooks.list_cells(session, book_id)
        assert [x.title for x in cells] == ["first", "a", "a2", "b", "c"]
        assert [x.position for x in cells] == [0, 1, 2, 3, 4]
        notebooks.move_cell(session, c_id, -1)
        notebooks.move_cell(session, cells[0].id, -1)  # already at the top: stays
    with sessions.begin() as session:
        assert [x.title for x in notebooks.list_cells(session, book_id)] == ["first", "a", "a2", "c", "b"]
        with pytest.raises(ReportError, match="no cell"):
            add_sql(session, book_id, "lost", "SELECT 1", before=10**9)


def test_cells_keep_their_kind_chart_columns_and_refuse_what_does_not_read(sessions):
    with sessions.begin() as session:
        book = notebooks.create_notebook(session, "Book")
        text = notebooks.save_cell(
            session, None, notebook_id=book.id, kind="markdown", query="# Hello\n<script>x</script>"
        )
        built = notebooks.save_cell(
            session, None, notebook_id=book.id, title="parts", kind="builtin", query="parts_per_sim"
        )
        chart = add_sql(
            session,
            book.id,
            "chart",
            "SELECT 1 AS a, 2 AS b, 3 AS c",
            chart="bar",
            chart_x="a",
            chart_y=["b", " c", "b"],
            chart_y2="c",
        )
        assert (chart.chart_x, chart.chart_y, chart.chart_y2) == ("a", "b,c", "c")
        assert text.title == "" and text.query.startswith("# Hello")
        notebooks.save_cell(session, built.id, title="renamed", query="SELECT 1", chart="line")
        assert (built.kind, built.query, built.chart) == ("builtin", "parts_per_sim", "line")
        for kind, query, words in [
            ("sql", "DELETE FROM messages", "only reads"),
            ("builtin", "no_such_report", "no built-in"),
            ("python", "1", "one of"),
        ]:
            with pytest.raises(ReportError, match=words):
                notebooks.save_cell(session, None, notebook_id=book.id, title="t", kind=kind, query=query)
        with pytest.raises(ReportError, match="title") as refused:
            add_sql(session, book.id, " ", "SELECT 1")
        assert refused.value.field == "title"
        with pytest.raises(ReportError, match="one column"):
            add_sql(session, book.id, "t", "SELECT 1", chart_x="a,b")


def test_parameters_are_named_outside_literals_and_comments():
    sql = (
        "SELECT ':in_text', `:in_name`, a::int, @v := 1, '%' -- :in_comment\n"
        "FROM t /* :in_block */ WHERE d >= :since AND d < :until AND s = :sim "
        "AND x = :label AND y = :sent_at AND z = :since # :hash"
    )
    assert reports.cell_parameters(sql) == [
        Parameter("since", "date"),
        Parameter("until", "date"),
        Parameter("sim", "sim"),
        Parameter("label", "text"),
        Parameter("sent_at", "date"),
    ]
    markdown = ReportCell(kind="markdown", query="Costs :since last month")
    assert reports.cell_parameters(markdown) == []


def test_parameter_values_are_read_and_a_bad_one_is_named():
    parameters = reports.cell_parameters("SELECT :since, :until, :sim, :label")
    bound = reports.bind_parameters(
        parameters, {"since": "2026-11-01", "until": "2026-11-30 18:05", "sim": " tele2 ", "label": "x"}
    )
    assert bound == {
        "since": date(2026, 11, 1),
        "until": datetime(2026, 11, 30, 18, 5),
        "sim": "tele2",
        "label": "x",
    }
    good = {"since": "2026-11-01", "until": "2026-11-30", "sim": "a", "label": "b"}
    for name, value, words in [
        ("since", "11/01/2026", "YYYY-MM-DD"),
        ("until", "2026-02-30", "YYYY-MM-DD"),
        ("sim", "", "needs a value for :sim"),
        ("label", "x" * 201, "at most 200"),
    ]:
        with pytest.raises(ReportError, match=words) as refused:
            reports.bind_parameters(parameters, {**good, name: value})
        assert refused.value.field == name and f":{name}" in refused.value.message


def test_a_cell_binds_its_parameters_and_keeps_percent_signs_and_colons_in_literals(notebook_engine):
    sql = (
        "SELECT v, ':x' AS colon, CONCAT('50', '%') AS pct FROM ("
        "SELECT 'a%b' AS v UNION ALL SELECT 'abc' UNION ALL SELECT :label) t "
        "WHERE v LIKE 'a%' AND v <> :skip ORDER BY v"
    )
    result = reports.run_sql(notebook_engine, sql, {"label": "a'); DROP TABLE users; --", "skip": "abc"})
    assert result.error is None, result.error
    assert result.rows == [
        ("a%b", ":x", "50%"),
        ("a'); DROP TABLE users; --", ":x", "50%"),
    ]
    dated = reports.run_sql(notebook_engine, "SELECT :since + INTERVAL 1 DAY AS d", {"since": "2026-11-30"})
    assert dated.rows == [("2026-12-01",)] or dated.rows == [(date(2026, 12, 1),)]
    missing = reports.run_sql(notebook_engine, sql, {"label": "x"})
    assert missing.parameter == "skip" and "needs a value for :skip" in missing.error
    # No parameters: the text goes to the server untouched, '%' and all.
    assert reports.run_sql(notebook_engine, "SELECT '100%' AS p").rows == [("100%",)]


def test_run_cell_reads_only_the_parameters_its_cell_uses(sessions, notebook_engine):
    with sessions.begin() as session:
        book = notebooks.create_notebook(session, "Book")
        cell = add_sql(
            session, book.id, "users since", "SELECT COUNT(*) AS n FROM users WHERE created_at >= :since"
        )
        note = notebooks.save_cell(session, None, notebook_id=book.id, kind="markdown", query="hi")
    with sessions() as session:
        result = reports.run_cell(session, notebook_engine, cell, {"since": "2000-01-01", "other": "junk"})
        assert result.error is None and result.rows == [(0,)]
        assert reports.run_cell(session, notebook_engine, note) == reports.CellResult()


def starter_results(sessions, notebook_engine) -> dict[str, reports.CellResult]:
    with sessions.begin() as session:
        book = notebooks.ensure_starter_notebook(session)
        assert book is not None and notebooks.ensure_starter_notebook(session) is None
        cells = notebooks.list_cells(session, book.id)
        session.expunge_all()
    params = {p.name: p.default for c in cells for p in reports.cell_parameters(c)}
    assert set(params) == {"since", "until"}
    with sessions() as session:
        return {c.title: reports.run_cell(session, notebook_engine, c, params) for c in cells}


def test_every_starter_cell_says_something_on_an_empty_database(sessions, notebook_engine):
    results = starter_results(sessions, notebook_engine)
    assert all(r.error is None for r in results.values()), {t: r.error for t, r in results.items()}
    assert "No SIMs yet" in results["Parts per SIM this billing month"].note
    assert len(results["Messages per day from :since to :until"].rows) == reports.DEFAULT_SPAN_DAYS
    assert len(results["Busiest hours (UTC, last 30 days)"].rows) == 24
    assert "No inbound messages" in results["Top inbound keywords"].note


def test_every_starter_cell_shows_the_traffic_of_a_busy_database(
    sessions, settings, notebook_engine, make_user
):
    make_user("shop")
    with sessions.begin() as session:
        session.add(Sim(name="simA", number="+79990000001", simulated=True, enabled=True, monthly_limit=3000))
    with sessions.begin() as session:
        shop = session.scalar(select(User).where(User.login == "shop"))
        for n in range(5):
            accept(session, shop, f"+7999123456{n}", "hi", SendOptions(), settings=settings, source="test")
        sim_id = session.scalar(select(Sim.id))
        for message in session.scalars(select(Message)):
            message.sim_id, message.status = sim_id, "delivered"
    results = starter_results(sessions, notebook_engine)
    assert all(r.error is None for r in results.values()), {t: r.error for t, r in results.items()}
    with sessions.begin() as session:
        # The day they were stored on, not "today": midnight may pass in between.
        stored_on = session.scalar(select(func.max(Message.created_at))).date()
    per_day = dict((row[0], row[1:]) for row in results["Messages per day from :since to :until"].rows)
    assert per_day[stored_on] == (5, 5, 0)
    assert results["Messages per SIM from :since to :until"].rows == [("simA", 5, 5, 0)]
    assert results["Delivery rate per SIM"].rows[0][:2] == ("simA", 5)
    assert results["Delivery rate per operator prefix"].rows[0][1] == 5
    assert results["Parts per SIM this billing month"].rows[0][0] == "simA"
    assert sum(row[1] for row in results["Busiest hours (UTC, last 30 days)"].rows) == 5


def test_the_default_span_is_the_last_thirty_days():
    today = utcnow().date()
    assert Parameter("since", "date").default == (today - timedelta(days=29)).isoformat()
    assert Parameter("until", "date").default == today.isoformat()
    assert Parameter("sim", "sim").default == ""


def test_a_notebook_is_readable_by_the_notebook_account(sessions, notebook_engine):
    with sessions.begin() as session:
        notebooks.create_notebook(session, "Billing")
    result = reports.run_sql(notebook_engine, "SELECT name FROM notebooks")
    assert result.rows == [("Billing",)]
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Notebook)) == 1


# --------------------------------------------------------------------------
# Charts: a second axis for small values, labels that do not collide


def test_values_on_a_second_axis_keep_their_own_scale():
    columns, rows = ["sim", "parts_used", "monthly_limit"], [("a", 1, 40), ("b", 6, 3000)]
    one_scale = charts.from_table("bar", columns, rows)
    two_scales = charts.from_table("bar", columns, rows, x="sim", y2=["monthly_limit"])
    plot = charts.HEIGHT - charts.TOP - charts.BOTTOM

    def used_bar(chart):
        return next(s for s in chart.series if s["name"] == "parts_used")["bars"][1]["h"]

    assert used_bar(one_scale) < 1  # 6 beside 3000: a hairline
    assert used_bar(two_scales) > plot / 2
    assert [s["axis"] for s in two_scales.series] == ["left", "right"]
    assert two_scales.y2_ticks[-1][1] == "5000" and two_scales.y_ticks[-1][1] == "10"
    # Columns named for the chart pick what is drawn and against what.
    only = charts.from_table("line", columns, rows, x="parts_used", y=["monthly_limit"])
    assert [s["name"] for s in only.series] == ["monthly_limit"] and only.x_labels[0][1] == "1"
    assert charts.from_table("bar", columns, rows, y=["no_such_column"]) is not None  # the default then


def test_x_labels_never_overlap():
    def gaps(chart):
        xs = [x for x, _ in chart.x_labels]
        return min(b - a for a, b in zip(xs, xs[1:], strict=False))

    keywords = [f"KEYWORD-{n:02d}-LONGER-THAN-ITS-BAR" for n in range(30)]
    bars = charts.build("bar", keywords, {"messages": list(range(30))})
    assert bars.rotate and len(bars.x_labels) == 30  # turned, every one shown
    assert all(len(label) <= charts.LONGEST_LABEL for _, label in bars.x_labels)
    assert gaps(bars) >= charts.LINE_HEIGHT and bars.height > charts.HEIGHT  # room below for them
    many = charts.build("bar", [f"k{n}" for n in range(200)], {"messages": [1] * 200})
    assert gaps(many) >= charts.LINE_HEIGHT
    days = [f"2026-11-{n:02d}" for n in range(1, 31)]
    line = charts.build("line", days, {"messages": [1] * 30})
    assert not line.rotate and gaps(line) >= len(days[0]) * charts.CHAR_WIDTH
