"""Exact (SHA-256) and near (perceptual hash) duplicate detection within one class."""

from __future__ import annotations

from dataclasses import dataclass, field

import imagehash


@dataclass
class DuplicateIndex:
    """The images a class already has, to recognise the same picture again.

    ``max_distance`` is the largest Hamming distance between two 64-bit pHashes that
    still counts as the same picture (re-encoded, rescaled, lightly retouched).
    """

    max_distance: int
    _sha256: set[str] = field(default_factory=set)
    _phashes: list[imagehash.ImageHash] = field(default_factory=list)

    def duplicate_reason(self, sha256: str, phash: imagehash.ImageHash) -> str | None:
        """``"duplicate"``, ``"near-duplicate"``, or None for a new picture."""
        if sha256 in self._sha256:
            return "duplicate"
        if any(phash - known <= self.max_distance for known in self._phashes):
            return "near-duplicate"
        return None

    def add(self, sha256: str, phash: imagehash.ImageHash) -> None:
        """Remember a picture the class now has."""
        self._sha256.add(sha256)
        self._phashes.append(phash)
