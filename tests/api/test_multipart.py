"""POST /classify as multipart/form-data (``curl -F file=@photo.jpg``): the JSON form's answers,
error codes and limits, through a real uvicorn server on 127.0.0.1.

Each test sends the same photos both ways where it can and compares the answers,
so that the multipart form is held to whatever the JSON form does.
"""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from .helpers import LiveServer, ServerFactory, b64, encode_image, expected_tags, red_for
from .subprocess_server import SubprocessServer

WAIT_S = 60.0
MIB = 1024 * 1024


def photo(class_index: int, green: int = 255, fmt: str = "JPEG") -> bytes:
    """A real JPEG or PNG file that the fake classifier puts in ``class_index``."""
    return encode_image((red_for(class_index), green, 40), fmt=fmt)


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress (random pixels): about ``3 * side**2`` bytes."""
    pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def as_json(server: LiveServer, files: list[bytes], **params: Any) -> httpx.Response:
    images = [b64(data) for data in files]
    return httpx.post(
        f"{server.url}/classify", json={"images": images}, params=params, timeout=WAIT_S
    )


def as_form(server: LiveServer, files: list[bytes], **params: Any) -> httpx.Response:
    parts = [("file", (f"photo{i}.jpg", data, "image/jpeg")) for i, data in enumerate(files)]
    return httpx.post(f"{server.url}/classify", files=parts, params=params, timeout=WAIT_S)


def error_of(response: httpx.Response) -> tuple[int, str, int | None]:
    body = response.json()
    assert set(body) <= {"error", "message", "index"}
    return response.status_code, body["error"], body.get("index")


def test_the_same_photos_get_the_same_answer_as_in_json(server: LiveServer) -> None:
    files = [photo(3), photo(12, 60, "PNG"), photo(35, 0), photo(0, 255, "PNG")]

    form = as_form(server, files, top=3)
    base64_form = as_json(server, files, top=3)

    assert form.status_code == 200, form.text
    assert form.json() == base64_form.json()
    assert form.json()["tags"] == [
        expected_tags(3, 255),
        expected_tags(12, 60),
        expected_tags(35, 0),
        expected_tags(0, 255),
    ]
    assert len(form.json()["top"][1]) == 3


def test_one_file_is_a_batch_of_one(server: LiveServer) -> None:
    response = as_form(server, [photo(7, 0)])

    assert response.json() == {"tags": [expected_tags(7, 0)]}


def test_a_body_without_a_file_field_is_missing_images(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.url}/classify",
        files=[("photo", ("photo.jpg", photo(2), "image/jpeg"))],
        data={"policy": "default"},
        timeout=WAIT_S,
    )
    json_answer = httpx.post(f"{server.url}/classify", json={}, timeout=WAIT_S)

    assert error_of(response) == error_of(json_answer) == (400, "missing_images", None)
    message = response.json()["message"]
    assert 'missing field "file"' in message
    assert "'photo'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"this is a text file, not a photo\n", "not_a_base64_image"),
        (b"", "not_a_base64_image"),
        (encode_image((10, 20, 30), fmt="GIF"), "unsupported_file_type"),
        (encode_image((128,), mode="L"), "unsupported_colour_mode"),
        (photo(5)[:200], "not_a_base64_image"),  # a JPEG cut off in its header
    ],
)
def test_a_file_that_is_not_an_accepted_image_is_the_json_forms_error(
    server: LiveServer, bad: bytes, code: str
) -> None:
    files = [photo(1), bad, b"also not a photo"]

    response = as_form(server, files)

    assert error_of(response) == error_of(as_json(server, files)) == (400, code, 1)
    assert "base64" not in response.json()["message"]


def test_a_body_over_the_limit_is_refused_as_in_json(start_server: ServerFactory) -> None:
    server = start_server(max_body_bytes=50_000)
    big = noisy_png(150)  # about 68 kB: over the limit in both forms

    form = as_form(server, [big])
    json_answer = as_json(server, [big])
    follow_up = as_form(server, [photo(2)])

    assert error_of(form) == error_of(json_answer) == (413, "body_too_large", None)
    assert form.json()["message"] == json_answer.json()["message"]
    assert follow_up.json() == {"tags": [expected_tags(2, 255)]}


def test_a_file_over_the_image_limit_is_a_413_naming_it(start_server: ServerFactory) -> None:
    server = start_server(max_image_bytes=20_000)
    files = [photo(3), noisy_png(120), b"not a photo"]  # 1 is too large, 2 is not an image

    form = as_form(server, files)

    assert error_of(form) == error_of(as_json(server, files)) == (413, "image_too_large", 1)
    size = len(files[1])
    assert form.json()["message"] == f"image 1 is {size:,} bytes, more than the limit of 20,000"


def test_more_files_than_the_limit_is_a_413(start_server: ServerFactory) -> None:
    server = start_server(max_images=3)

    allowed = as_form(server, [photo(6)] * 3)
    refused = as_form(server, [photo(6)] * 4)

    assert allowed.json() == {"tags": [expected_tags(6, 255)] * 3}
    assert error_of(refused) == error_of(as_json(server, [photo(6)] * 4))
    assert error_of(refused) == (413, "too_many_images", None)


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("multipart/form-data", b"--x\r\n\r\n", "no boundary"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
            "before its closing boundary",
        ),
        ("multipart/form-data; boundary=x", b"", "empty"),
        ("multipart/form-data; boundary=x", b"--x\r\nno-colon-header\r\n\r\nabc\r\n--x--\r\n", ""),
        ("multipart/form-data; boundary=x", b"--x\r\nX-Other: 1\r\n\r\nabc\r\n--x--\r\n", "name"),
    ],
)
def test_a_body_that_is_not_multipart_is_a_400(
    server: LiveServer, content_type: str, body: bytes, reason: str
) -> None:
    response = httpx.post(
        f"{server.url}/classify",
        content=body,
        headers={"Content-Type": content_type},
        timeout=WAIT_S,
    )

    assert error_of(response) == (400, "malformed_multipart", None)
    assert reason in response.json()["message"]


def test_a_curl_upload_is_answered_after_100_continue(server: LiveServer) -> None:
    """The bytes ``curl -F file=@a.jpg -F file=@b.png`` (7.88) sends for photos over 1 MiB."""
    first, second = photo(4, 0), noisy_png(700)  # the PNG is 1.4 MB: curl asks to continue
    boundary = "------------------------0c3132004049ecbb"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {kind}\r\n\r\n".encode()
            + data
            + b"\r\n"
            for name, kind, data in (("a.jpg", "image/jpeg", first), ("b.png", "image/png", second))
        )
        + f"--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /classify HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        sock.sendall(body)
        raw = read_response(sock)

    assert interim.startswith(b"HTTP/1.1 100 Continue")
    status_line, _, answer = raw.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 200")
    assert json.loads(answer) == as_json(server, [first, second]).json()
    assert json.loads(answer)["tags"][0] == expected_tags(4, 0)


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length, read whole."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before answering"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_huge_body_is_refused_without_being_held() -> None:
    """45 MiB over a 10 MiB limit: 413 after reading it, with far less than 45 MiB held."""
    limit = 10 * MIB
    boundary = "scened-huge"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'.encode()
    body = head + bytes(45 * MIB - len(head))  # never closed: the limit comes first
    with SubprocessServer(max_body_bytes=limit) as server:
        warm_up = httpx.post(
            f"{server.url}/classify",
            files=[("file", ("a.jpg", photo(8), "image/jpeg"))],
            timeout=WAIT_S,
        )
        before = server.status_kib("VmHWM")
        response = httpx.post(
            f"{server.url}/classify",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            timeout=WAIT_S,
        )
        grown_mib = (server.status_kib("VmHWM") - before) / 1024

    assert warm_up.json() == {"tags": [expected_tags(8, 255)]}
    assert error_of(response) == (413, "body_too_large", None)
    assert grown_mib < 25, f"the server's peak memory grew by {grown_mib:.0f} MiB"


def test_the_openapi_document_describes_the_file_fields(server: LiveServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json", timeout=WAIT_S).json()

    content = schema["paths"]["/classify"]["post"]["requestBody"]["content"]
    form = content["multipart/form-data"]["schema"]
    assert set(content) == {"application/json", "multipart/form-data"}
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["items"] == {"type": "string", "format": "binary"}
    assert "malformed_multipart" in json.dumps(schema["components"])
