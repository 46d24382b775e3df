"""Where keywords can go for each kind of file, and sidecar file names."""

from __future__ import annotations

import enum
import stat
from pathlib import Path

from scened.formats import BY_SUFFIX, Keywords, suffixes

#: Formats exiv2 writes XMP and IPTC into (from the one format table).
EMBEDDED = suffixes(keywords=Keywords.EMBEDDED)
#: Formats exiv2 writes XMP into but silently drops IPTC from.
XMP_ONLY = suffixes(keywords=Keywords.EMBEDDED_XMP)
#: Camera RAW, whose makers' tools expect sidecars, and formats exiv2 cannot write.
SIDECAR_ONLY = suffixes(keywords=Keywords.SIDECAR)
#: JPEG, whose keyword segments are edited apart from the picture.
JPEG = frozenset(BY_SUFFIX[".jpg"].suffixes)

#: A blank XMP packet, the start of a new sidecar.
EMPTY_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>\n'
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>\n'
).encode()


class Placement(enum.Enum):
    """Where the keywords of one photo go."""

    EMBEDDED = "embedded"  # XMP and IPTC in the file
    EMBEDDED_XMP = "embedded-xmp"  # XMP only, in the file
    SIDECAR = "sidecar"
    UNSUPPORTED = "unsupported"


class SidecarNaming(enum.Enum):
    """``photo.xmp`` (Adobe: Lightroom, Bridge) or ``photo.ext.xmp`` (digiKam, darktable)."""

    ADOBE = "adobe"
    DIGIKAM = "digikam"

    def path_for(self, photo: Path) -> Path:
        if self is SidecarNaming.ADOBE:
            return photo.with_suffix(".xmp")
        return photo.with_name(photo.name + ".xmp")


def placement_for(photo: Path, *, respect_read_only: bool = True) -> Placement:
    """Where keywords for ``photo`` go, from its name and (optionally) its mode bits."""
    suffix = photo.suffix.lower()
    if suffix in SIDECAR_ONLY:
        return Placement.SIDECAR
    if suffix not in EMBEDDED | XMP_ONLY:
        return Placement.UNSUPPORTED
    if respect_read_only and is_marked_read_only(photo):
        return Placement.SIDECAR
    return Placement.EMBEDDED if suffix in EMBEDDED else Placement.EMBEDDED_XMP


def is_marked_read_only(photo: Path) -> bool:
    """Whether the owner's write bit is off: the user's way of saying "do not touch".

    Decided from the mode bits, never from a failed write: as root every write succeeds.
    """
    return not photo.stat().st_mode & stat.S_IWUSR


def sidecar_for(photo: Path, naming: SidecarNaming) -> Path:
    """The sidecar to write: an existing one in either style, else a new one in ``naming``."""
    preferred = naming.path_for(photo)
    if preferred.exists():
        return preferred
    for other in SidecarNaming:
        if other.path_for(photo).exists():
            return other.path_for(photo)
    return preferred


def sidecar_names(photo: Path) -> list[Path]:
    """The paths a sidecar of ``photo`` may have, one per naming style."""
    return list(dict.fromkeys(naming.path_for(photo) for naming in SidecarNaming))


def existing_sidecars(photo: Path) -> list[Path]:
    """Every sidecar of ``photo`` that exists, in either naming style."""
    return [path for path in sidecar_names(photo) if path.exists()]
