"""The wire format of the batch endpoints another scened uses: pixels or files out,
probabilities back.

``POST /classify/tensors`` takes a batch of model-size pixels (the client decoded the
photos); ``POST /classify/files`` takes the photos' files (``[model] remote_decode``:
the server decodes them and also answers each one's pixel digest, or why it could not
be decoded).  Shared by the client (:mod:`scened.model.remote`) and the server
(:mod:`scened.api.tensors`); pure numpy and ``struct``, so the client needs neither
FastAPI nor an HTTP library.  Binary, because a batch is mostly pixels or file bytes
(a 224 px image is 150,528 bytes raw, a third more as base64) and the features that
personal learning keeps are a thousand floats an image.  docs/remote.md describes it
byte by byte.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
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
#: The files endpoint: header magic, version, file count; then per file the length of
#: its name (u16), the name in UTF-8 (its suffix says how to decode it), the length
#: of its bytes (u32) and the bytes.
FILES_PATH = "/classify/files"
FILES_TYPE = "application/x-scened-files"
_FILES = struct.Struct("<4sBI")
_FILE_NAME = struct.Struct("<H")
_FILE_SIZE = struct.Struct("<I")
FILES_MAGIC = b"SCNF"
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
    #: For a batch of files: each file's pixel digest, or ``None`` where it failed...
    digests: tuple[str | None, ...] = ()
    #: ...and then why (one line); its rows of probabilities and features are zeros.
    errors: tuple[str | None, ...] = ()
    #: For a batch of files: the server's decoders (:func:`scened.imaging.decoder_id`).
    decoder: str = ""


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


def encode_files(files: Sequence[tuple[str, bytes]]) -> bytes:
    """``(name, bytes)`` of each file as a request body of ``POST /classify/files``."""
    parts = [_FILES.pack(FILES_MAGIC, VERSION, len(files))]
    for name, data in files:
        encoded = name.encode("utf-8", "surrogateescape")[-0xFFFF:]
        parts += [_FILE_NAME.pack(len(encoded)), encoded, _FILE_SIZE.pack(len(data)), data]
    return b"".join(parts)


def count_files(body: bytes | bytearray) -> int:
    """How many files a ``POST /classify/files`` body announces."""
    if len(body) < _FILES.size:
        raise WireError(f"the body is shorter than the {_FILES.size}-byte header")
    magic, version, count = _FILES.unpack_from(body)
    if magic != FILES_MAGIC:
        raise WireError(f"the body does not start with {FILES_MAGIC!r}")
    if version != VERSION:
        raise WireError(f"version {version} (this server: {VERSION})")
    return int(count)


def decode_files(body: bytes | bytearray) -> list[tuple[str, bytes]]:
    """The ``(name, bytes)`` of each file in a ``POST /classify/files`` body."""
    count = count_files(body)
    view = memoryview(body)
    files, offset = [], _FILES.size
    for index in range(count):
        try:
            (name_length,) = _FILE_NAME.unpack_from(view, offset)
            offset += _FILE_NAME.size
            name = bytes(view[offset : offset + name_length]).decode("utf-8", "surrogateescape")
            offset += name_length
            (size,) = _FILE_SIZE.unpack_from(view, offset)
            offset += _FILE_SIZE.size
        except struct.error:
            raise WireError(f"the body ends inside the header of file {index}") from None
        if offset + size > len(body):
            raise WireError(f"file {index} ({name}) announces {size:,} bytes; the body ends first")
        files.append((name, bytes(view[offset : offset + size])))
        offset += size
    if offset != len(body):
        raise WireError(f"{len(body) - offset:,} bytes follow the {count} files announced")
    return files


def encode_answer(answer: Answer) -> bytes:
    """An :class:`Answer` as a response body."""
    probabilities = np.ascontiguousarray(answer.probabilities, "<f4")
    count, classes = probabilities.shape
    features = np.zeros((count, 0), "<f4") if answer.features is None else answer.features
    features = np.ascontiguousarray(features, "<f4")
    dims = None if answer.features is None else int(features.shape[1]) if count else 0
    fields = {
        "model_id": answer.model_id, "base_model_id": answer.base_model_id, "count": count,
        "classes": classes, "features": dims,
    }  # fmt: skip
    if answer.decoder:  # an answer to a batch of files
        fields.update(digests=list(answer.digests), errors=list(answer.errors),
                      decoder=answer.decoder)  # fmt: skip
    header = json.dumps(fields).encode("utf-8")
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
        decoder = str(header.get("decoder", ""))
        digests = tuple(None if d is None else str(d) for d in header.get("digests", ()))
        errors = tuple(None if e is None else str(e) for e in header.get("errors", ()))
    except (ValueError, KeyError, TypeError) as exc:
        raise WireError(f"the answer's header is not valid: {exc}") from None
    start = _ANSWER.size + length
    feature_dims = 0 if dims is None else int(dims)
    if len(body) != start + 4 * count * (classes + feature_dims):
        raise WireError(f"the answer's length does not match {count} rows of {classes} classes")
    if decoder and not len(digests) == len(errors) == count:
        raise WireError(f"the answer has {len(digests)} digests for {count} files")
    rows = np.frombuffer(body, "<f4", offset=start).astype(np.float32)
    probabilities = rows[: count * classes].reshape(count, classes)
    features = None if dims is None else rows[count * classes :].reshape(count, feature_dims)
    return Answer(model_id, base_model_id, probabilities, features, digests, errors, decoder)
