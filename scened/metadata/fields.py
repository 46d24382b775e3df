"""Which keyword fields scened writes, and how new tags merge with what is there.

Pure Python, no exiv2: the plans computed here are carried out by the metadata
worker (:mod:`scened.metadata.exiv2ops`).

What scened added to each field is recorded in its own XMP namespace
(``Xmp.scened.*``) inside the same file or sidecar, so a re-tag replaces only
scened's previous keywords and ``scened untag`` removes exactly those, with or
without the daemon's database.  A value the user had before scened added it is
never recorded as scened's, so it is never removed.

The record also lets scened respect the user's decisions: a keyword scened wrote
that is now missing from a field where it was recorded was removed by the user
(in Lightroom, digiKam, exiftool…).  That tag is remembered in the file
(``Xmp.scened.Rejected``) and never written into that photo again, by any later
run or model; the rest of scened's keywords are re-tagged as usual.

The four keyword fields are kept consistent (the Metadata Working Group's rule that
whichever field a reader takes first shows the same keywords): a field scened
creates also gets the user's own keywords from the other fields, in its own form
(*copies*, recorded apart so that ``untag`` takes exactly them out again).  The
rules, with a table of fields and formats, are in ``docs/keywords.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: scened's private XMP namespace (registered with exiv2 in the worker).
SCENED_NS = "http://ns.scened.dev/xmp/1.0/"
SCENED_PREFIX = "scened"

SUBJECT = "Xmp.dc.subject"
HIERARCHICAL = "Xmp.lr.hierarchicalSubject"
TAGS_LIST = "Xmp.digiKam.TagsList"
IPTC_KEYWORDS = "Iptc.Application2.Keywords"
IPTC_CHARSET = "Iptc.Envelope.CharacterSet"
#: ISO 2022 escape sequence declaring UTF-8 (IPTC IIM 1:90 CodedCharacterSet).
IPTC_UTF8 = "\x1b%G"
#: What the worker reports as the character set of IPTC that is not UTF-8 and says nothing.
IPTC_LEGACY = "(undeclared, not UTF-8)"
#: IPTC IIM limits Keywords (2:25) to 64 bytes.
IPTC_KEYWORD_MAX_BYTES = 64

#: The chosen tags, as the policy returned them (for readers and ``untag``).
RECORD_TAGS = "Xmp.scened.Tags"
#: The model that produced them.
RECORD_MODEL = "Xmp.scened.Model"
#: The policy (a digest of its name and options) that chose them.
RECORD_POLICY = "Xmp.scened.Policy"
#: A digest of the pixels the model saw: a later change of metadata only (a keyword
#: edited in Lightroom) is recognised by it, and the photo is not classified again.
RECORD_PIXELS = "Xmp.scened.Pixels"
#: The user's own keywords that scened copied into a keyword field it created, so
#: that a reader that takes only the first non-empty field (digiKam: ``TagsList``,
#: then ``hierarchicalSubject``, ``dc:subject``, IPTC) still shows them.  ``untag``
#: removes exactly these copies with scened's own keywords.
CARRIED_OF: dict[str, str] = {
    SUBJECT: "Xmp.scened.CarriedSubject",
    HIERARCHICAL: "Xmp.scened.CarriedHierarchicalSubject",
    TAGS_LIST: "Xmp.scened.CarriedTagsList",
    IPTC_KEYWORDS: "Xmp.scened.CarriedIptcKeywords",
}
#: How each field separates the levels of a hierarchical keyword (flat fields: none).
SEPARATOR = {HIERARCHICAL: "|", TAGS_LIST: "/"}
#: Tags the user removed after scened wrote them: never written into this photo again.
RECORD_REJECTED = "Xmp.scened.Rejected"
#: Tags the user confirmed or chose (the review page): always kept in this photo.
RECORD_CONFIRMED = "Xmp.scened.Confirmed"
#: ``"True"`` when scened declared the IPTC character set (absent before).
RECORD_CHARSET = "Xmp.scened.SetCodedCharacterSet"
#: For each keyword field, the record of the values scened added to it.
RECORD_OF: dict[str, str] = {
    SUBJECT: "Xmp.scened.Subject",
    HIERARCHICAL: "Xmp.scened.HierarchicalSubject",
    TAGS_LIST: "Xmp.scened.TagsList",
    IPTC_KEYWORDS: "Xmp.scened.IptcKeywords",
}
XMP_FIELDS = (SUBJECT, HIERARCHICAL, TAGS_LIST)
KEYWORD_FIELDS = (*XMP_FIELDS, IPTC_KEYWORDS)
#: Array properties exiv2 would write as rdf:Seq but the XMP spec defines as rdf:Bag.
BAG_PROPERTIES = (
    "dc:subject",
    "lr:hierarchicalSubject",
    *(
        "scened:" + key.rsplit(".", 1)[1]
        for key in (
            RECORD_TAGS,
            RECORD_REJECTED,
            RECORD_CONFIRMED,
            *RECORD_OF.values(),
            *CARRIED_OF.values(),
        )
    ),
)

#: A key's new value: a list of strings, a single string, or ``None`` to delete it.
FieldValue = list[str] | str | None
Fields = Mapping[str, FieldValue]


@dataclass(frozen=True)
class KeywordOptions:
    """How tags become keywords: the hierarchy root and whether IPTC is written."""

    root: str = "Scenes"
    iptc: bool = True

    def values_for(self, field: str, tags: Sequence[str]) -> list[str]:
        """The values of ``field`` that stand for ``tags``."""
        if field == HIERARCHICAL:
            return [f"{self.root}|{tag}" for tag in tags]
        if field == TAGS_LIST:
            return [f"{self.root}/{tag}" for tag in tags]
        if field == IPTC_KEYWORDS:
            return [truncate_utf8(tag, IPTC_KEYWORD_MAX_BYTES) for tag in tags]
        return list(tags)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, never inside a character.

    IPTC readers reject or mangle longer keywords; the full keyword is still in XMP.
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    cut = encoded[:max_bytes].decode("utf-8", errors="ignore")
    log.warning("IPTC keyword %r is longer than %d bytes; written as %r", text, max_bytes, cut)
    return cut


def as_list(value: object) -> list[str]:
    """A field value as read by pyexiv2 (absent, one string, or a list) as a list."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _or_delete(values: list[str]) -> list[str] | None:
    return values or None


@dataclass(frozen=True)
class Provenance:
    """What produced the tags, recorded with them: model, policy digest, pixel digest."""

    model_id: str = ""
    policy: str = ""
    pixels: str = ""
    #: The user's decisions made with this write (the review page): tags to keep for
    #: good, and tags never to write again.
    confirmed: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()


def plan_tag(
    current: Mapping[str, object],
    tags: Sequence[str],
    options: KeywordOptions,
    model_id: str = "",
    provenance: Provenance | None = None,
) -> dict[str, FieldValue]:
    """The keys to set so that ``current`` carries ``tags`` and keeps the user's keywords.

    ``current`` maps keys to values as read from the file.  Only the values scened
    recorded as its own are dropped; the new tags are added after the user's
    keywords, skipping any the user already has (those stay the user's).
    ``provenance`` (or just ``model_id``) is recorded beside them.
    """
    provenance = provenance or Provenance(model_id)
    iptc = options.iptc and _iptc_is_utf8_or_unset(current)
    fields = [*XMP_FIELDS, IPTC_KEYWORDS] if iptc else list(XMP_FIELDS)
    # the newest decision wins: this write's, then removals since the last write, then
    # what was recorded before (a confirmed tag the user removed later is rejected)
    removed = rejected_tags(current)
    kept = [tag for tag in as_list(current.get(RECORD_CONFIRMED)) if tag not in removed]
    confirmed = [t for t in _unique([*kept, *provenance.confirmed])
                 if t not in provenance.rejected]  # fmt: skip
    rejected = [t for t in _unique([*removed, *provenance.rejected])
                if t not in provenance.confirmed]  # fmt: skip
    tags = _unique([*confirmed, *(tag for tag in tags if tag not in rejected)])
    plan: dict[str, FieldValue] = {
        RECORD_REJECTED: _or_delete(rejected), RECORD_CONFIRMED: _or_delete(confirmed),
    }  # fmt: skip
    for field in fields:
        user = _user_values(current, field)
        added = [v for v in _unique(options.values_for(field, tags)) if v not in user]
        # a field scened creates also gets the user's keywords from the others
        own = options.values_for(HIERARCHICAL, tags)
        carried = [v for v in _carried(current, field, own) if v not in added] if not user else []
        carried = carried if added else []
        plan[field] = _or_delete(user + carried + added)
        plan[RECORD_OF[field]] = _or_delete(added)
        plan[CARRIED_OF[field]] = _or_delete(carried)
    plan[RECORD_TAGS] = _or_delete(_unique(tags))
    plan[RECORD_MODEL] = provenance.model_id or None
    plan[RECORD_POLICY] = provenance.policy or None
    plan[RECORD_PIXELS] = provenance.pixels or None
    if iptc and not current.get(IPTC_CHARSET):
        plan[IPTC_CHARSET] = IPTC_UTF8
        plan[RECORD_CHARSET] = "True"
    return plan


def _iptc_is_utf8_or_unset(current: Mapping[str, object]) -> bool:
    """Whether UTF-8 IPTC keywords can go in without re-encoding the user's IPTC.

    A file that declares another IPTC character set keeps its IPTC as it is;
    scened then writes XMP only (what every current tool reads first anyway).
    """
    charset = current.get(IPTC_CHARSET)
    if charset and charset != IPTC_UTF8:
        log.warning("IPTC declares character set %r, not UTF-8: writing XMP only", charset)
        return False
    return True


def plan_untag(current: Mapping[str, object]) -> dict[str, FieldValue]:
    """The keys to set so that exactly what scened recorded is removed.

    The user's decisions (tags they removed) stay recorded: a later tag must not
    write them back.
    """
    rejected = rejected_tags(current)
    plan: dict[str, FieldValue] = {RECORD_REJECTED: rejected} if rejected else {}
    # confirmed tags stay recorded too (written again by a later tag), unless removed
    confirmed = [t for t in as_list(current.get(RECORD_CONFIRMED)) if t not in rejected]
    if as_list(current.get(RECORD_CONFIRMED)) != confirmed:
        plan[RECORD_CONFIRMED] = _or_delete(confirmed)
    for field, record in RECORD_OF.items():
        copies = CARRIED_OF[field]
        if not current.get(record) and not current.get(copies):
            continue
        plan[field] = _or_delete(_user_values(current, field))
        plan[record] = None
        plan[copies] = None
    for record in (RECORD_TAGS, RECORD_MODEL, RECORD_POLICY, RECORD_PIXELS):
        if current.get(record):
            plan[record] = None
    if current.get(RECORD_CHARSET):
        plan[RECORD_CHARSET] = None
        if not _other_iptc_left(current, plan):
            plan[IPTC_CHARSET] = None
    return plan


def _other_iptc_left(current: Mapping[str, object], plan: Mapping[str, FieldValue]) -> bool:
    """Whether any IPTC dataset besides the character set survives the plan."""
    iptc_keys = {key for key in current if key.startswith("Iptc.") and key != IPTC_CHARSET}
    return any(plan.get(key, current[key]) for key in iptc_keys)


def _user_values(current: Mapping[str, object], field: str) -> list[str]:
    """The field's values that are the user's: not scened's own, nor copies it keeps."""
    ours = set(as_list(current.get(RECORD_OF[field]))) | set(_kept_copies(current, field))
    return [value for value in _unique(as_list(current.get(field))) if value not in ours]


def _kept_copies(current: Mapping[str, object], field: str) -> list[str]:
    """The copies scened still keeps in ``field``; none once the user has edited it.

    A field scened created holds only copies and scened's keywords.  When another
    application adds a value to it or removes a copy from it, the field is the
    user's from then on: its copies count as the user's keywords, scened stops
    keeping them in step, and ``untag`` leaves them.
    """
    copies = as_list(current.get(CARRIED_OF[field]))
    present = as_list(current.get(field))
    ours = {*copies, *as_list(current.get(RECORD_OF[field]))}
    if any(value not in present for value in copies) or any(v not in ours for v in present):
        return []
    return copies


def _carried(current: Mapping[str, object], field: str, own: Sequence[str]) -> list[str]:
    """The user's keywords from the other fields, as ``field`` writes them.

    Each keyword is a path: ``Places|Mine`` and ``Places/Mine`` are (Places, Mine), a
    flat ``Trip2026`` is (Trip2026,).  A hierarchical field gets the paths; a flat
    keyword that is a level of one of them is not repeated as a top-level entry, nor
    one that is a parent level of scened's ``own`` hierarchical values (the bare
    ``Scenes`` darktable and Lightroom add to ``dc:subject`` for ``Scenes|Beach``).
    A flat field gets the last level of each path, IPTC cut to its 64 bytes.
    """
    paths: list[tuple[str, ...]] = []
    for other in (HIERARCHICAL, TAGS_LIST, SUBJECT, IPTC_KEYWORDS):
        if other != field:
            separator = SEPARATOR.get(other)
            for value in _user_values(current, other):
                paths.append(tuple(value.split(separator)) if separator else (value,))
    levels = {level for path in paths if len(path) > 1 for level in path}
    levels |= {level for value in own for level in value.split("|")[:-1]}
    paths = [p for p in _unique_paths(paths) if len(p) > 1 or p[0] not in levels]
    separator = SEPARATOR.get(field)
    if separator is not None:
        return _unique([separator.join(path) for path in paths])
    leaves = _unique([path[-1] for path in paths])
    if field == IPTC_KEYWORDS:
        return _unique([truncate_utf8(leaf, IPTC_KEYWORD_MAX_BYTES) for leaf in leaves])
    return leaves


def _unique_paths(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """``paths`` without repeats and empty levels, hierarchical ones first."""
    cleaned = [tuple(part for part in path if part) for path in paths]
    found = [path for path in dict.fromkeys(cleaned) if path]
    return [path for path in found if len(path) > 1] + [p for p in found if len(p) == 1]


def rejected_tags(current: Mapping[str, object]) -> list[str]:
    """Tags the user has removed: recorded before, or scened's and now missing from a field.

    A tag counts as removed when any field where scened recorded writing it no
    longer holds that value (Lightroom edits ``dc:subject`` and
    ``hierarchicalSubject`` but not digiKam's ``TagsList``).  Values are matched to
    tags whatever hierarchy root they were written under.
    """
    rejected = as_list(current.get(RECORD_REJECTED))
    for tag in recorded_tags(current):
        for field, record in RECORD_OF.items():
            present = set(as_list(current.get(field)))
            missing = [v for v in as_list(current.get(record)) if v not in present]
            if any(_stands_for(field, value, tag) for value in missing):
                rejected.append(tag)
                break
    return _unique(rejected)


def _stands_for(field: str, value: str, tag: str) -> bool:
    """Whether ``value`` of ``field`` is how scened writes ``tag`` (under any root)."""
    if field == HIERARCHICAL:
        return value.endswith(f"|{tag}")
    if field == TAGS_LIST:
        return value.endswith(f"/{tag}")
    if field == IPTC_KEYWORDS:
        return value == tag.encode("utf-8")[:IPTC_KEYWORD_MAX_BYTES].decode("utf-8", "ignore")
    return value == tag


def recorded_tags(current: Mapping[str, object]) -> list[str]:
    """The tags scened last wrote, as recorded in the file (empty if none)."""
    return as_list(current.get(RECORD_TAGS))


def changes(current: Mapping[str, object], plan: Fields) -> dict[str, FieldValue]:
    """The part of ``plan`` that differs from ``current`` (empty: nothing to write).

    The keyword fields are unordered (rdf:Bag, IPTC's repeated dataset): the same
    values in another order (darktable appends its own at the end) are no change.
    """
    return {
        key: value
        for key, value in plan.items()
        if as_list(value) != as_list(current.get(key))
        and not (
            key in KEYWORD_FIELDS and sorted(as_list(value)) == sorted(as_list(current.get(key)))
        )
    }
