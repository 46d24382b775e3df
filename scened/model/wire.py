"""The wire format of ``POST /classify/tensors``: batches of pixels out, probabilities back.

Shared by the client (:mod:`scened.model.remote`, on the machine that decodes photos)
and the server (:mod:`scened.api.tensors`); pure numpy and ``struct``, so the client
needs neither FastAPI nor an HTTP library.  Binary, because a batch is mostly pixels
(a 224 px image is 150,528 bytes raw, a third more as base64) and the features that
personal learning keeps are a thousand floats an image.  docs/remote.md describes it
byte by byte.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

#: The batch endpoint of ``scened serve``.
PATH = "/classify/tensors"
REQUEST_TYPE = "application/x-scened-tensors"
ANSWER_TYPE = "application/x-scened-probabilities"
#: Request header: magic, version, channels (3), image side, image count; then the
#: images as raw uint8 ``(count, side, side, 3)`` in C order.
_REQUEST = struct.Struct("<4sBBHI")
REQUEST_MAGIC = b"SCNT"
#: Answer prefix: magic, length of the JSON header that follows; then little-endian
#: float32 probabilities ``(count, classes)`` and features ``(count, features)``.
_ANSWER = struct.Struct("<4sI")
ANSWER_MAGIC = b"SCNA"
VERSION = 1


class WireError(ValueError):
    """A body that does not follow the wire format (the message says how)."""


@dataclass(frozen=True)
class Answer:
    """What a server answers for a batch: its model's ids and one row per image."""

    model_id: str
    base_model_id: str
    probabilities: np.ndarray
    features: np.ndarray | None = None


def encode_batch(batch: np.ndarray) -> bytes:
    """``(n, side, side, 3)`` uint8 images as a request body."""
    if batch.ndim != 4 or batch.shape[1] != batch.shape[2] or batch.shape[3] != 3:
        raise WireError(f"a batch is (n, side, side, 3) images, not {batch.shape}")
    header = _REQUEST.pack(REQUEST_MAGIC, VERSION, 3, batch.shape[1], batch.shape[0])
    return header + np.ascontiguousarray(batch, np.uint8).tobytes()


def read_header(body: bytes | bytearray) -> tuple[int, int]:
    """The image side and count a request body announces (before reading its pixels)."""
    if len(body) < _REQUEST.size:
        raise WireError(f"the body is shorter than the {_REQUEST.size}-byte header")
    magic, version, channels, side, count = _REQUEST.unpack_from(body)
    if magic != REQUEST_MAGIC:
        raise WireError(f"the body does not start with {REQUEST_MAGIC!r}")
    if version != VERSION or channels != 3:
        raise WireError(f"version {version} with {channels} channels (this server: 1 with 3)")
    return side, count


def decode_batch(body: bytes | bytearray) -> np.ndarray:
    """The images of a request body (a view of it, not a copy)."""
    side, count = read_header(body)
    expected = _REQUEST.size + count * side * side * 3
    if len(body) != expected:
        raise WireError(
            f"the header announces {count} images of {side}x{side}x3 ({expected:,} bytes "
            f"with it) but the body has {len(body):,}"
        )
    return np.frombuffer(body, np.uint8, offset=_REQUEST.size).reshape(count, side, side, 3)


def encode_answer(answer: Answer) -> bytes:
    """An :class:`Answer` as a response body."""
    probabilities = np.ascontiguousarray(answer.probabilities, "<f4")
    count, classes = probabilities.shape
    features = np.zeros((count, 0), "<f4") if answer.features is None else answer.features
    features = np.ascontiguousarray(features, "<f4")
    dims = None if answer.features is None else int(features.shape[1]) if count else 0
    header = json.dumps({
        "model_id": answer.model_id, "base_model_id": answer.base_model_id, "count": count,
        "classes": classes, "features": dims,
    }).encode("utf-8")  # fmt: skip
    prefix = _ANSWER.pack(ANSWER_MAGIC, len(header))
    return prefix + header + probabilities.tobytes() + features.tobytes()


def decode_answer(body: bytes) -> Answer:
    """The :class:`Answer` in a response body."""
    if len(body) < _ANSWER.size or body[:4] != ANSWER_MAGIC:
        raise WireError(f"the answer does not start with {ANSWER_MAGIC!r}")
    _, length = _ANSWER.unpack_from(body)
    try:
        header = json.loads(body[_ANSWER.size : _ANSWER.size + length])
        count, classes, dims = int(header["count"]), int(header["classes"]), header["features"]
        model_id, base_model_id = str(header["model_id"]), str(header["base_model_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WireError(f"the answer's header is not valid: {exc}") from None
    start = _ANSWER.size + length
    feature_dims = 0 if dims is None else int(dims)
    if len(body) != start + 4 * count * (classes + feature_dims):
        raise WireError(f"the answer's length does not match {count} rows of {classes} classes")
    rows = np.frombuffer(body, "<f4", offset=start).astype(np.float32)
    probabilities = rows[: count * classes].reshape(count, classes)
    features = None if dims is None else rows[count * classes :].reshape(count, feature_dims)
    return Answer(model_id, base_model_id, probabilities, features)
