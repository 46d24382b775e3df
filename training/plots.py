"""PNG plots of a training run: confusion matrix and training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must come before pyplot

import matplotlib.pyplot as plt
import numpy as np


def plot_confusion(matrix: np.ndarray, classes: tuple[str, ...], path: Path) -> None:
    """Row-normalised confusion matrix (recall on the diagonal), counts in the cells."""
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = max(6.0, len(classes) * 0.32)
    fig, ax = plt.subplots(figsize=(size + 2, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if normalised[row, col] > 0.5 else "black"
            ax.text(col, row, str(count), ha="center", va="center", fontsize=5, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.04, label="fraction of the true class")
    ax.set_title("Validation confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss and accuracy per epoch, training and validation."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax in (("loss", loss_ax), ("accuracy", acc_ax)):
        ax.plot(history.get(key, []), label=f"train {key}")
        ax.plot(history.get(f"val_{key}", []), label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def history_dict(history: Any) -> dict[str, list[float]]:
    return {k: [float(v) for v in values] for k, values in history.history.items()}
