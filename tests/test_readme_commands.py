"""Every `smsbridge …` command the README shows exists, with the options it
shows: the README is the first thing a user copies from."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def shown_commands() -> list[str]:
    """Command lines in code blocks and inline code that start with smsbridge."""
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            found += [part.strip() for part in line.split("#")[0].split(";")]
    found += re.findall(r"`(smsbridge [^`]+)`", text)
    return sorted({c for c in found if c.startswith("smsbridge ")})


def check(command: str) -> None:
    words = shlex.split(command.replace("…", "x"))[1:]
    current: click.Command = cli.main
    options_allowed = {opt for p in cli.main.params for opt in p.opts} | {"--help"}
    for word in words:
        if word.startswith("--"):
            name = word.split("=")[0]
            assert name in options_allowed, f"{command!r}: {current.name} has no {name}"
        elif isinstance(current, click.Group):
            alternatives = word.split("|")
            for alternative in alternatives:
                assert alternative in current.commands, f"{command!r}: no command {alternative!r}"
            if len(alternatives) > 1:  # `a|b|c`: each checked; their options are not shown
                return
            current = current.commands[word]
            options_allowed = {opt for p in current.params for opt in p.opts} | {"--help"}


@pytest.mark.parametrize("command", shown_commands())
def test_readme_command_exists_with_its_options(command):
    check(command)


def test_readme_shows_commands():
    assert len(shown_commands()) > 20
