"""The review pages as HTML: the libraries, one page of a library, login and messages.

Every form is a plain HTML form that works without JavaScript; the inline script
of :mod:`scened.review.layout` only adds keyboard shortcuts that press its buttons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scened.review.layout import document, e, flash_html, library_url
from scened.review.queries import Page, ReviewPhoto

KEYS_HELP = "Keys: j / k next / previous photo · c confirm · n none of these · 1-3 choose"


@dataclass(frozen=True)
class PageView:
    """What one page of a library shows besides its photos."""

    library: str
    root: Path
    classes: Sequence[str]
    csrf: str
    labels: dict[Path, list[tuple[str, bool]]]
    flash: tuple[str, str] | None = None


def libraries_page(counts: Sequence[tuple[str, int]]) -> str:
    """The libraries, each a link to its review page with its tagged photos."""
    items = "".join(
        f'<li><a href="{e(library_url(name))}">{e(name)}</a> ({count:,} tagged photos)</li>'
        for name, count in counts
    )
    body = f"<ul>{items}</ul>" if items else "<p>No library has been tagged yet.</p>"
    return document("Review", f"<h1>Review scened's tags</h1>{body}")


def library_page(view: PageView, page: Page) -> str:
    """Page ``page.number`` of a library: least confident photos first, with the forms."""
    first = (page.number - 1) * page.size
    photos = "".join(
        _photo(view, page, first + index, index, photo) for index, photo in enumerate(page.photos)
    )
    if not photos:
        photos = "<p>No tagged photo in this library yet.</p>"
    nav = _pagination(view.library, page)
    body = (
        f'<p><a href="/review">All libraries</a></p><h1>{e(view.library)}</h1>'
        f"{flash_html(view.flash)}"
        f"<p>{page.total:,} tagged photos, the least confident first. "
        f'<span class="keys">{KEYS_HELP}</span></p>{nav}{photos}{nav}'
    )
    return document(f"Review {view.library}", body, script=True)


def login_page(message: str, next_url: str) -> str:
    """The form asking for the API's token."""
    body = (
        f'<h1>Review scened\'s tags</h1><p class="flash error">{e(message)}</p>'
        '<form method="post" action="/review/login">'
        f'<input type="hidden" name="next" value="{e(next_url)}">'
        '<label>API token <input type="password" name="token" autocomplete="current-password" '
        'autofocus required></label> <button type="submit">Log in</button></form>'
    )
    return document("Log in", body)


def message_page(title: str, message: str) -> str:
    """An error or notice of one line, with a way back."""
    body = (
        f'<h1>{e(title)}</h1><p class="flash error">{e(message)}</p>'
        '<p><a href="/review">All libraries</a></p>'
    )
    return document(title, body)


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to the library's folder when it is inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def percent(probability: float) -> str:
    return "<1 %" if probability < 0.005 else f"{probability * 100:.0f} %"


def _photo(view: PageView, page: Page, position: int, index: int, photo: ReviewPhoto) -> str:
    top = photo.top(view.classes)
    tags = "".join(f'<span class="tag">{e(t)}</span>' for t in photo.tags) or "no tag"
    hidden = _hidden(view, page, index, photo)
    action = e(library_url(view.library) + "/decide")
    choices = "".join(
        f'<li><form method="post" action="{action}">{hidden}'
        '<input type="hidden" name="kind" value="choose">'
        f'<input type="hidden" name="class" value="{e(name)}">'
        f'<button type="submit" data-key="{rank}" title="Choose {e(name)} (key {rank})">'
        f"{rank} · {e(name)} {percent(p)}</button></form></li>"
        for rank, (name, p) in enumerate(top, start=1)
    )
    selected = top[0][0] if top else None
    options = "".join(
        f'<option value="{e(n)}"{" selected" if n == selected else ""}>{e(n)}</option>'
        for n in sorted(view.classes, key=str.casefold)
    )
    confirm_off = "" if photo.tags else ' disabled title="No tag to confirm"'
    return (
        f'<article class="photo" id="p{index}" data-photo="{photo.id}">'
        f'<div class="thumb"><img src="/review/thumb/{photo.id}?v={photo.size}-{photo.mtime_ns}"'
        f' alt="No preview" loading="lazy"></div><div class="info">'
        f'<h2 class="path">{position + 1}. {e(shown_path(photo.path, view.root))}</h2>'
        f'<p class="tags">Tags: {tags}</p>'
        f'<ol class="top">{choices}</ol>{_decided(view.labels.get(photo.path, []))}'
        f'<div class="actions"><form method="post" action="{action}">{hidden}'
        '<input type="hidden" name="kind" value="confirm">'
        f'<button type="submit" class="confirm" data-key="c"{confirm_off}>Confirm</button></form>'
        f'<form method="post" action="{action}" class="choose">{hidden}'
        '<input type="hidden" name="kind" value="choose">'
        f'<select name="class" aria-label="Class">{options}</select>'
        '<button type="submit">Choose</button></form>'
        f'<form method="post" action="{action}">{hidden}'
        '<input type="hidden" name="kind" value="none">'
        '<button type="submit" class="none" data-key="n">None of these</button></form>'
        "</div></div></article>"
    )


def _hidden(view: PageView, page: Page, index: int, photo: ReviewPhoto) -> str:
    fields = {"csrf": view.csrf, "photo": photo.id, "page": page.number, "at": index}
    return "".join(
        f'<input type="hidden" name="{name}" value="{e(value)}">' for name, value in fields.items()
    )


def _decided(labels: list[tuple[str, bool]]) -> str:
    if not labels:
        return ""
    marks = ", ".join(f"{'✓' if positive else '✗'} {e(name)}" for name, positive in labels)
    return f'<p class="decided">Your decisions: {marks}</p>'


def _pagination(library: str, page: Page) -> str:
    if page.pages <= 1:
        return ""
    base = e(library_url(library))

    def link(rel: str, label: str, number: int, shown: bool) -> str:
        return f'<a rel="{rel}" href="{base}?page={number}">{label}</a>' if shown else ""

    n, last = page.number, page.pages
    return (
        f'<nav class="pages">{link("first", "« first", 1, n > 2)}'
        f"{link('prev', '‹ previous', n - 1, n > 1)}<span>page {n} of {last}</span>"
        f"{link('next', 'next ›', n + 1, n < last)}{link('last', 'last »', last, n < last - 1)}"
        "</nav>"
    )
