"""``scened run``: tag libraries once (``--once``) or keep them tagged (the daemon)."""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from scened.cli.config_cmd import config_option
from scened.cli.hints import photo_manager_hint
from scened.cli.report import CliReporter
from scened.config import load_config
from scened.daemon.scheduler import Daemon
from scened.daemon.service import (
    classifier_from_config,
    libraries_for,
    run_library,
    settings_for,
)
from scened.errors import ConfigError, ScenedError
from scened.formats import format_of
from scened.model.remote import RemoteClassifier
from scened.plugins import get_plugin_manager

if TYPE_CHECKING:
    import pluggy

    from scened.config import Config
    from scened.daemon.cluster import Cluster
    from scened.model.runtime import Classifier


@click.command("run")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--once", is_flag=True, help="Scan once and exit (default: run as a daemon).")
@click.option("--dry-run", is_flag=True, help="Show what would be written; change nothing.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Retry photos that failed before even if they did not change.",
)
@click.option(
    "--settle",
    "settle_seconds",
    type=click.FloatRange(min=0),
    help="With --once: read a new or changed photo only once it has been still this many "
    "seconds, waiting for it a bounded while (default: [pipeline] settle_seconds, else 3 "
    "at a terminal and 0 from a script).",
)
@click.option(
    "--remote",
    "remote",
    multiple=True,
    metavar="URL",
    help="Classify on this scened serve (repeatable; instead of [model] remote, also "
    "for the daemon, across reloads), e.g. http://desktop:8080.",
)
@click.option(
    "--dask",
    metavar="ADDRESS",
    help="With --once: tag on the workers of this Dask scheduler (instead of [cluster] "
    "scheduler), e.g. tcp://scheduler:8786; needs the cluster extra.",
)
@config_option
def run_cmd(
    paths: tuple[Path, ...], once: bool, dry_run: bool, retry_failed: bool,
    settle_seconds: float | None, remote: tuple[str, ...], config_path: Path | None,
    dask: str | None = None,
) -> None:  # fmt: skip
    """Tag new and changed photos in PATHS (or in the configured libraries).

    PATHS are folders or photos.  One inside a configured library is tagged with that
    library's settings and recorded in its state, only that part being scanned; any
    other is a library of its own (a photo: its folder's, limited to that photo).

    With --once: scan, print a summary and exit 1 if any photo failed.  Without it:
    scan each configured library on its schedule until stopped (Ctrl-C, or systemctl
    stop); systemctl reload (SIGHUP) reads the configuration again.
    """
    if not once and dask:
        raise click.UsageError("--dask goes with --once: the daemon tags on this machine")
    if not once:
        if paths or dry_run or settle_seconds is not None:
            raise click.UsageError("folders, --dry-run and --settle go with --once; "
                                   "the daemon scans the configured libraries")  # fmt: skip
        raise SystemExit(Daemon(config_path, remote=remote, reporter=CliReporter()).run())
    for path in paths:
        if path.is_file() and format_of(path) is None:
            raise ScenedError("not a photo scened tags (by its name's suffix)", path)
    config = load_config(config_path)
    libraries = libraries_for(config, paths)
    if not libraries:
        raise ConfigError("nothing to scan: give folders or configure [[libraries]]",
                          config.source, key="libraries")  # fmt: skip
    if remote:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, remote=remote))
    pm = get_plugin_manager()
    classifier = classifier_from_config(config, pm)
    if isinstance(classifier, RemoteClassifier):
        classifier.check()  # a wrong token or model: one line now, not one per photo
    settings = settings_for(config, dry_run=dry_run, retry_failed=retry_failed)
    if settle_seconds is not None:
        settings = dataclasses.replace(settings, settle_seconds=settle_seconds)
    scheduler = dask or config.cluster.scheduler
    cluster = _open_cluster(scheduler, config, pm, classifier) if scheduler else None
    tag = run_library if cluster is None else cluster.run_library
    stop, interrupted = _stop_on_signals()
    reporter = CliReporter()
    summaries = []
    for library in libraries:
        if stop.is_set():
            break
        summaries.append(tag(library, config=config, classifier=classifier, pm=pm,
                             settings=settings, stop=stop, progress=reporter.progress))  # fmt: skip
    if cluster is not None:
        cluster.close()
    for summary in summaries:
        reporter.summary(summary)
    if not dry_run:
        photo_manager_hint(config.state_dir, sys.stderr, tagged=sum(s.tagged for s in summaries))
    if interrupted.is_set():
        raise SystemExit(130)  # the shell's convention for "stopped by Ctrl-C"
    if not all(summary.ok for summary in summaries):
        raise SystemExit(1)


def _open_cluster(
    address: str, config: Config, pm: pluggy.PluginManager, classifier: Classifier
) -> Cluster:
    """The Dask cluster at ``address`` (:mod:`scened.daemon.cluster`), or one line saying
    which extra brings it."""
    try:
        from scened.daemon.cluster import open_cluster
    except ImportError as exc:
        raise ScenedError(f"--dask needs the cluster extra (pip install 'scened[cluster]'): "
                          f"{exc}") from None  # fmt: skip
    return open_cluster(address, config=config, pm=pm, classifier=classifier)


def _stop_on_signals() -> tuple[threading.Event, threading.Event]:
    """SIGTERM and a first Ctrl-C let the photos in hand finish and be recorded.

    Returns ``(stop, interrupted)``: both are set by Ctrl-C, only ``stop`` by
    SIGTERM.  A second Ctrl-C aborts at once (photos stay safe: every write is
    atomic), for when finishing takes longer than the user will wait.
    """
    stop, interrupted = threading.Event(), threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        stop.set()
        click.echo("stopping after the photos in hand (Ctrl-C again to abort)", err=True)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_interrupt)
    return stop, interrupted
