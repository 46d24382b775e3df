"""A little image search engine on 127.0.0.1 for the scraper's tests.

Its result page behaves like the real ones the scraper meets:

* a consent overlay; results load only after "Accept all" is clicked;
* lazy loading: thumbnails show a 1x1 GIF placeholder, and the real URL (kept in a
  script variable, never in the DOM) goes into ``src`` only when the thumbnail
  scrolls into view (IntersectionObserver);
* infinite scroll: the first ``AUTO_PAGES`` pages arrive as the page bottom is scrolled
  into view; later pages only behind a "Show more results" button (``#more``);
* results are http URLs (relative, as real pages have them) or ``data:`` URLs.

Every request path is logged in ``requests``; those made by the scraper's downloader
(not by the browser showing the page) also in ``downloads``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 4
AUTO_PAGES = 2

RESULT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>results</title><style>
  body { margin: 0; font-family: sans-serif; }
  .thumb { display: block; width: 240px; height: 300px; margin: 12px; background: #ddd; }
  #consent { position: fixed; inset: 0; background: rgba(0, 0, 0, 0.6); z-index: 9; }
  #more { display: none; margin: 12px; }
</style></head><body>
<div id="consent"><button id="consent-accept">Accept all</button></div>
<div id="results"></div>
<div id="sentinel" style="height: 4px"></div>
<button id="more">Show more results</button>
<script>
const QUERY = __QUERY__;
const AUTO_PAGES = __AUTO_PAGES__;
const PLACEHOLDER =
  "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const REAL = new WeakMap();
const more = document.getElementById("more");
const sentinel = document.getElementById("sentinel");
let nextPage = 0, loading = false, done = false;

const lazy = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    entry.target.src = REAL.get(entry.target);
    lazy.unobserve(entry.target);
  }
});

function addResults(urls) {
  for (const url of urls) {
    const img = document.createElement("img");
    img.className = "thumb";
    img.src = PLACEHOLDER;
    REAL.set(img, url);
    document.getElementById("results").appendChild(img);
    lazy.observe(img);
  }
}

async function loadPage() {
  if (loading || done) return;
  loading = true;
  const response = await fetch(`/page?q=${encodeURIComponent(QUERY)}&n=${nextPage}`);
  const urls = await response.json();
  nextPage += 1;
  loading = false;
  done = urls.length === 0;
  addResults(urls);
  more.style.display = !done && nextPage >= AUTO_PAGES ? "block" : "none";
}

const bottom = new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting) && nextPage < AUTO_PAGES) loadPage();
});

document.getElementById("consent-accept").addEventListener("click", () => {
  document.getElementById("consent").remove();
  loadPage().then(() => bottom.observe(sentinel));
});
more.addEventListener("click", () => loadPage());
</script>
</body></html>
"""


@dataclass
class Resource:
    """What the server answers for one path."""

    body: bytes
    content_type: str = "image/jpeg"
    status: int = 200


@dataclass
class FakeEngine:
    """The engine's catalogue (query → result URLs), its files, and its request log."""

    results: dict[str, list[str]] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)
    base_url: str = ""

    def serve(self, path: str, body: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``body`` at ``path``; return ``path`` (the URL the result page will use)."""
        self.resources[path] = Resource(body, content_type)
        return path

    def page_of(self, query: str, number: int) -> list[str]:
        """Result page ``number`` (from 0) of ``query``."""
        urls = self.results.get(query, [])
        return urls[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]


def make_handler(engine: FakeEngine) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``engine``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            engine.requests.append(self.path)
            if self.headers.get("User-Agent", "").startswith("scened-scraper/"):
                engine.downloads.append(self.path)
            parts = urlsplit(self.path)
            params = {key: values[0] for key, values in parse_qs(parts.query).items()}
            if parts.path == "/search":
                page = RESULT_PAGE.replace("__QUERY__", json.dumps(params.get("q", "")))
                page = page.replace("__AUTO_PAGES__", str(AUTO_PAGES))
                self.answer(Resource(page.encode(), "text/html; charset=utf-8"))
            elif parts.path == "/page":
                urls = engine.page_of(params.get("q", ""), int(params.get("n", "0")))
                self.answer(Resource(json.dumps(urls).encode(), "application/json"))
            else:
                missing = Resource(b"<h1>404 not found</h1>", "text/html", 404)
                self.answer(engine.resources.get(parts.path, missing))

        def answer(self, resource: Resource) -> None:
            self.send_response(resource.status)
            self.send_header("Content-Type", resource.content_type)
            self.send_header("Content-Length", str(len(resource.body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(resource.body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the request log is ``engine.requests``."""

    return Handler


class EngineServer:
    """Runs a FakeEngine on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(engine))
        self.httpd.daemon_threads = True
        engine.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeEngine:
        self.thread.start()
        return self.engine

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
