"""Who may use the review page: the API's bearer token, once, then a session cookie.

* With a token configured (``[api] token`` or ``SCENED_API_TOKEN``, the API's own),
  a request is authorised by ``Authorization: Bearer <token>`` (scripts) or by the
  session cookie that ``/review/login`` sets once given the token (browsers).  The
  cookie is HttpOnly, SameSite=Strict, limited to ``/review`` and holds a random
  session id with its HMAC over the token, not the token: changing the token logs
  every browser out.
* Without a token (the API is bound to 127.0.0.1 by default) nobody logs in, but
  the ``Host`` header must be ``localhost`` or an IP address: a web page on a
  domain that resolves to 127.0.0.1 (DNS rebinding) gets nothing.

Every form posts a CSRF token, an HMAC of the session (the cookie, or nothing when
there is no token) under the state folder's secret key, because a cookie, or
nothing at all, is what authorises the post; a request that carries the bearer
header needs none.  A post whose ``Origin`` is another site is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from scened.review.context import api_state_attr

SESSION_COOKIE = "scened_review"
COOKIE_PATH = "/review"
SESSION_MAX_AGE_S = 30 * 24 * 3600


class RefusedError(Exception):
    """The request may not do this: ``status`` and one line for the person."""

    def __init__(self, status: int, message: str, *, login: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: Whether logging in (giving the token) would help.
        self.login = login


@dataclass(frozen=True)
class Access:
    """How a request was authorised, and the session its CSRF token is bound to."""

    by: Literal["open", "header", "cookie"]
    session: str = ""


def configured_token(request: Request) -> str | None:
    """The API's bearer token, or None when it has none."""
    token = api_state_attr(request, "token")
    return token if isinstance(token, str) and token else None


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two (possibly non-ASCII) strings."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def session_value(key: bytes, token: str, nonce: str | None = None) -> str:
    """A new session cookie for ``token`` (``nonce.mac``), or the one of ``nonce``."""
    nonce = nonce if nonce is not None else secrets.token_hex(16)
    return f"{nonce}.{_mac(key, 'session', f'{nonce}.{token}')}"


def valid_session(key: bytes, token: str, cookie: str) -> bool:
    """Whether ``cookie`` is a session cookie this server gave for ``token``."""
    nonce, dot, _ = cookie.partition(".")
    return bool(dot) and same_secret(cookie, session_value(key, token, nonce))


def csrf_token(key: bytes, access: Access) -> str:
    """The CSRF token of ``access``'s session."""
    return _mac(key, "csrf", access.session)


def authorise(request: Request, key: bytes) -> Access:
    """How ``request`` is authorised; :class:`RefusedError` (401/403) if it is not."""
    token = configured_token(request)
    if token is None:
        if not _host_is_literal(request.headers.get("host", "")):
            raise RefusedError(
                403,
                "without an API token the review page answers only to localhost or an "
                "IP address (set [api] token to reach it by name)",
            )
        return Access("open")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given.strip() and same_secret(given.strip(), token):
        return Access("header")
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if cookie and valid_session(key, token, cookie):
        return Access("cookie", cookie)
    raise RefusedError(401, "this page needs the API's token", login=True)


def check_post(request: Request, key: bytes, access: Access, given_csrf: str) -> None:
    """Refuse a cross-site post, or a cookie- or un-authorised one without its CSRF token."""
    if access.by == "header":
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise RefusedError(403, "a form from another site was refused")
    if not same_secret(given_csrf, csrf_token(key, access)):
        raise RefusedError(403, "the form has expired (CSRF token): reload the page and try again")


def set_session_cookie(response: Response, request: Request, key: bytes, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_value(key, token), max_age=SESSION_MAX_AGE_S, path=COOKIE_PATH,
        secure=request.url.scheme == "https", httponly=True, samesite="strict",
    )  # fmt: skip


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


def _mac(key: bytes, purpose: str, value: str) -> str:
    message = purpose.encode() + b"\0" + value.encode("utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _host_is_literal(host: str) -> bool:
    """Whether a ``Host`` header names localhost or an IP address (not a domain)."""
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return False
    if not name:
        return False
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
