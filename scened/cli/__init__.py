"""The ``scened`` command line.  Each sub-command lives in its own module.

Plugins add commands through the ``register_commands`` hook; they are collected
only when a command name is not a built-in one (or for ``--help``), so that
``scened run`` never waits for, or breaks on, another plugin's commands.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection
from typing import Any

import click
import pluggy

from scened import __version__
from scened.cli.classify import classify_cmd
from scened.cli.config_cmd import config_cmd
from scened.cli.errors import ScenedGroup, exit_codes_epilog
from scened.cli.eval_cmd import eval_cmd
from scened.cli.learn import labels_cmd, learn_cmd
from scened.cli.plugins_cmd import plugins_cmd
from scened.cli.run import run_cmd
from scened.cli.serve import serve_cmd
from scened.cli.status import status_cmd
from scened.cli.untag import untag_cmd
from scened.metadata.lease import ignore_lease_breaks
from scened.plugins import get_plugin_manager

log = logging.getLogger(__name__)


def plugin_commands(pm: pluggy.PluginManager, taken: Collection[str]) -> dict[str, click.Command]:
    """The commands that each plugin's ``register_commands`` adds, by name.

    Each plugin fills a group of its own: one that raises is logged and adds
    nothing, and a name in ``taken`` (the built-in commands) or already added by an
    earlier plugin is logged and left out, so no plugin replaces another's command.
    """
    found: dict[str, click.Command] = {}
    for impl in pm.hook.register_commands.get_hookimpls():
        group = click.Group(impl.plugin_name)
        try:
            arguments = {"cli": group}
            impl.function(*(arguments[name] for name in impl.argnames))  # as pluggy calls
        except Exception as exc:  # a broken plugin must never break the command line
            log.warning("skipping the commands of plugin %r: %s: %s",
                        impl.plugin_name, type(exc).__name__, exc)  # fmt: skip
            continue
        for name, command in group.commands.items():
            if name in taken or name in found:
                log.warning("plugin %r: command %r is taken; left out", impl.plugin_name, name)
            else:
                found[name] = command
    return found


class _ScenedCli(ScenedGroup):
    """The ``scened`` group: its built-in commands, then those the plugins add."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._from_plugins(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._from_plugins(ctx).get(cmd_name)

    def _from_plugins(self, ctx: click.Context) -> dict[str, click.Command]:
        """Collected once per invocation (``ctx.meta`` is shared by the whole run)."""
        meta: dict[str, Any] = ctx.meta
        if "scened.plugin_commands" not in meta:
            meta["scened.plugin_commands"] = plugin_commands(get_plugin_manager(), self.commands)
        commands: dict[str, click.Command] = meta["scened.plugin_commands"]
        return commands


@click.group(cls=_ScenedCli, epilog=exit_codes_epilog())
@click.version_option(__version__, prog_name="scened")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Tag photo libraries with camera-scene keywords that photo tools can read."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ignore_lease_breaks()  # before any worker thread: see scened.metadata.lease


main.add_command(classify_cmd)
main.add_command(plugins_cmd)
main.add_command(untag_cmd)
main.add_command(run_cmd)
main.add_command(status_cmd)
main.add_command(config_cmd)
main.add_command(serve_cmd)
main.add_command(eval_cmd)
main.add_command(labels_cmd)
main.add_command(learn_cmd)
