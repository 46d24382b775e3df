"""The one place where errors become a message on stderr and an exit code.

Every error is one line (``Error: ...``); a configuration with several problems gives
one such line per problem.  Output cut short by the reader (``scened status | head``)
ends quietly, as command-line tools do.  :data:`EXIT_CODES` is what ``scened --help``
lists, read from the error classes so that the numbers live in one place.
"""

from __future__ import annotations

import logging
from typing import IO, Any

import click

from scened.errors import ConfigError, MetadataError, ModelError, ScenedError

log = logging.getLogger(__name__)

#: Exit status: what it means (``scened --help`` prints this table).
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "done; every photo that needed tags got them (or, for a dry run, would)"),
    (1, "a photo or a library failed (each is listed), or another error (one line)"),
    (2, "a command-line mistake (an unknown option, a missing argument)"),
    (ModelError.exit_code, "the model is missing, damaged or unknown"),
    (MetadataError.exit_code, "scened untag: some photo's keywords could not be removed"),
    (ConfigError.exit_code, "the configuration is invalid (each problem named by its key)"),
    (130, "stopped by Ctrl-C (the photos in hand were finished first)"),
)


def exit_codes_epilog() -> str:
    """The ``Exit status`` paragraph of ``scened --help`` (click keeps ``\\b`` blocks as
    written)."""
    rows = "\n".join(f"  {code:<4}{meaning}" for code, meaning in EXIT_CODES)
    return f"\b\nExit status:\n{rows}"


class ScenedUsageError(click.ClickException):
    """A :class:`ScenedError` as click prints it: one line a problem, its own exit code."""

    def __init__(self, error: ScenedError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        for line in self.format_message().splitlines():
            click.echo(f"Error: {line}", file=file, err=file is None)


class ScenedGroup(click.Group):
    """A click group that turns :class:`ScenedError` (and stray OSErrors) into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ScenedError as exc:
            log.debug("command failed", exc_info=True)
            raise ScenedUsageError(exc) from exc
        except BrokenPipeError:
            raise  # the reader stopped reading: click's main ends quietly
        except OSError as exc:
            log.debug("command failed", exc_info=True)
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
