"""The ``webhook`` sink: POSTs batches of tag records to a URL.

Records are the json sink's (:func:`scened.records.tag_record`), sent
as ``{"records": [...]}`` by a background thread, so a slow or dead receiver
never holds up tagging: each batch is tried ``retries + 1`` times with
exponential backoff and then dropped with a warning.

Options: ``url`` (required, http or https), ``batch_size`` (default 50),
``flush_interval`` (seconds before a partial batch goes out, default 5),
``timeout`` (seconds per request, default 10), ``retries`` (default 3),
``backoff`` (seconds before the first retry, doubled each time, default 1),
``secret`` or ``secret_env`` (the name of an environment variable holding it):
with a secret, each request carries ``X-Scened-Signature: sha256=<hex>``, the
HMAC-SHA256 of the body.  ``max_pending_batches`` (default 100) bounds memory
while the receiver is down; the oldest batch is dropped first.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scened import __version__, hookimpl
from scened.hookspecs import RegisterSink
from scened.options import OptionReader
from scened.records import tag_record, untag_record
from scened.types import Sink, TagResult

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Scened-Signature"
Batch = list[dict[str, Any]]


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    batch_size: int = 50
    flush_interval: float = 5.0
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0
    secret: bytes | None = None
    max_pending_batches: int = 100


def sign(body: bytes, secret: bytes) -> str:
    """The signature header value a receiver recomputes to trust the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookSink:
    """Collects records into batches that a background thread delivers."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self._pending: Batch = []
        self._lock = threading.Lock()
        self._batches: queue.Queue[Batch | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def write(self, result: TagResult, *, dry_run: bool = False) -> None:
        if not dry_run:
            self._add(tag_record(result))

    def untag(self, path: Path, *, dry_run: bool = False) -> None:
        if not dry_run:
            self._add(untag_record(path))

    def close(self) -> None:
        """Send what is pending and wait for the sender to finish."""
        if self._thread is None:
            return
        self._queue_pending()
        self._batches.put(None)
        self._thread.join()
        self._thread = None

    def _add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(record)
            full = len(self._pending) >= self.settings.batch_size
            if self._thread is None:
                self._thread = threading.Thread(target=self._send_loop, daemon=True)
                self._thread.start()
        if full:
            self._queue_pending()

    def _queue_pending(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        if self._batches.qsize() >= self.settings.max_pending_batches:
            dropped = self._batches.get_nowait()
            log.warning(
                "webhook %s is behind: dropped %d records", self.settings.url, len(dropped or [])
            )
        self._batches.put(batch)

    def _send_loop(self) -> None:
        while True:
            try:
                batch = self._batches.get(timeout=self.settings.flush_interval)
            except queue.Empty:
                self._queue_pending()
                continue
            if batch is None:
                return
            self._deliver(batch)

    def _deliver(self, batch: Batch) -> None:
        body = json.dumps({"records": batch}, ensure_ascii=False).encode("utf-8")
        for attempt in range(self.settings.retries + 1):
            if attempt:
                time.sleep(self.settings.backoff * 2 ** (attempt - 1))
            error = self._post(body)
            if error is None:
                return
            log.info("webhook %s attempt %d failed: %s", self.settings.url, attempt + 1, error)
        log.warning("webhook %s unreachable: dropped %d records", self.settings.url, len(batch))

    def _post(self, body: bytes) -> str | None:
        """None when the receiver took the batch, else why not."""
        headers = {"Content-Type": "application/json", "User-Agent": f"scened/{__version__}"}
        if self.settings.secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self.settings.secret)
        request = urllib.request.Request(self.settings.url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:  # refused, timed out, DNS, bad reply
            return str(exc)
        return None


def webhook_sink(options: Mapping[str, Any]) -> Sink:
    allowed = (*WebhookSettings.__dataclass_fields__, "secret_env")
    reader = OptionReader(options, allowed, "webhook sink")
    if "url" not in options:
        raise reader.error("url", "is required (where to POST the records)")
    url = reader.string("url", "")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise reader.error("url", f"must be an http:// or https:// URL, got {url!r}")
    return WebhookSink(
        WebhookSettings(
            url=url,
            batch_size=reader.integer("batch_size", 50, low=1),
            flush_interval=reader.number("flush_interval", 5.0, low=0.01, high=3600),
            timeout=reader.number("timeout", 10.0, low=0.01, high=600),
            retries=reader.integer("retries", 3, low=0, high=20),
            backoff=reader.number("backoff", 1.0, low=0, high=600),
            secret=_secret(reader),
            max_pending_batches=reader.integer("max_pending_batches", 100, low=1),
        )
    )


def _secret(reader: OptionReader) -> bytes | None:
    secret = reader.optional_string("secret")
    variable = reader.optional_string("secret_env")
    if secret is not None and variable is not None:
        raise reader.error("secret_env", "give either 'secret' or 'secret_env', not both")
    if variable is not None:
        secret = os.environ.get(variable)
        if not secret:
            raise reader.error("secret_env", f"environment variable {variable} is not set")
    return secret.encode("utf-8") if secret is not None else None


@hookimpl
def register_sinks(register: RegisterSink) -> None:
    register("webhook", webhook_sink)
