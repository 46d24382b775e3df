"""Does this photo need work?  Decided in one place, for ``run``, the daemon and ``status``.

A photo needs work unless the state knows it with the same stat signature, tagged by
the same model and policy.  One it failed on before is left alone (counted as still
failing) unless the run retries failures.  ``scened status`` asks the same question
to count what is pending, so it never says 0 while ``run`` would re-tag everything.

The state follows the files: a photo the state remembers as tagged whose files no
longer hold scened's record (``scened untag`` ran, or its sidecar was removed) is
new work again, tagged at the next run like a photo never seen, whatever its format
(:func:`known_unless_untagged`).  The stat signature covers a RAW or HEIC photo's
sidecars (:class:`scened.daemon.scan.FileEntry`), so their removal is noticed.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from scened.errors import ScenedError
from scened.metadata.client import shared_worker
from scened.metadata.formats import SIDECAR_ONLY, existing_sidecars
from scened.metadata.tagger import has_scened_record

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    UNCHANGED = "unchanged"  # tagged by this model and policy, file unchanged
    FAILED_BEFORE = "failed before"  # failed last time, file unchanged: not retried
    NEEDS_WORK = "needs work"  # new, changed, or another model or policy


class Known(NamedTuple):
    """What the state recorded of a photo, as far as the decision goes."""

    #: ``(device, inode, size, mtime_ns)`` when recorded.
    signature: tuple[int, int, int, int]
    #: Recorded by the model and policy of this run.
    current: bool
    #: Tagged (not failed).
    tagged: bool


def verdict(
    known: Known | None, signature: tuple[int, int, int, int], *, retry_failed: bool = False
) -> Verdict:
    """Whether a photo with stat ``signature`` needs work, given what the state knows."""
    if known is None or known.signature != signature or not known.current:
        return Verdict.NEEDS_WORK
    if known.tagged:
        return Verdict.UNCHANGED
    return Verdict.NEEDS_WORK if retry_failed else Verdict.FAILED_BEFORE


def known_unless_untagged(known: Known | None, tags: Sequence[str], path: Path) -> Known | None:
    """``known``, or ``None`` when the photo's files no longer hold what scened wrote.

    Asked for a photo that :func:`verdict` found changed, before the run looks at
    its content hash or pixels: after ``scened untag`` those are the ones tagged
    before, and the run would keep the ``tags`` the state remembers without writing
    them.  Forgetting what the state knew makes the photo new work, classified (or
    its stored result reused) and written again, the same for embedded photos and
    for RAW or HEIC photos whose sidecar went away.  A photo recorded without tags
    (no confident class) never had a record in its files and keeps ``known``.
    """
    if known is None or not known.tagged or not tags:
        return known
    return known if holds_scened_record(path) else None


def holds_scened_record(photo: Path) -> bool:
    """Whether ``photo`` (where it embeds keywords) or one of its sidecars holds
    scened's record; a file that cannot be read counts as holding it (the run's own
    read reports the problem, and nothing is tagged twice on a guess)."""
    candidates = existing_sidecars(photo)
    if photo.suffix.lower() not in SIDECAR_ONLY:
        candidates.insert(0, photo)
    for candidate in candidates:
        try:
            if has_scened_record(shared_worker().read(candidate)):
                return True
        except ScenedError:
            log.debug("%s: cannot read scened's record", candidate, exc_info=True)
            return True
    return False
