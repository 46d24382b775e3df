"""A personal head: the bundled model's judgement, corrected by the user's labels.

The personal head does not replace the bundled model, it adjusts it: for a photo
with the bundled model's probabilities ``p`` and backbone features ``f``,

    personal logits = log p + W · PCA(f) + b

``PCA`` keeps the main directions of the library's own features (its photos,
labelled or not), so a few dozen labels fit ``W`` (components × classes) and ``b``
without overfitting, and L2 regularisation pulls both towards zero, that is towards
the bundled model, where the labels say little.  Positive labels ("this is a
Beach") push the class up; negative ones ("not Nature") push it down
(loss ``-log(1 - p)``).  Fitted with L-BFGS (SciPy) in well under a second.

:func:`cross_validate` measures, on the user's own labels, how often the bundled
model and the personal head agree with them (a positive label's class is the top
class; a negative label's is not), photo-wise k-fold, so that ``scened learn``
adopts a head only when it is better on photos it was not fitted on.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-6
#: Principal components of the library's features the head works on.
COMPONENTS = 48
#: Regularisation strengths tried (chosen by cross-validation on the labels).
STRENGTHS = (0.03, 0.3, 3.0)


@dataclass(frozen=True)
class LabelRows:
    """Labels as arrays: for label ``i``, photo row ``photo[i]``, class index, sign."""

    probabilities: np.ndarray  # (photos, classes): the bundled model's
    features: np.ndarray  # (photos, dims)
    photo: np.ndarray  # (labels,) int
    class_index: np.ndarray  # (labels,) int
    positive: np.ndarray  # (labels,) bool

    def subset(self, photos: np.ndarray) -> LabelRows:
        """The labels of the photos in ``photos`` (row numbers), renumbered."""
        keep = np.isin(self.photo, photos)
        renumber = {int(old): new for new, old in enumerate(photos)}
        return LabelRows(
            self.probabilities[photos], self.features[photos],
            np.array([renumber[int(p)] for p in self.photo[keep]], int),
            self.class_index[keep], self.positive[keep],
        )  # fmt: skip


@dataclass(frozen=True)
class PersonalHead:
    base_model_id: str
    classes: tuple[str, ...]
    mean: np.ndarray  # (dims,)
    components: np.ndarray  # (dims, k)
    weights: np.ndarray  # (k, classes)
    bias: np.ndarray  # (classes,)
    strength: float

    def logits(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        projected = (np.asarray(features, np.float32) - self.mean) @ self.components
        base = np.log(np.asarray(probabilities, np.float32) + EPS)
        result: np.ndarray = base + projected @ self.weights + self.bias
        return result

    def apply(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The personal probabilities, ``(n, classes)`` float32."""
        return _softmax(self.logits(probabilities, features)).astype(np.float32)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()[:12]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer, base_model_id=np.array(self.base_model_id), classes=np.array(self.classes),
            mean=self.mean, components=self.components, weights=self.weights, bias=self.bias,
            strength=np.array(self.strength),
        )  # fmt: skip
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonalHead:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            return cls(
                str(saved["base_model_id"]), tuple(str(c) for c in saved["classes"]),
                saved["mean"], saved["components"], saved["weights"], saved["bias"],
                float(saved["strength"]),
            )  # fmt: skip


def basis(features: np.ndarray, k: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the top ``k`` principal directions, scaled to unit variance."""
    mean = features.mean(axis=0)
    centred = features - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(k, len(singular))
    scale = singular[:k] / np.sqrt(max(len(features) - 1, 1))
    components = vt[:k].T / np.maximum(scale, EPS)
    return mean.astype(np.float32), components.astype(np.float32)


def fit(
    rows: LabelRows,
    mean: np.ndarray,
    components: np.ndarray,
    strength: float,
    *,
    base_model_id: str,
    classes: Sequence[str],
) -> PersonalHead:
    """Fit ``W`` and ``b`` to the labels (L-BFGS on the regularised log loss)."""
    x = (rows.features - mean) @ components
    base = np.log(rows.probabilities + EPS)
    k, c = components.shape[1], len(classes)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = theta[: k * c].reshape(k, c), theta[k * c :]
        p = _softmax(base + x @ weights + bias)[rows.photo]
        pc = p[np.arange(len(p)), rows.class_index]
        pos = rows.positive
        loss = -np.log(pc[pos] + EPS).sum() - np.log(1 - pc[~pos] + EPS).sum()
        grad_z = np.zeros_like(p)
        grad_z[pos] = p[pos]
        grad_z[np.flatnonzero(pos), rows.class_index[pos]] -= 1
        neg = np.flatnonzero(~pos)
        ratio = (pc[~pos] / (1 - pc[~pos] + EPS))[:, None]
        grad_z[neg] = -ratio * p[neg]
        grad_z[neg, rows.class_index[~pos]] += ratio[:, 0]
        per_photo = np.zeros((len(x), c))
        np.add.at(per_photo, rows.photo, grad_z)
        n = max(len(rows.photo), 1)
        loss = loss / n + strength * (np.sum(weights**2) + np.sum(bias**2))
        grad_w = x.T @ per_photo / n + 2 * strength * weights
        grad_b = per_photo.sum(axis=0) / n + 2 * strength * bias
        return float(loss), np.concatenate([grad_w.ravel(), grad_b])

    start = np.zeros(k * c + c)
    from scipy.optimize import minimize  # here: a third of every scened start otherwise

    result = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": 500})  # fmt: skip
    theta = result.x
    return PersonalHead(
        base_model_id, tuple(classes), mean, components,
        theta[: k * c].reshape(k, c).astype(np.float32), theta[k * c :].astype(np.float32),
        strength,
    )  # fmt: skip


def agreement(probabilities: np.ndarray, rows: LabelRows) -> np.ndarray:
    """For each label, whether the top class agrees with it."""
    top = probabilities.argmax(axis=1)[rows.photo]
    hit: np.ndarray = np.where(rows.positive, top == rows.class_index, top != rows.class_index)
    return hit


@dataclass(frozen=True)
class Comparison:
    """How often each agrees with the user's labels, on photos it was not fitted on."""

    labels: int
    photos: int
    bundled: float
    personal: float
    strength: float

    @property
    def better(self) -> bool:
        return self.personal > self.bundled


def cross_validate(
    rows: LabelRows, mean: np.ndarray, components: np.ndarray, *, folds: int = 5, seed: int = 0
) -> Comparison:
    """Photo-wise k-fold agreement of the bundled model and of the best personal head."""
    photos = np.unique(rows.photo)
    order = np.random.default_rng(seed).permutation(photos)
    parts = np.array_split(order, min(folds, len(order)))
    bundled = agreement(rows.probabilities, rows)
    best = (-1.0, STRENGTHS[0])
    for strength in STRENGTHS:
        hits: list[np.ndarray] = []
        for part in parts:
            train = rows.subset(np.setdiff1d(photos, part))
            test = rows.subset(np.sort(part))
            head = fit(train, mean, components, strength, base_model_id="", classes=_names(rows))
            hits.append(agreement(head.apply(test.probabilities, test.features), test))
        score = float(np.concatenate(hits).mean()) if hits else 0.0
        if score > best[0]:
            best = (score, strength)
    return Comparison(len(rows.photo), len(photos), float(bundled.mean()), best[0], best[1])


def _names(rows: LabelRows) -> tuple[str, ...]:
    return tuple(str(i) for i in range(rows.probabilities.shape[1]))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result
