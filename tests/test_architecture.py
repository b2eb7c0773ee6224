"""docs/architecture.md cannot fall behind the code: its module map names
every module of bridge/, admin/ and cli.py, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"


def modules_in_code() -> set[str]:
    found = {"cli.py"}
    for package in ("bridge", "admin"):
        found |= {str(p.relative_to(REPO)) for p in (REPO / package).rglob("*.py")}
    return found


def modules_in_map() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## Module map") :]
    return set(re.findall(r"^\| `([\w/.]+\.py)` \|", table, flags=re.M))


def test_module_map_names_every_module_and_nothing_else():
    in_code, in_map = modules_in_code(), modules_in_map()
    assert in_code - in_map == set(), "add these to the module map in docs/architecture.md"
    assert in_map - in_code == set(), "these are gone: take them out of docs/architecture.md"


def test_readme_links_stay_inside_the_repository():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    for target in re.findall(r"\]\(([^)#]+)", readme):
        if not target.startswith(("http://", "https://")):
            assert (REPO / target).exists(), f"README links to {target}, which is not in the repository"
