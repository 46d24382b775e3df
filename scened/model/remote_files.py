"""Sending photo files instead of pixels (``[model] remote_decode``): what the NAS gets
back for each file, how files are grouped into requests, and the decode here when no
server answers.

With remote decoding the server decodes each file exactly as the NAS would
(:func:`scened.imaging.load_for_model`) and answers, besides the model's output, the
file's pixel digest: the NAS needs it to recognise a photo whose pixels it tagged
before (a keyword-only edit), so the server's decoders must be the NAS's
(:func:`scened.imaging.decoder_id`, checked on every answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from scened.errors import ScenedError
from scened.imaging import DEFAULT_MAX_PIXELS, decoder_id, load_for_model, pixel_digest

#: Most bytes of files in one request (the server's ``[api] max_body_bytes`` is 64 MiB by
#: default); a larger file goes alone.
MAX_REQUEST_BYTES = 32 << 20


@dataclass(frozen=True)
class FileAnswer:
    """What became of one file: the model's output and its pixel digest, or why not."""

    probabilities: np.ndarray | None
    features: np.ndarray | None
    pixel_digest: str | None
    error: str | None = None


class FileClassifier(Protocol):
    """A classifier that takes the photos' files (its servers decode them)."""

    def classify_files(
        self, files: Sequence[tuple[str, bytes]], *, features: bool = False
    ) -> list[FileAnswer]: ...


def file_classifier(classifier: object) -> FileClassifier | None:
    """``classifier`` when it decodes the photos itself (``[model] remote_decode``)."""
    if getattr(classifier, "decodes_remotely", False) and hasattr(classifier, "classify_files"):
        return classifier
    return None


def requests_for(
    files: Sequence[tuple[str, bytes]], max_images: int, max_bytes: int = MAX_REQUEST_BYTES
) -> list[list[int]]:
    """The files' indexes grouped into requests of at most ``max_images`` files and
    ``max_bytes`` bytes (a file larger than that alone), in order."""
    requests: list[list[int]] = []
    size = 0
    for index, (_, data) in enumerate(files):
        if not requests or len(requests[-1]) >= max_images or size + len(data) > max_bytes:
            requests.append([])
            size = 0
        requests[-1].append(index)
        size += len(data)
    return [request for request in requests if request]


def check_decoder(theirs: str, server: str) -> str | None:
    """Why ``server``'s decoders cannot stand in for this machine's (``None`` if they can)."""
    ours = decoder_id()
    if theirs == ours:
        return None
    mine, yours = ours.split("; "), (theirs or "no decoder named").split("; ")
    if len(mine) == len(yours):  # name only the decoders that differ
        differ = [(m, y) for m, y in zip(mine, yours, strict=True) if m != y]
        mine, yours = [m for m, _ in differ], [y for _, y in differ]
    return (
        f"{server} decodes with {'; '.join(yours)} but this machine with "
        f"{'; '.join(mine)}: with remote_decode both must decode alike (the pixel "
        "digests that recognise keyword-only edits come from the decode); install the "
        "same versions there, or set remote_decode = false"
    )


@dataclass(frozen=True)
class DecodedFiles:
    """Files decoded as the daemon decodes them: the pixels of those that decoded (in
    order) and, for every file, its pixel digest or why it could not be decoded."""

    pixels: list[np.ndarray]
    digests: tuple[str | None, ...]
    errors: tuple[str | None, ...]


def decode_each(
    files: Sequence[tuple[str, bytes]],
    size: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
) -> DecodedFiles:
    """Each ``(name, bytes)`` file through :func:`scened.imaging.load_for_model` (its
    name's suffix says how), on a server (``max_bytes``: its ``[api] max_image_bytes``)
    or here; a file that fails, fails alone, with one line."""
    pixels: list[np.ndarray] = []
    digests: list[str | None] = []
    errors: list[str | None] = []
    for name, data in files:
        try:
            if max_bytes is not None and len(data) > max_bytes:
                raise ScenedError(
                    f"{len(data):,} bytes, more than the remote server's limit of "
                    f"{max_bytes:,} ([api] max_image_bytes)"
                )
            image = load_for_model(data, size=size, max_pixels=max_pixels, name=name)
        except ScenedError as exc:
            digests.append(None)
            errors.append(exc.message)
            continue
        except Exception as exc:  # Pillow raises many types on damaged input
            digests.append(None)
            errors.append(f"cannot decode: {type(exc).__name__}: {exc}")
            continue
        pixels.append(image)
        digests.append(pixel_digest(image))
        errors.append(None)
    return DecodedFiles(pixels, tuple(digests), tuple(errors))


def decode_here(
    files: Sequence[tuple[str, bytes]],
    size: int,
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]],
) -> list[FileAnswer]:
    """The files decoded and classified on this machine (no server answered)."""
    decoded = decode_each(files, size)
    if not decoded.pixels:
        return [FileAnswer(None, None, None, error) for error in decoded.errors]
    probabilities, features = predict(np.stack(decoded.pixels))
    rows = iter(range(len(decoded.pixels)))
    answers = []
    for digest, error in zip(decoded.digests, decoded.errors, strict=True):
        if error is not None:
            answers.append(FileAnswer(None, None, None, error))
            continue
        row = next(rows)
        found = None if features is None else features[row]
        answers.append(FileAnswer(probabilities[row], found, digest))
    return answers
