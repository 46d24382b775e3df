"""``scened eval DIR``: score the model and a tag policy on a labelled folder tree.

The tree is ``DIR/<Class>/<photo>`` (see :mod:`scened.evaluation`, which computes the
figures).  Photos are decoded exactly as ``scened run`` decodes them and classified in
batches; a photo that cannot be decoded is reported and the others are still scored
(exit status 1).
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from scened.cli.model_options import load_model, model_options, policy_option
from scened.daemon.jobs import describe
from scened.errors import ScenedError
from scened.evaluation import (
    ECE_BINS,
    Dataset,
    EvalReport,
    Failure,
    LabelledPhoto,
    PhotoRecord,
    build_report,
    discover,
    read_acceptable,
    to_json,
)
from scened.imaging import load_for_model
from scened.model import Classifier, predict_images
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.types import Policy

#: Photos decoded at once while the model works on a batch (Pillow releases the GIL).
DECODE_THREADS = 4
#: Confusions listed in the table.
TOP_CONFUSIONS = 10


@click.command("eval")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@model_options
@policy_option("Tag policy whose tags are scored (default: the one scened run writes with).")
@click.option(
    "--acceptable",
    "acceptable_file",
    type=click.Path(path_type=Path),
    help="TSV of other acceptable classes: <relative path><TAB><Class>[,<Class>…] a line.",
)
@click.option(
    "--ignore-unknown-classes",
    is_flag=True,
    help="Skip folders that are not one of the model's classes instead of failing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Photos classified at once.",
)
def eval_cmd(
    directory: Path,
    model_dir: Path | None,
    model_name: str | None,
    runtime: str,
    policy_name: str,
    acceptable_file: Path | None,
    ignore_unknown_classes: bool,
    as_json: bool,
    batch_size: int,
) -> None:
    """Score the model and a tag policy on the labelled photos in DIR.

    DIR holds one folder per class, named as the model names it: DIR/<Class>/<photo>.
    Prints accuracy, per-class recall, the most frequent confusions, how often the
    policy's tags are right, and calibration (how well the probabilities match how
    often the model is right).  Exit status 1 when some photos could not be decoded
    (they are listed; the others are scored).
    """
    pm = get_plugin_manager()
    classifier = load_model(model_dir, model_name, runtime, pm)
    policy = build_policy(pm, policy_name, {}, classifier=classifier)
    dataset = discover(directory, classifier.classes, ignore_unknown=ignore_unknown_classes)
    if acceptable_file is not None:
        dataset = read_acceptable(acceptable_file, dataset, classifier.classes)
    records, failures = _score(dataset, classifier, policy, batch_size)
    report = build_report(
        records,
        failures,
        model_id=classifier.model_id,
        policy=policy_name,
        ignored_folders=dataset.ignored_folders,
    )
    if as_json:
        click.echo(json.dumps(to_json(report), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(format_table(report)))
    if report.failures:
        raise SystemExit(1)


def _score(
    dataset: Dataset, classifier: Classifier, policy: Policy, batch_size: int
) -> tuple[list[PhotoRecord], list[Failure]]:
    """Decode, classify and tag every photo; a photo that cannot be decoded is a failure."""
    records: list[PhotoRecord] = []
    failures: list[Failure] = []

    def decode(photo: LabelledPhoto) -> np.ndarray | str:
        try:
            return load_for_model(photo.path, size=classifier.input_size)
        except (ScenedError, OSError) as exc:
            return describe(exc)

    photos = dataset.photos
    bar = tqdm(
        total=len(photos), desc="eval", unit="photo", file=sys.stderr,
        dynamic_ncols=True, disable=not sys.stderr.isatty(),
    )  # fmt: skip
    with bar, ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="scened-decode") as pool:
        for start in range(0, len(photos), batch_size):
            chunk = photos[start : start + batch_size]
            good: list[tuple[LabelledPhoto, np.ndarray]] = []
            for photo, outcome in zip(chunk, pool.map(decode, chunk), strict=True):
                if isinstance(outcome, str):
                    failures.append(Failure(photo.relative, outcome))
                    if not bar.disable:  # at a terminal, say so now; the report lists it
                        bar.write(f"{photo.path}: {outcome}", file=sys.stderr)
                else:
                    good.append((photo, outcome))
            if good:
                predictions = predict_images(classifier, np.stack([px for _, px in good]))
                for (photo, _), prediction in zip(good, predictions, strict=True):
                    records.append(
                        PhotoRecord(
                            path=photo.relative,
                            truth=photo.truth,
                            acceptable=photo.acceptable,
                            top=tuple(prediction.top(3)),
                            tags=tuple(policy.choose(prediction)),
                        )
                    )
            bar.update(len(chunk))
    return records, failures


def format_table(report: EvalReport) -> list[str]:
    """The report as readable lines: overall figures, per-class recall, confusions, failures."""
    classes = len(report.per_class)
    lines = [
        f"{report.photos} photos scored in {classes} classes "
        f"(model {report.model_id}, policy {report.policy})",
        "",
        _figure("top-1 accuracy", report.top1_accuracy, report.top1_correct, report.photos),
        _figure(
            "top-1 acceptable",
            report.top1_acceptable,
            report.top1_acceptable_correct,
            report.photos,
        ),
        _figure("top-2 accuracy", report.top2_accuracy, report.top2_correct, report.photos),
        _figure("tag hit rate", report.tag_hit_rate, report.tag_hits, report.photos),
        _figure("tag precision", report.tag_precision, report.tags_acceptable, report.tags_written),
        _figure("photos left untagged", report.untagged_share, report.untagged, report.photos),
        f"  {'calibration (ECE)':<20} {_percent(report.ece):>7}  ({ECE_BINS} bins)",
        f"  {'failed':<20} {len(report.failures):>7}",
    ]
    if report.ignored_folders:
        lines.append(f"  ignored folders: {', '.join(report.ignored_folders)}")
    if report.per_class:
        lines += ["", "Per-class recall, worst first:"]
        width = max(len(c.name) for c in report.per_class)
        lines += [
            f"  {c.name:<{width}}  {c.recall:7.1%}  ({c.correct}/{c.support})"
            for c in report.per_class
        ]
    if report.confusions:
        lines += ["", "Most frequent confusions (label → top-1):"]
        lines += [
            f"  {c.count:5}  {c.truth} → {c.predicted}" for c in report.confusions[:TOP_CONFUSIONS]
        ]
    if report.failures:
        lines += ["", "Not scored:"]
        lines += [f"  {f.path}: {f.reason}" for f in report.failures]
    return lines


def _figure(label: str, rate: float | None, part: int, whole: int) -> str:
    return f"  {label:<20} {_percent(rate):>7}  ({part}/{whole})"


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"
