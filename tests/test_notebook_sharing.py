"""Reports leave the admin: a notebook exported as one JSON file and
imported on another gateway (CLI; the admin's buttons call the same two
functions), and a cell's result as CSV by API key for a spreadsheet."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from bridge import notebook_files, notebooks
from bridge.errors import ReportError
from bridge.models import Notebook, ReportCell, Sim
from tests.test_admin_pages import queue
from tests.test_cli import invoke

# A literal % beside a bound parameter: the driver must see it doubled.
PER_STATUS = (
    "SELECT status, COUNT(*) AS messages FROM messages\n"
    "WHERE created_at >= :since AND text LIKE 'h%' GROUP BY status ORDER BY status"
)


@pytest.fixture
def billing(sessions) -> dict[str, int]:
    """A notebook of three kinds of cell; {title: cell id}."""
    with sessions.begin() as session:
        book = notebooks.create_notebook(session, "Billing")
        made = {}
        for title, kind, query, chart in (
            ("Read me", "markdown", "# Billing\nParts per SIM <b>this</b> month.", ""),
            ("Messages per status since", "sql", PER_STATUS, "bar"),
            ("Parts per SIM", "builtin", "parts_per_sim", "bar"),
        ):
            cell = notebooks.save_cell(
                session,
                None,
                notebook_id=book.id,
                title=title,
                kind=kind,
                query=query,
                chart=chart,
                chart_y2="monthly_limit" if kind == "builtin" else None,
            )
            made[title] = cell.id
        return made


def test_a_notebook_exported_and_imported_comes_back_cell_for_cell(runner, sessions, billing, tmp_path):
    exported = invoke(runner, "notebook", "export", "billing")
    document = json.loads(exported.output)
    assert document["format"] == "smsbridge-notebook" and document["version"] == 1
    assert [c["kind"] for c in document["cells"]] == ["markdown", "sql", "builtin"]
    path = tmp_path / "billing.json"
    path.write_text(exported.output, encoding="utf-8")

    imported = invoke(runner, "notebook", "import", str(path))
    assert "'Billing (2)': 3 cells imported" in imported.output  # never replaces the original
    with sessions.begin() as session:
        copy = session.scalar(select(Notebook).where(Notebook.name == "Billing (2)"))
        again = notebook_files.export_notebook(session, copy.id)
    assert again == {**document, "name": "Billing (2)"}
    assert "Billing (2)\t3 cells" in invoke(runner, "notebook", "list").output


def test_an_import_with_one_bad_cell_names_it_and_stores_nothing(runner, sessions, billing, tmp_path):
    with sessions.begin() as session:
        document = notebook_files.export_notebook(session, session.scalar(select(Notebook.id)))
    document["name"] = "Sneaky"
    document["cells"][1]["query"] = "DELETE FROM messages"
    path = tmp_path / "sneaky.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = runner.invoke(__import__("cli").main, ["notebook", "import", str(path)])
    assert result.exit_code != 0
    assert "cells[1].query: refused: the notebook only reads" in result.output
    with sessions.begin() as session:
        assert session.scalar(select(Notebook.id).where(Notebook.name == "Sneaky")) is None
        assert len(session.scalars(select(ReportCell)).all()) == 3


@pytest.mark.parametrize(
    "document, words",
    [
        ({"name": "x", "cells": []}, "not an smsbridge notebook file"),
        ({"format": "smsbridge-notebook", "version": 2, "name": "x", "cells": []}, "version"),
        ({"format": "smsbridge-notebook", "version": 1, "name": "", "cells": []}, "name"),
        (
            {"format": "smsbridge-notebook", "version": 1, "name": "x", "cells": [{"kind": "python"}]},
            "cells[0].kind",
        ),
        (
            {
                "format": "smsbridge-notebook",
                "version": 1,
                "name": "x",
                "cells": [{"kind": "builtin", "title": "t", "query": "rm_rf"}],
            },
            "cells[0].query: no built-in report 'rm_rf'",
        ),
        ([1, 2, 3], "file"),
    ],
)
def test_a_file_that_is_not_a_notebook_is_refused_in_words(sessions, document, words):
    with sessions.begin() as session, pytest.raises(ReportError) as refused:
        notebook_files.import_notebook(session, document)
    assert words in str(refused.value)
    assert refused.value.field == "file"


def test_a_file_that_is_not_json_is_refused_in_words():
    with pytest.raises(ReportError, match="the file is not JSON"):
        notebook_files.parse_file(b"\xff\xfe not json")


def _queued(sessions, settings, login: str, count: int) -> None:
    with sessions.begin() as session:
        session.add(Sim(name="tele2", number="+79990000001", simulated=True, enabled=True))
    for _ in range(count):
        queue(sessions, settings, login, text="hi")


def test_a_cell_is_fetched_as_csv_by_an_admins_key_with_its_parameters(
    client, make_user, sessions, settings, billing
):
    admin = make_user("boss", admin=True)
    _queued(sessions, settings, "boss", 2)
    cell = billing["Messages per status since"]
    by_header = client.get(
        f"/api/v1/reports/{cell}.csv?since=2020-01-01", headers={"Authorization": f"Bearer {admin['key']}"}
    )
    assert by_header.status_code == 200 and by_header.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(by_header.get_data(as_text=True)))) == [
        ["status", "messages"],
        ["queued", "2"],
    ]
    # A spreadsheet's "import from web" cannot send a header: the key in the URL.
    by_url = client.get(f"/api/v1/reports/{cell}.csv?since=2020-01-01&key={admin['key']}")
    assert by_url.get_data() == by_header.get_data()
    rolling_month = client.get(f"/api/v1/reports/{cell}.csv?key={admin['key']}")  # since: 29 days ago
    assert rolling_month.get_data() == by_header.get_data()
    later = client.get(f"/api/v1/reports/{cell}.csv?since=2999-01-01&key={admin['key']}")
    assert list(csv.reader(io.StringIO(later.get_data(as_text=True)))) == [["status", "messages"]]


def test_the_csv_url_refuses_clearly(client, make_user, sessions, billing):
    admin, user = make_user("boss", admin=True), make_user("alice")
    cell = billing["Messages per status since"]

    def error(path):
        response = client.get(path)
        return response.status_code, response.get_json()["error"]

    status, body = error(f"/api/v1/reports/{cell}.csv?since=2020-01-01")
    assert status == 401 and "?key=" in body["message"]
    status, body = error(f"/api/v1/reports/{cell}.csv?since=2020-01-01&key=sb_wrong")
    assert status == 401
    status, body = error(f"/api/v1/reports/{cell}.csv?since=2020-01-01&key={user['key']}")
    assert status == 403 and "administrators" in body["message"]
    status, body = error(f"/api/v1/reports/{cell}.csv?since=01/11/2026&key={admin['key']}")
    assert status == 400 and body["field"] == "since"
    status, body = error(f"/api/v1/reports/{billing['Read me']}.csv?key={admin['key']}")
    assert status == 400 and body["field"] == "cell"
    status, body = error(f"/api/v1/reports/999999.csv?key={admin['key']}")
    assert status == 404
