"""A built wheel holds the whole package: the code reads Gammu's schema, the
daemon config template, the migration template and the admin's pages from
beside its modules, so a file left out of the package data would only show
on an install from the wheel, as a missing file at `db init`, `sim add` or
the first admin page."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bridge", "admin")


def package_files() -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for package in PACKAGES
        for path in (REPO / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_every_file_of_the_packages_and_the_cli(tmp_path):
    # Built from a copy: building in place leaves build/ and egg-info behind.
    source = tmp_path / "source"
    source.mkdir()
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("cli.py", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("smsbridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        inside = set(archive.namelist())

    expected = package_files()
    assert {
        "bridge/sql/gammu-17.sql",
        "bridge/smsdrc.template",
        "admin/templates/smsbridge/layout.html",
    } <= expected
    assert sorted(expected - inside) == []
    assert "cli.py" in inside
