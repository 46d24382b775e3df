"""Over the configured limits: 413 for the body, one image, or the number of images."""

from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from .helpers import ServerFactory, b64, encode_image, expected_tags, image_for


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels."""

    pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_body_over_the_limit_is_a_413(start_server: ServerFactory) -> None:
    server = start_server(max_body_bytes=50_000)
    big = b64(noisy_png(150))  # about 90 kB once base64

    response = httpx.post(f"{server.url}/classify", json={"images": [big]})
    follow_up = httpx.post(f"{server.url}/classify", json={"images": [image_for(2)]})

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert follow_up.json() == {"tags": [expected_tags(2, 255)]}


def test_a_body_just_under_the_limit_is_accepted(start_server: ServerFactory) -> None:
    image = image_for(2)
    body = ('{"images": ["' + image + '"]}').encode()
    server = start_server(max_body_bytes=len(body))

    response = httpx.post(
        f"{server.url}/classify", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200


def test_one_image_over_the_limit_is_a_413_naming_it(start_server: ServerFactory) -> None:
    server = start_server(max_image_bytes=20_000)
    small, big = image_for(3), b64(noisy_png(120))

    response = httpx.post(f"{server.url}/classify", json={"images": [small, big]})

    assert response.status_code == 413
    assert response.json()["error"] == "image_too_large"
    assert response.json()["index"] == 1


def test_more_images_than_the_limit_is_a_413(start_server: ServerFactory) -> None:
    server = start_server(max_images=3)
    image = image_for(6)

    allowed = httpx.post(f"{server.url}/classify", json={"images": [image] * 3})
    refused = httpx.post(f"{server.url}/classify", json={"images": [image] * 4})

    assert allowed.status_code == 200
    assert refused.status_code == 413
    assert refused.json()["error"] == "too_many_images"


def test_a_jpeg_at_the_limit_is_accepted(start_server: ServerFactory) -> None:
    data = encode_image((200, 255, 0), size=(32, 32))
    server = start_server(max_image_bytes=len(data))

    response = httpx.post(f"{server.url}/classify", json={"images": [b64(data)]})

    assert response.status_code == 200
