"""Base features, computed once per image and view, and cached on disk.

The base is frozen, so the head can be trained on its pooled features: running
the base is what costs time, and it is done once.  A cache file holds one view of
one list of images and is named by a hash of everything that determines it (the
files' paths, sizes and mtimes, the view, the seed, the input size and the
extractor's weights), so a changed image or setting computes anew.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from .data import Sample, model_input

log = logging.getLogger(__name__)
BATCH = 64
PREFETCH = 3


def extractor_fingerprint(extractor: keras.Model) -> str:
    digest = hashlib.sha256()
    for weight in extractor.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def _cache_key(
    samples: Sequence[Sample], size: int, variant: int, seed: int, fingerprint: str
) -> str:
    digest = hashlib.sha256(f"{size}:{variant}:{seed}:{fingerprint}".encode())
    for sample in samples:
        stat = sample.path.stat()
        digest.update(f"{sample.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def compute_features(
    extractor: keras.Model,
    samples: Sequence[Sample],
    *,
    size: int,
    variant: int,
    seed: int,
    cache_dir: Path | None,
    fingerprint: str,
) -> np.ndarray:
    """``(len(samples), 1280)`` features of view ``variant`` of each sample, cached."""
    cache_file = None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache_file = cache_dir / f"{_cache_key(samples, size, variant, seed, fingerprint)}.npy"
        if cache_file.is_file():
            cached: np.ndarray = np.load(cache_file)
            return cached
    features = _run_extractor(extractor, samples, size, variant, seed)
    if cache_file is not None:
        np.save(cache_file, features)
    return features


def _run_extractor(
    extractor: keras.Model, samples: Sequence[Sample], size: int, variant: int, seed: int
) -> np.ndarray:
    """Decode in a thread pool while the model runs on the previous batch."""
    chunks = [samples[i : i + BATCH] for i in range(0, len(samples), BATCH)]

    def decode(chunk: Sequence[Sample]) -> np.ndarray:
        return np.stack([model_input(s, size, variant, seed) for s in chunk])

    outputs = []
    label = "features" if variant == 0 else f"features (view {variant})"
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(decode, chunk) for chunk in chunks[:PREFETCH]]
        for i in tqdm(range(len(chunks)), desc=label, unit="batch", leave=False):
            batch = pending.pop(0).result()
            if i + PREFETCH < len(chunks):  # keep memory bounded: a few batches ahead
                pending.append(pool.submit(decode, chunks[i + PREFETCH]))
            outputs.append(np.asarray(extractor(batch, training=False)))
    return np.concatenate(outputs) if outputs else np.zeros((0, 1280), np.float32)
