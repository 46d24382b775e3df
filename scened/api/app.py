"""The FastAPI application: ``create_app(settings, classifier=None, pm=None)``.

The classifier is injected (tests pass a fake) or, when ``None``, the model of
``settings.model_dir`` (the bundled model by default) is loaded at startup by
the lifespan, in a thread, never at import time.  A model that fails to load
leaves the server up with ``GET /health`` answering 503 and the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pluggy
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from scened import __version__
from scened.api.batcher import MicroBatcher
from scened.api.docs import install_docs
from scened.api.errors import install_error_handlers
from scened.api.inflight import BodyBudget
from scened.api.routes import router
from scened.api.settings import ApiSettings
from scened.api.state import ApiState
from scened.api.tensors import router as tensors_router
from scened.errors import ScenedError
from scened.model import Classifier, load_classifier
from scened.plugins import get_plugin_manager
from scened.policies import build_policy
from scened.review import install_review

log = logging.getLogger(__name__)

DESCRIPTION = """Scene tags for images: `POST /classify` with `{"images": ["<base64>", ...]}`
answers `{"tags": [[...], ...]}`, one tag list per image in request order.
The same photos can be sent as `multipart/form-data`, one `file` field each
(`curl -F file=@photo.jpg`), for the same answer.
Errors answer `{"error": <code>, "message": <text>, "index": <entry of images>}`."""


def create_app(
    settings: ApiSettings | None = None,
    classifier: Classifier | None = None,
    pm: pluggy.PluginManager | None = None,
) -> FastAPI:
    """The API for ``settings``, serving ``classifier`` (default: load the model at startup)."""
    settings = settings or ApiSettings()
    pm = pm or get_plugin_manager()
    state = ApiState(
        settings=settings,
        pm=pm,
        token=settings.resolved_token(),
        default_policy=build_policy(pm, settings.policy, {}, classifier=classifier),
        classifier=classifier,
    )
    # /docs is served from an installed copy of Swagger UI (scened.api.docs), not a CDN.
    app = FastAPI(
        title="scened",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.scened = state
    install_error_handlers(app)
    # Added first, so inside CORS: a 503 for a full budget still carries CORS headers.
    app.add_middleware(
        BodyBudget,
        max_bytes=settings.bytes_in_flight_budget,
        max_body_bytes=settings.max_body_bytes,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.include_router(router)
    app.include_router(tensors_router)  # POST /classify/tensors: docs/remote.md
    install_docs(app)
    install_review(app)  # /review: the photographer's corrections (scened.review)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ApiState = app.state.scened
    if state.classifier is None:
        await _load_model(state)
    if state.classifier is not None:
        state.batcher = MicroBatcher(
            state.classifier,
            max_batch=state.settings.batch_size,
            max_wait_s=state.settings.batch_wait_ms / 1000,
        )
        state.batcher.start()
    _log_startup(state)
    try:
        yield
    finally:
        if state.batcher is not None:
            await state.batcher.stop()
            state.batcher = None
        state.decode_pool.shutdown(wait=False, cancel_futures=True)


async def _load_model(state: ApiState) -> None:
    settings = state.settings
    try:
        state.classifier = await asyncio.to_thread(
            partial(load_classifier, settings.model_dir, settings.runtime,
                    name=settings.model_name, pm=state.pm)
        )  # fmt: skip
    except ScenedError as exc:
        state.load_error = f"cannot load the model: {exc}"
        log.error("%s", state.load_error)


def _log_startup(state: ApiState) -> None:
    model = state.classifier.model_id if state.classifier is not None else "none"
    log.info(
        "scened API: model %s, bearer token %s, CORS origins %s",
        model,
        "required" if state.token else "off",
        ", ".join(state.settings.cors_origins) or "off",
    )
