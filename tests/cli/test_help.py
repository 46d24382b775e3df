"""What a photographer reads in ``--help``: no internal documents, the exit statuses."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import click
from click.testing import CliRunner

from scened.cli import main
from scened.cli.errors import EXIT_CODES

README = Path(__file__).resolve().parents[2] / "README.md"


def every_command(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += every_command(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_help_names_no_internal_document() -> None:
    for command in every_command(main):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0, command
        assert not re.search(r"\bSPEC\b", result.output), (command, result.output)


def test_the_exit_statuses_are_listed_in_help_and_readme() -> None:
    shown = CliRunner().invoke(main, ["--help"]).output
    readme = " ".join(README.read_text(encoding="utf-8").split())
    paragraph = readme[readme.index("`scened --help` lists the exit statuses") :][:400]
    for code, meaning in EXIT_CODES:
        assert re.search(rf"^\s+{code}\s+{re.escape(meaning[:30])}", shown, re.M), code
        assert re.search(rf"\b{code}\b", paragraph), f"README does not mention exit {code}"


def test_each_command_module_is_a_module_and_each_command_keeps_its_name() -> None:
    import scened.cli

    expected = {"classify", "config", "eval", "labels", "learn", "plugins", "run", "serve",
                "status", "untag"}  # fmt: skip
    assert set(main.commands) == expected
    for name in ("classify", "learn", "run", "serve", "status", "untag"):
        assert isinstance(getattr(scened.cli, name), ModuleType), name
        assert main.commands[name] is getattr(scened.cli, name).__dict__[f"{name}_cmd"]
