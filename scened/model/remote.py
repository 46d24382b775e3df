"""Classifying on other machines: ``[model] remote`` servers that run ``scened serve``.

A NAS with a weak CPU decodes and crops its photos as always, then sends each batch of
model-size pixels to ``POST /classify/tensors`` of a stronger machine (wire format:
:mod:`scened.model.wire`, docs/remote.md).  :class:`RemoteClassifier` has the local
classifier's interface, so the pipeline, policies and the state see no difference:

* a batch is split over the servers that are up (least busy first, ties in turn), over
  kept-alive ``http.client`` connections (no extra dependency on the daemon's side);
* a request that fails (refused, reset, timed out, 5xx) is sent to another server, and
  the failed one rests for :data:`REST_AFTER_FAILURE_S` before it is tried again;
* when none answers, the batch runs here (``remote_fallback = "local"``) or fails with
  one line that says so (``"fail"``), raised from ``EHOSTDOWN`` so that the daemon tries
  those photos again at its next scan;
* every server's model id (``GET /health``, and every answer) must be the local model's:
  that id is what the state and the photos record, and two models never mix their tags.
  Another model, a refused token or a server without the endpoint is a one-line
  :class:`~scened.errors.ConfigError` naming the server.

With ``[model] remote_decode`` the runner sends the photos' files instead
(:meth:`RemoteClassifier.classify_files`, :mod:`scened.model.remote_files`): the servers
decode them and answer each one's pixel digest too.

Personal learning works remotely: the server answers the model's features too, which
the learner stores and a personal head re-scores from (:class:`RemoteFeatureClassifier`).
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from scened.errors import ConfigError, ModelError
from scened.model.remote_files import FileAnswer, check_decoder, decode_here, requests_for
from scened.model.remote_http import (
    REST_AFTER_FAILURE_S,
    Server,
    UnreachableError,
    error_fields,
)
from scened.model.runtime import Classifier, FeatureClassifier, feature_classifier
from scened.model.wire import (
    ANSWER_TYPE,
    FILES_PATH,
    FILES_TYPE,
    PATH,
    REQUEST_TYPE,
    Answer,
    WireError,
    decode_answer,
    encode_batch,
    encode_files,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

FALLBACKS = ("local", "fail")
TOKEN_ENV = "SCENED_REMOTE_TOKEN"
#: Most images in one request (the server's ``[api] max_images`` is 64 by default).
MAX_REQUEST_IMAGES = 32


def remote_token(configured: str | None) -> str | None:
    """The bearer token: ``[model] remote_token``, else ``$SCENED_REMOTE_TOKEN``."""
    return configured or os.environ.get(TOKEN_ENV) or None


class RemoteUnavailableError(ModelError):
    """No remote server answered and ``[model] remote_fallback`` is ``"fail"``."""


class RemoteClassifier:
    """The local classifier's interface, answered by ``scened serve`` servers."""

    def __init__(
        self,
        local: Classifier,
        urls: Sequence[str],
        *,
        token: str | None = None,
        fallback: str = "local",
        max_request_images: int = MAX_REQUEST_IMAGES,
        decode: bool = False,
    ) -> None:
        if not urls:
            raise ConfigError("give at least one server URL", key="model.remote")
        if fallback not in FALLBACKS:
            raise ConfigError(f"must be one of {FALLBACKS}", key="model.remote_fallback")
        #: The local model: what the library expects (its id, classes, input size), and
        #: the fallback.
        self.local = local
        self.model_id = local.model_id
        self.classes = local.classes
        self.input_size = local.input_size
        self.metadata = getattr(local, "metadata", {})
        self.fallback = fallback
        #: ``[model] remote_decode``: the runner sends files (:meth:`classify_files`).
        self.decodes_remotely = decode
        self.servers = [Server(url) for url in dict.fromkeys(urls)]
        #: Images classified by each server URL, and here (``"local"``): for tests and
        #: benchmarks.
        self.counts = {**{server.url: 0 for server in self.servers}, "local": 0}
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._max_request = max_request_images
        self._lock = threading.Lock()
        self._turn = 0
        self._warned_local = False
        self._pool = ThreadPoolExecutor(
            max_workers=2 * len(self.servers), thread_name_prefix="scened-remote"
        )

    def check(self) -> None:
        """Ask every server for its model id and try the token, now rather than at the
        first batch: a server that does not answer is only noted (it may come later)."""
        for _ in self._pool.map(self._check, self.servers):
            pass

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._classify(batch, features=False)[0]

    def classify_files(
        self, files: Sequence[tuple[str, bytes]], *, features: bool = False
    ) -> list[FileAnswer]:
        """Each ``(name, bytes)`` file decoded and classified by the servers (or here,
        when none answers): the model's output and the file's pixel digest, or why it
        could not be decoded."""
        requests = requests_for(files, self._max_request)

        def send(indexes: list[int]) -> list[FileAnswer]:
            chunk = [files[index] for index in indexes]
            return self._anywhere(
                len(chunk),
                lambda server: self._send_files(server, chunk, features),
                lambda: decode_here(chunk, self.input_size, self._local_predict(features)),
            )

        answers = [] if not requests else list(self._pool.map(send, requests))
        return [answer for request in answers for answer in request]

    def close(self) -> None:
        """Close the kept-alive connections and the sending threads."""
        self._pool.shutdown(wait=True)
        for server in self.servers:
            server.close()

    # -- spreading and retrying ---------------------------------------------------------

    def _classify(self, batch: np.ndarray, features: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The batch split over the servers that are up, the parts sent at once."""
        now = time.monotonic()
        up = sum(1 for server in self.servers if server.resting_until <= now)
        parts = min(len(batch), max(up, math.ceil(len(batch) / self._max_request), 1))
        if parts <= 1:
            return self._send_anywhere(batch, features)
        chunks = np.array_split(batch, parts)
        answers = list(self._pool.map(lambda chunk: self._send_anywhere(chunk, features), chunks))
        probabilities = np.concatenate([answer[0] for answer in answers])
        if not features:
            return probabilities, None
        return probabilities, np.concatenate([a[1] for a in answers if a[1] is not None])

    def _send_anywhere(
        self, chunk: np.ndarray, features: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        def send(server: Server) -> tuple[np.ndarray, np.ndarray | None]:
            answer = self._send(server, chunk, features)
            return answer.probabilities, answer.features

        return self._anywhere(len(chunk), send, lambda: self._local_predict(features)(chunk))

    def _anywhere(self, count: int, send: Callable[[Server], T], here: Callable[[], T]) -> T:
        """The least busy server that is up answers (``send``); on failure the next;
        when none is left, the fallback (``here``, or an error)."""
        tried: set[str] = set()
        while (server := self._pick(tried)) is not None:
            tried.add(server.url)
            try:
                answer = send(server)
            except UnreachableError as exc:
                self._rest(server, exc)
                continue
            finally:
                with self._lock:
                    server.in_flight -= 1
            with self._lock:
                self.counts[server.url] += count
                self._warned_local = False
            return answer
        self._fall_back(count)
        return here()

    def _pick(self, tried: set[str]) -> Server | None:
        with self._lock:
            now = time.monotonic()
            ready = [s for s in self.servers if s.url not in tried and s.resting_until <= now]
            if not ready:
                return None
            self._turn += 1
            turn = self._turn % len(ready)
            chosen = min(ready[turn:] + ready[:turn], key=lambda server: server.in_flight)
            chosen.in_flight += 1
            return chosen

    def _rest(self, server: Server, failure: UnreachableError) -> None:
        with self._lock:
            was_up = server.resting_until <= time.monotonic()
            server.resting_until = time.monotonic() + failure.rest_s
            server.checked = False
            server.last_error = failure.reason
        server.close()
        if was_up:
            log.warning("remote server %s: %s; sending to the others", server.url, failure.reason)

    def _fall_back(self, count: int) -> None:
        """No server answered: an error (``remote_fallback = "fail"``), or a warning
        (once until a server answers again) and the work is done here."""
        reasons = "; ".join(f"{s.url}: {s.last_error}" for s in self.servers)
        if self.fallback == "fail":
            raise RemoteUnavailableError(
                f'no remote server answered ({reasons}) and [model] remote_fallback is "fail"'
            ) from OSError(errno.EHOSTDOWN, "no remote server answered")
        with self._lock:
            warn, self._warned_local = not self._warned_local, True
            self.counts["local"] += count
        if warn:
            log.warning("no remote server answered (%s); classifying here", reasons)

    def _local_predict(
        self, features: bool
    ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]:
        """The local model's output for a batch (with features when asked)."""
        if features:
            source = feature_classifier(self.local)
            assert source is not None  # only RemoteFeatureClassifier asks for features
            return source.predict_features
        return lambda batch: (self.local.predict(batch), None)

    # -- one server ---------------------------------------------------------------------

    def _check(self, server: Server) -> None:
        try:
            self._send(server, np.zeros((0, self.input_size, self.input_size, 3), np.uint8), False)
            if self.decodes_remotely:  # its decoders too: an empty batch of files
                self._send_files(server, [], False)
        except UnreachableError as exc:
            self._rest(server, exc)

    def _send(self, server: Server, chunk: np.ndarray, features: bool) -> Answer:
        return self._post(server, PATH, REQUEST_TYPE, encode_batch(chunk), len(chunk), features)

    def _send_files(
        self, server: Server, files: Sequence[tuple[str, bytes]], features: bool
    ) -> list[FileAnswer]:
        answer = self._post(server, FILES_PATH, FILES_TYPE, encode_files(files), len(files),
                            features)  # fmt: skip
        problem = check_decoder(answer.decoder, server.url)
        if problem is not None:
            raise ConfigError(problem, key="model.remote_decode")
        if len(answer.digests) != len(files):
            raise ModelError(f"remote server {server.url} answered no pixel digests")
        return [
            FileAnswer(
                answer.probabilities[row],
                None if answer.features is None else answer.features[row],
                answer.digests[row],
                answer.errors[row],
            )
            for row in range(len(files))
        ]

    def _post(
        self, server: Server, path: str, kind: str, request: bytes, count: int, features: bool
    ) -> Answer:
        """One batch to ``server``: its answer, checked (model id, number of rows)."""
        if not server.checked:
            self._check_model(server)
        path += "?features=true" if features else ""
        headers = {**self._headers, "Content-Type": kind, "Accept": ANSWER_TYPE}
        status, response, body = server.request("POST", path, request, headers)
        if status != 200:
            raise self._refusal(server, status, response, body)
        try:
            answer = decode_answer(body)
        except WireError as exc:
            raise ModelError(f"remote server {server.url} answered garbage: {exc}") from None
        self._check_id(server, answer.model_id)
        if len(answer.probabilities) != count or (features and answer.features is None):
            raise ModelError(f"remote server {server.url} answered another number of rows")
        return answer

    def _check_model(self, server: Server) -> None:
        """``GET /health``: the server is ready and serves the local model."""
        status, response, body = server.request("GET", "/health", None, {})
        if status in (401, 403):  # a proxy in front that wants the token everywhere
            raise self._refusal(server, status, response, body)
        try:
            health = json.loads(body)
        except ValueError:
            health = {}
        if status == 503 and isinstance(health, dict):
            raise UnreachableError(f"not ready ({health.get('error') or health.get('status')})")
        if status != 200 or not isinstance(health, dict) or "model_id" not in health:
            raise ConfigError(
                f"{server.url} does not answer GET /health as scened serve does ({status})",
                key="model.remote",
            )
        self._check_id(server, str(health["model_id"]))
        server.checked = True

    def _check_id(self, server: Server, model_id: str) -> None:
        if model_id != self.model_id:
            raise ConfigError(
                f"{server.url} serves model {model_id!r} but the library's tags come from "
                f"{self.model_id!r}: serve the same model there, or leave it out",
                key="model.remote",
            )

    def _refusal(
        self, server: Server, status: int, response: http.client.HTTPResponse, body: bytes
    ) -> Exception:
        code, message = error_fields(body)
        said = f"{status} {code}: {message}" if code else str(status)
        if status in (401, 403):
            return ConfigError(
                f"{server.url} refused the token ({said}); set [model] remote_token or "
                f"${TOKEN_ENV} to that server's [api] token",
                key="model.remote_token",
            )
        if status in (404, 405):
            return ConfigError(
                f"{server.url} has no POST {PATH} ({status}): run a scened serve of this "
                "version there",
                key="model.remote",
            )
        if status >= 500:  # not ready, busy, or broken: another server may do
            retry_after = response.getheader("Retry-After", "")
            rest = float(retry_after) if retry_after.isdigit() else REST_AFTER_FAILURE_S
            return UnreachableError(f"answered {said}", rest)
        return ModelError(f"remote server {server.url} refused a batch: {said}")


class RemoteFeatureClassifier(RemoteClassifier):
    """A :class:`RemoteClassifier` whose servers also answer the features that personal
    learning stores and re-scores from (:class:`~scened.model.runtime.FeatureClassifier`)."""

    def __init__(
        self,
        local: FeatureClassifier,
        urls: Sequence[str],
        *,
        token: str | None = None,
        fallback: str = "local",
        max_request_images: int = MAX_REQUEST_IMAGES,
        decode: bool = False,
    ) -> None:
        super().__init__(local, urls, token=token, fallback=fallback,
                         max_request_images=max_request_images, decode=decode)  # fmt: skip
        self.base_model_id = local.base_model_id
        self._features = local

    def predict_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities, features = self._classify(batch, features=True)
        assert features is not None
        return probabilities, features

    def rescore(self, probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
        return self._features.rescore(probabilities, features)


def remote_classifier(
    local: Classifier,
    urls: Sequence[str],
    *,
    token: str | None = None,
    fallback: str = "local",
    max_request_images: int = MAX_REQUEST_IMAGES,
    decode: bool = False,
) -> RemoteClassifier:
    """``local``'s interface answered by the servers at ``urls`` (with features when
    ``local`` gives them, so that personal learning works as it does here); with
    ``decode`` the runner sends them the photos' files (``[model] remote_decode``)."""
    source = feature_classifier(local)
    if source is not None:
        return RemoteFeatureClassifier(
            source, urls, token=token, fallback=fallback,
            max_request_images=max_request_images, decode=decode,
        )  # fmt: skip
    return RemoteClassifier(
        local, urls, token=token, fallback=fallback,
        max_request_images=max_request_images, decode=decode,
    )  # fmt: skip
