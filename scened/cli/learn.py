"""``scened labels`` and ``scened learn``: the user's corrections, and a personal model.

``scened labels`` lists the labels scened has gathered (keywords corrected in a
photo manager, decisions on the review page), or exports them as a
``<Class>/<photo>`` tree of symbolic links that ``scened eval`` and training read.
``scened learn`` fits a library's personal model on them and adopts it only when it
agrees with the labels more often than the bundled model, on photos it was not
fitted on; ``--reset`` goes back to the bundled model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from scened.cli.config_cmd import config_option
from scened.config import Config, load_config
from scened.daemon.service import classifier_from_config
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.learning.learn import learn_library
from scened.learning.personal import reset
from scened.learning.store import Label, list_labels
from scened.model.runtime import feature_classifier
from scened.plugins import get_plugin_manager


def library_names(config: Config, state: StateDB, given: tuple[str, ...]) -> list[str]:
    """Configured names as given, folders as the library they belong to (configured or
    ad hoc); none given: every configured library and every one that has labels."""
    if not given:
        names = [lib.name for lib in config.libraries]
        names += sorted({lb.library for lb in list_labels(state)} - set(names))
        return names
    configured = {lib.name for lib in config.libraries}
    return [
        name if name in configured or not Path(name).is_dir()
        else config.library_for(Path(name)).name
        for name in given
    ]  # fmt: skip


@click.command("labels")
@click.argument("libraries", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a label.")
@click.option(
    "--export", "export_dir", type=click.Path(path_type=Path, file_okay=False),
    help="Write the positive labels as DIR/<Class>/<link to the photo>.",
)  # fmt: skip
@config_option
def labels_cmd(libraries: tuple[str, ...], as_json: bool, export_dir: Path | None,
           config_path: Path | None) -> None:  # fmt: skip
    """The labels learnt from your corrections (all libraries, or LIBRARIES)."""
    config = load_config(config_path)
    state = StateDB.open(config.state_dir, dry_run=True)
    try:
        found = list_labels(state, library_names(config, state, libraries) if libraries else None)
    finally:
        state.close()
    if export_dir is not None:
        written = export(found, export_dir)
        click.echo(f"{written} photos linked under {export_dir} (one folder a class)")
        return
    for label in found:
        if as_json:
            click.echo(json.dumps({
                "library": label.library, "path": os.fsdecode(label.path),
                "class": label.class_name, "positive": label.positive,
                "origin": label.origin, "created_at": label.created_at,
            }, ensure_ascii=False))  # fmt: skip
        else:
            sign = "is" if label.positive else "is not"
            click.echo(f"{label.path}: {sign} {label.class_name} ({label.origin}, "
                       f"{label.created_at})")  # fmt: skip
    if not as_json:
        click.echo(f"{len(found)} labels")


def export(found: list[Label], folder: Path) -> int:
    """Symbolic links ``folder/<Class>/<name>`` to each positively labelled photo."""
    written = 0
    for label in found:
        if not label.positive:
            continue
        target_dir = folder / label.class_name
        target_dir.mkdir(parents=True, exist_ok=True)
        link = target_dir / label.path.name
        counter = 1
        while link.is_symlink() or link.exists():
            if link.is_symlink() and link.readlink() == label.path:
                break
            link = target_dir / f"{label.path.stem}-{counter}{label.path.suffix}"
            counter += 1
        else:
            link.symlink_to(label.path)
            written += 1
    return written


@click.command("learn")
@click.argument("libraries", nargs=-1)
@click.option("--reset", "reset_model", is_flag=True, help="Go back to the bundled model.")
@click.option("--dry-run", is_flag=True, help="Measure, but save nothing.")
@config_option
def learn_cmd(libraries: tuple[str, ...], reset_model: bool, dry_run: bool,
          config_path: Path | None) -> None:  # fmt: skip
    """Fit a personal model on the labels of LIBRARIES (configured names or folders).

    It is adopted only when it agrees with your labels more often than the bundled
    model (cross-validated: each photo scored by a model fitted without it); the next
    `scened run` re-scores the library from stored features, without decoding it.
    """
    config = load_config(config_path)
    state = StateDB.open(config.state_dir, dry_run=dry_run)
    failed = False
    try:
        names = library_names(config, state, libraries)
        if reset_model:
            for name in names:
                done = not dry_run and reset(config.state_dir, name)
                click.echo(
                    f"{name}: {'back to the bundled model' if done else 'no personal model'}"
                )
            return
        base = feature_classifier(classifier_from_config(config, get_plugin_manager()))
        if base is None:
            raise ScenedError("this model gives no features to learn from (use a scened model)")
        for name in names:
            try:
                result = learn_library(state, config.state_dir, name, base, dry_run=dry_run)
            except ScenedError as exc:
                click.echo(f"{exc}", err=True)
                failed = True
                continue
            c = result.comparison
            verdict = (
                f"adopted ({result.model_id})" if result.adopted and not dry_run
                else "would be adopted (dry run)" if c.better
                else "not adopted: the bundled model stays"
            )  # fmt: skip
            click.echo(
                f"{name}: {c.labels} labels on {c.photos} photos; agreement with your labels "
                f"(cross-validated): bundled model {c.bundled:.0%}, personal model "
                f"{c.personal:.0%}: {verdict}"
            )
    finally:
        state.close()
    if failed:
        raise SystemExit(1)
