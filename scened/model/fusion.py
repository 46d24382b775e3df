"""Fusing the trained head with what the ImageNet classifier already knows, calibrated.

A scene model's TFLite file has two outputs: the head's class probabilities and
the backbone's own 1000 ImageNet logits.  The ImageNet probabilities, summed per
scene class through a reviewable table (``imagenet_scenes.tsv`` in the model
folder), give a *prior* that does not depend on the training photos' sources;
the two are combined geometrically and then calibrated with one temperature::

    prior  = mapped + unmapped / K, mixed with a small uniform floor
    logits = ((1 - a) * log p_head + a * log prior) / T
    p      = softmax(logits)

``a`` and ``T`` are chosen by the training command on photos of sources the head
did not see (leave-one-source-out), and stored in ``model.json``.  This module is
the single implementation: training imports it to choose ``a``, ``T`` and the
policy thresholds on exactly the numbers that tagging computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Smallest probability a class keeps, so that log() stays finite.
_EPSILON = 1e-7


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, returned as float32."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: np.ndarray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities


def imagenet_prior(imagenet_logits: np.ndarray, mapping: np.ndarray, floor: float) -> np.ndarray:
    """Scene-class prior from ImageNet logits ``(n, 1000)`` and a 0/1 ``(1000, K)`` table.

    The probability of ImageNet classes mapped to nothing is spread evenly, so a
    class that ImageNet cannot see (Meme, Family) is not ruled out; ``floor``
    mixes in a uniform share so that no class is ever impossible.
    """
    classes = mapping.shape[1]
    mapped = softmax(imagenet_logits).astype(np.float64) @ mapping.astype(np.float64)
    unmapped = np.clip(1.0 - mapped.sum(axis=1, keepdims=True), 0.0, 1.0)
    prior = mapped + unmapped / classes
    floored: np.ndarray = ((1.0 - floor) * prior + floor / classes).astype(np.float32)
    return floored


@dataclass(frozen=True)
class Fusion:
    """The fusion and calibration settings of one model (``model.json`` ``fusion``)."""

    #: Weight ``a`` of the ImageNet prior (0: the head alone).
    imagenet_weight: float = 0.0
    #: Calibration temperature ``T`` (1: unchanged).
    temperature: float = 1.0
    #: Uniform share mixed into the prior.
    prior_floor: float = 0.02

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fusion:
        return cls(
            imagenet_weight=float(data.get("imagenet_weight", 0.0)),
            temperature=float(data.get("temperature", 1.0)),
            prior_floor=float(data.get("prior_floor", 0.02)),
        )

    def to_json(self) -> dict[str, float]:
        return {
            "imagenet_weight": self.imagenet_weight,
            "temperature": self.temperature,
            "prior_floor": self.prior_floor,
        }

    def logits(self, head_probabilities: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
        """Fused, temperature-scaled logits ``(n, K)`` (float64)."""
        fused = np.log(np.clip(head_probabilities.astype(np.float64), _EPSILON, 1.0))
        if prior is not None and self.imagenet_weight > 0:
            log_prior = np.log(np.clip(prior.astype(np.float64), _EPSILON, 1.0))
            fused = (1.0 - self.imagenet_weight) * fused + self.imagenet_weight * log_prior
        return fused / self.temperature

    def apply(
        self,
        head_probabilities: np.ndarray,
        imagenet_logits: np.ndarray | None,
        mapping: np.ndarray | None,
    ) -> np.ndarray:
        """Calibrated scene probabilities ``(n, K)`` float32."""
        prior = None
        if imagenet_logits is not None and mapping is not None and self.imagenet_weight > 0:
            prior = imagenet_prior(imagenet_logits, mapping, self.prior_floor)
        return softmax(self.logits(head_probabilities, prior))
