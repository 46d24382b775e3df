"""A whole training run: split, cached base features, head training, evaluation, export."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .data import Sample, class_counts, discover, stratified_split
from .evaluate import evaluate
from .export import export_model
from .features import compute_features, extractor_fingerprint
from .model import (
    assemble,
    build_feature_extractor,
    build_head,
    compile_head,
    round_weights_to_float16,
)
from .plots import history_dict, plot_confusion, plot_curves

log = logging.getLogger(__name__)


@dataclass
class TrainSettings:
    data_dir: Path
    out_dir: Path
    classes: tuple[str, ...]
    epochs: int = 60
    val_fraction: float = 0.2
    seed: int = 1337
    augmented_views: int = 2
    input_size: int = 160
    batch_size: int = 128
    patience: int = 10
    cache_dir: Path | None = None
    float16: bool = True


def balanced_class_weights(counts: list[int]) -> dict[int, float]:
    """``n / (k * n_c)`` for the k classes that have images: rare classes weigh more."""
    present = [c for c in counts if c > 0]
    total = sum(present)
    return {i: total / (len(present) * c) for i, c in enumerate(counts) if c > 0}


def _features(
    extractor: keras.Model,
    samples: list[Sample],
    settings: TrainSettings,
    views: int,
    fingerprint: str,
) -> np.ndarray:
    per_view = [
        compute_features(
            extractor,
            samples,
            size=settings.input_size,
            variant=v,
            seed=settings.seed,
            cache_dir=settings.cache_dir,
            fingerprint=fingerprint,
        )
        for v in range(views)
    ]
    return np.concatenate(per_view)


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    one_hot: np.ndarray = np.eye(num_classes, dtype=np.float32)[labels]
    return one_hot


def run_training(settings: TrainSettings) -> dict[str, Any]:
    """Train, evaluate on the held-out split and write the model folder; returns metrics."""
    keras.utils.set_random_seed(settings.seed)
    classes = settings.classes
    samples = discover(settings.data_dir, classes)
    train, val = stratified_split(samples, settings.val_fraction, settings.seed)
    train_counts = class_counts(train, len(classes))
    log.info("%d training and %d validation images", len(train), len(val))

    extractor = build_feature_extractor(settings.input_size)
    fingerprint = extractor_fingerprint(extractor)
    views = 1 + settings.augmented_views
    train_x = _features(extractor, train, settings, views, fingerprint)
    train_y = np.tile(np.array([s.label for s in train]), views)
    val_x = _features(extractor, val, settings, 1, fingerprint)
    val_y = np.array([s.label for s in val], dtype=np.int64)

    head = build_head(len(classes))
    compile_head(head)
    callbacks = []
    if len(val):
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.patience, restore_best_weights=True
            )
        )
    history = head.fit(
        train_x,
        _one_hot(train_y, len(classes)),
        validation_data=(val_x, _one_hot(val_y, len(classes))) if len(val) else None,
        class_weight=balanced_class_weights(train_counts),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    if settings.float16:
        round_weights_to_float16(head)
    val_probabilities = (
        np.asarray(head.predict(val_x, verbose=0)) if len(val) else np.zeros((0, len(classes)))
    )
    metrics = evaluate(val_probabilities, val_y, classes, train_counts)
    metrics["epochs_run"] = len(history.history["loss"])
    metrics["settings"] = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in asdict(settings).items()
        if k != "classes"
    }
    _write_outputs(settings, extractor, head, metrics, history_dict(history))
    return metrics


def _write_outputs(
    settings: TrainSettings,
    extractor: keras.Model,
    head: keras.Model,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
) -> None:
    out = settings.out_dir
    model = assemble(extractor, head)
    summary = {"validation_top1": metrics["top1"], "validation_top2": metrics["top2"]}
    meta = export_model(
        model, head, out, settings.classes, float16=settings.float16, extra={"metrics": summary}
    )
    metrics["model_id"] = meta["id"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    plot_confusion(
        np.array(metrics["confusion_matrix"]), settings.classes, plots / "confusion_matrix.png"
    )
    plot_curves(history, plots / "training_curves.png")
