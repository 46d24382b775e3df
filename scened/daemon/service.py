"""What ``scened run`` does for a set of libraries: load the model, run each library.

Shared by ``run --once`` and the daemon's scheduled jobs.  The classifier and plugin
manager can be passed in (tests, or a daemon that keeps one model loaded).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pluggy

from scened.config import Config, LibraryConfig
from scened.daemon.jobs import RunSummary
from scened.daemon.lock import LibraryBusyError, library_lock
from scened.daemon.notify import Notifier
from scened.daemon.progress import LogProgress, ProgressFactory
from scened.daemon.runner import LibraryRun, RunSettings
from scened.daemon.state import StateDB
from scened.imaging import register_optional_decoders
from scened.learning.personal import personal_for
from scened.model.runtime import Classifier, load_classifier


def classifier_from_config(config: Config, pm: pluggy.PluginManager | None = None) -> Classifier:
    """The model the ``[model]`` table names (``path``, else ``name``, else the bundled one).

    With ``[model] remote`` its batches go to those servers (:mod:`scened.model.remote`);
    the local model is still loaded: its id is what the servers must serve, and it
    classifies when none answers (``remote_fallback = "local"``).
    """
    local = load_classifier(
        config.model.path,
        runtime=config.model.runtime,  # type: ignore[arg-type]
        num_threads=config.model.threads or None,
        name=config.model.name,
        pm=pm,
    )
    if not config.model.remote:
        return local
    from scened.model.remote import remote_classifier, remote_token

    return remote_classifier(
        local,
        config.model.remote,
        token=remote_token(config.model.remote_token),
        fallback=config.model.remote_fallback,
        decode=config.model.remote_decode,
    )


def libraries_for(config: Config, paths: Sequence[Path]) -> list[LibraryConfig]:
    """The libraries rooted at ``paths`` (configured or ad hoc), else all configured ones."""
    if paths:
        return [config.library_for(path) for path in paths]
    return list(config.libraries)


#: The daemon reads a new or changed photo only once it has been unchanged this long.
DAEMON_SETTLE_SECONDS = 60.0
#: ``run --once`` at a terminal waits this long for photos just copied in.
TERMINAL_SETTLE_SECONDS = 3.0


def settings_for(
    config: Config, *, dry_run: bool, retry_failed: bool = False, daemon: bool = False
) -> RunSettings:
    """How runs go: from ``[model]`` and ``[pipeline]``, and whether this is the daemon.

    ``[pipeline] settle_seconds`` overrides the default settle time: a minute for the
    daemon (an unsettled photo is simply left for its next scan), a few seconds for
    ``run --once`` at a terminal (it waits), none for ``run --once`` from a script.
    """
    settle = config.pipeline.settle_seconds
    if settle is None:
        at_terminal = sys.stderr.isatty()
        settle = DAEMON_SETTLE_SECONDS if daemon else TERMINAL_SETTLE_SECONDS * at_terminal
    return RunSettings(
        batch_size=config.model.batch_size,
        readers=config.pipeline.readers,
        writers=config.pipeline.writers,
        queue_size=config.pipeline.queue_size,
        dry_run=dry_run,
        retry_failed=retry_failed,
        settle_seconds=float(settle),
        state_dir=config.state_dir,
        wait_to_settle=not daemon,
    )


def run_library(
    library: LibraryConfig,
    *,
    config: Config,
    classifier: Classifier,
    pm: pluggy.PluginManager,
    settings: RunSettings,
    stop: threading.Event | None = None,
    notifier: Notifier | None = None,
    progress: ProgressFactory = LogProgress,
) -> RunSummary:
    """One scan of ``library`` with its own state connection (safe from any thread).

    ``progress`` makes what the scan reports to as it goes (the command line passes
    a bar or printed lines; by default log lines, as nothing here prints).

    A dry run writes nothing, so it needs no lock; a real run holds the library's
    lock, and a library another process is scanning ends as one library-level error.
    A library with a personal model (``scened learn``) is tagged with it.
    """
    register_optional_decoders()
    try:
        with locked_state(library, config, dry_run=settings.dry_run) as state:
            return LibraryRun(
                library,
                classifier=personal_for(classifier, config.state_dir, library.name),
                pm=pm,
                state=state,
                progress=progress(library.name, notifier),
                settings=settings,
                stop=stop,
            ).run()
    except LibraryBusyError as exc:
        return RunSummary(library.name, dry_run=settings.dry_run, error=exc.message)


@contextlib.contextmanager
def locked_state(library: LibraryConfig, config: Config, *, dry_run: bool) -> Iterator[StateDB]:
    """The library's lock (none for a dry run, which writes nothing) and a state
    connection of its own; a library another process is scanning raises
    :class:`~scened.daemon.lock.LibraryBusyError`.  Every way of running a library (here,
    on a Dask cluster) takes it."""
    lock = (
        contextlib.nullcontext()
        if dry_run
        else library_lock(config.state_dir, f"{library.name}\0{library.path}")
    )
    with lock:
        state = StateDB.open(config.state_dir, dry_run=dry_run)
        try:
            yield state
        finally:
            state.close()
