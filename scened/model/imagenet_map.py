"""The ImageNet → scene table: which of the 1000 ImageNet classes stands for which scene.

The ImageNet classifier that comes with the backbone already recognises dogs,
airliners, pizzas and lakesides.  Its 1000 probabilities, summed per scene class
through this table, become a prior that is fused with the trained head, so the
table decides what ImageNet knowledge reaches the tags.  It is a reviewed text
file rather than code so that each choice can be read, argued about and edited:
``imagenet_scenes.tsv`` beside this module (training copies it into each model
folder, whose copy tagging uses: a model and its table travel together; edit it
and retrain with ``scened-train --mapping FILE``), tab-separated, one row per ImageNet
class in torchvision's output order::

    index  wnid  imagenet_name  scene  note

Lines starting with ``#`` are comments.  ``scene`` is one of the 36 scene classes
or empty (that ImageNet class says nothing reliable about the scene); ``note``
says why where the choice is not obvious.  A malformed table raises
:class:`MappingError` naming the file and line, because a silently shifted or
misspelt row would put wrong tags on photos.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scened.classes import CLASSES

#: Rows in the table: ImageNet-1k, in torchvision's (sorted WordNet id) order.
IMAGENET_CLASSES = 1000
COLUMNS = ("index", "wnid", "imagenet_name", "scene", "note")
#: The first three columns must be there; an editor may drop empty trailing ones.
REQUIRED_COLUMNS = 3
DEFAULT_MAPPING_FILE = Path(__file__).with_name("imagenet_scenes.tsv")


def default_mapping_file() -> Path:
    """The table that ships with scened (training copies it into each model folder)."""
    return DEFAULT_MAPPING_FILE


_WNID = re.compile(r"n\d{8}")


class MappingError(ValueError):
    """The table is malformed; the message starts with ``file:line``."""


@dataclass(frozen=True)
class MappingRow:
    """One ImageNet class and the scene class it stands for (``""``: none)."""

    index: int
    wnid: str
    name: str
    scene: str
    note: str


def _unknown_scene(scene: str) -> str:
    """The error text for a scene name that is not one of the 36 classes."""
    close = [name for name in CLASSES if name.casefold() == scene.casefold()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown scene class {scene!r}{hint}; use one of the 36 scene classes or leave it empty"


def mapping_rows(path: Path | None = None) -> list[MappingRow]:
    """Every row of the table at ``path`` (default: the packaged one), checked.

    Checks what would otherwise shift or lose a mapping without notice: the
    header, the column count, indices 0..999 in order, the WordNet id's form,
    exactly 1000 rows, and that each scene is one of the 36 classes or empty.
    """
    path = path or DEFAULT_MAPPING_FILE
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM from spreadsheets
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read the ImageNet → scene table: {exc}") from None
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not lines:
        raise MappingError(f"{path}: no header and no rows")
    header_number, header = lines[0]
    if tuple(cell.strip() for cell in header.split("\t")) != COLUMNS:
        raise MappingError(
            f"{path}:{header_number}: the first line that is not a comment must be "
            f"the tab-separated header {', '.join(COLUMNS)}"
        )
    rows: list[MappingRow] = []
    for number, line in lines[1:]:
        where = f"{path}:{number}"
        cells = line.split("\t")
        if not REQUIRED_COLUMNS <= len(cells) <= len(COLUMNS):
            raise MappingError(
                f"{where}: {len(cells)} tab-separated columns, expected {len(COLUMNS)}"
            )
        cells += [""] * (len(COLUMNS) - len(cells))
        index, wnid, name, scene, note = (cell.strip() for cell in cells)
        if len(rows) == IMAGENET_CLASSES:
            raise MappingError(f"{where}: more than {IMAGENET_CLASSES} rows")
        if index != str(len(rows)):
            raise MappingError(
                f"{where}: index {index!r}, expected {len(rows)} "
                "(rows must stay in torchvision's order, one per ImageNet class)"
            )
        if not _WNID.fullmatch(wnid):
            raise MappingError(f"{where}: WordNet id {wnid!r} is not of the form n01440764")
        if scene and scene not in CLASSES:
            raise MappingError(f"{where}: {_unknown_scene(scene)}")
        rows.append(MappingRow(len(rows), wnid, name, scene, note))
    if len(rows) != IMAGENET_CLASSES:
        last = lines[-1][0]
        raise MappingError(f"{path}:{last}: {len(rows)} rows, expected {IMAGENET_CLASSES}")
    return rows


def load_mapping(path: Path | None, classes: Sequence[str]) -> np.ndarray:
    """The table as a ``(1000, len(classes))`` float32 0/1 matrix for a model's ``classes``.

    ``path`` None means the packaged table.  Each row has at most one 1, in the
    column of its scene.  A scene that is one of the 36 classes but not of
    ``classes`` (a model trained on fewer classes) is dropped, not an error:
    the same table serves every model.
    """
    column = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((IMAGENET_CLASSES, len(classes)), np.float32)
    for row in mapping_rows(path):
        if row.scene in column:
            matrix[row.index, column[row.scene]] = 1.0
    return matrix
