"""The CLI's one error handler (:class:`scened.cli.errors.ScenedGroup`) and the exit
statuses ``scened --help`` lists."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from scened.cli.errors import EXIT_CODES, ScenedGroup
from scened.errors import LibraryError, ScenedError, StateError


@pytest.mark.parametrize(
    "error",
    [
        StateError("cannot open the state database: disk I/O error", "/var/lib/scened/state.db"),
        LibraryError("library folder not readable: Permission denied", "/srv/photos"),
    ],
    ids=["state", "library"],
)
def test_state_and_library_errors_are_one_line_and_a_listed_status(error: ScenedError) -> None:
    @click.group(cls=ScenedGroup)
    def cli() -> None:
        pass

    @cli.command()
    def fail() -> None:
        raise error

    result = CliRunner().invoke(cli, ["fail"])

    assert result.output == f"Error: {error.path}: {error.message}\n"
    assert result.exit_code == 1 and result.exit_code in dict(EXIT_CODES)
