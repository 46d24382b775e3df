"""Every client error answers 400 with its code, a message and the entry's index."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest

from .helpers import LiveServer, ServerFactory, b64, encode_image, image_for

GOOD = image_for(4)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` RGB pixels with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)


def truncated_jpeg() -> bytes:
    data = encode_image((10, 200, 30), size=(400, 300))
    return data[: len(data) // 2]


BODY_ERRORS = [
    pytest.param({}, "missing_images", id="no-images"),
    pytest.param({"pictures": [GOOD]}, "missing_images", id="other-key"),
    pytest.param([GOOD], "missing_images", id="body-is-a-list"),
    pytest.param({"images": GOOD}, "images_not_a_list", id="a-string"),
    pytest.param({"images": {"0": GOOD}}, "images_not_a_list", id="an-object"),
    pytest.param({"images": None}, "images_not_a_list", id="null"),
]

ENTRY_ERRORS = [
    pytest.param(123, "not_a_base64_image", id="a-number"),
    pytest.param(None, "not_a_base64_image", id="null"),
    pytest.param("", "not_a_base64_image", id="empty"),
    pytest.param("not base64 at all!", "not_a_base64_image", id="bad-base64"),
    pytest.param(b64(b"hello, I am text"), "not_a_base64_image", id="base64-text"),
    pytest.param("data:image/png," + GOOD, "not_a_base64_image", id="data-url-not-base64"),
    pytest.param(b64(truncated_jpeg()), "not_a_base64_image", id="truncated-jpeg"),
    pytest.param(b64(encode_image((1, 2, 3), "GIF")), "unsupported_file_type", id="gif"),
    pytest.param(b64(encode_image((1, 2, 3), "BMP")), "unsupported_file_type", id="bmp"),
    pytest.param(b64(encode_image((1, 2, 3), "WEBP")), "unsupported_file_type", id="webp"),
    pytest.param(b64(encode_image((1, 2, 3), "TIFF")), "unsupported_file_type", id="tiff"),
    pytest.param(b64(encode_image((9,), "JPEG", "L")), "unsupported_colour_mode", id="grey-L"),
    pytest.param(b64(encode_image((9,), "PNG", "P")), "unsupported_colour_mode", id="palette-P"),
    pytest.param(b64(encode_image((9, 9), "PNG", "LA")), "unsupported_colour_mode", id="LA"),
    pytest.param(b64(encode_image((999,), "PNG", "I;16")), "unsupported_colour_mode", id="I16"),
    pytest.param(b64(png_header_only(60_000, 60_000)), "too_many_pixels", id="bomb"),
]


def post(server: LiveServer, body: Any, **params: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/classify", json=body, params=params)


def assert_error(response: httpx.Response, status: int, code: str, index: int | None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert body["message"]
    assert body.get("index") == index


@pytest.mark.parametrize(("body", "code"), BODY_ERRORS)
def test_a_body_of_the_wrong_shape_is_a_400(server: LiveServer, body: Any, code: str) -> None:
    assert_error(post(server, body), 400, code, None)


@pytest.mark.parametrize(("entry", "code"), ENTRY_ERRORS)
def test_a_bad_entry_is_a_400_naming_its_index(server: LiveServer, entry: Any, code: str) -> None:
    assert_error(post(server, {"images": [GOOD, GOOD, entry, GOOD]}), 400, code, 2)


def test_the_first_bad_entry_is_the_one_reported(server: LiveServer) -> None:
    gif = b64(encode_image((1, 2, 3), "GIF"))

    response = post(server, {"images": [GOOD, gif, "???", gif]})

    assert_error(response, 400, "unsupported_file_type", 1)


def test_more_pixels_than_configured_is_a_400(start_server: ServerFactory) -> None:
    server = start_server(max_pixels=100 * 100)
    small, large = image_for(1), b64(encode_image((5, 5, 5), size=(101, 100)))

    assert post(server, {"images": [small]}).status_code == 200
    assert_error(post(server, {"images": [small, large]}), 400, "too_many_pixels", 1)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"images": [', b"\xff\xfe\x00garbage", b"", b"[" * 100_000],
    ids=["broken", "unterminated", "not-utf8", "empty", "deeply-nested"],
)
def test_malformed_json_is_a_400(server: LiveServer, content: bytes) -> None:
    response = httpx.post(
        f"{server.url}/classify", content=content, headers={"Content-Type": "application/json"}
    )

    assert_error(response, 400, "malformed_json", None)


def test_an_unknown_policy_is_a_400(server: LiveServer) -> None:
    response = post(server, {"images": [GOOD]}, policy="no-such-policy")

    assert_error(response, 400, "unknown_policy", None)
    assert "no-such-policy" in response.json()["message"]


@pytest.mark.parametrize("top", ["0", "-1", "37", "three", ""])
def test_an_invalid_top_is_a_400_not_a_422(server: LiveServer, top: str) -> None:
    assert_error(post(server, {"images": [GOOD]}, top=top), 400, "invalid_parameter", None)


def test_unknown_paths_and_methods_answer_in_the_same_shape(server: LiveServer) -> None:
    assert_error(httpx.get(f"{server.url}/nowhere"), 404, "not_found", None)
    assert_error(httpx.get(f"{server.url}/classify"), 405, "method_not_allowed", None)


def test_a_body_of_millions_of_nested_lists_is_refused_before_parsing(
    server: LiveServer,
) -> None:
    """57 MiB of ``[[[...]]]`` would grow the parser by gigabytes; it is counted, not parsed."""
    depth = 20 * 1024 * 1024
    body = b'{"images": ' + b"[" * depth + b"]" * depth + b"}"
    response = httpx.post(f"{server.url}/classify", content=body,
                          headers={"Content-Type": "application/json"}, timeout=60)  # fmt: skip
    assert_error(response, 400, "malformed_json", None)
    assert "not 20,971,521 lists or objects" in response.json()["message"]
