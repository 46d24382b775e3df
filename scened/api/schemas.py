"""The JSON shapes of the API, as pydantic models (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from scened.api.errors import ErrorCode


class ClassifyRequest(BaseModel):
    """The body of ``POST /classify`` (the API's contract: docs/api.md)."""

    images: list[str] = Field(
        description="Images as plain base64 or as data:image/...;base64, URLs. "
        "JPEG and PNG (by content), colour modes RGB, RGBA and CMYK.",
        examples=[["/9j/4AAQSkZJRgABAQ..."]],
    )


def multipart_body_schema() -> dict[str, Any]:
    """The OpenAPI schema of the multipart form of ``POST /classify``: ``file`` fields."""
    return {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "description": "One field per image, in order (curl -F file=@photo.jpg). "
                "JPEG and PNG (by content), colour modes RGB, RGBA and CMYK.",
            }
        },
    }


class ClassProbability(BaseModel):
    """One class and its softmax probability."""

    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class", description="A class name (one of the model's 36 classes).")
    probability: float


class ClassifyResponse(BaseModel):
    """One tag list per image, in request order; ``top`` only when ``?top=`` asked for it."""

    tags: list[list[str]] = Field(examples=[[["Nature", "Coast"], ["Portrait", "Family"]]])
    top: list[list[ClassProbability]] | None = Field(
        default=None,
        description="The most probable classes of each image, most probable first "
        "(present only with ?top=).",
    )


class ErrorResponse(BaseModel):
    """What every error answers: which error, in words, and which entry of ``images``."""

    error: ErrorCode
    message: str
    index: int | None = Field(
        default=None, description="The entry of images that caused the error, if one did."
    )


class HealthResponse(BaseModel):
    """Readiness of the server and the model it serves."""

    status: str = Field(description="ok, loading or error")
    ready: bool
    model_id: str | None
    classes: int | None = Field(description="How many classes the model knows.")
    error: str | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    described = {
        400: "A client error (an error code of the API's table), or another invalid input",
        401: "A bearer token is configured and the request lacks the right one",
        408: "The client did not send its request (headers or body) in time",
        413: "The body, one image, or the number of images is over the configured limit",
        503: "The model is not loaded (yet), or the server is busy (server_busy, with "
        "Retry-After): too many bytes of request bodies in flight or too many connections",
    }
    return {s: {"model": ErrorResponse, "description": described[s]} for s in statuses}
