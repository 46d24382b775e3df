"""The endpoints: ``POST /classify`` (the API's contract, docs/api.md) and ``GET /health``.

``POST /classify`` takes the API's JSON body or, with the same answers, errors
and limits, ``multipart/form-data`` with one ``file`` field per photo
(:mod:`scened.api.formdata`).  Blocking work (JSON and multipart parsing,
base64, image decoding) runs in the decode thread pool and the model in the
micro-batcher's thread, so the event loop only moves bytes and futures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from scened.api.decode import ImageLimits, decode_file, decode_image, parse_images
from scened.api.errors import ApiError, ErrorCode
from scened.api.formdata import MEDIA_TYPE, is_multipart, read_files
from scened.api.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    HealthResponse,
    error_responses,
    multipart_body_schema,
)
from scened.api.state import ApiState, get_state, require_token
from scened.api.streaming import read_body
from scened.types import Prediction

router = APIRouter()
_Entry = TypeVar("_Entry")


_CLASSIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ClassifyRequest.model_json_schema()},
            MEDIA_TYPE: {"schema": multipart_body_schema()},
        },
    }
}


@router.post(
    "/classify",
    response_model=ClassifyResponse,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 408, 413, 503),
    openapi_extra=_CLASSIFY_BODY,
    dependencies=[Depends(require_token)],
    summary="Tags for a batch of images",
)
async def classify(
    request: Request,
    policy: Annotated[
        str | None,
        Query(description="A registered tag policy (default: `default`, the original formula)"),
    ] = None,
    top: Annotated[
        int | None,
        Query(
            ge=1,
            description="Also answer the top N classes per image (at most the "
            "model's number of classes)",
        ),
    ] = None,
) -> dict[str, Any]:
    """Answer ``{"tags": [[...], ...]}``: one tag list per image, in request order.

    The body is ``{"images": ["<base64>", ...]}``; each entry is plain base64 or a
    ``data:image/...;base64,`` URL of a JPEG or PNG in the RGB, RGBA or CMYK mode.
    Or the body is ``multipart/form-data`` with one ``file`` field per image
    (``curl -F file=@photo.jpg``), answered the same way, in the fields' order.
    """
    state = get_state(request)
    batcher = state.ready_batcher()
    classes = len(state.classifier.classes) if state.classifier is not None else 0
    if top is not None and top > classes:
        raise ApiError(
            400,
            ErrorCode.INVALID_PARAMETER,
            f"top must be between 1 and {classes}, the model's number of classes",
        )
    chosen_policy = state.policy(policy)
    settings = state.settings
    if is_multipart(request.headers.get("content-type")):
        files = await read_files(
            request,
            max_body_bytes=settings.max_body_bytes,
            max_images=settings.max_images,
            max_image_bytes=settings.max_image_bytes,
            pool=state.decode_pool,
        )
        pixels = await decode_all(state, files, decode_file)
    else:
        body = await read_body(request, settings.max_body_bytes)
        loop = asyncio.get_running_loop()
        images = await loop.run_in_executor(
            state.decode_pool, parse_images, body, settings.max_images
        )
        del body  # the images hold what is needed; the raw body is not kept while decoding
        pixels = await decode_all(state, images, decode_image)
    predictions = await batcher.predict(pixels)
    answer: dict[str, Any] = {"tags": [chosen_policy.choose(p) for p in predictions]}
    if top is not None:
        answer["top"] = [_top(p, top) for p in predictions]
    return answer


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The model is not ready"}},
    summary="Readiness and the model's id",
)
async def health(request: Request) -> JSONResponse:
    """200 with the model id when ready to classify, else 503 with the reason."""
    state = get_state(request)
    classifier = state.classifier if state.batcher is not None else None
    status = "ok" if classifier is not None else ("error" if state.load_error else "loading")
    report = HealthResponse(
        status=status,
        ready=classifier is not None,
        model_id=classifier.model_id if classifier is not None else None,
        classes=len(classifier.classes) if classifier is not None else None,
        error=state.load_error,
    )
    return JSONResponse(report.model_dump(), status_code=200 if report.ready else 503)


async def decode_all(
    state: ApiState,
    entries: Sequence[_Entry],
    decode: Callable[[int, _Entry, ImageLimits], np.ndarray],
) -> np.ndarray:
    """Decode every entry with ``decode`` in the thread pool; the lowest failing index wins."""
    size = state.classifier.input_size if state.classifier is not None else 0
    limits = ImageLimits(state.settings.max_image_bytes, state.settings.max_pixels, size)
    loop = asyncio.get_running_loop()
    decoded = await asyncio.gather(
        *(
            loop.run_in_executor(state.decode_pool, decode, index, entry, limits)
            for index, entry in enumerate(entries)
        ),
        return_exceptions=True,
    )
    for result in decoded:
        if isinstance(result, BaseException):
            raise result
    if not decoded:
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.stack(decoded)  # type: ignore[arg-type]


def _top(prediction: Prediction, count: int) -> list[dict[str, object]]:
    return [{"class": name, "probability": p} for name, p in prediction.top(count)]
