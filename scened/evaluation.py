"""Scoring scened on a labelled folder tree (``scened eval``): the photos, then the figures.

A labelled tree is ``DIR/<Class>/<photo>`` where ``<Class>`` is one of the model's
labels (photos may sit in sub-folders of a class folder).  An optional TSV file lists,
per photo, other classes that are also right (a beach photo that is fairly a
``Coast``), so that the figures do not punish an answer a person would accept.

Pure: nothing here prints, loads the model or decodes a photo.  The command
(:mod:`scened.cli.eval_cmd`) classifies, builds :class:`PhotoRecord`\\ s and hands them
to :func:`build_report`; keeping the metrics apart lets them be checked on records
built by hand.
"""

from __future__ import annotations

import difflib
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scened.daemon.scan import SKIPPED_DIRS, is_supported
from scened.errors import ScenedError

#: Equal-width bins of the top-1 probability for the expected calibration error.
ECE_BINS = 15


class DatasetError(ScenedError):
    """The labelled tree or the acceptable-classes file cannot be used as given."""

    exit_code = 65  # EX_DATAERR; 1 is kept for "some photos could not be scored"


@dataclass(frozen=True)
class LabelledPhoto:
    """A photo of the tree: ``relative`` is its POSIX path under the root (as the TSV names it)."""

    path: Path
    relative: str
    truth: str
    acceptable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Dataset:
    """The photos of a labelled tree, sorted by path, and the folders skipped as unknown."""

    root: Path
    photos: tuple[LabelledPhoto, ...]
    ignored_folders: tuple[str, ...] = ()


def discover(root: Path, classes: Sequence[str], *, ignore_unknown: bool = False) -> Dataset:
    """The photos under ``root/<Class>/``; photos are the files ``scened run`` would tag.

    Hidden entries, NAS thumbnail folders and loose files in ``root`` are skipped.  A
    folder that is not one of ``classes`` is an error naming it (a typo would otherwise
    silently drop a class), unless ``ignore_unknown``.
    """
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        raise DatasetError("folder not found", root) from None
    except OSError as exc:
        raise DatasetError(f"cannot read the folder: {exc.strerror or exc}", root) from None
    photos: list[LabelledPhoto] = []
    ignored: list[str] = []
    for entry in entries:
        if _skipped(entry.name) or not entry.is_dir():
            continue
        if entry.name not in classes:
            if ignore_unknown:
                ignored.append(entry.name)
                continue
            raise DatasetError(_unknown_folder(entry.name, classes), entry.path)
        for path in _photos_under(Path(entry.path)):
            photos.append(LabelledPhoto(path, path.relative_to(root).as_posix(), entry.name))
    if not photos:
        raise DatasetError("no photos in class folders (expected DIR/<Class>/<photo>)", root)
    return Dataset(root, tuple(photos), tuple(ignored))


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS


def _photos_under(folder: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not _skipped(d)]
        for name in filenames:
            path = Path(dirpath, name)
            if not _skipped(name) and is_supported(name) and path.is_file():  # no FIFOs
                found.append(path)
    return sorted(found)


def _unknown_folder(name: str, classes: Sequence[str]) -> str:
    lowered = {c.lower(): c for c in classes}
    guess = lowered.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, classes, n=1)), None
    )
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return (
        f"folder {name!r} is not one of the model's classes{hint}; "
        "rename it or pass --ignore-unknown-classes"
    )


def read_acceptable(tsv: Path, dataset: Dataset, classes: Sequence[str]) -> Dataset:
    """``dataset`` with the acceptable classes of ``tsv`` attached to its photos.

    Each line is ``<relative path>\\t<Class>[,<Class>…]``; blank lines and lines
    starting with ``#`` are skipped.  Errors name the file and the line: a path that
    is not a photo of the tree (except under an ignored folder), an unknown class, a
    photo listed twice.
    """
    try:
        lines = tsv.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise DatasetError("not UTF-8 text", tsv) from None
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror or exc}", tsv) from None
    known = {photo.relative for photo in dataset.photos}
    extra: dict[str, frozenset[str]] = {}
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        relative, tab, listed = line.partition("\t")
        relative = relative.strip().removeprefix("./")
        names = [name.strip() for name in listed.split(",")]
        if not tab or not relative or not all(names):
            raise DatasetError(f"line {number}: expected <path><TAB><Class>[,<Class>…]", tsv)
        if relative not in known:
            if relative.split("/", 1)[0] in dataset.ignored_folders:
                continue
            raise DatasetError(f"line {number}: no photo {relative!r} in {dataset.root}", tsv)
        if relative in seen:
            raise DatasetError(f"line {number}: {relative!r} is also on line {seen[relative]}", tsv)
        for name in names:
            if name not in classes:
                raise DatasetError(
                    f"line {number}: {name!r} is not one of the model's classes", tsv
                )
        seen[relative] = number
        extra[relative] = frozenset(names)
    photos = tuple(
        replace(p, acceptable=extra[p.relative]) if p.relative in extra else p
        for p in dataset.photos
    )
    return replace(dataset, photos=photos)


@dataclass(frozen=True)
class PhotoRecord:
    """One scored photo: its label, the model's top classes (most probable first), its tags."""

    path: str
    truth: str
    acceptable: frozenset[str]
    top: tuple[tuple[str, float], ...]
    tags: tuple[str, ...]

    def is_acceptable(self, name: str) -> bool:
        """A class or tag is acceptable when it is the truth or one of the listed classes."""
        return name == self.truth or name in self.acceptable


@dataclass(frozen=True)
class Failure:
    """A photo that could not be scored, and the one-line reason."""

    path: str
    reason: str


@dataclass(frozen=True)
class ClassRecall:
    """Strict top-1 recall of one class of the tree: ``correct`` of ``support`` photos."""

    name: str
    support: int
    correct: int

    @property
    def recall(self) -> float:
        return self.correct / self.support


@dataclass(frozen=True)
class Confusion:
    """``count`` photos labelled ``truth`` whose top-1 class was ``predicted`` (≠ truth)."""

    truth: str
    predicted: str
    count: int


@dataclass(frozen=True)
class EvalReport:
    """Every figure of an evaluation; the rates are ``None`` when nothing was scored.

    ``per_class`` is sorted worst recall first; ``confusions`` holds the non-zero
    off-diagonal pairs, most frequent first.  A tag is acceptable when it equals the
    truth class or one of the photo's acceptable classes (tags a policy renamed do
    not match).  ``ece`` is the expected calibration error of the top-1 probability
    over :data:`ECE_BINS` equal-width bins (see :func:`expected_calibration_error`).
    """

    photos: int
    top1_correct: int
    top1_acceptable_correct: int
    top2_correct: int
    tag_hits: int
    tags_written: int
    tags_acceptable: int
    untagged: int
    ece: float | None
    per_class: tuple[ClassRecall, ...]
    confusions: tuple[Confusion, ...]
    failures: tuple[Failure, ...] = ()
    model_id: str = ""
    policy: str = ""
    ignored_folders: tuple[str, ...] = ()

    @property
    def top1_accuracy(self) -> float | None:
        return _ratio(self.top1_correct, self.photos)

    @property
    def top1_acceptable(self) -> float | None:
        return _ratio(self.top1_acceptable_correct, self.photos)

    @property
    def top2_accuracy(self) -> float | None:
        return _ratio(self.top2_correct, self.photos)

    @property
    def tag_hit_rate(self) -> float | None:
        """Share of photos with at least one acceptable tag (untagged photos count as misses)."""
        return _ratio(self.tag_hits, self.photos)

    @property
    def tag_precision(self) -> float | None:
        """Share of all written tags that are acceptable."""
        return _ratio(self.tags_acceptable, self.tags_written)

    @property
    def untagged_share(self) -> float | None:
        return _ratio(self.untagged, self.photos)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def build_report(
    records: Sequence[PhotoRecord],
    failures: Iterable[Failure] = (),
    *,
    model_id: str = "",
    policy: str = "",
    ignored_folders: Sequence[str] = (),
) -> EvalReport:
    """Compute every figure of :class:`EvalReport` from the scored photos."""
    support: Counter[str] = Counter(r.truth for r in records)
    correct: Counter[str] = Counter(r.truth for r in records if r.top[0][0] == r.truth)
    pairs: Counter[tuple[str, str]] = Counter(
        (r.truth, r.top[0][0]) for r in records if r.top[0][0] != r.truth
    )
    per_class = sorted(
        (ClassRecall(name, n, correct[name]) for name, n in support.items()),
        key=lambda c: (c.recall, c.name),
    )
    confusions = sorted(
        (Confusion(t, p, n) for (t, p), n in pairs.items()),
        key=lambda c: (-c.count, c.truth, c.predicted),
    )
    return EvalReport(
        photos=len(records),
        top1_correct=sum(correct.values()),
        top1_acceptable_correct=sum(r.is_acceptable(r.top[0][0]) for r in records),
        top2_correct=sum(any(c == r.truth for c, _ in r.top[:2]) for r in records),
        tag_hits=sum(any(r.is_acceptable(t) for t in r.tags) for r in records),
        tags_written=sum(len(r.tags) for r in records),
        tags_acceptable=sum(r.is_acceptable(t) for r in records for t in r.tags),
        untagged=sum(not r.tags for r in records),
        ece=expected_calibration_error(
            [r.top[0][1] for r in records], [r.top[0][0] == r.truth for r in records]
        ),
        per_class=tuple(per_class),
        confusions=tuple(confusions),
        failures=tuple(failures),
        model_id=model_id,
        policy=policy,
        ignored_folders=tuple(ignored_folders),
    )


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS
) -> float | None:
    """ECE: the photo-weighted mean gap between accuracy and mean confidence per bin.

    ``bins`` equal-width bins over [0, 1], right-closed as in Guo et al. (2017):
    bin *i* holds confidences in ``(i/bins, (i+1)/bins]`` (0 goes into the first).
    Accuracy is strict top-1.  ``None`` for no photos.
    """
    if not confidences:
        return None
    totals = [[0, 0.0, 0] for _ in range(bins)]  # photos, summed confidence, correct
    for confidence, right in zip(confidences, correct, strict=True):
        index = min(bins - 1, max(0, math.ceil(confidence * bins) - 1))
        totals[index][0] += 1
        totals[index][1] += confidence
        totals[index][2] += int(right)
    return sum(abs(hits - summed) for _, summed, hits in totals) / len(confidences)


def to_json(report: EvalReport) -> dict[str, Any]:
    """The report as one JSON-ready document (rates rounded to 6 places, ``null`` if undefined)."""
    r = report
    return {
        "model": r.model_id, "policy": r.policy, "photos": r.photos, "failed": len(r.failures),
        "top1_correct": r.top1_correct, "top1_accuracy": _round(r.top1_accuracy),
        "top1_acceptable_correct": r.top1_acceptable_correct,
        "top1_acceptable": _round(r.top1_acceptable),
        "top2_correct": r.top2_correct, "top2_accuracy": _round(r.top2_accuracy),
        "tag_hits": r.tag_hits, "tag_hit_rate": _round(r.tag_hit_rate),
        "tags_written": r.tags_written, "tags_acceptable": r.tags_acceptable,
        "tag_precision": _round(r.tag_precision),
        "untagged": r.untagged, "untagged_share": _round(r.untagged_share),
        "ece": _round(r.ece), "ece_bins": ECE_BINS,
        "per_class": [
            {"class": c.name, "support": c.support, "correct": c.correct,
             "recall": _round(c.recall)}
            for c in r.per_class
        ],
        "confusions": [
            {"truth": c.truth, "predicted": c.predicted, "count": c.count} for c in r.confusions
        ],
        "failures": [{"path": f.path, "reason": f.reason} for f in r.failures],
        "ignored_folders": list(r.ignored_folders),
    }  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
