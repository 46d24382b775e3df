"""``scened untag PATH...``: remove exactly the keywords scened wrote, nothing else.

Works from what scened recorded inside each photo and sidecar (``Xmp.scened.*``),
so it needs neither the configuration nor the daemon's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from scened.errors import MetadataError, ScenedError
from scened.formats import SUFFIXES
from scened.metadata.tagger import KeywordWriter

#: Files that scened may have written keywords into or beside.
PHOTO_SUFFIXES = SUFFIXES  # what scened scans, from the one format table


@click.command("untag")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-n", "--dry-run", is_flag=True, help="Say what would change; change nothing.")
def untag(paths: tuple[Path, ...], dry_run: bool) -> None:
    """Remove scened's keywords from photos (and folders of photos) and their sidecars.

    Keywords the user added, and everything else in the files, stay as they are.
    """
    writer = KeywordWriter()
    seen = changed = failed = 0
    for target in _targets(paths):
        seen += 1
        try:
            files = _untag_one(writer, target, dry_run=dry_run)
        except ScenedError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        changed += bool(files)
        for path in files:
            click.echo(f"{'would untag' if dry_run else 'untagged'} {path}")
    verb = "would change" if dry_run else "changed"
    click.echo(f"{seen} photos checked, {changed} {verb}, {failed} failed", err=True)
    if failed:
        raise MetadataError(f"{failed} of {seen} photos could not be untagged")


def _untag_one(writer: KeywordWriter, target: Path, *, dry_run: bool) -> list[Path]:
    if target.suffix.lower() == ".xmp":
        return [target] if writer.untag(target, dry_run=dry_run) else []
    return writer.untag_photo(target, dry_run=dry_run)


def _targets(paths: tuple[Path, ...]) -> Iterator[Path]:
    """Each named file, and each photo found under each named folder."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
            )
        else:
            yield path
