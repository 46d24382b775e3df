"""``scened status``: what scened knows about each library, and from which database.

The database is the one in the configuration's ``state_dir``, named on the first
line, so an administrator sees at once whether it is the service's (give the
service's configuration: ``--config /etc/scened/config.toml``).  Pending photos are
counted with the run's own decision (:func:`scened.daemon.decision.verdict`) and the
model id the run would record (a library's personal model included), so ``status``
never says 0 while ``run`` would re-tag everything.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from scened.cli.config_cmd import config_option
from scened.config import Config, LibraryConfig, load_config
from scened.daemon.decision import Verdict, verdict
from scened.daemon.service import classifier_from_config
from scened.daemon.snapshot import compare, scanner_for
from scened.daemon.state import DB_NAME, StateDB
from scened.errors import LibraryError, StateError
from scened.learning.personal import head_path, personal_for
from scened.model.registry import expected_model_id
from scened.model.runtime import Classifier
from scened.plugins import get_plugin_manager


@click.command("status")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--no-scan", is_flag=True, help="Do not walk the folders (pending is then not counted)."
)
@click.option("--all", "show_all", is_flag=True, help="Also folders run once that no longer exist.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a library.")
@config_option
def status_cmd(paths: tuple[Path, ...], no_scan: bool, show_all: bool, as_json: bool,
           config_path: Path | None) -> None:  # fmt: skip
    """Per library: photos known, tagged, pending, failed, last run and model.

    Reads what scened remembers of each photo: the state database in the
    configuration's state_dir, named on the first line (give the service's
    configuration to see the service's).  PATHS: a library, or a folder or photo
    in one, for that part only.
    Pending photos are those the next run will tag: new, changed, or tagged by another
    model or policy (found by a walk of the folder, which reads no photo).  Photos that
    failed are counted as failed only; a run retries them once they change (or with
    --retry-failed).
    """
    config = load_config(config_path)
    database = config.state_dir / DB_NAME
    if not as_json:
        exists = "" if database.is_file() else " (none yet: nothing has run with this state_dir)"
        click.echo(f"state: {database}{exists}")
    state = _open_state(config.state_dir)
    try:
        libraries = [config.library_for(p) for p in paths] or _known_libraries(
            config, state, show_all=show_all
        )
        if not libraries:
            click.echo("no libraries configured and none run yet (scened run --once PATH)")
        models = _RunModels(config)
        for library in libraries:
            report = _library_report(library, state, scan=not no_scan, models=models)
            report["state"] = str(database)
            click.echo(json.dumps(report, ensure_ascii=False) if as_json else _text(report))
    finally:
        state.close()


def _open_state(state_dir: Path) -> StateDB:
    """The state database, read-only; an error if it is there but cannot be read (a
    dry-run open falls back to an empty one, which would show nothing as known)."""
    state = StateDB.open(state_dir, dry_run=True)
    database = state_dir / DB_NAME
    if database.is_file() and not state.readonly:
        state.close()
        raise StateError(
            "cannot be read as this user (another user's state, such as the service's?): "
            "run scened status as the user scened runs as, e.g. sudo -u scened",
            database,
        )
    return state


def _known_libraries(config: Config, state: StateDB, *, show_all: bool) -> list[LibraryConfig]:
    """The configured libraries, then the folders only run ad hoc (named by their path):
    each once, none inside a configured library (it is listed as that library), and
    only folders that still exist unless ``show_all``."""
    libraries = list(config.libraries)
    listed = {library.name for library in libraries}
    for name in state.library_names():
        folder = Path(name)
        if name in listed or not folder.is_absolute():
            continue
        if any(folder.is_relative_to(library.path) for library in config.libraries):
            continue
        if show_all or folder.is_dir():
            libraries.append(config.library_for(folder))
            listed.add(name)
    return libraries


class _RunModels:
    """The model id a run would record for each library, loading the model only when
    that id cannot be known without it (a personal model, or a model that gives no id)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pm = get_plugin_manager()
        self.base = expected_model_id(self.pm, config.model.path, config.model.name)

    def model_id(self, library: LibraryConfig) -> str:
        personal = head_path(self.config.state_dir, library.name).is_file()
        if self.base is not None and not personal:
            return self.base
        return personal_for(self.classifier, self.config.state_dir, library.name).model_id

    @functools.cached_property
    def classifier(self) -> Classifier:
        """The configured model, loaded as ``scened run`` loads it (once)."""
        return classifier_from_config(self.config, self.pm)


def _library_report(
    library: LibraryConfig, state: StateDB, *, scan: bool, models: _RunModels
) -> dict[str, object]:
    stats = state.library_stats(library.name, under=library.scope)
    pending = _pending(library, state, models.model_id(library)) if scan else None
    return {
        "library": library.name,
        "path": str(library.scope or library.path),
        "known": stats.known,
        "tagged": stats.tagged,
        "without_tag": stats.untagged,
        "pending": pending,
        "failed": stats.failed,
        "last_run": stats.last_run,
        "last_run_interrupted": stats.last_run_interrupted,
        "model": stats.model_id,
    }


def _pending(library: LibraryConfig, state: StateDB, model_id: str) -> int | str:
    """Photos ``scened run`` would tag (:func:`scened.daemon.decision.verdict`): new,
    changed, or another model or policy; a photo that failed counts as failed only."""
    pending = 0
    scanner = scanner_for(library)
    comparison = compare(scanner, state, library, model_id)
    try:
        for entry, recorded in comparison:
            failed = recorded is not None and not recorded.tagged
            if not failed and verdict(recorded, entry.signature) is Verdict.NEEDS_WORK:
                pending += 1
    except LibraryError as exc:  # a missing library folder, reported in place of the count
        return f"unknown ({exc.message})"
    return pending


def _text(report: dict[str, object]) -> str:
    pending = "not counted" if report["pending"] is None else report["pending"]
    last = report["last_run"] or "never"
    if report["last_run_interrupted"]:
        last = f"{last} (interrupted)"
    return (
        f"{report['library']} ({report['path']})\n"
        f"  known {report['known']}, tagged {report['tagged']} "
        f"({report['without_tag']} without a confident tag), pending {pending}, "
        f"failed {report['failed']}\n"
        f"  last run {last}, model {report['model'] or 'none yet'}"
    )
