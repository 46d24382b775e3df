"""The one place where errors become a message on stderr and an exit code."""

from __future__ import annotations

import logging
from typing import Any

import click

from scened.errors import ScenedError

log = logging.getLogger(__name__)


class ScenedUsageError(click.ClickException):
    """A :class:`ScenedError` as click prints it: one line, the error's own exit code."""

    def __init__(self, error: ScenedError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class ScenedGroup(click.Group):
    """A click group that turns :class:`ScenedError` (and stray OSErrors) into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ScenedError as exc:
            log.debug("command failed", exc_info=True)
            raise ScenedUsageError(exc) from exc
        except OSError as exc:
            log.debug("command failed", exc_info=True)
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
