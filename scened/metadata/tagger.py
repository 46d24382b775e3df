"""Writing and removing scened's keywords in photos and sidecars.

The one place that combines the merge plans (:mod:`scened.metadata.fields`), the
exiv2 worker (:mod:`scened.metadata.client`) and atomic replacement
(:mod:`scened.metadata.atomic`).  Sinks and ``scened untag`` call these.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from scened.errors import MetadataError
from scened.metadata import jpeg_segments
from scened.metadata.atomic import Signature, replace_atomically, replace_contents
from scened.metadata.client import MetadataWorker, shared_worker
from scened.metadata.fields import (
    RECORD_OF,
    RECORD_TAGS,
    FieldValue,
    KeywordOptions,
    Provenance,
    changes,
    plan_tag,
    plan_untag,
)
from scened.metadata.formats import (
    EMPTY_PACKET,
    JPEG,
    XMP_ONLY,
    Placement,
    existing_sidecars,
    placement_for,
)
from scened.types import Replaced, Spliced, TagResult

log = logging.getLogger(__name__)

#: Computes the keys to change from what a file holds now.
Planner = Callable[[Mapping[str, Any]], dict[str, FieldValue]]


class KeywordWriter:
    """Writes tags into files and sidecars through one metadata worker."""

    def __init__(self, worker: MetadataWorker | None = None) -> None:
        self.worker = worker or shared_worker()

    def read(self, path: Path) -> dict[str, Any]:
        """Keyword fields and scened's record of ``path`` (a photo or a sidecar)."""
        return self.worker.read(path)

    def tag_file(
        self,
        path: Path,
        tags: Sequence[str],
        options: KeywordOptions,
        *,
        model_id: str = "",
        dry_run: bool = False,
        expect: Signature | None = None,
        provenance: Provenance | None = None,
    ) -> bool:
        """Merge ``tags`` into the metadata embedded in ``path``; whether it changed.

        IPTC is left out where exiv2 cannot write it (WebP), whatever ``options`` say.
        With ``expect``, a photo whose signature is no longer that is left alone
        (:class:`~scened.errors.PhotoBusyError`).
        """
        if path.suffix.lower() in XMP_ONLY:
            options = dataclasses.replace(options, iptc=False)
        planner = _tag_planner(tags, options, provenance or Provenance(model_id))
        return self._apply(path, planner, dry_run=dry_run, expect=expect)

    def tag_content(
        self,
        path: Path,
        content: bytes,
        tags: Sequence[str],
        options: KeywordOptions,
        *,
        expect: Signature,
        provenance: Provenance,
    ) -> Replaced | None:
        """As :meth:`tag_file`, from the photo's ``content`` as read when its signature
        was ``expect`` (not read again); what replaced it, or None if nothing changed.

        For a JPEG only its XMP and IPTC segments go to the metadata worker and come
        back edited (:mod:`scened.metadata.jpeg_segments`); any other format, or a JPEG
        whose structure that module does not handle, goes whole.
        """
        if path.suffix.lower() in XMP_ONLY:
            options = dataclasses.replace(options, iptc=False)
        planner = _tag_planner(tags, options, provenance)

        def transform(data: bytes) -> bytes | Spliced | None:
            found = jpeg_segments.find(data) if path.suffix.lower() in JPEG else None
            if found is None:
                return self._edit_content(data, path, planner)
            edited = self._edit_content(jpeg_segments.carrier(data, found), path, planner)
            if edited is None:
                return None
            segments = jpeg_segments.keyword_segments_of(edited)
            if segments is None:
                raise MetadataError("exiv2 wrote metadata that could not be spliced", path)
            return jpeg_segments.splice(data, found, segments)

        return replace_contents(path, transform, content=content, expect=expect)

    def _edit_content(self, content: bytes, path: Path, planner: Planner) -> bytes | None:
        current = self.worker.read_bytes(content, path)
        todo = _todo(path, current, planner)
        if not todo:
            return None
        return self.worker.write_bytes(content, todo, path)

    def tag_sidecar(
        self,
        sidecar: Path,
        photo: Path,
        tags: Sequence[str],
        options: KeywordOptions,
        *,
        model_id: str = "",
        dry_run: bool = False,
        provenance: Provenance | None = None,
    ) -> bool:
        """Merge ``tags`` into ``sidecar`` (created if missing); whether it changed."""
        xmp_only = KeywordOptions(root=options.root, iptc=False)
        planner = _tag_planner(tags, xmp_only, provenance or Provenance(model_id))
        if sidecar.exists():
            return self._apply(sidecar, planner, dry_run=dry_run)
        if not tags:  # no confident tag: no sidecar just to say so
            return False
        if dry_run:
            log.info("dry run: would create %s with %s", sidecar, list(tags))
            return True
        return replace_atomically(
            sidecar, _Editor(self, planner, sidecar), initial=EMPTY_PACKET, like=photo
        )

    def untag(self, path: Path, *, dry_run: bool = False) -> bool:
        """Remove what scened recorded writing into ``path``; whether it changed."""
        return self._apply(path, plan_untag, dry_run=dry_run)

    def untag_photo(
        self, photo: Path, *, dry_run: bool = False, respect_read_only: bool = False
    ) -> list[Path]:
        """Remove scened's keywords from ``photo`` and its sidecars; the files changed.

        By default read-only photos are cleaned too: the user asked for it.
        """
        changed = []
        placement = placement_for(photo, respect_read_only=respect_read_only)
        if placement in (Placement.EMBEDDED, Placement.EMBEDDED_XMP) and self.untag(
            photo, dry_run=dry_run
        ):
            changed.append(photo)
        changed.extend(s for s in existing_sidecars(photo) if self.untag(s, dry_run=dry_run))
        return changed

    def _apply(
        self, path: Path, planner: Planner, *, dry_run: bool, expect: Signature | None = None
    ) -> bool:
        if dry_run:
            current = self.worker.read(path)
            todo = _todo(path, current, planner)
            if todo:
                log.info("dry run: would change %s: %s", path, sorted(todo))
            return bool(todo)
        editor = _Editor(self, planner, path)
        if replace_atomically(path, editor, expect=expect):
            return True
        if editor.emptied_sidecar:  # nothing but scened's keywords was in it
            path.unlink()
            log.info("removed %s: nothing but scened's keywords was in it", path)
            return True
        return False


class _Editor:
    """The edit that :func:`replace_atomically` runs on the temporary copy of ``path``."""

    def __init__(self, writer: KeywordWriter, planner: Planner, path: Path) -> None:
        self.writer = writer
        self.planner = planner
        self.path = path
        self.emptied_sidecar = False

    def __call__(self, temporary: Path) -> bool:
        try:
            return self._edit(temporary)
        except MetadataError as exc:  # name the photo, not the temporary copy
            raise MetadataError(exc.message, self.path) from exc

    def _edit(self, temporary: Path) -> bool:
        worker = self.writer.worker
        current = worker.read(temporary)
        todo = _todo(temporary, current, self.planner)
        if not todo:
            return False
        left = worker.write(temporary, todo)
        if left == 0 and self.path.suffix.lower() == ".xmp" and self.path.exists():
            self.emptied_sidecar = True
            return False
        return True


def provenance_of(result: TagResult) -> Provenance:
    """What a sink records beside the tags of ``result``."""
    return Provenance(
        result.prediction.model_id, result.policy_digest, result.pixels,
        result.confirmed, result.rejected,
    )  # fmt: skip


def _tag_planner(tags: Sequence[str], options: KeywordOptions, provenance: Provenance) -> Planner:
    """Plans a re-tag; with no tags, a file scened never wrote into is left untouched."""

    def planner(current: Mapping[str, Any]) -> dict[str, FieldValue]:
        if not tags and not has_scened_record(current):
            return {}
        return plan_tag(current, tags, options, provenance=provenance)

    return planner


def has_scened_record(fields: Mapping[str, Any]) -> bool:
    """Whether scened has written into the file these fields were read from."""
    return any(fields.get(key) for key in (RECORD_TAGS, *RECORD_OF.values()))


def _todo(path: Path, current: Mapping[str, Any], planner: Planner) -> dict[str, FieldValue]:
    """The keys to change, leaving out IPTC where the format cannot hold it."""
    todo = changes(current, planner(current))
    if path.suffix.lower() in XMP_ONLY | {".xmp"}:
        todo = {key: value for key, value in todo.items() if not key.startswith("Iptc.")}
    return todo
