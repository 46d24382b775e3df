"""``/docs`` renders in a real headless chromium that can reach nothing but 127.0.0.1.

The browser resolves no host name but 127.0.0.1 and sends everything else to a
proxy that does not exist, so a page that needs a CDN stays blank, as on a NAS
without internet.  Every request the page makes is read from chromium's
performance log.  The control test shows that this browser really is offline:
FastAPI's own docs page, which loads Swagger UI from a CDN, does not render in it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from scened_scraper.browser import CHROMIUM_FLAGS, HEADLESS_FLAG

from .helpers import LiveServer, encode_image, expected_tags, red_for

pytestmark = pytest.mark.slow

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
#: Bounds every wait for the page (a page that never renders fails, it does not hang).
WAIT_S = 60
#: Swagger UI's summary line of the ``POST /classify`` operation.
CLASSIFY_OPERATION = '.opblock-summary-path[data-path="/classify"]'
#: URL schemes that are not the network (inline data, the page's own objects).
LOCAL_SCHEMES = ("data", "blob", "about", "chrome", "chrome-error")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): the proxy that is not."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """Headless chromium that reaches 127.0.0.1 only, with its network events logged."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        HEADLESS_FLAG,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        # No name resolves (127.0.0.1 is not a name), and every request but those to
        # 127.0.0.1 goes to a proxy whose port is closed.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{closed_port()}",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """Every URL the page asked for since the last call (chromium's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def off_the_machine(urls: list[str], server: LiveServer) -> list[str]:
    """The URLs that are not this server's (nor inline data)."""
    return [
        url
        for url in urls
        if urlsplit(url).scheme not in LOCAL_SCHEMES
        and urlsplit(url).netloc != f"127.0.0.1:{server.port}"
    ]


def test_docs_render_the_classify_operation_offline(
    server: LiveServer, offline_browser: webdriver.Chrome
) -> None:
    driver = offline_browser
    driver.get(f"{server.url}/docs")

    operation = WebDriverWait(driver, WAIT_S).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, CLASSIFY_OPERATION))
    )
    operation.click()  # open it: Swagger UI then shows the request body's media types
    media_types = WebDriverWait(driver, WAIT_S).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-body select.content-type"))
    )

    assert operation.text == "/classify"
    options = [o.get_attribute("value") for o in media_types.find_elements(By.TAG_NAME, "option")]
    assert options == ["application/json", "multipart/form-data"]
    assert "Swagger UI" in driver.title
    urls = requested_urls(driver)
    assert f"{server.url}/openapi.json" in urls
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in urls)
    assert off_the_machine(urls, server) == []
    sources = driver.execute_script(
        "return [...document.querySelectorAll('script[src], link[href], img[src]')]"
        ".map(e => e.src || e.href)"
    )
    assert sources, "the page has no script or style sheet at all"
    assert off_the_machine(sources, server) == []


def test_try_it_out_uploads_a_photo_from_the_docs_page(
    server: LiveServer, offline_browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """Swagger UI's own multipart form (a file chooser) gets the photo's tags."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode_image((red_for(20), 0, 40)))
    driver = offline_browser
    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"{server.url}/docs")

    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, CLASSIFY_OPERATION))).click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button.try-out__btn"))).click()
    media_types = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-body select.content-type"))
    )
    Select(media_types).select_by_value("multipart/form-data")
    chooser = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]")))
    chooser.send_keys(str(photo))
    driver.find_element(By.CSS_SELECTOR, "button.execute").click()
    answer = wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, ".live-responses-table .response-col_description pre")
        )
    )

    assert json.loads(answer.text) == {"tags": [expected_tags(20, 0)]}
    assert off_the_machine(requested_urls(driver), server) == []


def test_fastapis_cdn_docs_stay_blank_in_this_browser(offline_browser: webdriver.Chrome) -> None:
    """The control: a page whose Swagger UI comes from a CDN cannot load it here."""
    server = LiveServer(FastAPI()).start()  # FastAPI's default /docs (jsDelivr)
    try:
        driver = offline_browser
        driver.get(f"{server.url}/docs")
        WebDriverWait(driver, WAIT_S).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        bundle_loaded = driver.execute_script("return typeof SwaggerUIBundle !== 'undefined'")
        swagger_nodes = driver.find_elements(By.CSS_SELECTOR, "#swagger-ui *")
        urls = requested_urls(driver)
    finally:
        server.stop()

    assert bundle_loaded is False
    assert swagger_nodes == []
    assert any(
        urlsplit(url).hostname == "cdn.jsdelivr.net" for url in off_the_machine(urls, server)
    )
