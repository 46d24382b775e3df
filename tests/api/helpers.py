"""Helpers for the API tests: an image-dependent fake classifier, images, a real server.

The fake classifier's answer depends on the image's mean colour, so each client
can check that it got the answer for ITS image:

* the most probable class is ``CLASSES[mean_red * 36 // 256]``;
* its probability is ``0.45 + 0.54 * mean_green / 255``;
* the next class (index + 1, wrapping) gets 80 % of the rest.

With the default policy (docs/tags.md) a green image (p1 > 0.9) gets one tag, a
dark green one gets two.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable

import numpy as np
from PIL import Image

from scened.api.server import BackgroundServer
from scened.classes import CLASSES


class FakeClassifier:
    """Probabilities that depend on each image's mean colour (see the module docstring)."""

    model_id = "fake-colour-1"
    classes = CLASSES
    input_size = 160

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            self.batch_sizes.append(len(batch))
        return np.stack([fake_probabilities(image) for image in batch]).astype(np.float32)


def fake_probabilities(image: np.ndarray) -> np.ndarray:
    red, green = image[..., 0].mean(), image[..., 1].mean()
    top = int(red * len(CLASSES) // 256)
    p1 = 0.45 + 0.54 * green / 255
    probabilities = np.full(len(CLASSES), (1 - p1) * 0.2 / (len(CLASSES) - 2))
    probabilities[top] = p1
    probabilities[(top + 1) % len(CLASSES)] = (1 - p1) * 0.8
    return probabilities


def red_for(class_index: int) -> int:
    """A red level in the middle of the band the fake classifier maps to ``class_index``."""
    return int((class_index + 0.5) * 256 / len(CLASSES))


def expected_tags(class_index: int, green: int) -> list[str]:
    """The default policy's tags for a solid image of (red_for(class_index), green, *)."""
    if 0.45 + 0.54 * green / 255 > 0.9:
        return [CLASSES[class_index]]
    return [CLASSES[class_index], CLASSES[(class_index + 1) % len(CLASSES)]]


def encode_image(
    colour: tuple[int, ...], fmt: str = "JPEG", mode: str = "RGB", size: tuple[int, int] = (64, 48)
) -> bytes:
    """A solid image made with Pillow, as file bytes."""
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def image_for(class_index: int, green: int = 255, fmt: str = "JPEG") -> str:
    """Base64 of a solid image the fake classifier puts in ``class_index``."""
    return b64(encode_image((red_for(class_index), green, 40), fmt=fmt))


#: A real uvicorn server on 127.0.0.1 (free port) in a thread.
LiveServer = BackgroundServer


ServerFactory = Callable[..., LiveServer]
