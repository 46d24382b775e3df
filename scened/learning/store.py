"""Labels and features in the state database (tables ``labels`` and ``features``).

A label is a user's decision about one photo and one class: *positive* (this photo
is a ``Beach``) or *negative* (it is not a ``Nature``), with where it came from
(``file``: a keyword edited in a photo manager; ``review``: the review page) and
when.  A later decision about the same photo and class replaces the earlier one.

Features are what a personal head needs to re-score a photo without decoding it
again: the bundled model's class probabilities (float16) and the backbone's
ImageNet logits quantised to 8 bits with one offset and scale per photo (about
1 KB a photo).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scened.daemon.state import StateDB, now_iso

ORIGINS = ("file", "review")


@dataclass(frozen=True)
class Label:
    library: str
    path: Path
    class_name: str
    positive: bool
    origin: str
    created_at: str


def add_labels(
    db: StateDB, library: str, path: Path, decisions: Iterable[tuple[str, bool]], origin: str
) -> int:
    """Record ``decisions`` (class, positive) about ``path``; how many were new or changed."""
    assert origin in ORIGINS, origin
    key, now, changed = os.fsencode(path), now_iso(), 0
    with db.transaction() as conn:
        for class_name, positive in decisions:
            row = conn.execute(
                "SELECT positive FROM labels WHERE path = ? AND class = ?", (key, class_name)
            ).fetchone()
            if row is not None and bool(row[0]) == positive:
                continue
            conn.execute(
                "INSERT OR REPLACE INTO labels (path, library, class, positive, origin, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (key, library, class_name, int(positive), origin, now),
            )
            changed += 1
    return changed


def list_labels(db: StateDB, libraries: Iterable[str] | None = None) -> list[Label]:
    """Every label, or those of ``libraries``, by library, path and class."""
    query = "SELECT library, path, class, positive, origin, created_at FROM labels"
    names = list(libraries) if libraries is not None else None
    params: list[str] = []
    if names is not None:
        query += f" WHERE library IN ({', '.join('?' * len(names))})"
        params = names
    rows = db.connection().execute(query + " ORDER BY library, path, class", params)
    return [
        Label(library, Path(os.fsdecode(path)), cls, bool(positive), origin, created)
        for library, path, cls, positive, origin, created in rows
    ]


# -- features ---------------------------------------------------------------------------


def quantise(vector: np.ndarray) -> bytes:
    """8-bit affine quantisation: float32 offset and scale, then one byte a value."""
    values = np.asarray(vector, np.float32).ravel()
    low, high = float(values.min()), float(values.max())
    scale = (high - low) / 255.0 or 1.0
    codes = np.round((values - low) / scale).astype(np.uint8)
    return np.array([low, scale], np.float32).tobytes() + codes.tobytes()


def dequantise(blob: bytes) -> np.ndarray:
    low, scale = np.frombuffer(blob[:8], np.float32)
    values: np.ndarray = np.frombuffer(blob[8:], np.uint8).astype(np.float32) * scale + low
    return values.astype(np.float32)


@dataclass(frozen=True)
class Features:
    """What the bundled model ``model_id`` made of one photo."""

    model_id: str
    probabilities: np.ndarray  # (classes,) float32
    features: np.ndarray  # (dims,) float32, dequantised


def put_features(db: StateDB, rows: Iterable[tuple[Path, str, np.ndarray, np.ndarray]]) -> None:
    """Store (path, model id, probabilities, features) for each photo, in one transaction."""
    values = [
        (os.fsencode(path), model_id, np.asarray(probs, np.float16).tobytes(), quantise(feats))
        for path, model_id, probs, feats in rows
    ]
    with db.transaction() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO features (path, model_id, probabilities, features) "
            "VALUES (?, ?, ?, ?)",
            values,
        )


def get_features(db: StateDB, path: Path) -> Features | None:
    row = (
        db.connection()
        .execute(
            "SELECT model_id, probabilities, features FROM features WHERE path = ?",
            (os.fsencode(path),),
        )
        .fetchone()
    )
    return _features(row) if row else None


def library_features(db: StateDB, library: str, model_id: str) -> Iterator[tuple[Path, Features]]:
    """Every photo of ``library`` with features from ``model_id`` (one query, streamed)."""
    rows = db.connection().execute(
        "SELECT f.path, f.model_id, f.probabilities, f.features FROM features f "
        "JOIN photos p ON p.path = f.path WHERE p.library = ? AND f.model_id = ?",
        (library, model_id),
    )
    for path, *rest in rows:
        yield Path(os.fsdecode(path)), _features(rest)


def _features(row: Iterable[object]) -> Features:
    model_id, probabilities, features = row
    assert isinstance(probabilities, bytes) and isinstance(features, bytes)
    probs = np.frombuffer(probabilities, np.float16).astype(np.float32)
    return Features(str(model_id), probs, dequantise(features))
