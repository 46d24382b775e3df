"""What the API's request handlers share: :class:`ApiState`, and the dependencies that read it.

``create_app`` (:mod:`scened.api.app`) builds one :class:`ApiState` and keeps it on
``app.state.scened``; the routers (:mod:`scened.api.routes`, :mod:`scened.api.tensors`)
reach it through :func:`get_state` and guard their endpoints with :func:`require_token`.
"""

from __future__ import annotations

import hmac
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

import pluggy
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scened.api.batcher import MicroBatcher
from scened.api.errors import ApiError, ErrorCode
from scened.api.settings import ApiSettings
from scened.errors import ScenedError
from scened.model import Classifier
from scened.policies import build_policy
from scened.types import Policy

_bearer = HTTPBearer(auto_error=False, description="Required when the server has a token")


@dataclass
class ApiState:
    """What the request handlers share, kept on ``app.state.scened``."""

    settings: ApiSettings
    pm: pluggy.PluginManager
    token: str | None
    default_policy: Policy
    classifier: Classifier | None = None
    batcher: MicroBatcher | None = None
    load_error: str | None = None
    decode_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(thread_name_prefix="scened-decode")
    )

    def ready_batcher(self) -> MicroBatcher:
        """The batcher, or a 503 while no model is loaded."""
        if self.batcher is None:
            reason = self.load_error or "the model is still loading"
            raise ApiError(503, ErrorCode.MODEL_NOT_READY, reason)
        return self.batcher

    def policy(self, name: str | None) -> Policy:
        """The default policy, or the registered policy ``name`` (400 if unknown)."""
        if name is None or name == self.settings.policy:
            return self.default_policy
        try:
            return build_policy(self.pm, name, {}, classifier=self.classifier)
        except ScenedError as exc:
            raise ApiError(400, ErrorCode.UNKNOWN_POLICY, exc.message) from None


def get_state(request: Request) -> ApiState:
    """The :class:`ApiState` of the app serving ``request``."""
    state: ApiState = request.app.state.scened
    return state


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    """401 unless no token is configured or the request carries it (constant-time compare)."""
    expected = get_state(request).token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "a valid bearer token is required")
