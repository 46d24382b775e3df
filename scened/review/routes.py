"""The review page's endpoints, under ``/review`` (kept out of the OpenAPI schema).

* ``GET /review``: the libraries; ``GET /review/{library}?page=N``: 50 tagged photos
  of a library, least confident first, each with its forms;
* ``POST /review/{library}/decide`` (``photo``, ``kind``, ``class``, ``csrf``): the
  decision written into the photo (:func:`scened.learning.decide.apply_decision`),
  then a 303 back to the same page with a one-line message;
* ``GET /review/thumb/{id}``: a photo's thumbnail;
* ``GET|POST /review/login`` (the API's token, once) and ``GET /review/logout``.

A photo's id is its row id in the state database, which changes when its row is
written again: a form from a page shown before that is refused with a message.
Libraries named ``login``, ``logout`` or ``thumb/...`` cannot be reviewed.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, unquote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from scened.config import LibraryConfig
from scened.errors import ScenedError
from scened.learning.decide import KINDS, Decision, Outcome, apply_decision
from scened.review.auth import (
    COOKIE_PATH,
    RefusedError,
    authorise,
    check_post,
    clear_session_cookie,
    configured_token,
    csrf_token,
    same_secret,
    set_session_cookie,
)
from scened.review.context import ReviewContext, get_context
from scened.review.layout import HTML_HEADERS, library_url
from scened.review.queries import ReviewPhoto, library_counts, page_labels, photo_by_id, review_page
from scened.review.render import (
    PageView,
    libraries_page,
    library_page,
    login_page,
    message_page,
    shown_path,
)
from scened.review.thumbs import thumbnail

router = APIRouter(prefix="/review", include_in_schema=False)

FLASH_COOKIE = "scened_review_flash"
MAX_FORM_BYTES = 16 * 1024
THUMB_CACHE_CONTROL = "private, max-age=86400"


@router.get("")
def review_home(request: Request) -> Response:
    """The libraries, with how many tagged photos each has."""
    context = get_context(request)
    try:
        authorise(request, context.key())
        counts = library_counts(context.state())
        names = sorted(set(context.libraries()) | set(counts), key=str.casefold)
    except (RefusedError, ScenedError) as exc:
        return _failure(request, exc)
    return _html(libraries_page([(name, counts.get(name, 0)) for name in names]))


@router.get("/login")
def login_form(request: Request) -> Response:
    """The token form, or (``?token=...``) the login itself."""
    query = request.query_params
    if "token" in query:
        return _login(request, query.get("token", ""), query.get("next", ""))
    if configured_token(request) is None:
        return RedirectResponse("/review", 303)
    return _html(login_page("Give the API's token to review photos.", query.get("next", "")))


@router.post("/login")
async def login_post(request: Request) -> Response:
    try:
        form = await _read_form(request)
    except RefusedError as exc:
        return _failure(request, exc)
    return await run_in_threadpool(_login, request, form.get("token", ""), form.get("next", ""))


@router.get("/logout")
def logout(request: Request) -> Response:
    response = RedirectResponse("/review/login", 303)
    clear_session_cookie(response)
    return response


@router.get("/thumb/{photo_id:int}")
def thumb(request: Request, photo_id: int) -> Response:
    """The photo's thumbnail (JPEG, at most 256 px), cached by path, size and mtime."""
    context = get_context(request)
    try:
        authorise(request, context.key())
        photo = photo_by_id(context.state(), photo_id)
        if photo is None:
            return PlainTextResponse("no such photo", 404)
        with context.thumbnail_slots:
            data, etag = thumbnail(photo.path, context.thumbnails())
    except RefusedError as exc:
        return PlainTextResponse(exc.message, exc.status)
    except (ScenedError, OSError) as exc:
        return PlainTextResponse(f"no preview: {exc}", 404)
    headers = {"Cache-Control": THUMB_CACHE_CONTROL, "ETag": f'"{etag}"',
               "X-Content-Type-Options": "nosniff"}  # fmt: skip
    if request.headers.get("if-none-match", "").strip() in (f'"{etag}"', f'W/"{etag}"'):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type="image/jpeg", headers=headers)


@router.post("/{library:path}/decide")
async def decide(request: Request, library: str) -> Response:
    """Write a decision into a photo, then back to the page it was made on."""
    try:
        form = await _read_form(request)
    except RefusedError as exc:
        return _failure(request, exc)
    return await run_in_threadpool(_decide, request, library, form)


@router.get("/{library:path}")
def review_library(request: Request, library: str) -> Response:
    """A page of the library's tagged photos, least confident first."""
    if not library:
        return RedirectResponse("/review", 303)
    context = get_context(request)
    try:
        key = context.key()
        access = authorise(request, key)
        config = _library(context, library)
        state = context.state()
        page = review_page(state, library, _int(request.query_params.get("page"), 1))
        view = PageView(
            library, config.path, context.classes(request), csrf_token(key, access),
            page_labels(state, page.photos), _flash(request),
        )  # fmt: skip
    except (RefusedError, ScenedError) as exc:
        return _failure(request, exc)
    response = _html(library_page(view, page))
    if view.flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


# -- the work behind the endpoints -------------------------------------------------------


def _decide(request: Request, library: str, form: Mapping[str, str]) -> Response:
    context = get_context(request)
    try:
        key = context.key()
        access = authorise(request, key)
        check_post(request, key, access, form.get("csrf", ""))
        config = _library(context, library)
        flash = _apply(request, context, config, form)
    except (RefusedError, ScenedError) as exc:
        return _failure(request, exc)
    page, at = _int(form.get("page"), 1), _int(form.get("at"), 0)
    response = RedirectResponse(f"{library_url(library)}?page={page}#p{at}", 303)
    response.set_cookie(
        FLASH_COOKIE, quote(":".join(flash)[:500], safe=""), max_age=60, path=COOKIE_PATH,
        httponly=True, samesite="strict",
    )  # fmt: skip
    return response


def _apply(
    request: Request, context: ReviewContext, library: LibraryConfig, form: Mapping[str, str]
) -> tuple[str, str]:
    """The decision of ``form`` written, as the page's message: ("ok"|"error", one line)."""
    kind = next((k for k in KINDS if k == form.get("kind")), None)
    state = context.state()
    photo = photo_by_id(state, _int(form.get("photo"), 0))
    if kind is None:
        return "error", f"unknown decision {form.get('kind', '')!r}"
    if photo is None or photo.library != library.name:
        return "error", "this photo changed since the page was shown: reload the page"
    name = shown_path(photo.path, library.path)
    classes = context.classes(request)
    if photo.probabilities is not None and len(photo.probabilities) != len(classes):
        return "error", f"{name}: tagged by a model with other classes than this server's"
    if kind == "confirm" and not photo.tags:
        return "error", f"{name}: no tag to confirm"
    chosen = form.get("class") if kind == "choose" else None
    try:
        with context.decision_lock:
            outcome = apply_decision(
                photo.path, Decision(kind, chosen), library=library, state=state,
                pm=context.plugin_manager(request), classes=classes,
            )  # fmt: skip
    except ScenedError as exc:
        return "error", f"{name}: {_one_line(exc.message)}"
    except OSError as exc:
        return "error", f"{name}: {_one_line(exc.strerror or str(exc))}"
    return "ok", _describe(name, kind, photo, outcome)


def _describe(name: str, kind: str, photo: ReviewPhoto, outcome: Outcome) -> str:
    refused = [tag for tag in photo.tags if tag not in outcome.tags]
    refused_text = f"; refused {', '.join(refused)}" if refused else ""
    if kind == "confirm":
        return f"{name}: confirmed {', '.join(outcome.tags)}"
    if kind == "choose":
        return f"{name}: tagged {', '.join(outcome.tags)} (confirmed){refused_text}"
    return f"{name}: no scened tag any more{refused_text}"


def _login(request: Request, given: str, next_url: str) -> Response:
    expected = configured_token(request)
    if expected is None:
        return RedirectResponse("/review", 303)
    if not given or not same_secret(given, expected):
        return _html(login_page("That is not the API's token.", next_url), 401)
    context = get_context(request)
    try:
        key = context.key()
    except ScenedError as exc:
        return _failure(request, exc)
    target = next_url if next_url.startswith("/review") else "/review"
    response = RedirectResponse(target, 303)
    set_session_cookie(response, request, key, expected)
    return response


def _library(context: ReviewContext, name: str) -> LibraryConfig:
    library = context.libraries().get(name)
    if library is None:
        raise RefusedError(404, f"no library named {name!r} (configured or tagged)")
    return library


def _failure(request: Request, exc: RefusedError | ScenedError) -> Response:
    if isinstance(exc, ScenedError):
        return _html(message_page("The review page cannot be shown", _one_line(str(exc))), 500)
    if exc.login:
        page = login_page(exc.message, request.url.path)
        return _html(page, exc.status, {"WWW-Authenticate": "Bearer"})
    return _html(message_page("Refused", exc.message), exc.status)


def _html(text: str, status: int = 200, extra: Mapping[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(text, status, headers={**HTML_HEADERS, **(extra or {})})


async def _read_form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body (no python-multipart needed)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise RefusedError(415, "send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise RefusedError(413, "the form is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                          max_num_fields=32)  # fmt: skip
    except ValueError:
        raise RefusedError(400, "the form has too many fields") from None
    return dict(pairs)


def _flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return ("error" if kind == "error" else "ok", text)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _one_line(text: str) -> str:
    return " ".join(text.split())
