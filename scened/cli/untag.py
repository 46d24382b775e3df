"""``scened untag PATH...``: remove exactly the keywords scened wrote, nothing else.

Works from what scened recorded inside each photo and sidecar (``Xmp.scened.*``),
so the files are untagged whatever the configuration says now, without the daemon's
database.  Then the other sinks of a photo's configured library are told
(:class:`scened.sinks.SinksToUntag`): the json sink appends an ``untagged`` record,
the webhook sink sends one, a plugin's sink does what its ``untag`` does.

Other applications copy scened's keywords into sidecars of their own: darktable
writes ``photo.ext.xmp`` for every photo it imports, with scened's keywords and a
bare ``Scenes``.  Those files hold no record of scened's, so ``untag`` only reports
the copies it finds there, and removes them with ``--include-other-sidecars``: the
file belongs to that application (darktable also keeps the tags in its own
database and writes them back unless they are removed there too).

What the next ``scened run`` does after ``untag`` is decided in
:mod:`scened.daemon.decision`: the photos are tagged again, whatever their format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from scened.cli.config_cmd import config_option
from scened.config import load_config
from scened.errors import MetadataError, ScenedError
from scened.formats import SUFFIXES
from scened.metadata.fields import (
    CARRIED_OF,
    HIERARCHICAL,
    IPTC_KEYWORDS,
    RECORD_OF,
    SEPARATOR,
    SUBJECT,
    TAGS_LIST,
    FieldValue,
    KeywordOptions,
    as_list,
    recorded_tags,
)
from scened.metadata.formats import SIDECAR_ONLY, existing_sidecars
from scened.metadata.tagger import KeywordWriter, Planner, has_scened_record
from scened.plugins import get_plugin_manager
from scened.sinks import SinksToUntag

#: Files that scened may have written keywords into or beside.
PHOTO_SUFFIXES = SUFFIXES  # what scened scans, from the one format table
#: The fields other applications copy keywords into, in their sidecars.
COPY_FIELDS = (SUBJECT, HIERARCHICAL, TAGS_LIST)
NEXT_RUN = (
    "The next `scened run` tags these photos again; to keep scened away from them, "
    "exclude them in the library's configuration (exclude = [...]) first."
)


@click.command("untag")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-n", "--dry-run", is_flag=True, help="Say what would change; change nothing.")
@click.option(
    "--include-other-sidecars",
    is_flag=True,
    help="Also remove scened's keywords that other applications (darktable) copied into "
    "sidecars of their own; without it they are only reported.",
)
@config_option
def untag_cmd(
    paths: tuple[Path, ...], dry_run: bool, include_other_sidecars: bool,
    config_path: Path | None = None,
) -> None:  # fmt: skip
    """Remove scened's keywords from photos (and folders of photos) and their sidecars.

    Keywords the user added, and everything else in the files, stay as they are.
    A photo in a configured library is then untagged in that library's other sinks
    (the json sink records it, the webhook sink sends it).
    """
    writer = KeywordWriter()
    config = load_config(config_path)
    sinks = SinksToUntag(get_plugin_manager(), config.libraries, dry_run=dry_run,
                         state_dir=config.state_dir)  # fmt: skip
    seen = changed = failed = reported = 0
    for target in _targets(paths):
        seen += 1
        try:
            files, others = _untag_one(writer, target, dry_run=dry_run,
                                       others=include_other_sidecars)  # fmt: skip
        except ScenedError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        changed += bool(files)
        for path in files:
            click.echo(f"{'would untag' if dry_run else 'untagged'} {path}")
        for path, values in others.items():
            reported += 1
            click.echo(f"{path}: another application's copies of scened's keywords: "
                       f"{', '.join(values)}", err=True)  # fmt: skip
        failed += not _tell_sinks(sinks, target, dry_run=dry_run)
    failed += not _close(sinks)
    for library, count in sinks.told.items():
        click.echo(f"{'would tell' if dry_run else 'told'} the "
                   f"{', '.join(sinks.sink_names(library))} sinks of library {library} "
                   f"about {count} photos", err=True)  # fmt: skip
    verb = "would change" if dry_run else "changed"
    click.echo(f"{seen} photos checked, {changed} {verb}, {failed} failed", err=True)
    if reported and not include_other_sidecars:
        click.echo(f"{reported} sidecars of other applications hold copies of scened's "
                   "keywords; left as they are (--include-other-sidecars removes them)",
                   err=True)  # fmt: skip
    if changed and not dry_run:
        click.echo(NEXT_RUN, err=True)
    if failed:
        raise MetadataError(f"{failed} of {seen} photos could not be untagged")


def _tell_sinks(sinks: SinksToUntag, target: Path, *, dry_run: bool) -> bool:
    """Tell the sinks of ``target``'s library (none for a sidecar named itself);
    False, with the error printed, when one failed."""
    if target.suffix.lower() == ".xmp":
        return True
    try:
        sinks.untag(target, dry_run=dry_run)
    except ScenedError as exc:
        click.echo(f"error: {exc}", err=True)
        return False
    return True


def _close(sinks: SinksToUntag) -> bool:
    """Close the sinks (the webhook sink sends what it holds); False when one failed."""
    try:
        sinks.close()
    except Exception as exc:  # a plugin's close
        click.echo(f"error: closing the sinks: {type(exc).__name__}: {exc}", err=True)
        return False
    return True


def _untag_one(
    writer: KeywordWriter, target: Path, *, dry_run: bool, others: bool
) -> tuple[list[Path], dict[Path, list[str]]]:
    """The files untagged, and other applications' sidecars with the copies in each
    (removed too with ``others``)."""
    if target.suffix.lower() == ".xmp":
        return ([target] if writer.untag(target, dry_run=dry_run) else []), {}
    ours = Ours.read(writer, target)
    changed = writer.untag_photo(target, dry_run=dry_run)
    found: dict[Path, list[str]] = {}
    for sidecar in existing_sidecars(target):
        current = writer.read(sidecar)
        if has_scened_record(current):  # scened's own, still (a dry run)
            continue
        copies = ours.copies_in(current)
        if not copies:
            continue
        found[sidecar] = _unique(v for values in copies.values() for v in values)
        if others and writer._apply(sidecar, _remover(copies), dry_run=dry_run):
            changed.append(sidecar)
    return changed, found


@dataclass
class Ours:
    """What scened wrote for one photo, to recognise copies of it in other files."""

    #: Every value scened recorded writing, in any field, and its plain tags.
    values: set[str] = field(default_factory=set)
    #: The hierarchy roots of scened's values (``Scenes``), each level on its own.
    roots: set[str] = field(default_factory=set)
    #: The user's keywords in the photo's own files: never taken for copies.
    user: set[str] = field(default_factory=set)
    #: Last levels of the user's hierarchical keywords that scened copied into a flat
    #: field it created (``Mine`` of ``Places|Mine``): darktable makes a top-level tag
    #: of each, which is a copy of scened's in its hierarchical fields.
    derived: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, writer: KeywordWriter, photo: Path) -> Ours:
        """From the photo's own files: the photo where it embeds keywords, and the
        sidecars that hold scened's record.  Without a record (untagged before)
        scened's default root stands for it: ``Scenes|…`` values and their last level."""
        embedded = photo.suffix.lower() not in SIDECAR_ONLY
        files = [*([photo] if embedded else []), *existing_sidecars(photo)]
        ours = cls()
        for index, current in enumerate(map(writer.read, files)):
            recorded = has_scened_record(current)
            if recorded:
                ours.values.update(recorded_tags(current))
                for record in RECORD_OF.values():
                    ours.values.update(as_list(current.get(record)))
                for value in as_list(current.get(RECORD_OF[HIERARCHICAL])):
                    ours.roots.update(value.split("|")[:-1])
            if recorded or (embedded and index == 0):
                for name, record in RECORD_OF.items():
                    mine = set(as_list(current.get(record)))
                    ours.user.update(v for v in as_list(current.get(name)) if v not in mine)
            if recorded:
                ours.derived.update(_derived(current))
        if not ours.values:
            ours.roots.add(KeywordOptions().root)
        ours.user -= ours.roots  # a bare Scenes is darktable's, made from Scenes|Beach
        return ours

    def copies_in(self, current: Mapping[str, Any]) -> dict[str, list[str]]:
        """Per keyword field of another application's sidecar, the copies of scened's:
        its values, the last level of those (a flat tag made from ``Scenes|Beach``)
        and a bare root that nothing below it is left under."""
        fields = {name: as_list(current.get(name)) for name in COPY_FIELDS}
        direct = {name: [v for v in values if v not in self.user and self._is_ours(v)]
                  for name, values in fields.items()}  # fmt: skip
        leaves = {v.split(SEPARATOR.get(name, "\n"))[-1] for name in direct for v in direct[name]}
        found: dict[str, list[str]] = {}
        for name, values in fields.items():
            copies = [v for v in values if v in direct[name] or (v in leaves and v not in self.user)
                      or (name in SEPARATOR and v in self.derived)]  # fmt: skip
            rest = [v for v in values if v not in copies]
            if not any(self._below_root(v) for v in rest):
                copies += [v for v in rest if v in self.roots and v not in self.user]
            if copies:
                found[name] = copies
        return found

    def _is_ours(self, value: str) -> bool:
        """Recorded as scened's; without a record (a photo untagged before), any value
        below scened's root (``Scenes|Beach``, ``Scenes/Beach``)."""
        return value in self.values or (not self.values and self._below_root(value))

    def _below_root(self, value: str) -> bool:
        return any(value.startswith((f"{root}|", f"{root}/")) for root in self.roots)


def _derived(current: Mapping[str, Any]) -> set[str]:
    """The flat copies scened made of the last levels of the user's hierarchical
    keywords, where the user has no such flat keyword of their own."""
    carried = {
        v for name in (SUBJECT, IPTC_KEYWORDS) for v in as_list(current.get(CARRIED_OF[name]))
    }
    leaves = {
        value.split(separator)[-1]
        for name, separator in SEPARATOR.items()
        for value in as_list(current.get(name))
        if separator in value and value not in as_list(current.get(RECORD_OF[name]))
    }
    return carried & leaves


def _remover(copies: Mapping[str, list[str]]) -> Planner:
    """The planner that takes ``copies`` out of each field of a sidecar."""

    def planner(current: Mapping[str, Any]) -> dict[str, FieldValue]:
        return {
            name: [v for v in as_list(current.get(name)) if v not in values] or None
            for name, values in copies.items()
        }

    return planner


def _unique(values: Iterator[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _targets(paths: tuple[Path, ...]) -> Iterator[Path]:
    """Each named file, and each photo found under each named folder."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
            )
        else:
            yield path
