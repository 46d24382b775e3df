"""A decision made on the review page: written into the photo at once, kept as labels.

Three decisions about a photo scened has tagged:

* ``confirm``: scened's tags are right: each becomes a positive label and is
  recorded in the photo as confirmed (``Xmp.scened.Confirmed``: kept by every later
  tag, whatever the model says);
* ``choose`` a class: the photo is that class: it becomes the photo's only scened
  tag, confirmed, and scened's other tags are refused (``Xmp.scened.Rejected``:
  never written into it again); one positive label and a negative one per refused;
* ``none``: none of scened's tags is right: they are all refused and removed.

The write goes through the library's sinks, atomically as every write (a photo
changed since its last scan is left alone: the next scan sees it first), and the
state records the new tags, so the next scan does not take scened's own write for
a change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pluggy

from scened.config import LibraryConfig
from scened.daemon.jobs import read_photo
from scened.daemon.recognise import policy_digest
from scened.daemon.state import StateDB
from scened.errors import ScenedError
from scened.learning.store import add_labels
from scened.sinks import build_sinks
from scened.types import Prediction, TagResult

Kind = Literal["confirm", "choose", "none"]
KINDS: tuple[Kind, ...] = ("confirm", "choose", "none")


@dataclass(frozen=True)
class Decision:
    kind: Kind
    #: The class chosen (``choose`` only).
    class_name: str | None = None


@dataclass(frozen=True)
class Outcome:
    tags: tuple[str, ...]
    labels: tuple[tuple[str, bool], ...]


def plan_decision(
    decision: Decision, current: Sequence[str], classes: Sequence[str],
    rename: Mapping[str, str],
) -> tuple[Outcome, tuple[str, ...], tuple[str, ...]]:  # fmt: skip
    """The new tags and labels, and the tags confirmed and refused with the write."""
    tag_of = {name: rename.get(name, name) for name in classes}
    class_of = {tag: name for name, tag in tag_of.items()}
    current = tuple(current)
    if decision.kind == "confirm":
        labels = tuple((class_of[t], True) for t in current if t in class_of)
        return Outcome(current, labels), current, ()
    if decision.kind == "none":
        labels = tuple((class_of[t], False) for t in current if t in class_of)
        return Outcome((), labels), (), current
    if decision.class_name not in tag_of:
        raise ScenedError(f"unknown class {decision.class_name!r}")
    chosen = tag_of[decision.class_name]
    refused = tuple(t for t in current if t != chosen)
    negatives = [(class_of[t], False) for t in refused if t in class_of]
    labels = ((decision.class_name, True), *negatives)
    return Outcome((chosen,), labels), (chosen,), refused


def apply_decision(
    photo: Path,
    decision: Decision,
    *,
    library: LibraryConfig,
    state: StateDB,
    pm: pluggy.PluginManager,
    classes: Sequence[str],
) -> Outcome:
    """Write ``decision`` into ``photo`` through the library's sinks and record it."""
    record = state.get(photo)
    if record is None or record.outcome != "tagged" or record.library != library.name:
        raise ScenedError("not tagged by scened in this library yet", photo)
    rename = library.policy_options.get("rename")
    outcome, confirmed, refused = plan_decision(
        decision, record.tags, classes, rename if isinstance(rename, Mapping) else {}
    )
    probabilities = record.probabilities or tuple(1.0 / len(classes) for _ in classes)
    result = TagResult(
        photo, outcome.tags, Prediction(probabilities, tuple(classes), record.model_id or ""),
        library.policy_name, library.name, read_signature=record.signature,
        policy_digest=policy_digest(library.policy_key), pixels=record.pixel_digest or "",
        confirmed=confirmed, rejected=refused,
    )  # fmt: skip
    sinks = build_sinks(pm, library.sinks)
    try:
        for sink in sinks:
            sink.write(result)
    finally:
        for sink in sinks:
            sink.close()
    after = photo.stat()
    digest, _ = read_photo(photo)
    state.record(
        dataclasses.replace(
            record,
            tags=outcome.tags,
            device=after.st_dev,
            inode=after.st_ino,
            size=after.st_size,
            mtime_ns=after.st_mtime_ns,
            content_hash=digest,
            updated_at="",
        )
    )
    add_labels(state, library.name, photo, outcome.labels, "review")
    return outcome
