"""Writes a model folder's MODEL_CARD.md from its metrics.json and model.json.

``python -m scened_training.model_card MODEL_DIR [--bundle-to DEST]`` writes the card
and, with ``--bundle-to``, copies the files that are shipped with scened (the TFLite
model, labels, head weights, metadata, metrics and card; not the 10 MB Keras file).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click
import numpy as np

from scened.evaluation import EvalReport, PhotoRecord, build_report
from scened.model.fusion import Fusion
from scened.model.imagenet_map import load_mapping

from .export import sha256_of
from .selection import precision_writes

SHIPPED = (
    "model.tflite", "labels.txt", "head.npz", "imagenet_scenes.tsv", "model.json",
    "metrics.json", "MODEL_CARD.md",
)  # fmt: skip
#: Below this many training photos a class is reported as not reliably learnt.
FEW_PHOTOS = 20


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def per_class_table(metrics: dict[str, Any], meta: dict[str, Any] | None = None) -> str:
    held = metrics.get("source_held_out", {}).get("per_class", {})
    policy = (meta or {}).get("policies", {}).get("precision", {})
    thresholds = policy.get("class_thresholds", {})
    rows = [
        "| class | train photos | random split: photos | precision | recall "
        "| unseen sources: photos | recall | keyword written from p ≥ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in metrics["per_class"].items():
        h = held.get(name, {"support": 0, "recall": None})
        threshold = thresholds.get(name, policy.get("min_probability"))
        written = "never" if threshold is not None and threshold >= 1 else _fmt(threshold)
        rows.append(
            f"| {name} | {m['train_images']} | {m['support']} | {_fmt(m['precision'])} "
            f"| {_fmt(m['recall'])} | {h['support']} | {_fmt(h['recall'])} | {written} |"
        )
    return "\n".join(rows)


def weak_classes(metrics: dict[str, Any], below: float = 0.5) -> list[str]:
    """Classes with few photos, or recognised on fewer than half the photos of unseen sources."""
    held = metrics.get("source_held_out", {}).get("per_class", {})
    weak = []
    for name, m in metrics["per_class"].items():
        recall = held.get(name, {}).get("recall")
        if m["train_images"] + m["support"] < FEW_PHOTOS or recall is None or recall < below:
            weak.append(f"{name} ({'one source only' if recall is None else _fmt(recall)})")
    return weak


def scored_by_eval(model_dir: Path, meta: dict[str, Any]) -> EvalReport | None:
    """The out-of-fold predictions scored by ``scened eval``'s own scorer, tags included.

    The run's ``source_held_out.npz`` holds the head's and the ImageNet classifier's
    outputs for every held-out photo; they are fused as tagging fuses them, tagged
    as the ``precision`` policy tags with the model's own thresholds, and handed to
    :func:`scened.evaluation.build_report`, so the card's tag figures are exactly
    what ``scened eval`` would report on these photos.
    """
    saved = model_dir / "source_held_out.npz"
    if not saved.is_file():
        return None
    classes = tuple(meta["classes"])
    mapping = load_mapping(model_dir / "imagenet_scenes.tsv", classes)
    with np.load(saved) as data:
        fused = Fusion.from_json(meta["fusion"]).apply(
            data["head"], data["imagenet_logits"], mapping
        )
        labels, files = data["labels"], data["files"]
    policy = meta["policies"]["precision"]
    per_class = policy.get("class_thresholds", {})
    first = np.array([per_class.get(c, policy["min_probability"]) for c in classes])
    order, write1, write2 = precision_writes(fused, first, policy["second_probability"])
    records = []
    for i, (row, label, name) in enumerate(zip(fused, labels, files, strict=True)):
        top = tuple((classes[k], float(row[k])) for k in np.argsort(-row)[:3])
        tags = tuple(
            classes[k] for k, on in zip(order[i], (write1[i], write2[i]), strict=True) if on
        )
        records.append(PhotoRecord(str(name), classes[label], frozenset(), top, tags))
    return build_report(records, model_id=meta["id"], policy="precision")


def _eval_lines(report: EvalReport | None) -> str:
    if report is None:
        return ""
    return f"""
Scored again by `scened eval`'s own scorer (`scened.evaluation`) on the same
{report.photos} photos: top-1 {report.top1_accuracy:.3f}, top-2 {report.top2_accuracy:.3f},
tag precision {report.tag_precision:.3f}, a right tag on {report.tag_hit_rate:.1%} of
photos, {report.untagged_share:.1%} left without a keyword, calibration error {report.ece:.3f}.
"""


def _held_out_section(
    metrics: dict[str, Any], meta: dict[str, Any], report: EvalReport | None = None
) -> str:
    held = metrics.get("source_held_out")
    if held is None:
        return "Not measured (trained with `--no-source-held-out`)."
    policy, spec = held["precision_policy"], held["spec_policy"]
    trials = ", ".join(
        f"{t['imagenet_weight']:.1f}: {t['top1']:.3f}" for t in held["imagenet_weight_trials"]
    )
    folds = "\n".join(
        f"| {f['held_out']} | {f['photos']} | {f['top1']:.2f} |" for f in held["folds"]
    )
    fusion = meta.get("fusion", {})
    weight, prior_top1 = fusion.get("imagenet_weight", 0.0), held["imagenet_prior_top1"]
    top1, top2 = held["top1"], held["top2"]
    return f"""Every class with two or more sources was trained again without one source at a time
and tested on it ({len(held["folds"])} folds, {held["photos"]} photos; sources under 40
photos are held out together; {held["fold_epochs"]} epochs each): these photos come from
datasets the head never saw, the closest estimate here of photos unlike the training data.
Every choice below was made on this estimate, never on the random split.

| | top-1 | top-2 |
|---|---:|---:|
| the trained head alone | {held["head_top1"]:.3f} | |
| the ImageNet classifier alone, through `imagenet_scenes.tsv` | {prior_top1:.3f} | |
| **shipped: both fused, prior weight {weight:.1f}** | **{top1:.3f}** | **{top2:.3f}** |

Prior weight tried (held-out top-1): {trials}.
Calibration: temperature {fusion.get("temperature", 1):.2f} (fitted for the lowest log-loss on
these photos); expected calibration error (15 bins) {held["ece_before"]:.3f} for the head alone,
**{held["ece_after"]:.3f}** after fusion and temperature.

**Tags written into photos** (the `precision` policy, scened's default for writing): the top
class when its probability reaches the class's threshold (the last column of the table
below; {policy["min_probability"]:.3f} where a class has too few photos for its own), a
second one when its own p ≥ {policy["second_probability"]:.3f}, otherwise no keyword.
Chosen for a tag precision of at least {policy["target_precision"]:.1f} on these photos with
as many photos tagged as possible:
**tag precision {_pct(policy["tag_precision"])}**, a right tag on {_pct(policy["tag_hit_rate"])}
of photos, {_pct(policy["untagged_share"])} get no keyword. For comparison, the fixed
formula of the `default` policy (still the REST API's default) on the same photos: tag precision
{_pct(spec["tag_precision"])}, a right tag on {_pct(spec["tag_hit_rate"])}, `Unknown` on
{_pct(spec["unknown_share"])}.

{_eval_lines(report)}
| held-out source(s) | photos | top-1 |
|---|---:|---:|
{folds}"""


def render(model_dir: Path, notes: str) -> str:
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    weak = weak_classes(metrics)
    thresholds = meta.get("policies", {}).get("precision", {}).get("class_thresholds", {})
    never = sorted(name for name, value in thresholds.items() if value >= 1)
    files = "\n".join(
        f"| {name} | `{sha256_of(model_dir / name)}` |"
        for name in ("model.tflite", "labels.txt", "head.npz", "imagenet_scenes.tsv")
    )
    settings = metrics["settings"]
    size = meta["input"]["size"]
    return f"""# Model card: `{meta["id"]}`

Created {meta["created"]} by `scened-train --backbone {settings["backbone"]}` (seed
{settings["seed"]}, validation fraction {settings["val_fraction"]},
{settings["augmented_views"]} augmented views per training photo, {metrics["epochs_run"]}
epochs with early stopping on the random split's validation loss).

## Model
{meta["architecture"]}. Input: {size}x{size} RGB, values 0-255, decoded and cropped by
scened's own decoder (the model normalises itself). Weights stored at
{meta["weights_precision"]} precision; BatchNorm folded into the convolutions. Outputs: the
head's probabilities over the 36 scene classes in scened's order (`labels.txt`) and the
backbone's 1000 ImageNet logits, which tagging fuses through `imagenet_scenes.tsv` with the
settings in `model.json` (`scened.model.fusion`).

## Data
{notes}

## Photos of unseen sources (leave-one-source-out)
{_held_out_section(metrics, meta, scored_by_eval(model_dir, meta))}

## Random split (same sources)
A stratified fifth of the training photos ({metrics["validation_images"]} photos), also used for
early stopping: **top-1 {metrics["top1"]:.3f}, top-2 {metrics["top2"]:.3f}** with the shipped
fusion (head alone {metrics.get("head_top1", float("nan")):.3f}). Its photos come from the same
sources as the training photos, so it flatters the model; it decided nothing.

{per_class_table(metrics, meta)}

## What it still cannot do
Recognised on fewer than half the photos of unseen sources, or never tested on one (a single
source): {", ".join(weak) if weak else "none"}. Such classes are mostly left untagged by the
`precision` policy rather than tagged wrongly, but expect misses.

Never written by the `precision` policy: {", ".join(never) if never else "none"}. On
photos of unseen sources the model's confident answers for these classes were wrong more
than one time in ten (memes of animals, Santa photos, cakes, cycling sports…), even when
it recognises most of their own photos; set `class_thresholds` in the library's policy to
have them written anyway.

## Files
| file | sha256 |
|---|---|
{files}
"""


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--notes",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Markdown describing the training data (sources, licences, weaknesses).",
)
@click.option(
    "--bundle-to",
    type=click.Path(path_type=Path, file_okay=False),
    help="Copy the shipped files into this folder.",
)
def main(model_dir: Path, notes: Path | None, bundle_to: Path | None) -> None:
    """Write MODEL_DIR/MODEL_CARD.md (and copy the shipped files with --bundle-to)."""
    text = notes.read_text(encoding="utf-8").strip() if notes else "Not described."
    (model_dir / "MODEL_CARD.md").write_text(render(model_dir, text), encoding="utf-8")
    if bundle_to is not None:
        bundle_to.mkdir(parents=True, exist_ok=True)
        for name in SHIPPED:
            shutil.copy2(model_dir / name, bundle_to / name)
        click.echo(f"bundled {', '.join(SHIPPED)} into {bundle_to}")


if __name__ == "__main__":
    main()
