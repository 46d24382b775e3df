"""The review page: a person corrects scened's tags in a browser (``/review``).

Mounted on the REST API's app by :func:`install_review`.  It lists each library's
tagged photos from the least to the most confident, with thumbnails, scened's tags
and its three most probable classes, and plain forms to confirm the tags, choose
another class or refuse them all; each decision is written into the photo at once
through the library's sinks and kept as labels (:mod:`scened.learning.decide`).
The API's bearer token protects it (:mod:`scened.review.auth`).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from scened.config import Config
from scened.review.context import ReviewContext
from scened.review.routes import router

__all__ = ["install_review", "router"]


def install_review(
    app: FastAPI, *, config: Config | None = None, classes: Sequence[str] | None = None
) -> None:
    """Serve the review page from ``app``.

    ``config`` defaults to the configuration file that ``scened serve`` was given
    (``SCENED_CONFIG``) or the usual one, read on first use; ``classes`` (the
    order of the stored probabilities) to those of the API's loaded classifier.
    """
    app.state.scened_review = ReviewContext(
        config_override=config, classes_override=tuple(classes) if classes else None
    )
    app.include_router(router)
