"""Does this photo need work?  Decided in one place, for ``run``, the daemon and ``status``.

A photo needs work unless the state knows it with the same stat signature, tagged by
the same model and policy.  One it failed on before is left alone (counted as still
failing) unless the run retries failures.  ``scened status`` asks the same question
to count what is pending, so it never says 0 while ``run`` would re-tag everything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    UNCHANGED = "unchanged"  # tagged by this model and policy, file unchanged
    FAILED_BEFORE = "failed before"  # failed last time, file unchanged: not retried
    NEEDS_WORK = "needs work"  # new, changed, or another model or policy


@dataclass(frozen=True, slots=True)
class Known:
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
