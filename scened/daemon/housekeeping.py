"""The end of a scan: forget photos that are gone, remove leftovers of a killed run.

A library that seems to have lost its photos has usually lost its share (an
unmounted NAS volume, a moved folder), not its photos: forgetting them would make
scened classify everything again when the share returns.  So an empty scan, or one
that misses more than the library's ``max_missing_share`` of the photos it knew,
forgets nothing and is one library-level error.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scened.config import LibraryConfig

log = logging.getLogger(__name__)

#: Fewer missing photos than this are ordinary deletions and moves, whatever their share.
MASS_DISAPPEARANCE = 10


def refuse_mass_disappearance(
    gone: list[Path], known: int, seen: int, library: LibraryConfig
) -> str:
    """The library-level error when ``gone`` looks like a lost share, else ``""``."""
    missing_share = len(gone) / known if known else 0.0
    mass = len(gone) >= MASS_DISAPPEARANCE and missing_share > library.max_missing_share
    if gone and (not seen or mass):
        return (
            f"{len(gone)} of {known} known photos are missing from {library.path} "
            "(an unmounted share or a moved folder?); nothing was forgotten. If they are "
            "really gone, raise the library's max_missing_share for one run"
        )
    return ""


def moved_library(
    gone: list[Path],
    recorded: tuple[int, int] | None,
    location: tuple[int, int] | None,
    library: LibraryConfig,
) -> str:
    """The library-level error when photos are missing and the library's folder is not the
    one scanned last time (another device or inode: a share mounted elsewhere, or not
    mounted, its mount point showing the folder underneath), else ``""``.

    The new location is recorded only by a scan that forgets nothing on this ground,
    so a library that really moved is pruned from its second scan on.
    """
    if not gone or recorded is None or location is None or recorded == location:
        return ""
    return (
        f"{len(gone)} known photos are missing and {library.path} is not the folder scanned "
        f"last time (device {location[0]}, was {recorded[0]}): an unmounted share? Nothing "
        "was forgotten; if the library really moved, the next scan forgets them"
    )


def remove_leftovers(leftovers: list[Path], *, dry_run: bool) -> None:
    """Delete temporary copies a killed scened left beside photos (never photos)."""
    for path in leftovers:
        if dry_run:
            log.info("dry run: would remove leftover temporary copy %s", path)
            continue
        try:
            path.unlink()
        except OSError as exc:
            log.warning("%s: cannot remove leftover temporary copy: %s", path, exc.strerror)
        else:
            log.info("removed leftover temporary copy %s", path)
