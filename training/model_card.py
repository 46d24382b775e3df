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

from .export import sha256_of

SHIPPED = ("model.tflite", "labels.txt", "head.npz", "model.json", "metrics.json", "MODEL_CARD.md")
#: Below this many training photos a class is reported as not reliably learnt.
FEW_PHOTOS = 20


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def per_class_table(metrics: dict[str, Any]) -> str:
    rows = [
        "| class | train photos | val photos | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in metrics["per_class"].items():
        rows.append(
            f"| {name} | {m['train_images']} | {m['support']} | {_fmt(m['precision'])} "
            f"| {_fmt(m['recall'])} | {_fmt(m['f1'])} |"
        )
    return "\n".join(rows)


def weak_classes(metrics: dict[str, Any]) -> list[str]:
    return [
        name
        for name, m in metrics["per_class"].items()
        if m["train_images"] + m["support"] < FEW_PHOTOS
    ]


def render(model_dir: Path, notes: str) -> str:
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    weak = weak_classes(metrics)
    files = "\n".join(
        f"| {name} | `{sha256_of(model_dir / name)}` |"
        for name in ("model.tflite", "labels.txt", "head.npz")
    )
    settings = metrics["settings"]
    return f"""# Model card: `{meta["id"]}`

Created {meta["created"]} by `scened-train` (seed {settings["seed"]}, validation fraction
{settings["val_fraction"]}, {settings["augmented_views"]} augmented views per training photo,
{metrics["epochs_run"]} epochs with early stopping on validation loss).

## Model
{meta["architecture"]}. Input: {meta["input"]["size"]}x{meta["input"]["size"]} RGB, values
0-255 (the model normalises with the ImageNet mean and std itself). Weights stored at
{meta["weights_precision"]} precision; BatchNorm folded into the convolutions. Outputs: the
36 classes of SPEC.md in SPEC order (`labels.txt`).

## Data
{notes}

## Validation results
Held-out split of the same sources (stratified, {metrics["validation_images"]} photos):
**top-1 {metrics["top1"]:.3f}, top-2 {metrics["top2"]:.3f}**. The split was also used for early
stopping, and its photos come from the same few sources as the training photos, so these
figures flatter the model: expect less on photos unlike the training data.

{per_class_table(metrics)}

## Classes it cannot have learnt
{", ".join(weak) if weak else "none"}: fewer than {FEW_PHOTOS} photos in all. The model
keeps their outputs, but its scores for them mean little; recall above is measured on
one to three validation photos at most.

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
