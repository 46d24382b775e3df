"""The review page's queries: a library's tagged photos, least confident first.

The order is computed in SQL over the whole library, so that page *N* is the same
slice whatever photo is on it: each row's confidence is the largest of its stored
probabilities, kept by the state in an indexed column (``photos.confidence``);
photos without probabilities (or with one that is not finite, ``NaN``) come last, and
ties go by path.  Only the row ids of one page leave the sort; the page's rows are
then read by id, in the same read transaction (``python -m tests.review.bench_ordering``
times it on 100,000 photos).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scened.daemon.state import StateDB

PAGE_SIZE = 50

#: One page of a library's photos by id: by the ``confidence`` column the state keeps
#: (its largest probability, NULL without a usable list: last).
ORDER_QUERY = (
    "SELECT rowid FROM photos WHERE library = ? AND outcome = 'tagged' "
    "ORDER BY confidence IS NULL, confidence, path LIMIT ? OFFSET ?"
)
_PHOTO_COLUMNS = "rowid, library, path, size, mtime_ns, tags, probabilities"


@dataclass(frozen=True)
class ReviewPhoto:
    """One tagged photo as the review page shows it."""

    id: int
    library: str
    path: Path
    size: int
    mtime_ns: int
    tags: tuple[str, ...]
    probabilities: tuple[float, ...] | None

    def top(self, classes: Sequence[str], count: int = 3) -> list[tuple[str, float]]:
        """The ``count`` most probable classes; none when the classes do not match."""
        probabilities = self.probabilities or ()
        if len(probabilities) != len(classes):
            return []
        usable = [(p, i) for i, p in enumerate(probabilities) if math.isfinite(p)]
        usable.sort(key=lambda item: (-item[0], item[1]))
        return [(classes[i], p) for p, i in usable[:count]]


@dataclass(frozen=True)
class Page:
    """Page ``number`` (1-based) of ``pages``, over ``total`` photos."""

    number: int
    pages: int
    total: int
    photos: list[ReviewPhoto]
    size: int = PAGE_SIZE


def library_counts(db: StateDB) -> dict[str, int]:
    """Tagged photos per library."""
    rows = db.connection().execute(
        "SELECT library, COUNT(*) FROM photos WHERE outcome = 'tagged' GROUP BY library"
    )
    return {str(library): int(count) for library, count in rows}


def review_page(db: StateDB, library: str, number: int, size: int = PAGE_SIZE) -> Page:
    """Page ``number`` of ``library`` (clamped to the pages there are)."""
    conn = db.connection()
    with _snapshot(conn):
        total = int(
            conn.execute(
                "SELECT COUNT(*) FROM photos WHERE library = ? AND outcome = 'tagged'",
                (library,),
            ).fetchone()[0]
        )
        pages = max(1, math.ceil(total / size))
        number = min(max(number, 1), pages)
        ids = [
            int(row[0]) for row in conn.execute(ORDER_QUERY, (library, size, (number - 1) * size))
        ]
        by_id = {photo.id: photo for photo in _photos(conn, ids)}
    return Page(number, pages, total, [by_id[i] for i in ids if i in by_id], size)


def photo_by_id(db: StateDB, photo_id: int) -> ReviewPhoto | None:
    """The tagged photo with this row id (ids change when a photo's row is rewritten)."""
    found = _photos(db.connection(), [photo_id])
    return found[0] if found else None


def page_labels(db: StateDB, photos: Sequence[ReviewPhoto]) -> dict[Path, list[tuple[str, bool]]]:
    """The labels (class, positive) of each of ``photos`` that has any."""
    keys = [os.fsencode(photo.path) for photo in photos]
    if not keys:
        return {}
    rows = db.connection().execute(
        f"SELECT path, class, positive FROM labels WHERE path IN ({', '.join('?' * len(keys))}) "
        "ORDER BY path, positive DESC, class",
        keys,
    )
    labels: dict[Path, list[tuple[str, bool]]] = {}
    for path, class_name, positive in rows:
        labels.setdefault(Path(os.fsdecode(path)), []).append((str(class_name), bool(positive)))
    return labels


def _photos(conn: sqlite3.Connection, ids: Sequence[int]) -> list[ReviewPhoto]:
    if not ids:
        return []
    rows = conn.execute(
        f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE outcome = 'tagged' "
        f"AND rowid IN ({', '.join('?' * len(ids))})",
        list(ids),
    )
    return [_photo(row) for row in rows]


def _photo(row: Any) -> ReviewPhoto:
    photo_id, library, path, size, mtime_ns, tags, probabilities = row
    return ReviewPhoto(
        id=int(photo_id), library=str(library), path=Path(os.fsdecode(path)),
        size=int(size), mtime_ns=int(mtime_ns), tags=_tags(tags),
        probabilities=_probabilities(probabilities),
    )  # fmt: skip


def _tags(text: object) -> tuple[str, ...]:
    try:
        values = json.loads(str(text))
    except ValueError:
        return ()
    return tuple(str(v) for v in values) if isinstance(values, list) else ()


def _probabilities(text: object) -> tuple[float, ...] | None:
    if not isinstance(text, str):
        return None
    try:
        values = json.loads(text)
    except ValueError:
        return None
    if not isinstance(values, list) or not all(isinstance(v, int | float) for v in values):
        return None
    return tuple(float(v) for v in values)


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: the count, the order and the rows agree."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")
