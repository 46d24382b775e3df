"""A user's corrections, read out of a photo's keywords: the labels scened learns from.

scened records in each photo the keywords it wrote (``Xmp.scened.*``), so what the
user changed is plain to see:

* a scened keyword the user removed (in any field scened wrote it to) is a
  *negative* label: "not this class" (:func:`scened.metadata.fields.rejected_tags`,
  the same comparison that keeps it from ever being written back);
* a keyword the user added that names a class, flat (``Beach``, or the name the
  policy renames it to) or under the keyword root (``Scenes|Beach`` in
  ``hierarchicalSubject``, ``Scenes/Beach`` in digiKam's ``TagsList``), is a
  *positive* label: "this is a Beach".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scened.metadata.fields import (
    HIERARCHICAL,
    RECORD_OF,
    SUBJECT,
    TAGS_LIST,
    as_list,
    rejected_tags,
)


def labels_from_fields(
    current: Mapping[str, object],
    classes: Sequence[str],
    *,
    rename: Mapping[str, str] | None = None,
    root: str = "Scenes",
) -> list[tuple[str, bool]]:
    """``(class, positive)`` for each correction the user made in ``current``."""
    by_name = {name.casefold(): name for name in classes}
    for class_name, tag in (rename or {}).items():
        by_name[tag.casefold()] = class_name
    positives: dict[str, bool] = {}
    for field, separator in ((SUBJECT, ""), (HIERARCHICAL, "|"), (TAGS_LIST, "/")):
        ours = set(as_list(current.get(RECORD_OF[field])))
        for value in as_list(current.get(field)):
            if value in ours:
                continue
            name = _class_named(value, separator, root)
            if name is not None and name.casefold() in by_name:
                positives[by_name[name.casefold()]] = True
    negatives = {
        by_name[tag.casefold()]: False
        for tag in rejected_tags(current)
        if tag.casefold() in by_name and by_name[tag.casefold()] not in positives
    }
    return sorted({**negatives, **positives}.items())


def _class_named(value: str, separator: str, root: str) -> str | None:
    """The class a keyword value names, if it is flat or directly under ``root``."""
    if not separator:
        return value
    head, _, tail = value.rpartition(separator)
    return tail if head == root else None
