"""Decoding photos into model input: crop, orientation, colour modes, bad input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scened.errors import ImageError, ImageTooLargeError
from scened.imaging import center_box, load_for_model


def _jpeg_bytes(image: Image.Image, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **kwargs)
    return buffer.getvalue()


def test_center_box_matches_smart_resize_geometry() -> None:
    assert center_box(400, 200, 160, 160) == (100, 0, 300, 200)
    assert center_box(200, 401, 160, 160) == (0, 100, 200, 300)
    assert center_box(160, 160, 160, 160) == (0, 0, 160, 160)


def test_reduced_scale_jpeg_decode_changes_crop_little(real_photos: list[Path]) -> None:
    big = Image.open(real_photos[0]).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    data = _jpeg_bytes(big)
    drafted = load_for_model(data).astype(np.float64)
    full = load_for_model(data, use_draft=False).astype(np.float64)
    assert np.abs(drafted - full).mean() <= 2.0


def test_exif_orientation_is_applied() -> None:
    # left half black, right half white; orientation 6 means "rotate 90° clockwise to view"
    pixels = np.zeros((200, 400, 3), np.uint8)
    pixels[:, 200:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _jpeg_bytes(Image.fromarray(pixels), exif=exif)
    upright = load_for_model(data)
    assert upright[10, 80].mean() < 30  # after rotation the black half is on top
    assert upright[150, 80].mean() > 220


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_crop_is_taken_without_a_copy_of_the_decoded_photo(
    orientation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's crop comes from the decoded image itself (a 12 MP JPEG decodes to
    1000x750, a 2000x1500 PNG to 9 MB): no whole copy of it is made on the way, and
    the pixels are those of the upright photo."""
    pixels = np.zeros((200, 400, 3), np.uint8)
    pixels[:, 200:] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _jpeg_bytes(Image.fromarray(pixels), exif=exif)
    expected = load_for_model(data)

    def no_copy(image: Image.Image) -> Image.Image:
        raise AssertionError(f"a copy of the decoded {image.size} image")

    monkeypatch.setattr(Image.Image, "copy", no_copy)
    assert np.array_equal(load_for_model(data), expected)
    assert (expected[10, 80].mean() < 30) == (orientation == 6)  # rotated: black on top


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("CMYK", lambda: Image.new("CMYK", (64, 48), (0, 255, 255, 0))),  # red
        ("L", lambda: Image.new("L", (64, 48), 200)),
        ("1", lambda: Image.new("1", (64, 48), 1)),
        ("RGBA", lambda: Image.new("RGBA", (64, 48), (255, 0, 0, 255))),
    ],
)
def test_colour_modes_become_rgb(mode: str, make: object) -> None:
    image = make()  # type: ignore[operator]
    buffer = io.BytesIO()
    image.save(buffer, "TIFF")
    pixels = load_for_model(buffer.getvalue())
    assert pixels.shape == (160, 160, 3) and pixels.dtype == np.uint8
    expected = {
        "CMYK": (255, 0, 0),
        "L": (200, 200, 200),
        "1": (255, 255, 255),
        "RGBA": (255, 0, 0),
    }[mode]
    assert np.abs(pixels[80, 80].astype(int) - expected).max() <= 2


def test_transparency_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    assert load_for_model(buffer.getvalue()).min() == 255
    palette = Image.new("P", (50, 50), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", transparency=0)
    assert load_for_model(buffer.getvalue()).min() == 255


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    deep = Image.fromarray(np.full((40, 40), 32896, dtype=np.uint16))  # half of 65535
    buffer = io.BytesIO()
    deep.save(buffer, "PNG")
    assert abs(int(load_for_model(buffer.getvalue())[20, 20, 0]) - 128) <= 1


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions: refused before any pixel is decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    end = b"IEND"
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 0)
        + end
        + struct.pack(">I", zlib.crc32(end))
    )


def test_decompression_bomb_refused() -> None:
    with pytest.raises(ImageTooLargeError, match=r"pixels|decompression"):
        load_for_model(_png_header_only(30_000, 30_000))
    with pytest.raises(ImageTooLargeError, match="more than the limit"):
        load_for_model(_png_header_only(3_000, 3_000), max_pixels=1_000_000)


def test_bad_input_is_a_clear_image_error(tmp_path: Path, real_photos: list[Path]) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError, match="not an image") as info:
        load_for_model(text)
    assert info.value.path == text
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(real_photos[0].read_bytes()[:600])
    with pytest.raises(ImageError, match=r"truncated|decode"):
        load_for_model(truncated)
    folder = tmp_path / "x.jpg"
    folder.mkdir()
    with pytest.raises(ImageError, match="directory"):
        load_for_model(folder)
    with pytest.raises(ImageError, match="cannot read"):
        load_for_model(tmp_path / "missing.jpg")


def test_heic_is_decoded(tmp_path: Path) -> None:
    import pillow_heif

    pixels = np.zeros((120, 200, 3), np.uint8)
    pixels[..., 2] = 230  # blue
    photo = tmp_path / "phone.heic"
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(photo, quality=90)
    decoded = load_for_model(photo)
    assert decoded.shape == (160, 160, 3)
    assert decoded[80, 80, 2] > 200 and decoded[80, 80, 0] < 40


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def test_a_damaged_png_or_jpeg_is_named_as_such_not_as_a_non_image() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, "PNG")
    png = buffer.getvalue()
    zero_width = png[:8] + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 8, 8, 2, 0, 0, 0))
    with pytest.raises(ImageError, match=r"^damaged PNG"):
        load_for_model(zero_width + png[33:])
    with pytest.raises(ImageError, match=r"^damaged JPEG"):
        load_for_model(b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(40))
    with pytest.raises(ImageError, match=r"^not an image file"):
        load_for_model(b"just some text, not a photo at all")
