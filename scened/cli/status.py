"""``scened status``: what scened knows about each library."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scened.cli.config_cmd import config_option
from scened.config import Config, LibraryConfig, load_config
from scened.daemon.scan import Scanner
from scened.daemon.state import StateDB
from scened.errors import ScenedError


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
        for library in libraries:
            report = _library_report(library, state, scan=not no_scan)
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


def _library_report(library: LibraryConfig, state: StateDB, *, scan: bool) -> dict[str, object]:
    stats = state.library_stats(library.name)
    report: dict[str, object] = {
        "library": library.name,
        "path": str(library.path),
        "known": stats.known,
        "tagged": stats.tagged,
        "without_tag": stats.untagged,
        "pending": _pending(library, state) if scan else None,
        "failed": stats.failed,
        "last_run": stats.last_run,
        "last_run_interrupted": stats.last_run_interrupted,
        "model": stats.model_id,
    }
    return report


def _pending(library: LibraryConfig, state: StateDB) -> int | str:
    """Photos on disk with no record, or whose stat or policy changed since."""
    pending = 0
    try:
        for entry in Scanner(library.path, library.include, library.exclude):
            record = state.get(entry.path)
            if (
                record is None
                or record.signature != entry.signature
                or (record.policy != library.policy_key)
            ):
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
