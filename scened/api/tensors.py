"""``POST /classify/tensors``: batches of pre-cropped pixels from another scened.

A daemon with ``[model] remote`` decodes and crops its photos itself and sends each
batch here in the binary form of :mod:`scened.model.wire`; the answer is the model's
probabilities per image, the model's id (which the client compares with its own, so
that two models never mix their tags) and, with ``?features=true``, the features that
personal learning stores.  Same bearer token, body limit (413 ``body_too_large``),
image limit (413 ``too_many_images``) and in-flight budget as ``POST /classify``.

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
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from scened.api.errors import ApiError, ErrorCode
from scened.api.state import get_state, require_token
from scened.api.streaming import read_body
from scened.model import Classifier
from scened.model.runtime import feature_classifier
from scened.model.wire import (
    ANSWER_TYPE,
    PATH,
    Answer,
    WireError,
    decode_batch,
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
    state = get_state(request)
    state.ready_batcher()  # 503 model_not_ready while the model loads
    classifier = state.classifier
    assert classifier is not None
    settings = state.settings
    body = await read_body(request, settings.max_body_bytes)
    try:
        side, count = read_header(body)
    except WireError as exc:
        raise ApiError(400, ErrorCode.UNSUPPORTED_FILE_TYPE, f"not a tensor batch: {exc}") from None
    if count > settings.max_images:
        raise ApiError(
            413,
            ErrorCode.TOO_MANY_IMAGES,
            f"{count} images, more than the limit of {settings.max_images} in one request",
        )
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
    if features and feature_classifier(classifier) is None:
        raise ApiError(400, ErrorCode.INVALID_PARAMETER, "this server's model gives no features")
    answer = await asyncio.to_thread(_answer, classifier, batch, features)
    return Response(encode_answer(answer), media_type=ANSWER_TYPE)


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
