"""Camera RAW decoding through LibRaw, on real DNG files written by the tests.

The DNGs are minimal but valid: a little-endian TIFF whose IFD0 carries the DNG
tags (DNGVersion, UniqueCameraModel, ColorMatrix1, AsShotNeutral) and the
orientation, a SubIFD with the sensor data (a 16-bit RGGB Bayer mosaic or
LinearRaw RGB), and a preview: an uncompressed RGB IFD0 (LibRaw returns it as a
bitmap) or a JPEG in a second SubIFD (LibRaw returns JPEG bytes).  Every image is
left half red, right half blue, so the 160x160 model input shows whether the
right pixels came out, and which way up.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rawpy
from PIL import Image

from scened.errors import ImageError, ImageTooLargeError
from scened.imaging import load_for_model
from scened.raw import RAW_SUFFIXES, is_raw, open_raw_preview

BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 1, 2, 3, 4, 5, 10
_FORMAT = {BYTE: "B", ASCII: "B", SHORT: "H", LONG: "I", RATIONAL: "I", SRATIONAL: "i"}
#: XYZ (D65) -> linear sRGB, so that the "camera" colour space is linear sRGB.
_XYZ_TO_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)

RED, BLUE = (255, 0, 0), (0, 0, 255)

Entry = tuple[int, int, list[int] | bytes]


class _Tiff:
    """Just enough of a little-endian TIFF writer: data blocks, then IFDs pointing at them."""

    def __init__(self) -> None:
        self.out = bytearray(b"II*\x00\x00\x00\x00\x00")

    def block(self, data: bytes) -> int:
        if len(self.out) % 2:
            self.out.append(0)
        offset = len(self.out)
        self.out.extend(data)
        return offset

    def ifd(self, entries: list[Entry]) -> int:
        packed = []
        for tag, kind, values in sorted(entries, key=lambda entry: entry[0]):
            if isinstance(values, bytes):
                data, count = values, len(values)
            else:
                data = struct.pack(f"<{len(values)}{_FORMAT[kind]}", *values)
                count = len(values) // 2 if kind in (RATIONAL, SRATIONAL) else len(values)
            field = struct.pack("<I", self.block(data)) if len(data) > 4 else data.ljust(4, b"\0")
            packed.append(struct.pack("<HHI", tag, kind, count) + field)
        return self.block(struct.pack("<H", len(packed)) + b"".join(packed) + b"\0\0\0\0")

    def finish(self, first_ifd: int) -> bytes:
        struct.pack_into("<I", self.out, 4, first_ifd)
        return bytes(self.out)


def _strip(width: int, height: int, bits: list[int], offset: int, length: int) -> list[Entry]:
    return [
        (256, LONG, [width]),
        (257, LONG, [height]),
        (258, SHORT, bits),
        (273, LONG, [offset]),  # StripOffsets
        (277, SHORT, [len(bits)]),  # SamplesPerPixel
        (278, LONG, [height]),  # RowsPerStrip
        (279, LONG, [length]),  # StripByteCounts
        (284, SHORT, [1]),  # PlanarConfiguration: chunky
    ]


def make_dng(
    sensor: np.ndarray,
    preview: np.ndarray | None = None,
    *,
    jpeg_preview: bool = False,
    orientation: int = 1,
) -> bytes:
    """A DNG of ``sensor`` (uint16: (h, w) RGGB mosaic or (h, w, 3) LinearRaw)."""
    tiff = _Tiff()
    height, width = sensor.shape[:2]
    data = tiff.block(sensor.astype("<u2").tobytes())
    raw_ifd: list[Entry] = [
        (254, LONG, [0]),  # NewSubfileType: main image
        (259, SHORT, [1]),  # no compression
        (50717, LONG, [65535]),  # WhiteLevel
        *_strip(width, height, [16] * (sensor.ndim * 2 - 3), data, sensor.nbytes),
    ]
    if sensor.ndim == 2:
        raw_ifd += [
            (262, SHORT, [32803]),  # PhotometricInterpretation: CFA
            (33421, SHORT, [2, 2]),  # CFARepeatPatternDim
            (33422, BYTE, [0, 1, 1, 2]),  # CFAPattern: RGGB
            (50710, BYTE, [0, 1, 2]),  # CFAPlaneColor
            (50711, SHORT, [1]),  # CFALayout: rectangular
        ]
    else:
        raw_ifd.append((262, SHORT, [34892]))  # PhotometricInterpretation: LinearRaw
    sub_ifds = [tiff.ifd(raw_ifd)]

    ifd0: list[Entry] = []
    if preview is not None and jpeg_preview:
        buffer = io.BytesIO()
        Image.fromarray(preview).save(buffer, "JPEG", quality=95)
        jpeg = tiff.block(buffer.getvalue())
        h, w = preview.shape[:2]
        entries = _strip(w, h, [8, 8, 8], jpeg, len(buffer.getvalue()))
        entries += [(254, LONG, [1]), (259, SHORT, [7]), (262, SHORT, [6])]  # JPEG, YCbCr
        sub_ifds.append(tiff.ifd(entries))
    elif preview is not None:
        h, w = preview.shape[:2]
        pixels = tiff.block(preview.tobytes())
        ifd0 += _strip(w, h, [8, 8, 8], pixels, preview.nbytes)
        ifd0 += [(254, LONG, [1]), (259, SHORT, [1]), (262, SHORT, [2])]  # reduced-size RGB
    color_matrix = [v for x in _XYZ_TO_SRGB for v in (round(x * 10000), 10000)]
    ifd0 += [
        (271, ASCII, b"Scened\0"),  # Make
        (272, ASCII, b"Synthetic\0"),  # Model
        (274, SHORT, [orientation]),
        (330, LONG, sub_ifds),  # SubIFDs
        (50706, BYTE, [1, 4, 0, 0]),  # DNGVersion
        (50707, BYTE, [1, 1, 0, 0]),  # DNGBackwardVersion
        (50708, ASCII, b"Scened Synthetic\0"),  # UniqueCameraModel
        (50721, SRATIONAL, color_matrix),  # ColorMatrix1
        (50728, RATIONAL, [1, 1, 1, 1, 1, 1]),  # AsShotNeutral
        (50778, SHORT, [21]),  # CalibrationIlluminant1: D65
    ]
    return tiff.finish(tiff.ifd(ifd0))


def halves(height: int, width: int, left: tuple[int, ...], right: tuple[int, ...]) -> np.ndarray:
    image = np.zeros((height, width, len(left)), np.uint8)
    image[:, : width // 2] = left
    image[:, width // 2 :] = right
    return image


def red_blue_mosaic(height: int = 64, width: int = 96) -> np.ndarray:
    """RGGB sensor data of a scene that is red on the left, blue on the right."""
    mosaic = np.full((height, width), 1000, np.uint16)
    mosaic[0::2, 0 : width // 2 : 2] = 50000  # red photosites, left half
    mosaic[1::2, width // 2 + 1 :: 2] = 50000  # blue photosites, right half
    return mosaic


def red_blue_linear(height: int = 64, width: int = 96) -> np.ndarray:
    linear = np.full((height, width, 3), 1000, np.uint16)
    linear[:, : width // 2, 0] = 50000
    linear[:, width // 2 :, 2] = 50000
    return linear


PREVIEW = halves(120, 180, RED, BLUE)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def quadrants(image: np.ndarray) -> dict[str, np.ndarray]:
    """Mean colour of each corner quarter (away from the seam)."""
    h, w = image.shape[:2]
    q = min(h, w) // 4
    corners = {
        "top_left": image[:q, :q],
        "top_right": image[:q, w - q :],
        "bottom_left": image[h - q :, :q],
        "bottom_right": image[h - q :, w - q :],
    }
    return {name: part.reshape(-1, 3).mean(axis=0) for name, part in corners.items()}


def assert_colour(mean: np.ndarray, colour: tuple[int, int, int], tolerance: float) -> None:
    assert np.abs(mean - np.array(colour)).max() < tolerance, (mean, colour)


def assert_layout(image: np.ndarray, layout: str, tolerance: float = 12) -> None:
    """``layout``: where the red half is ('left', 'right', 'top', 'bottom')."""
    for name, mean in quadrants(image).items():
        expected = RED if layout in name else BLUE
        assert_colour(mean, expected, tolerance)


# --- the synthetic DNGs are real DNGs --------------------------------------------


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_exiftool_recognises_the_synthetic_dng(tmp_path: Path) -> None:
    path = write(tmp_path, "x.dng", make_dng(red_blue_mosaic(), PREVIEW, orientation=6))
    result = subprocess.run(
        ["exiftool", "-s3", "-FileType", "-DNGVersion", "-Orientation#", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split("\n")[:3] == ["DNG", "1.4.0.0", "6"]


def test_libraw_reads_the_synthetic_dng_and_its_previews(tmp_path: Path) -> None:
    bitmap = write(tmp_path, "b.dng", make_dng(red_blue_mosaic(), PREVIEW))
    jpeg = write(tmp_path, "j.dng", make_dng(red_blue_mosaic(), PREVIEW, jpeg_preview=True))
    none = write(tmp_path, "n.dng", make_dng(red_blue_mosaic()))
    with rawpy.imread(str(bitmap)) as raw:
        assert (raw.sizes.width, raw.sizes.height) == (96, 64)
        assert raw.raw_pattern is not None
        assert raw.raw_pattern.tolist() == [[0, 1], [3, 2]]  # R G / G2 B
        thumb = raw.extract_thumb()
        assert thumb.format == rawpy.ThumbFormat.BITMAP
        assert np.array_equal(thumb.data, PREVIEW)
    with rawpy.imread(str(jpeg)) as raw:
        assert raw.extract_thumb().format == rawpy.ThumbFormat.JPEG
    with rawpy.imread(str(none)) as raw, pytest.raises(rawpy.LibRawNoThumbnailError):
        raw.extract_thumb()


# --- decoding ----------------------------------------------------------------------


@pytest.mark.parametrize("jpeg_preview", [False, True], ids=["bitmap", "jpeg"])
def test_embedded_preview_becomes_the_model_input(tmp_path: Path, jpeg_preview: bool) -> None:
    # The sensor data is the other way round: the preview must be what is used.
    sensor = red_blue_mosaic()[:, ::-1].copy()
    path = write(tmp_path, "p.dng", make_dng(sensor, PREVIEW, jpeg_preview=jpeg_preview))
    preview = open_raw_preview(path)
    assert preview.size == (180, 120)
    pixels = load_for_model(path)
    assert pixels.shape == (160, 160, 3)
    assert pixels.dtype == np.uint8
    assert_layout(pixels, "left", tolerance=6)


@pytest.mark.parametrize(
    ("orientation", "layout", "size"),
    [
        (1, "left", (180, 120)),
        (3, "right", (180, 120)),
        (6, "top", (120, 180)),
        (8, "bottom", (120, 180)),
    ],
)
@pytest.mark.parametrize("jpeg_preview", [False, True], ids=["bitmap", "jpeg"])
def test_preview_is_turned_upright_by_the_raw_orientation(
    tmp_path: Path, orientation: int, layout: str, size: tuple[int, int], jpeg_preview: bool
) -> None:
    data = make_dng(red_blue_mosaic(), PREVIEW, jpeg_preview=jpeg_preview, orientation=orientation)
    path = write(tmp_path, "o.dng", data)
    preview = open_raw_preview(path)
    assert preview.size == size
    assert_layout(np.asarray(preview.convert("RGB")), layout, tolerance=6)
    assert_layout(load_for_model(path), layout, tolerance=6)


@pytest.mark.parametrize("sensor", [red_blue_mosaic, red_blue_linear], ids=["bayer", "linear"])
@pytest.mark.parametrize(("orientation", "layout"), [(1, "left"), (6, "top")])
def test_file_without_preview_is_demosaiced(
    tmp_path: Path, sensor: Callable[[], np.ndarray], orientation: int, layout: str
) -> None:
    path = write(tmp_path, "n.dng", make_dng(sensor(), orientation=orientation))
    preview = open_raw_preview(path)
    expected_short = 32 if sensor is red_blue_mosaic else 64  # half size for Bayer data
    assert min(preview.size) == expected_short
    # Demosaiced colours are not pure: red is red-dominant, blue is blue-dominant.
    pixels = load_for_model(path).astype(int)
    for name, mean in quadrants(pixels).items():
        red, green, blue = mean
        if layout in name:
            assert red > 200 and red - max(green, blue) > 100, (name, mean)
        else:
            assert blue > 200 and blue - max(red, green) > 100, (name, mean)


def test_raw_suffix_in_any_case_is_decoded_as_raw(tmp_path: Path) -> None:
    path = write(tmp_path, "IMG_0001.DNG", make_dng(red_blue_mosaic(), PREVIEW))
    assert_layout(load_for_model(str(path)), "left", tolerance=6)


def test_max_pixels_applies_to_the_preview(tmp_path: Path) -> None:
    path = write(tmp_path, "big.dng", make_dng(red_blue_mosaic(), PREVIEW))
    with pytest.raises(ImageTooLargeError, match="more than the limit"):
        load_for_model(path, max_pixels=180 * 120 - 1)
    assert load_for_model(path, max_pixels=180 * 120).shape == (160, 160, 3)


def test_max_pixels_applies_to_the_sensor_data_without_preview(tmp_path: Path) -> None:
    path = write(tmp_path, "big.dng", make_dng(red_blue_mosaic()))
    with pytest.raises(ImageTooLargeError, match="96x64"):
        open_raw_preview(path, max_pixels=96 * 64 - 1)


# --- bad input -----------------------------------------------------------------


def test_text_file_named_nef_is_a_clear_image_error(tmp_path: Path) -> None:
    path = write(tmp_path, "holiday.nef", b"This is not a photo, it is a note.\n" * 50)
    with pytest.raises(ImageError, match="not a RAW file LibRaw can read") as caught:
        load_for_model(path)
    assert caught.value.path == path
    assert str(path) in str(caught.value)


def test_tiny_file_named_cr2_is_an_image_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x.cr2", b"hi")
    with pytest.raises(ImageError, match="truncated or corrupt") as caught:
        load_for_model(path)
    assert caught.value.path == path


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_dng_is_an_image_error(tmp_path: Path, keep: float) -> None:
    data = make_dng(red_blue_mosaic(), PREVIEW)
    path = write(tmp_path, "cut.dng", data[: int(len(data) * keep)])
    with pytest.raises(ImageError, match="truncated or corrupt") as caught:
        load_for_model(path)
    assert caught.value.path == path


def test_missing_raw_file_and_directory_are_image_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="No such file"):
        load_for_model(tmp_path / "gone.arw")
    folder = tmp_path / "folder.nef"
    folder.mkdir()
    with pytest.raises(ImageError, match="is a directory"):
        load_for_model(folder)


# --- suffixes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a.nef", "a.NEF", "a.Cr3", "dir.x/a.ArW", "a.dng", "a.RW2", "a.raf", "a.orf"]
)
def test_is_raw_by_suffix_in_any_case(name: str) -> None:
    assert is_raw(name)
    assert is_raw(Path(name))


@pytest.mark.parametrize("name", ["a.jpg", "a.tif", "a.heic", "a.png", "nef", "a.nef.xmp", "a"])
def test_is_raw_is_false_for_other_files(name: str) -> None:
    assert not is_raw(name)


def test_raw_suffixes_are_lower_case_with_a_dot() -> None:
    assert all(s.startswith(".") and s == s.lower() for s in RAW_SUFFIXES)
    assert {".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw", ".dng"} <= (
        RAW_SUFFIXES
    )


def test_a_raw_file_read_into_memory_decodes_as_from_its_path(shared_dir: Path) -> None:
    """The runner decodes from the bytes it read for hashing: LibRaw gets them by the
    file's name, and the pixels are those of the file itself."""
    dng = shared_dir / "data" / "camera-files" / "IMG_1361.dng"

    from_path = load_for_model(dng, size=160)
    from_bytes = load_for_model(dng.read_bytes(), size=160, name=dng.name)

    assert (from_bytes == from_path).all()
    with pytest.raises(ImageError):  # without its name, Pillow cannot decode a DNG
        load_for_model(dng.read_bytes(), size=160)


def test_an_ordinary_image_named_like_a_raw_file_decodes_as_what_it_is(tmp_path: Path) -> None:
    photo = tmp_path / "DSC_0001.NEF"
    Image.new("RGB", (96, 64), BLUE).save(photo, "TIFF")  # a TIFF renamed by a tool

    from_path = load_for_model(photo, size=160)
    from_bytes = load_for_model(photo.read_bytes(), size=160, name=photo.name)

    assert (from_path == from_bytes).all() and tuple(from_path[80, 80]) == BLUE
    with pytest.raises(ImageError, match="RAW file"):  # neither decoder: LibRaw says why
        load_for_model(b"neither RAW nor image", size=160, name="x.nef")
