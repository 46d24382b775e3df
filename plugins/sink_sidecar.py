"""The ``sidecar`` sink: keywords in an XMP sidecar, never touching the photo.

Options: ``root`` (default ``Scenes``) and ``naming``: ``adobe`` (photo.xmp, what
Lightroom reads for RAW; default) or ``digikam`` (photo.ext.xmp, digiKam and
darktable).  An existing sidecar in either style is merged into, never replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scened import hookimpl
from scened.errors import MetadataError
from scened.hookspecs import RegisterSink
from scened.metadata.fields import KeywordOptions
from scened.metadata.formats import SidecarNaming, existing_sidecars, sidecar_for
from scened.metadata.tagger import KeywordWriter, provenance_of
from scened.options import OptionReader, keyword_options, sidecar_naming
from scened.types import Sink, TagResult


class SidecarSink:
    """Writes every photo's keywords into its XMP sidecar."""

    #: Each call works on its own files through the metadata worker pool.
    thread_safe = True
    #: scened's record goes into the photo or its sidecar (``scened untag`` removes it).
    records_in_files = True

    def __init__(
        self,
        keywords: KeywordOptions,
        naming: SidecarNaming = SidecarNaming.ADOBE,
        writer: KeywordWriter | None = None,
    ) -> None:
        self.keywords = keywords
        self.naming = naming
        self.writer = writer or KeywordWriter()

    def write(self, result: TagResult, *, dry_run: bool = False) -> None:
        photo = result.path
        if not photo.exists():
            raise MetadataError("photo not found", photo)
        self.writer.tag_sidecar(
            sidecar_for(photo, self.naming),
            photo,
            result.tags,
            self.keywords,
            dry_run=dry_run,
            provenance=provenance_of(result),
        )

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        for sidecar in existing_sidecars(path):
            self.writer.untag(sidecar, dry_run=dry_run)

    def close(self) -> None:
        """Nothing to release: the metadata worker is shared by the process."""


def sidecar_sink(options: Mapping[str, Any]) -> Sink:
    reader = OptionReader(options, ("root", "naming"), "sidecar sink")
    return SidecarSink(keyword_options(reader), sidecar_naming(reader, "naming"))


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    register("sidecar", sidecar_sink)
