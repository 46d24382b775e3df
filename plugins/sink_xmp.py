"""The ``xmp`` sink (the default): keywords embedded in the photo, or in a sidecar.

Embedded XMP + IPTC for JPEG, PNG, TIFF and DNG; embedded XMP only for WebP
(exiv2 drops IPTC there); an XMP sidecar for camera RAW and HEIC/HEIF/AVIF, which
exiv2 cannot write safely, and for photos the user marked read-only.

Options: ``root`` (hierarchy root, default ``Scenes``), ``iptc`` (default true),
``sidecar_naming`` (``adobe``: photo.xmp, default; ``digikam``: photo.ext.xmp),
``read_only`` (``sidecar``, default: read-only photos get a sidecar; ``skip``:
they get nothing; ``ignore``: written like any other, mode kept), ``hard_links``
(``skip``, default: a photo with several names is left unchanged with a clear
message, since writing a new file would split the names and double the disk use of
a deduplicated library; ``sidecar``: it gets a sidecar instead; ``split``: written
like any other, each name then a file of its own).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scened import hookimpl
from scened.errors import MetadataError
from scened.hookspecs import RegisterSink
from scened.metadata.fields import KeywordOptions
from scened.metadata.formats import (
    Placement,
    SidecarNaming,
    is_marked_read_only,
    placement_for,
    sidecar_for,
)
from scened.metadata.tagger import KeywordWriter, provenance_of
from scened.options import OptionReader, keyword_options, sidecar_naming
from scened.types import Replaced, Sink, TagResult

log = logging.getLogger(__name__)


class XmpSink:
    """Writes keywords where the format allows, in a sidecar where it does not."""

    #: Each call works on its own files through the metadata worker pool.
    thread_safe = True
    #: scened's record goes into the photo or its sidecar (``scened untag`` removes it).
    records_in_files = True

    def __init__(
        self,
        keywords: KeywordOptions,
        naming: SidecarNaming = SidecarNaming.ADOBE,
        read_only: str = "sidecar",
        writer: KeywordWriter | None = None,
        hard_links: str = "skip",
    ) -> None:
        self.keywords = keywords
        self.naming = naming
        self.read_only = read_only
        self.hard_links = hard_links
        self.writer = writer or KeywordWriter()

    def write(self, result: TagResult, *, dry_run: bool = False) -> Replaced | None:
        photo = result.path
        if not photo.exists():
            raise MetadataError("photo not found", photo)
        placement = self._placement(photo)
        if placement is Placement.UNSUPPORTED:
            raise MetadataError(
                f"cannot hold keywords ({photo.suffix or 'no extension'}); "
                "use the sidecar sink for such files",
                photo,
            )
        links = photo.stat().st_nlink
        if placement is not Placement.SIDECAR and links > 1 and self.hard_links != "split":
            if self.hard_links == "skip":
                raise MetadataError(
                    f"has {links} names (hard links): a tagged copy would split them; left "
                    'unchanged (xmp sink option hard_links = "sidecar" or "split")',
                    photo,
                )
            placement = Placement.SIDECAR
        if placement is Placement.SIDECAR:
            sidecar = sidecar_for(photo, self.naming)
            self.writer.tag_sidecar(
                sidecar, photo, result.tags, self.keywords, dry_run=dry_run,
                provenance=provenance_of(result),
            )  # fmt: skip
        elif self.read_only == "skip" and is_marked_read_only(photo):
            log.info("%s is read-only: not tagged", photo)
        elif result.content is not None and result.read_signature is not None and not dry_run:
            return self.writer.tag_content(
                photo, result.content, result.tags, self.keywords,
                expect=result.read_signature, provenance=provenance_of(result),
            )  # fmt: skip
        else:
            self.writer.tag_file(
                photo, result.tags, self.keywords, dry_run=dry_run,
                expect=result.read_signature, provenance=provenance_of(result),
            )  # fmt: skip
        return None

    def _placement(self, photo: Path) -> Placement:
        respect = self.read_only == "sidecar"
        return placement_for(photo, respect_read_only=respect)

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        self.writer.untag_photo(path, dry_run=dry_run)

    def close(self) -> None:
        """Nothing to release: the metadata worker is shared by the process."""


def xmp_sink(options: Mapping[str, Any]) -> Sink:
    reader = OptionReader(
        options, ("root", "iptc", "sidecar_naming", "read_only", "hard_links"), "xmp sink"
    )
    return XmpSink(
        keywords=keyword_options(reader),
        naming=sidecar_naming(reader, "sidecar_naming"),
        read_only=reader.choice("read_only", "sidecar", ("sidecar", "skip", "ignore")),
        hard_links=reader.choice("hard_links", "skip", ("skip", "sidecar", "split")),
    )


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    register("xmp", xmp_sink)
