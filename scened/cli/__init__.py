"""The ``scened`` command line.  Each sub-command lives in its own module."""

from __future__ import annotations

import logging
import sys

import click

from scened import __version__
from scened.cli.classify import classify
from scened.cli.config_cmd import config_group
from scened.cli.errors import ScenedGroup, exit_codes_epilog
from scened.cli.eval_cmd import eval_command
from scened.cli.learn import labels, learn
from scened.cli.plugins_cmd import plugins
from scened.cli.run import run
from scened.cli.serve import serve
from scened.cli.status import status
from scened.cli.untag import untag
from scened.metadata.lease import ignore_lease_breaks


@click.group(cls=ScenedGroup, epilog=exit_codes_epilog())
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


main.add_command(classify)
main.add_command(plugins)
main.add_command(untag)
main.add_command(run)
main.add_command(status)
main.add_command(config_group)
main.add_command(serve)
main.add_command(eval_command)
main.add_command(labels)
main.add_command(learn)
