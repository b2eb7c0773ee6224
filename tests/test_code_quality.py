"""The code's own checks, run with the suite so the README's test command
(and so CI) runs them: formatting and lint (ruff), types (mypy on bridge/),
the import contracts of docs/architecture.md (import-linter), and no import
cycle anywhere in bridge/ or admin/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "format", "--check", "."],
        ["ruff", "check", "."],
        ["mypy"],
        ["lint-imports"],
    ],
    ids=["ruff format", "ruff check", "mypy", "import contracts"],
)
def test_tool_is_clean(command):
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_cycle():
    graph = grimp.build_graph("bridge", "admin")
    edges = {
        m: {i for i in graph.find_modules_directly_imported_by(m) if i in graph.modules}
        for m in graph.modules
    }
    cycles = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(path[path.index(module) :] + [module])
            return
        if module in done:
            return
        for imported in sorted(edges[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph.modules):
        visit(module, [])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)
