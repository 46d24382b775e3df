"""``scened classify PATH...``: top-3 classes and the tags ``scened run`` would write, per image.

A folder stands for every photo below it, found by the library scanner
(:class:`scened.daemon.scan.Scanner`), so exactly the files a run would tag: the
suffixes of :mod:`scened.formats`, hidden files and NAS thumbnail folders left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from scened.cli.model_options import load_model, model_options, policy_option
from scened.daemon.scan import Scanner
from scened.errors import ScenedError
from scened.imaging import load_for_model
from scened.model import predict_images
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.types import Prediction


@click.command("classify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@model_options
@policy_option("Tag policy used to choose the tags (default: the one scened run writes with).")
def classify_cmd(
    paths: tuple[Path, ...],
    as_json: bool,
    model_dir: Path | None,
    model_name: str | None,
    runtime: str,
    policy_name: str,
) -> None:
    """Print the top 3 classes and the chosen tags for each photo in PATHS.

    PATHS are photos or folders (every photo below a folder, as scened run finds
    them).  A photo that cannot be read is reported and the others still go through;
    the exit status is 1 when any failed.
    """
    pm = get_plugin_manager()
    classifier = load_model(model_dir, model_name, runtime, pm)
    policy = build_policy(pm, policy_name, {}, classifier=classifier)
    failures = 0
    for path in photos_in(paths):
        try:
            pixels = load_for_model(path, size=classifier.input_size)
        except ScenedError as exc:
            failures += 1
            _report_failure(path, exc, as_json)
            continue
        (prediction,) = predict_images(classifier, pixels[None])
        tags = policy.choose(prediction)
        _report(path, prediction, tags, as_json)
    if failures:
        raise SystemExit(1)


def photos_in(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path given, a folder replaced by the photos below it (in name order)."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        found = 0
        for entry in Scanner(path):
            found += 1
            yield entry.path
        if not found:
            click.echo(f"{path}: no photos in this folder", err=True)


def _report(path: Path, prediction: Prediction, tags: list[str], as_json: bool) -> None:
    top = prediction.top(3)
    if as_json:
        record = {"path": str(path), "top": [[c, round(p, 6)] for c, p in top], "tags": tags}
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    click.echo(f"{path}")
    for name, probability in top:
        click.echo(f"  {name:<14} {probability:6.1%}")
    click.echo(f"  tags: {', '.join(tags) or '(none: no confident tag)'}")


def _report_failure(path: Path, error: ScenedError, as_json: bool) -> None:
    reason = error.message
    if as_json:
        click.echo(json.dumps({"path": str(path), "error": reason}, ensure_ascii=False))
    else:
        click.echo(f"{path}: error: {reason}", err=True)
