"""Downloading preview images: http(s) and data: URLs, timeouts, a per-host rate limit."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import __version__

USER_AGENT = f"scened-scraper/{__version__} (dataset builder; polite, rate-limited)"
MAX_BYTES = 20 * 1024 * 1024
RETRYABLE_STATUS = (408, 425, 429)  # and every 5xx


class FetchError(Exception):
    """A download failed.  ``permanent`` is False for what may work next time."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass
class HostRateLimiter:
    """Keep at least ``min_interval_s`` between two requests to the same host."""

    min_interval_s: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last: dict[str, float] = field(default_factory=dict)

    def wait_for(self, host: str) -> None:
        """Sleep as long as needed before the next request to ``host``, then book it."""
        last = self._last.get(host)
        if last is not None:
            remaining = last + self.min_interval_s - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self._last[host] = self.clock()


@dataclass
class Downloader:
    """Fetch URLs with a timeout, a size cap and the rate limit; data: URLs decode locally."""

    limiter: HostRateLimiter
    timeout_s: float = 10.0
    max_bytes: int = MAX_BYTES

    def fetch(self, url: str, referer: str = "") -> bytes:
        """The body behind ``url``; raise FetchError for every kind of failure."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "data"):
            raise FetchError(f"unsupported URL scheme {parts.scheme!r}", permanent=True)
        headers = {"User-Agent": USER_AGENT}
        if referer and parts.scheme != "data":
            headers["Referer"] = referer
        if parts.scheme != "data":
            self.limiter.wait_for(parts.netloc)
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body: bytes = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            permanent = exc.code < 500 and exc.code not in RETRYABLE_STATUS
            raise FetchError(f"HTTP {exc.code}", permanent=permanent) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(f"network error: {reason}", permanent=False) from exc
        except ValueError as exc:  # a malformed data: URL
            raise FetchError(f"bad URL: {exc}", permanent=True) from exc
        if len(body) > self.max_bytes:
            raise FetchError(f"larger than {self.max_bytes} bytes", permanent=True)
        return body
