"""``scened status``: what scened knows about each library."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from scened.cli.config_cmd import config_option
from scened.config import Config, LibraryConfig, load_config
from scened.daemon.decision import Verdict, verdict
from scened.daemon.scan import Scanner
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.model.registry import expected_model_id
from scened.plugins import get_plugin_manager


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--no-scan", is_flag=True, help="Do not walk the folders (pending is then not counted)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a library.")
@config_option
def status(paths: tuple[Path, ...], no_scan: bool, as_json: bool,
           config_path: Path | None) -> None:  # fmt: skip
    """Per library: photos known, tagged, pending, failed, last run and model.

    Pending photos are those on disk that are new or changed since they were
    recorded (found by a walk of the folder, which reads no photo).
    """
    config = load_config(config_path)
    state = StateDB.open(config.state_dir, dry_run=True)
    try:
        libraries = [config.library_for(p) for p in paths] or _known_libraries(config, state)
        if not libraries:
            click.echo("no libraries configured and none run yet (scened run --once PATH)")
        model_id = expected_model_id(get_plugin_manager(), config.model.path, config.model.name)
        for library in libraries:
            report = _library_report(library, state, scan=not no_scan, model_id=model_id)
            click.echo(json.dumps(report, ensure_ascii=False) if as_json else _text(report))
    finally:
        state.close()


def _known_libraries(config: Config, state: StateDB) -> list[LibraryConfig]:
    """The configured libraries, then those only run ad hoc (named by their path)."""
    libraries = list(config.libraries)
    configured = {library.name for library in libraries}
    for name in state.library_names():
        if name not in configured and Path(name).is_absolute():
            libraries.append(config.library_for(Path(name)))
    return libraries


def _library_report(
    library: LibraryConfig, state: StateDB, *, scan: bool, model_id: str | None
) -> dict[str, object]:
    stats = state.library_stats(library.name)
    # a model whose id cannot be known without loading it: the last run's is assumed
    model_id = model_id or stats.model_id or ""
    report: dict[str, object] = {
        "library": library.name,
        "path": str(library.path),
        "known": stats.known,
        "tagged": stats.tagged,
        "without_tag": stats.untagged,
        "pending": _pending(library, state, model_id) if scan else None,
        "failed": stats.failed,
        "last_run": stats.last_run,
        "last_run_interrupted": stats.last_run_interrupted,
        "model": stats.model_id,
    }
    return report


def _pending(library: LibraryConfig, state: StateDB, model_id: str) -> int | str:
    """Photos ``scened run`` would work on: the same decision as the run's
    (:func:`scened.daemon.decision.verdict`): new, changed, or another model or policy."""
    pending = 0
    known = state.known(library.name, model_id, library.policy_key)
    try:
        for entry in Scanner(library.path, library.include, library.exclude):
            decided = verdict(known.get(os.fsencode(entry.path)), entry.signature)
            if decided is Verdict.NEEDS_WORK:
                pending += 1
    except ScenedError as exc:  # a missing library folder, reported in place of the count
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
