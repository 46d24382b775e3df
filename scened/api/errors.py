"""Errors the API answers with: a stable ``error`` code, a ``message`` and the ``index``.

Every client mistake becomes an :class:`ApiError`; the handlers installed by
:func:`install_error_handlers` turn it, FastAPI's validation errors and
Starlette's HTTP errors into the same JSON shape, so that no client input ever
produces FastAPI's default 422 or a 500.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

log = logging.getLogger(__name__)

#: Seconds a client told "server_busy" (503) is asked to wait before it tries again.
RETRY_AFTER_S = 1


class ErrorCode(StrEnum):
    """The machine-readable ``error`` field of an error response."""

    # The API's original error table (400).
    MISSING_IMAGES = "missing_images"
    IMAGES_NOT_A_LIST = "images_not_a_list"
    NOT_A_BASE64_IMAGE = "not_a_base64_image"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    UNSUPPORTED_COLOUR_MODE = "unsupported_colour_mode"
    # Other client errors.
    MALFORMED_JSON = "malformed_json"
    MALFORMED_MULTIPART = "malformed_multipart"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNKNOWN_POLICY = "unknown_policy"
    INVALID_PARAMETER = "invalid_parameter"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    IMAGE_TOO_LARGE = "image_too_large"
    TOO_MANY_IMAGES = "too_many_images"
    REQUEST_TIMEOUT = "request_timeout"
    # The server's side.
    MODEL_NOT_READY = "model_not_ready"
    SERVER_BUSY = "server_busy"
    HTTP_ERROR = "http_error"


class ApiError(Exception):
    """An error answered to the client as ``{"error", "message", "index"}``."""

    def __init__(
        self, status: int, code: ErrorCode, message: str, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.index = index

    def body(self) -> dict[str, object]:
        where = {} if self.index is None else {"index": self.index}
        return {"error": self.code.value, "message": self.message, **where}


def error_response(error: ApiError) -> JSONResponse:
    headers = None
    if error.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif error.code is ErrorCode.SERVER_BUSY:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


_STATUS_CODES = {
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.BODY_TOO_LARGE,
}


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Query parameters FastAPI rejects: a 400 naming the parameter, never a 422."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
    return error_response(ApiError(400, ErrorCode.INVALID_PARAMETER, message))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
    response = error_response(ApiError(exc.status_code, code, str(exc.detail)))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _on_client_gone(request: Request, exc: Exception) -> JSONResponse:
    """The client went away (or the server closed a too-slow one) mid-body: nobody to answer.

    Handled so that it is not logged as a server error; the response goes nowhere.
    """
    log.debug("client disconnected before its request body was complete")
    return error_response(ApiError(408, ErrorCode.REQUEST_TIMEOUT, "the client went away"))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the same JSON shape."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(ClientDisconnect, _on_client_gone)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
