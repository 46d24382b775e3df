"""Who may see the review page and post its forms: the API's token, cookies, CSRF."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import Depends

from scened.config import Config
from scened.daemon.state import StateDB
from scened.review.auth import SESSION_COOKIE

from .conftest import Serve
from .review_helpers import ThreadServer, csrf_of, put_rows, review_app

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def rows(db: StateDB, library: Path) -> None:
    put_rows(db, "lib", [(library / "a.jpg", (0.9,) + (0.1 / 35,) * 35, ("Animals",))])


def _decide(client: httpx.Client, csrf: str | None, **headers: str) -> httpx.Response:
    form = {"photo": "999999", "kind": "confirm", "page": "1", "at": "0"}
    if csrf is not None:
        form["csrf"] = csrf
    return client.post("/review/lib/decide", data=form, headers=headers)


@pytest.mark.usefixtures("rows")
def test_with_a_token_nothing_is_shown_without_it(serve: Serve) -> None:
    with serve(token=TOKEN) as server, httpx.Client(base_url=server.url) as client:
        answers = [client.get(p) for p in ("/review", "/review/lib", "/review/thumb/1")]
        wrong = client.get("/review", headers={"Authorization": "Bearer nope"})
        right = client.get("/review/lib", headers=BEARER)
        post = _decide(client, None)

    for answer in [*answers, wrong, post]:
        assert answer.status_code == 401, answer.url
    assert answers[0].headers["www-authenticate"] == "Bearer"
    assert 'action="/review/login"' in answers[1].text and 'value="/review/lib"' in answers[1].text
    assert "a.jpg" not in answers[1].text and "a.jpg" not in wrong.text
    assert right.status_code == 200 and "a.jpg" in right.text


@pytest.mark.usefixtures("rows")
def test_the_token_once_gives_a_strict_http_only_cookie(serve: Serve) -> None:
    with serve(token=TOKEN) as server, httpx.Client(base_url=server.url) as client:
        refused = client.get("/review/login", params={"token": "wrong"})
        login = client.get("/review/login", params={"token": TOKEN, "next": "/review/lib"})
        page = client.get("/review/lib")
        thumb_denied_elsewhere = httpx.get(f"{server.url}/review/lib")
        logout = client.get("/review/logout")
        after = client.get("/review/lib")

    assert refused.status_code == 401 and SESSION_COOKIE not in refused.cookies
    assert login.status_code == 303 and login.headers["location"] == "/review/lib"
    cookie = login.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/review", "Max-Age="):
        assert attribute.lower() in cookie.lower()
    assert TOKEN not in cookie and "secure" not in cookie.lower()  # plain http on loopback
    assert page.status_code == 200 and "a.jpg" in page.text
    assert thumb_denied_elsewhere.status_code == 401
    assert logout.status_code == 303 and after.status_code == 401


def test_the_login_form_posts_the_token_and_goes_only_to_review_pages(serve: Serve) -> None:
    with serve(token=TOKEN) as server, httpx.Client(base_url=server.url) as client:
        form = client.get("/review/login")
        away = client.post("/review/login", data={"token": TOKEN, "next": "https://evil.test/"})
        back = client.post("/review/login", data={"token": TOKEN, "next": "/review/lib?page=2"})
        multipart = client.post("/review/login", files={"token": (None, TOKEN)})

    assert form.status_code == 200 and 'type="password" name="token"' in form.text
    assert away.status_code == 303 and away.headers["location"] == "/review"
    assert back.headers["location"] == "/review/lib?page=2"
    assert multipart.status_code == 415


@pytest.mark.usefixtures("rows")
def test_cookie_posts_need_the_csrf_token_of_their_session(serve: Serve) -> None:
    with serve(token=TOKEN) as server, httpx.Client(base_url=server.url) as client:
        client.get("/review/login", params={"token": TOKEN})
        csrf = csrf_of(client.get("/review/lib").text)
        missing = _decide(client, None)
        forged = _decide(client, "0" * 64)
        cross_site = _decide(client, csrf, Origin="https://evil.test")
        good = _decide(client, csrf, Origin=server.url)
        with httpx.Client(base_url=server.url) as other:
            other.get("/review/login", params={"token": TOKEN})
            other_session = _decide(other, csrf)
            other.cookies.clear()
            other.cookies.set(SESSION_COOKIE, "0" * 32 + "." + "f" * 64)
            forged_cookie = _decide(other, csrf)
        with httpx.Client(base_url=server.url) as script:
            by_header = _decide(script, None, **BEARER)

    assert missing.status_code == forged.status_code == 403
    assert "CSRF" in missing.text and "another site" in cross_site.text
    assert other_session.status_code == 403 and forged_cookie.status_code == 401
    # authorised and accepted (the photo id is stale: the flash says so)
    for accepted in (good, by_header):
        assert accepted.status_code == 303, accepted.text
        assert accepted.headers["location"] == "/review/lib?page=1#p0"
        assert "changed%20since" in accepted.headers["set-cookie"]


@pytest.mark.usefixtures("rows")
def test_without_a_token_only_localhost_or_an_address_and_still_csrf(serve: Serve) -> None:
    with serve() as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/review/lib")
        by_name = client.get("/review/lib", headers={"Host": f"localhost:{server.port}"})
        rebound = client.get("/review/lib", headers={"Host": f"evil.test:{server.port}"})
        no_csrf = _decide(client, None)
        with_csrf = _decide(client, csrf_of(page.text))
        login = client.get("/review/login")

    assert page.status_code == by_name.status_code == 200
    assert rebound.status_code == 403 and "a.jpg" not in rebound.text
    assert no_csrf.status_code == 403 and with_csrf.status_code == 303
    assert login.status_code == 303 and login.headers["location"] == "/review"


def test_the_cookie_key_is_one_per_state_folder(serve: Serve, config: Config) -> None:
    """Every worker process of the API (and a restarted one) accepts the same cookie."""
    with serve(token=TOKEN) as server:
        cookie = httpx.get(f"{server.url}/review/login", params={"token": TOKEN}).cookies
    key = config.state_dir / "review.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    with ThreadServer(review_app(config, token=TOKEN)) as again:
        page = httpx.get(f"{again.url}/review", cookies=cookie)
    assert page.status_code == 200


def test_the_api_and_the_review_page_take_the_same_bearer_token(config: Config) -> None:
    from scened.api.errors import install_error_handlers
    from scened.api.state import require_token

    app = review_app(config, token=TOKEN)
    install_error_handlers(app)

    @app.get("/api-like", dependencies=[Depends(require_token)])
    def api_like() -> dict[str, bool]:
        return {"ok": True}

    with ThreadServer(app) as server, httpx.Client(base_url=server.url) as client:
        for headers, status in ((BEARER, 200), ({}, 401), ({"Authorization": "Bearer x"}, 401)):
            assert client.get("/api-like", headers=headers).status_code == status
            assert client.get("/review", headers=headers).status_code == status
