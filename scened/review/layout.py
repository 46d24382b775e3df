"""The review page's HTML document: escaping, the style sheet, the keyboard script.

Everything is served by the app itself: one inline style sheet and one small
inline script, both allowed by hash in the Content-Security-Policy, which allows
nothing else (no network, no other script, no framing, forms only to this site).
Every text from a photo, the configuration or the state goes through :func:`e`.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from urllib.parse import quote

STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em;
       color: #222; background: #fafafa; }
h1 { font-size: 1.4em; } a { color: #0645ad; }
.flash { padding: .6em 1em; border-radius: 4px; background: #e6f4ea; }
.flash.error { background: #fce8e6; }
.keys { color: #555; font-size: .9em; }
.photo { display: flex; gap: 1em; padding: .8em; margin: .6em 0; background: #fff;
         border: 2px solid #ddd; border-radius: 6px; }
.photo.current { border-color: #1a73e8; box-shadow: 0 0 0 2px #1a73e8; }
.thumb { width: 256px; height: 256px; flex: none; display: flex; align-items: center;
         justify-content: center; background: #eee; }
.thumb img { max-width: 256px; max-height: 256px; }
.info { flex: 1; min-width: 0; }
.path { font-size: 1em; margin: 0 0 .4em; overflow-wrap: anywhere; }
.tag { background: #eef; border-radius: 3px; padding: 0 .4em; margin-right: .3em; }
.top { list-style: none; padding: 0; margin: .4em 0; display: flex; gap: .4em; flex-wrap: wrap; }
form { display: inline; } button, select { font: inherit; margin: .2em .3em .2em 0; }
.actions { margin-top: .4em; } .decided { color: #555; }
.pages { margin: 1em 0; display: flex; gap: 1em; align-items: center; }
"""

SCRIPT = """
(() => {
  const photos = Array.from(document.querySelectorAll("article.photo"));
  let current = photos.findIndex((p) => "#" + p.id === location.hash);
  function select(index) {
    if (index < 0 || index >= photos.length) return;
    if (current >= 0) photos[current].classList.remove("current");
    current = index;
    photos[current].classList.add("current");
    photos[current].scrollIntoView({block: "center"});
    history.replaceState(null, "", "#" + photos[current].id);
  }
  if (current >= 0) select(current);
  function follow(rel) {
    const link = document.querySelector("nav.pages a[rel=" + rel + "]");
    if (link) location.href = link.href;
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) return;
    if (event.key === "j") {
      if (current + 1 < photos.length) select(current + 1); else follow("next");
    } else if (event.key === "k") {
      if (current > 0) select(current - 1); else if (current === 0) follow("prev");
    } else if (current >= 0) {
      const button = photos[current].querySelector("button[data-key='" + event.key + "']");
      if (button && !button.disabled) { event.preventDefault(); button.click(); }
    }
  });
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; img-src 'self'; style-src {_sha256(STYLE)}; "
    f"script-src {_sha256(SCRIPT)}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Headers of every HTML answer.
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def e(text: object) -> str:
    """``text`` escaped for HTML text and attribute values, as valid UTF-8.

    A file name that is not UTF-8 (kept by ``os.fsdecode`` as lone surrogates) is
    shown with U+FFFD where its undecodable bytes are.
    """
    value = str(text)
    try:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return escape(value, quote=True)


def library_url(name: str) -> str:
    """The review page of library ``name`` (names of ad-hoc libraries are paths)."""
    return "/review/" + quote(name.encode("utf-8", "surrogateescape"), safe="")


def document(title: str, body: str, *, script: bool = False) -> str:
    """A complete HTML document; ``script`` adds the keyboard shortcuts."""
    tail = f"<script>{SCRIPT}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · scened</title><style>{STYLE}</style></head>"
        f"<body>{body}{tail}</body></html>\n"
    )


def flash_html(flash: tuple[str, str] | None) -> str:
    """The one-line message of the last decision (``ok`` or ``error``), if any."""
    if flash is None:
        return ""
    kind, text = flash
    css = "flash error" if kind == "error" else "flash"
    return f'<p id="flash" class="{css}" role="status">{e(text)}</p>'
