"""Recognise, from its pixels, a photo scened has already tagged: no model, no write.

A photo's file changes for reasons that are not new pixels: the user edits its
keywords in Lightroom or digiKam, another tool adds a rating.  Classifying such a
photo again would at best rewrite the same tags (a new mtime, a needless write into
a file the user just saved) and at worst fight the user.  So scened keeps a digest
of the pixels the model saw, in the state database and in the photo's own record
(``Xmp.scened.Pixels``, with the model and a digest of the policy):

* a changed photo whose pixels are those recorded, for the same model and policy,
  is only re-recorded (its tags are what the user left);
* a photo the state does not know (a state database rebuilt after corruption, a
  library moved to a new machine) whose own record names this model, this policy and
  these pixels is adopted as it is, without rewriting it.

The digest is of the decoded image at the model's input size (what determines the
tags), so it ignores every metadata change and notices any change of the pixels
or of the orientation.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scened.errors import ScenedError
from scened.metadata.client import shared_worker
from scened.metadata.fields import (
    RECORD_MODEL,
    RECORD_PIXELS,
    RECORD_POLICY,
    SCENED_NS,
    recorded_tags,
)
from scened.metadata.formats import existing_sidecars

log = logging.getLogger(__name__)

_NAMESPACE = SCENED_NS.encode("ascii")


def policy_digest(policy_key: str) -> str:
    """A short digest of a library's policy (name and options, canonical JSON)."""
    return hashlib.sha256(policy_key.encode()).hexdigest()[:16]


def recorded_in_photo(
    path: Path, data: bytes | None, *, model_id: str, policy: str, pixels: str
) -> tuple[str, ...] | None:
    """The tags scened recorded in ``path`` (or its sidecar) for exactly this model,
    policy and pixels; ``None`` when there is no such record.

    ``data`` are the photo's bytes if read: a photo without scened's namespace in
    them is not asked about (one metadata read saved per new photo).
    """
    candidates = list(existing_sidecars(path))
    if data is None or _NAMESPACE in data:
        candidates.insert(0, path)
    for candidate in candidates:
        try:
            record = shared_worker().read(candidate)
        except ScenedError:
            log.debug("%s: cannot read scened's record", candidate, exc_info=True)
            continue
        if _matches(record, model_id=model_id, policy=policy, pixels=pixels):
            return tuple(recorded_tags(record))
    return None


def _matches(record: Mapping[str, Any], *, model_id: str, policy: str, pixels: str) -> bool:
    return (
        record.get(RECORD_MODEL) == model_id
        and record.get(RECORD_POLICY) == policy
        and record.get(RECORD_PIXELS) == pixels
    )
