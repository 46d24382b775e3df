"""``POST /classify/tensors`` and ``POST /classify/files``: batches from another scened.

A daemon with ``[model] remote`` decodes and crops its photos itself and sends each
batch here in the binary form of :mod:`scened.model.wire`; the answer is the model's
probabilities per image, the model's id (which the client compares with its own, so
that two models never mix their tags) and, with ``?features=true``, the features that
personal learning stores.  Same bearer token, body limit (413 ``body_too_large``),
image limit (413 ``too_many_images``) and in-flight budget as ``POST /classify``.

With ``[model] remote_decode`` the daemon sends the photos' files instead
(``POST /classify/files``): each is decoded here by the daemon's own decoder
(:func:`scened.imaging.load_for_model`, by its name's suffix), and the answer adds each
file's pixel digest (what recognises a photo whose pixels were tagged before) or the
one line saying why it could not be decoded, and this server's decoders
(:func:`scened.imaging.decoder_id`), which the daemon checks are its own.  A file that
cannot be decoded, or is larger than ``[api] max_image_bytes``, fails alone.

Errors are the API's JSON errors: a body that is not a tensor batch is 400
``unsupported_file_type``; a batch of another image size than the model's, or a body
whose length does not match its header, 400 ``invalid_parameter``.  The endpoint is
left out of the OpenAPI document (a binary body the generated clients and the
schema-driven tests cannot use); docs/remote.md describes it.

The model runs in a worker thread, beside the micro-batcher's: the runtimes serialise
their own calls (LiteRT under a lock), and a tensor batch is already a batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from scened.api.errors import ApiError, ErrorCode
from scened.api.settings import ApiSettings
from scened.api.state import get_state, require_token
from scened.api.streaming import read_body
from scened.imaging import decoder_id
from scened.model import Classifier
from scened.model.remote_files import decode_each
from scened.model.runtime import feature_classifier
from scened.model.wire import (
    ANSWER_TYPE,
    FILES_PATH,
    PATH,
    Answer,
    WireError,
    count_files,
    decode_batch,
    decode_files,
    encode_answer,
    read_header,
)

router = APIRouter()


@router.post(PATH, dependencies=[Depends(require_token)], include_in_schema=False)
async def classify_tensors(
    request: Request,
    features: Annotated[bool, Query(description="Also answer the model's features")] = False,
) -> Response:
    """Probabilities (and features) for a batch of model-size uint8 images."""
    classifier, _, body = await _batch_request(request, features, _tensor_count)
    side, _ = read_header(body)
    if side != classifier.input_size:
        raise ApiError(
            400,
            ErrorCode.INVALID_PARAMETER,
            f"the images are {side}x{side} but model {classifier.model_id} takes "
            f"{classifier.input_size}x{classifier.input_size}",
        )
    try:
        batch = decode_batch(body)
    except WireError as exc:
        raise ApiError(400, ErrorCode.INVALID_PARAMETER, str(exc)) from None
    answer = await asyncio.to_thread(_answer, classifier, batch, features)
    return Response(encode_answer(answer), media_type=ANSWER_TYPE)


@router.post(FILES_PATH, dependencies=[Depends(require_token)], include_in_schema=False)
async def classify_files(
    request: Request,
    features: Annotated[bool, Query(description="Also answer the model's features")] = False,
) -> Response:
    """Probabilities (and features) and pixel digests for a batch of photo files."""
    classifier, settings, body = await _batch_request(request, features, _file_count)
    try:
        files = decode_files(body)
    except WireError as exc:
        raise ApiError(400, ErrorCode.INVALID_PARAMETER, str(exc)) from None
    answer = await asyncio.to_thread(_answer_files, classifier, files, features, settings)
    return Response(encode_answer(answer), media_type=ANSWER_TYPE)


def _tensor_count(body: bytes | bytearray) -> int:
    try:
        return read_header(body)[1]
    except WireError as exc:
        raise ApiError(400, ErrorCode.UNSUPPORTED_FILE_TYPE, f"not a tensor batch: {exc}") from None


def _file_count(body: bytes | bytearray) -> int:
    try:
        return count_files(body)
    except WireError as exc:
        message = f"not a batch of files: {exc}"
        raise ApiError(400, ErrorCode.UNSUPPORTED_FILE_TYPE, message) from None


async def _batch_request(
    request: Request, features: bool, count: Callable[[bytes | bytearray], int]
) -> tuple[Classifier, ApiSettings, bytes | bytearray]:
    """The checks both endpoints make: the model is ready, the body within the limit,
    the number of images (``count`` of the body) within the limit, features possible."""
    state = get_state(request)
    state.ready_batcher()  # 503 model_not_ready while the model loads
    classifier = state.classifier
    assert classifier is not None
    settings = state.settings
    body = await read_body(request, settings.max_body_bytes)
    images = count(body)
    if images > settings.max_images:
        raise ApiError(
            413,
            ErrorCode.TOO_MANY_IMAGES,
            f"{images} images, more than the limit of {settings.max_images} in one request",
        )
    _check_features(classifier, features)
    return classifier, settings, body


def _check_features(classifier: Classifier, features: bool) -> None:
    if features and feature_classifier(classifier) is None:
        raise ApiError(400, ErrorCode.INVALID_PARAMETER, "this server's model gives no features")


def _answer_files(
    classifier: Classifier, files: list[tuple[str, bytes]], features: bool, settings: ApiSettings
) -> Answer:
    """Decode each file as the daemon would, then run the model on those that decoded;
    a file that failed gets rows of zeros and its one-line error (in a worker thread)."""
    decoded = decode_each(files, classifier.input_size, max_pixels=settings.max_pixels,
                          max_bytes=settings.max_image_bytes)  # fmt: skip
    side = classifier.input_size
    pixels = decoded.pixels
    batch = np.stack(pixels) if pixels else np.zeros((0, side, side, 3), np.uint8)
    answer = _answer(classifier, batch, features)
    decoded_rows = [index for index, error in enumerate(decoded.errors) if error is None]
    probabilities = np.zeros((len(files), answer.probabilities.shape[1]), np.float32)
    probabilities[decoded_rows] = answer.probabilities
    found = None
    if answer.features is not None:
        width = answer.features.shape[1] if len(answer.features) else 0
        found = np.zeros((len(files), width), np.float32)
        found[decoded_rows] = answer.features
    return Answer(answer.model_id, answer.base_model_id, probabilities, found,
                  decoded.digests, decoded.errors, decoder_id())  # fmt: skip


def _answer(classifier: Classifier, batch: np.ndarray, features: bool) -> Answer:
    """Run the model on ``batch`` (in a worker thread)."""
    source = feature_classifier(classifier)
    base_id = source.base_model_id if source is not None else classifier.model_id
    if len(batch) == 0:
        empty = np.zeros((0, len(classifier.classes)), np.float32)
        return Answer(classifier.model_id, base_id, empty, empty[:, :0] if features else None)
    if features and source is not None:
        base, found = source.predict_features(batch)
        return Answer(classifier.model_id, base_id, source.rescore(base, found), found)
    return Answer(classifier.model_id, base_id, classifier.predict(batch))
