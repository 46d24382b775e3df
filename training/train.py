"""A whole training run: cached base features, head training, both estimates, export.

Base features are computed once per photo and view for the whole tree.  The
head is trained on a random stratified split (early stopping on its validation
part, as the original design's recipe says); then, unless switched off, the source-held-out
estimate (:mod:`.selection`) trains it again without one source at a time, and
the ImageNet prior's weight, the temperature and the precision policy's
thresholds are chosen on those out-of-fold predictions.  The random split is
reported with the chosen fusion applied.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from scened.model.fusion import Fusion
from scened.model.imagenet_map import default_mapping_file, load_mapping

from .backbones import DEFAULT_BACKBONE, get_backbone
from .data import Sample, class_counts, discover, stratified_split
from .evaluate import evaluate, spec_policy_outcome
from .export import export_model
from .features import compute_features, extractor_fingerprint
from .model import (
    assemble,
    build_feature_extractor,
    build_head,
    compile_head,
    imagenet_classifier,
    round_weights_to_float16,
)
from .plots import history_dict, plot_confusion, plot_curves
from .selection import (
    choose_fusion,
    choose_thresholds,
    expected_calibration_error,
    out_of_fold,
    per_class_recall,
    source_folds,
)

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
    backbone: str = DEFAULT_BACKBONE
    input_size: int | None = None  # None: the backbone's own size
    batch_size: int = 128
    patience: int = 10
    cache_dir: Path | None = None
    float16: bool = True
    mapping_file: Path | None = None  # None: the packaged ImageNet → scene table
    source_held_out: bool = True

    @property
    def size(self) -> int:
        return self.input_size or get_backbone(self.backbone).default_size


def balanced_class_weights(counts: list[int]) -> dict[int, float]:
    """``n / (k * n_c)`` for the k classes that have images: rare classes weigh more."""
    present = [c for c in counts if c > 0]
    total = sum(present)
    return {i: total / (len(present) * c) for i, c in enumerate(counts) if c > 0}


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    one_hot: np.ndarray = np.eye(num_classes, dtype=np.float32)[labels]
    return one_hot


@dataclass
class _Data:
    """Every photo's cached features (one array per view), labels and ImageNet logits."""

    samples: list[Sample]
    views: list[np.ndarray]
    labels: np.ndarray
    imagenet_logits: np.ndarray

    def training_set(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([view[mask] for view in self.views])
        return x, np.tile(self.labels[mask], len(self.views))


def _fit_head(
    data: _Data,
    train_mask: np.ndarray,
    settings: TrainSettings,
    *,
    epochs: int,
    val: np.ndarray | None = None,
) -> tuple[keras.Model, keras.callbacks.History]:
    num_classes = len(settings.classes)
    x, y = data.training_set(train_mask)
    head = build_head(num_classes)
    compile_head(head)
    callbacks = []
    validation = None
    if val is not None and len(val):
        validation = (data.views[0][val], _one_hot(data.labels[val], num_classes))
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.patience, restore_best_weights=True
            )
        )
    history = head.fit(
        x,
        _one_hot(y, num_classes),
        validation_data=validation,
        class_weight=balanced_class_weights(class_counts(
            [s for s, keep in zip(data.samples, train_mask, strict=True) if keep], num_classes
        )),
        epochs=epochs,
        batch_size=settings.batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )  # fmt: skip
    if settings.float16:
        round_weights_to_float16(head)
    return head, history


def _load_data(settings: TrainSettings, extractor: keras.Model) -> _Data:
    samples = discover(settings.data_dir, settings.classes)
    fingerprint = extractor_fingerprint(extractor)
    views = [
        compute_features(
            extractor, samples, size=settings.size, variant=v, seed=settings.seed,
            cache_dir=settings.cache_dir, fingerprint=fingerprint,
        )
        for v in range(1 + settings.augmented_views)
    ]  # fmt: skip
    weight, bias = imagenet_classifier(settings.backbone)
    logits = (views[0].astype(np.float64) @ weight + bias).astype(np.float32)
    labels = np.array([s.label for s in samples], dtype=np.int64)
    return _Data(samples, views, labels, logits)


def run_training(settings: TrainSettings) -> dict[str, Any]:
    """Train, estimate on held-out photos and unseen sources, write the model folder."""
    keras.utils.set_random_seed(settings.seed)
    classes = settings.classes
    extractor = build_feature_extractor(settings.size, backbone=settings.backbone)
    data = _load_data(settings, extractor)
    mapping = load_mapping(settings.mapping_file, classes)
    train, val = stratified_split(data.samples, settings.val_fraction, settings.seed)
    index = {s.path: i for i, s in enumerate(data.samples)}
    train_mask = np.zeros(len(data.samples), bool)
    train_mask[[index[s.path] for s in train]] = True
    val_idx = np.array([index[s.path] for s in val], dtype=np.int64)
    log.info("%d training and %d validation images", len(train), len(val))

    head, history = _fit_head(data, train_mask, settings, epochs=settings.epochs, val=val_idx)
    epochs_run = len(history.history["loss"])
    best_epochs = max(5, epochs_run - settings.patience) if len(val) else epochs_run

    fusion = Fusion()
    metrics: dict[str, Any] = {}
    if settings.source_held_out and source_folds(data.samples):
        fusion, metrics["source_held_out"] = _source_held_out(data, mapping, settings, best_epochs)
    elif settings.source_held_out:
        log.warning("no class has photos of two or more sources: no source-held-out estimate")
    val_head = (
        np.asarray(head(data.views[0][val_idx], training=False))
        if len(val) else np.zeros((0, len(classes)), np.float32)
    )  # fmt: skip
    val_probabilities = fusion.apply(val_head, data.imagenet_logits[val_idx], mapping)
    train_counts = class_counts(train, len(classes))
    metrics.update(evaluate(val_probabilities, data.labels[val_idx], classes, train_counts))
    if len(val):
        metrics["head_top1"] = float((val_head.argmax(1) == data.labels[val_idx]).mean())
        metrics["ece"] = expected_calibration_error(val_probabilities, data.labels[val_idx])
    metrics["epochs_run"] = epochs_run
    metrics["fusion"] = fusion.to_json()
    metrics["settings"] = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in asdict(settings).items()
        if k != "classes"
    }
    metrics["settings"]["input_size"] = settings.size
    _write_outputs(settings, extractor, head, metrics, history_dict(history), fusion)
    return metrics


def _source_held_out(
    data: _Data, mapping: np.ndarray, settings: TrainSettings, epochs: int
) -> tuple[Fusion, dict[str, Any]]:
    """Out-of-fold predictions on unseen sources; the fusion and thresholds chosen on them."""
    folds = source_folds(data.samples)

    def fit_predict(train_mask: np.ndarray, test: np.ndarray) -> np.ndarray:
        head, _ = _fit_head(data, train_mask, settings, epochs=epochs)
        return np.asarray(head(data.views[0][test], training=False))

    oof = out_of_fold(folds, len(data.samples), fit_predict)
    held = np.concatenate([fold.test for fold in folds])
    head_p, labels, logits = oof[held], data.labels[held], data.imagenet_logits[held]
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(  # for analysis (not shipped): what every choice below was made on
        settings.out_dir / "source_held_out.npz", head=head_p, imagenet_logits=logits,
        labels=labels, sources=np.array([data.samples[i].source for i in held]),
        files=np.array([str(data.samples[i].path.name) for i in held]),
    )  # fmt: skip
    fusion, trials = choose_fusion(head_p, logits, mapping, labels)
    fused = fusion.apply(head_p, logits, mapping)
    prior_only = Fusion(imagenet_weight=1.0).apply(head_p, logits, mapping)
    predicted = fused.argmax(axis=1)
    top2 = np.argsort(-fused, axis=1)[:, :2]
    fold_rows = []
    for fold in folds:
        where = np.isin(held, fold.test)
        fold_rows.append({
            "held_out": fold.name,
            "photos": int(where.sum()),
            "top1": float((predicted[where] == labels[where]).mean()),
        })  # fmt: skip
    estimate = {
        "photos": len(held),
        "folds": fold_rows,
        "fold_epochs": epochs,
        "head_top1": float((head_p.argmax(1) == labels).mean()),
        "imagenet_prior_top1": float((prior_only.argmax(1) == labels).mean()),
        "top1": float((predicted == labels).mean()),
        "top2": float((top2 == labels[:, None]).any(axis=1).mean()),
        "imagenet_weight_trials": trials,
        "ece_before": expected_calibration_error(head_p, labels),
        "ece_after": expected_calibration_error(fused, labels),
        "per_class": per_class_recall(fused, labels, settings.classes),
        "precision_policy": choose_thresholds(fused, labels, settings.classes),
        "spec_policy": spec_policy_outcome(fused, labels),
    }
    log.info(
        "source-held-out top-1 %.3f (head alone %.3f), prior weight %.1f, temperature %.2f",
        estimate["top1"], estimate["head_top1"], fusion.imagenet_weight, fusion.temperature,
    )  # fmt: skip
    return fusion, estimate


def _write_outputs(
    settings: TrainSettings,
    extractor: keras.Model,
    head: keras.Model,
    metrics: dict[str, Any],
    history: dict[str, list[float]],
    fusion: Fusion,
) -> None:
    out = settings.out_dir
    model = assemble(extractor, head, imagenet_classifier(settings.backbone))
    summary: dict[str, Any] = {
        "validation_top1": metrics["top1"], "validation_top2": metrics["top2"],
    }  # fmt: skip
    extra: dict[str, Any] = {"metrics": summary, "fusion": fusion.to_json()}
    held_out = metrics.get("source_held_out")
    if held_out is not None:
        summary["source_held_out_top1"] = held_out["top1"]
        policy = held_out["precision_policy"]
        extra["policies"] = {
            "precision": {
                "min_probability": policy["min_probability"],
                "second_probability": policy["second_probability"],
                "class_thresholds": policy["class_thresholds"],
            }
        }
    meta = export_model(
        model, head, out, settings.classes,
        backbone=get_backbone(settings.backbone),
        mapping_file=settings.mapping_file or default_mapping_file(),
        float16=settings.float16, extra=extra,
    )  # fmt: skip
    metrics["model_id"] = meta["id"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    plot_confusion(
        np.array(metrics["confusion_matrix"]), settings.classes, plots / "confusion_matrix.png"
    )
    plot_curves(history, plots / "training_curves.png")
