"""Tests for cadl_utils.images: loading, geometry, saving, display and sample data.

The odd files (CMYK, 16-bit, EXIF-rotated, truncated...) are made here, inside the tests.
"""

from __future__ import annotations

import base64
import errno
import io
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageFile

from cadl_utils import images
from cadl_utils.errors import ImageError, OutputError, ParameterError
from cadl_utils.images import (
    as_image,
    center_crop,
    crop_to_aspect,
    load_image,
    montage,
    resize,
    sample_images,
    save_animation,
    save_gif,
    save_image,
    save_mp4,
    show,
    show_gif,
    to_uint8,
)

RNG = np.random.default_rng(0)
RED = np.array([1.0, 0.0, 0.0], dtype=np.float32)
BLUE = np.array([0.0, 0.0, 1.0], dtype=np.float32)
REPO = Path(__file__).resolve().parents[1]


def random_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """A random uint8 RGB image."""
    return RNG.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def smooth_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth uint8 RGB gradient (JPEG and WebP keep it nearly exact)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([yy * 255 // (height - 1), xx * 255 // (width - 1), np.full_like(xx, 128)], axis=2).astype(
        np.uint8
    )


def png_16bit(path: Path, values: np.ndarray) -> None:
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit RGB): [H,W] grey or [H,W,3] RGB."""
    height, width = values.shape[:2]
    colour_type = 2 if values.ndim == 3 else 0
    rows = values.reshape(height, -1).astype(">u2")
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".tmp" in p.name]


# ================================================================ loading files


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff", ".gif"])
def test_load_lossless_formats(tmp_path, ext):
    pixels = random_rgb() if ext != ".gif" else np.repeat(random_rgb(24, 32)[:, :, :1], 3, axis=2)
    path = tmp_path / f"img{ext}"
    Image.fromarray(pixels).save(path)
    loaded = load_image(path)
    assert loaded.dtype == np.float32 and loaded.shape == (24, 32, 3)
    np.testing.assert_array_equal(to_uint8(loaded), pixels)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp"])
def test_load_lossy_formats(tmp_path, ext):
    pixels = smooth_rgb()
    path = tmp_path / f"img{ext}"
    Image.fromarray(pixels).save(path, quality=95)
    loaded = load_image(str(path))
    assert loaded.shape == (48, 64, 3) and loaded.dtype == np.float32
    assert np.abs(loaded - pixels / 255.0).mean() < 0.02


def test_load_greyscale(tmp_path):
    grey = random_rgb()[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    loaded = load_image(tmp_path / "g.png")
    assert loaded.shape == (24, 32, 3)
    for c in range(3):
        np.testing.assert_array_equal(to_uint8(loaded)[:, :, c], grey)


def test_load_black_and_white_1bit(tmp_path):
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "b.png")
    loaded = load_image(tmp_path / "b.png")
    np.testing.assert_array_equal(loaded[:, :, 0], np.eye(8))


def test_load_palette(tmp_path):
    pixels = smooth_rgb(16, 16)
    Image.fromarray(pixels).quantize(16).save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    loaded = load_image(tmp_path / "p.png")
    assert loaded.shape == (16, 16, 3)
    assert np.abs(loaded - pixels / 255.0).mean() < 0.05


def test_load_palette_with_transparency_goes_on_white(tmp_path):
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.save(tmp_path / "t.png", transparency=0)
    loaded = load_image(tmp_path / "t.png")
    np.testing.assert_allclose(loaded[0, 0], RED)
    np.testing.assert_allclose(loaded[1, 1], [1.0, 1.0, 1.0])


def test_load_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red
    rgba[0, 1] = [0, 0, 0, 0]  # transparent: white
    rgba[1, 0] = [0, 0, 0, 128]  # half-transparent black: mid grey
    Image.fromarray(rgba).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    np.testing.assert_allclose(loaded[0, 0], RED)
    np.testing.assert_allclose(loaded[0, 1], [1, 1, 1])
    np.testing.assert_allclose(loaded[1, 0], [127 / 255] * 3, atol=1e-3)


def test_load_la_composited_on_white(tmp_path):
    Image.new("LA", (3, 3), (0, 0)).save(tmp_path / "la.png")
    Image.new("LA", (3, 3), (0, 255)).save(tmp_path / "la_opaque.png")
    np.testing.assert_allclose(load_image(tmp_path / "la.png"), 1.0)
    np.testing.assert_allclose(load_image(tmp_path / "la_opaque.png"), 0.0)


def test_load_cmyk_jpeg(tmp_path):
    pixels = smooth_rgb()
    Image.fromarray(pixels).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    loaded = load_image(tmp_path / "c.jpg")
    assert loaded.shape == (48, 64, 3)
    assert np.abs(loaded - pixels / 255.0).mean() < 0.05


def test_load_16bit_grey_keeps_precision(tmp_path):
    values = np.arange(0, 65535, 65535 // 100, dtype=np.uint16)[:100].reshape(10, 10)
    png_16bit(tmp_path / "g16.png", values)
    loaded = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(loaded[:, :, 1], values / 65535.0, atol=1e-6)


def test_load_16bit_rgb(tmp_path):
    values = RNG.integers(0, 65536, size=(6, 7, 3)).astype(np.uint16)
    png_16bit(tmp_path / "rgb16.png", values)
    loaded = load_image(tmp_path / "rgb16.png")
    assert loaded.shape == (6, 7, 3)
    np.testing.assert_allclose(loaded, values / 65535.0, atol=1.0 / 255)


def test_load_applies_exif_orientation(tmp_path):
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = [255, 0, 0]
    stored[:, 20:] = [0, 0, 255]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / "r.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "r.jpg")
    assert loaded.shape == (40, 20, 3)
    np.testing.assert_allclose(loaded[5, 10], RED, atol=0.1)  # the left half is now on top
    np.testing.assert_allclose(loaded[35, 10], BLUE, atol=0.1)


def test_load_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(tmp_path / "anim.gif").n_frames == 3
    loaded = load_image(tmp_path / "anim.gif")
    np.testing.assert_allclose(loaded, np.broadcast_to(RED, (8, 8, 3)))


def test_load_pil_image():
    pixels = random_rgb(5, 6)
    np.testing.assert_array_equal(to_uint8(load_image(Image.fromarray(pixels))), pixels)


# ================================================================ bad files


def test_missing_file_names_file_and_fix(tmp_path):
    with pytest.raises(ImageError, match="not found") as info:
        load_image(tmp_path / "nope.jpg")
    assert "nope.jpg" in str(info.value) and "sample_images" in str(info.value)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text")
    with pytest.raises(ImageError, match="not an image") as info:
        load_image(path)
    assert "notes.png" in str(info.value)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty") as info:
        load_image(tmp_path / "empty.jpg")
    assert "empty.jpg" in str(info.value)


@pytest.mark.parametrize("fmt,cut", [("JPEG", 0.5), ("JPEG", -2), ("PNG", 0.5)])
def test_truncated_file(tmp_path, fmt, cut):
    full = io.BytesIO()
    Image.fromarray(random_rgb(64, 64)).save(full, format=fmt)
    data = full.getvalue()
    end = int(len(data) * cut) if cut > 0 else len(data) + cut
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[:end])
    with pytest.raises(ImageError, match="truncated or corrupt") as info:
        load_image(path)
    assert path.name in str(info.value)


def test_truncated_file_caught_even_if_pillow_was_told_to_allow_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    full = io.BytesIO()
    Image.fromarray(random_rgb(64, 64)).save(full, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    with pytest.raises(ImageError):
        load_image(tmp_path / "cut.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for the other library


def test_unreadable_file(tmp_path, monkeypatch):
    # Tests may run as root, who reads everything, so simulate the permission error.
    Image.fromarray(random_rgb(4, 4)).save(tmp_path / "locked.png")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(ImageError, match="permission denied") as info:
        load_image(tmp_path / "locked.png")
    assert "locked.png" in str(info.value)


def test_corrupt_middle_of_png(tmp_path):
    full = io.BytesIO()
    Image.fromarray(random_rgb(32, 32)).save(full, format="PNG")
    data = bytearray(full.getvalue())
    data[len(data) // 2 : len(data) // 2 + 20] = b"\xff" * 20
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.png"):
        load_image(tmp_path / "bad.png")


@pytest.mark.parametrize("budget", [6000, 1000])  # over the budget, and over twice the budget
def test_pixel_budget_argument(tmp_path, budget):
    Image.fromarray(random_rgb(100, 100)).save(tmp_path / "big.png")
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="budget") as info:
        load_image(tmp_path / "big.png", max_pixels=budget)
    assert "CADL_MAX_PIXELS" in str(info.value) and "big.png" in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == before
    assert load_image(tmp_path / "big.png", max_pixels=10_000).shape == (100, 100, 3)


def test_pixel_budget_environment(tmp_path, monkeypatch):
    Image.fromarray(random_rgb(50, 50)).save(tmp_path / "big.png")
    monkeypatch.setenv("CADL_MAX_PIXELS", "2000")
    with pytest.raises(ImageError, match="2000"):
        load_image(tmp_path / "big.png")
    monkeypatch.setenv("CADL_MAX_PIXELS", "1e6")
    assert load_image(tmp_path / "big.png").shape == (50, 50, 3)


def test_pixel_budget_above_pillows_own_limit(tmp_path, monkeypatch):
    # Our budget replaces Pillow's: a smaller Pillow limit must not reject an allowed image.
    Image.fromarray(random_rgb(50, 50)).save(tmp_path / "img.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert load_image(tmp_path / "img.png", max_pixels=5000).shape == (50, 50, 3)


@pytest.mark.parametrize("value", ["lots", "-5", "0"])
def test_pixel_budget_environment_invalid(tmp_path, monkeypatch, value):
    Image.fromarray(random_rgb(5, 5)).save(tmp_path / "img.png")
    monkeypatch.setenv("CADL_MAX_PIXELS", value)
    with pytest.raises(ParameterError, match="CADL_MAX_PIXELS"):
        load_image(tmp_path / "img.png")


# ================================================================ arrays


def test_array_uint8_and_float():
    pixels = random_rgb(4, 5)
    from_uint8 = load_image(pixels)
    assert from_uint8.dtype == np.float32
    np.testing.assert_allclose(from_uint8, pixels / 255.0, atol=1e-7)
    floats = pixels / 255.0  # float64
    np.testing.assert_allclose(load_image(floats), floats, atol=1e-7)


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 1)])
def test_array_grey_shapes(shape):
    grey = RNG.random(shape).astype(np.float32)
    loaded = load_image(grey)
    assert loaded.shape == (4, 5, 3)
    np.testing.assert_allclose(loaded[:, :, 2], grey.reshape(4, 5))


def test_array_rgba_composited_on_white():
    rgba = np.zeros((1, 2, 4), dtype=np.float32)
    rgba[0, 0] = [0.0, 0.0, 0.0, 0.25]
    rgba[0, 1] = [0.0, 0.0, 1.0, 1.0]
    loaded = load_image(rgba)
    np.testing.assert_allclose(loaded[0, 0], [0.75] * 3)
    np.testing.assert_allclose(loaded[0, 1], BLUE)


def test_array_other_dtypes():
    np.testing.assert_allclose(load_image(np.full((2, 2), 65535, np.uint16)), 1.0)
    np.testing.assert_allclose(load_image(np.eye(2, dtype=bool))[:, :, 0], np.eye(2))
    np.testing.assert_allclose(load_image(np.full((2, 2, 3), 51, np.int64)), 0.2, atol=1e-7)


def test_array_small_float_overshoot_is_clipped():
    values = np.array([[[-0.01, 0.5, 1.02]]], dtype=np.float32)
    np.testing.assert_allclose(load_image(values), [[[0.0, 0.5, 1.0]]])


@pytest.mark.parametrize(
    "array,words",
    [
        (np.zeros((4, 5, 2)), "shape"),
        (np.zeros(10), "shape"),
        (np.zeros((2, 4, 5, 3)), "shape"),
        (np.zeros((1, 4, 5, 3)), r"image\[0\]"),
        (np.zeros((0, 5, 3)), "empty"),
        (np.full((2, 2, 3), np.nan, np.float32), "NaN"),
        (np.array([[[0.0, np.inf, 0.0]]]), "infinite"),
        (np.full((2, 2, 3), 200.0), "divide by 255"),
        (np.full((2, 2, 3), 1e300), r"from 1e\+300 to 1e\+300.*divide by 255"),  # finite, not "infinite"
        (np.full((2, 2, 3), -1.0), r"\(x \+ 1\) / 2"),
        (np.full((2, 2, 3), 300, np.int32), "0..255"),
        (np.zeros((2, 2, 3), np.complex64), "dtype"),
        (np.array([["a", "b"]]), "dtype"),
    ],
)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow warning on the way to the error
def test_bad_arrays(array, words):
    with pytest.raises(ImageError, match=words):
        load_image(array)


@pytest.mark.parametrize("thing", [42, None, {"a": 1}])
def test_not_a_path_or_array(thing):
    with pytest.raises(ImageError, match="file path or an array"):
        load_image(thing)


def test_array_like_objects_are_accepted():
    class Tensorish:
        def __array__(self, dtype=None, copy=None):
            return np.full((3, 3, 3), 0.5, dtype=np.float32)

    np.testing.assert_allclose(load_image(Tensorish()), 0.5)


# ================================================================ as_image (the engines' and widgets' door)


def _png_bytes(pixels: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    picture = Image.fromarray(pixels)
    (picture.convert(mode) if mode else picture).save(buffer, format="PNG")
    return buffer.getvalue()


def test_as_image_accepts_files_pil_images_and_rgb_arrays(tmp_path):
    import tensorflow as tf

    pixels = random_rgb(6, 8)
    path = save_image(pixels, tmp_path / "p.png")
    expected = pixels / 255.0
    for source in (path, str(path), _png_bytes(pixels), Image.fromarray(pixels), pixels, expected,
                   expected[None], tf.constant(expected, tf.float32), expected.tolist()):  # fmt: skip
        image = as_image(source, "test image")
        assert image.shape == (6, 8, 3) and image.dtype == np.float32
        np.testing.assert_allclose(image, expected, atol=1e-6)
    # A PIL image declares its mode, so any mode is converted (an upload of a grey PNG works).
    grey = as_image(Image.fromarray(pixels).convert("L"))
    assert grey.shape == (6, 8, 3) and np.allclose(grey[..., 0], grey[..., 2])


def test_as_image_shrinks_to_max_side_and_never_enlarges():
    image = np.full((30, 60, 3), 0.5, np.float32)
    assert as_image(image, max_side=20).shape == (10, 20, 3)
    assert as_image(image, max_side=100).shape == (30, 60, 3)
    assert as_image(_png_bytes(to_uint8(image)), max_side=20).shape == (10, 20, 3)
    with pytest.raises(ParameterError, match="max_side"):
        as_image(image, max_side=0)


@pytest.mark.parametrize(
    "array,words",
    [
        (np.zeros((4, 5)), r"RGB array \[H, W, 3\], got shape \(4, 5\).*load_image"),
        (np.zeros((4, 5, 4)), r"RGB array .*\(4, 5, 4\)"),
        (np.zeros((1, 4, 5, 1)), r"RGB array .*\(1, 4, 5, 1\)"),
        (np.zeros((2, 4, 5, 3)), "RGB array"),
        (np.full((2, 2, 3), np.nan, np.float32), "NaN"),
        (np.full((2, 2, 3), 200.0), "divide by 255"),
        (np.zeros((2, 2, 3), np.complex64), "dtype"),
        (np.zeros((0, 5, 3)), "empty"),
    ],
)
def test_as_image_names_the_image_in_array_errors(array, words):
    with pytest.raises(ImageError, match=words) as caught:
        as_image(array, "guide image")
    assert str(caught.value).startswith("guide image ")


@pytest.mark.parametrize("thing", [42, None, {"a": 1}])
def test_as_image_not_a_picture(thing):
    with pytest.raises(ImageError, match="file path or an array"):
        as_image(thing, "dream image")


def test_as_image_bytes_are_checked_like_files(monkeypatch):
    with pytest.raises(ImageError, match="the upload 'x.png' is empty"):
        as_image(b"", "the upload 'x.png'")
    with pytest.raises(ImageError, match="the upload 'notes.txt' is not an image"):
        as_image(b"hello", "the upload 'notes.txt'")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        as_image(_png_bytes(random_rgb(40, 40))[:-40], "the upload 'cut.png'")
    monkeypatch.setenv("CADL_MAX_PIXELS", "300")
    with pytest.raises(ImageError, match="the upload 'big.png' has 400 pixels, over the budget of 300"):
        as_image(_png_bytes(random_rgb(20, 20)), "the upload 'big.png'")


def test_as_image_reports_a_missing_file_by_its_path(tmp_path):
    with pytest.raises(ImageError, match="image file not found.*missing.jpg"):
        as_image(tmp_path / "missing.jpg", "content image")


# ================================================================ geometry


def test_size_int_sets_long_side():
    image = np.zeros((30, 60, 3), np.float32)
    assert load_image(image, size=20).shape == (10, 20, 3)
    assert load_image(image, size=120).shape == (60, 120, 3)  # may enlarge
    assert load_image(image.transpose(1, 0, 2), size=20).shape == (20, 10, 3)


def test_size_pair_crops_instead_of_stretching():
    image = np.zeros((40, 80, 3), np.float32)
    image[:, :20] = RED  # outside the centred square
    image[:, 20:] = BLUE
    out = load_image(image, size=(16, 16))
    assert out.shape == (16, 16, 3)
    np.testing.assert_allclose(out, np.broadcast_to(BLUE, out.shape), atol=1e-5)


def test_max_side_only_shrinks():
    image = np.zeros((30, 60, 3), np.float32)
    assert load_image(image, max_side=30).shape == (15, 30, 3)
    assert load_image(image, max_side=100).shape == (30, 60, 3)


def test_crop_then_size_then_max_side():
    image = np.zeros((60, 100, 3), np.float32)
    out = load_image(image, crop="1:1", size=50, max_side=20)
    assert out.shape == (20, 20, 3)


@pytest.mark.parametrize(
    "crop,shape", [(10, (10, 10)), ((6, 8), (6, 8)), ("16:9", (18, 32)), ("1:1", (20, 20)), ("1:2", (20, 10))]
)
def test_crop_forms(crop, shape):
    image = np.zeros((20, 32, 3), np.float32)
    assert load_image(image, crop=crop).shape == shape + (3,)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 0},
        {"size": -4},
        {"size": 2.5},
        {"size": True},
        {"size": (0, 5)},
        {"size": (1, 2, 3)},
        {"size": "big"},
        {"max_side": 0},
        {"crop": "wide"},
        {"crop": "0:1"},
        {"crop": "1:2:3"},
        {"crop": 100},
        {"crop": (5, 100)},
    ],
)
def test_bad_geometry_parameters(kwargs):
    with pytest.raises(ParameterError):
        load_image(np.zeros((20, 32, 3), np.float32), **kwargs)


def test_center_crop_takes_the_centre():
    image = np.arange(5 * 7, dtype=np.float32).reshape(5, 7) / 100.0
    out = center_crop(image, (3, 3))
    np.testing.assert_allclose(out[:, :, 0], image[1:4, 2:5])


def test_resize_shapes_and_range():
    image = RNG.random((20, 30, 3)).astype(np.float32)
    assert resize(image, (7, 11)).shape == (7, 11, 3)
    assert resize(image, 15).shape == (10, 15, 3)
    out = resize(image, (50, 60))
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0


def test_resize_is_antialiased():
    # A one-pixel checkerboard shrunk 4x must become flat grey, not a pattern of 0s and 1s.
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    small = resize(checker, (16, 16))
    assert abs(small.mean() - 0.5) < 0.02
    assert small.std() < 0.05


def test_resize_keeps_float_precision():
    ramp = np.tile(np.linspace(0.0, 1.0, 2000, dtype=np.float32)[None, :, None], (4, 1, 3))
    out = resize(ramp, (4, 1000))
    assert len(np.unique(out[2, :, 0])) > 256  # more levels than uint8 could hold


def test_resize_same_size_returns_a_copy():
    image = RNG.random((4, 4, 3)).astype(np.float32)
    out = resize(image, (4, 4))
    np.testing.assert_array_equal(out, image)
    out[0, 0] = 0
    assert image[0, 0, 0] != 0 or image[0, 0, 1] != 0


def test_resize_tensors_keep_their_kind_and_match_arrays():
    import tensorflow as tf

    image = RNG.random((20, 30, 3)).astype(np.float32)
    out = resize(tf.constant(image), 15)
    assert tf.is_tensor(out) and out.shape == (10, 15, 3) and out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), resize(image, 15), atol=1e-6)
    batch = resize(tf.constant(np.stack([image, image])), (7, 11))
    assert batch.shape == (2, 7, 11, 3)
    assert resize(tf.constant(image, tf.float16), 15).dtype == tf.float16
    as_uint8 = resize(tf.constant(to_uint8(image)), 15)  # uint8 is scaled to [0, 1]
    assert as_uint8.dtype == tf.float32 and float(tf.reduce_max(as_uint8)) <= 1.0


def test_resize_tensors_of_unknown_size_inside_tf_function():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def shrink(image):
        return resize(image, 15), resize(image, (4, 5))

    long_side, exact = shrink(tf.constant(RNG.random((20, 30, 3)), tf.float32))
    assert long_side.shape == (10, 15, 3) and exact.shape == (4, 5, 3)


def test_resize_numpy_batches():
    frames = np.stack([RNG.random((20, 30, 3)).astype(np.float32) for _ in range(3)])
    out = resize(frames, 15)
    assert out.shape == (3, 10, 15, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[1], resize(frames[1], 15))


def test_resize_bad_sizes():
    for size in (0, -3, 2.5, (0, 4), "big"):
        with pytest.raises(ParameterError, match="size"):
            resize(np.zeros((4, 4, 3), np.float32), size)


@pytest.mark.parametrize("shape,ratio,expected", [((20, 32), (1, 1), (20, 20)), ((20, 32), (9, 16), (18, 32)),
                                                  ((20, 32), (2, 1), (20, 10)), ((5, 5), (1, 1), (5, 5))])
def test_crop_to_aspect_on_arrays_tensors_and_batches(shape, ratio, expected):
    import tensorflow as tf

    image = RNG.random(shape + (3,)).astype(np.float32)
    out = crop_to_aspect(image, *ratio)
    assert isinstance(out, np.ndarray) and out.shape == expected + (3,)
    top, left = (shape[0] - expected[0]) // 2, (shape[1] - expected[1]) // 2
    np.testing.assert_array_equal(out, image[top : top + expected[0], left : left + expected[1]])
    tensor = crop_to_aspect(tf.constant(image), *ratio)
    assert tf.is_tensor(tensor) and tensor.shape == expected + (3,)
    np.testing.assert_array_equal(tensor.numpy(), out)
    assert crop_to_aspect(np.stack([image, image]), *ratio).shape == (2,) + expected + (3,)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def crop(x):
        return crop_to_aspect(x, *ratio)

    np.testing.assert_array_equal(crop(tf.constant(image)).numpy(), out)


@pytest.mark.parametrize("ratio", [(0, 1), (1, -2), (float("nan"), 1), ("wide", 1)])
def test_crop_to_aspect_bad_ratio(ratio):
    with pytest.raises(ParameterError):
        crop_to_aspect(np.zeros((4, 4, 3)), *ratio)


# ================================================================ to_uint8 / save_image


def test_to_uint8_rounds():
    values = np.array([[[0.0, 0.5 / 255 + 1e-6, 1.0]]], dtype=np.float32)
    out = to_uint8(values)
    assert out.dtype == np.uint8 and out.shape == (1, 1, 3)
    np.testing.assert_array_equal(out[0, 0], [0, 1, 255])
    assert to_uint8(np.zeros((2, 3))).shape == (2, 3, 3)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff"])
def test_save_and_load_lossless_round_trip(tmp_path, ext):
    pixels = random_rgb()
    path = save_image(pixels, tmp_path / "sub" / f"out{ext}")
    assert path == tmp_path / "sub" / f"out{ext}"
    np.testing.assert_array_equal(to_uint8(load_image(path)), pixels)
    assert temp_files(tmp_path / "sub") == []


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp", ".gif"])
def test_save_and_load_other_formats(tmp_path, ext):
    pixels = smooth_rgb()
    path = save_image(pixels / 255.0, tmp_path / f"out{ext}")
    assert np.abs(load_image(path) - pixels / 255.0).mean() < 0.03


def test_save_image_unknown_extension(tmp_path):
    with pytest.raises(OutputError, match=r"\.png"):
        save_image(random_rgb(), tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []


def test_save_image_refuses_to_overwrite_input(tmp_path):
    source = save_image(random_rgb(), tmp_path / "in.png")
    before = source.read_bytes()
    with pytest.raises(OutputError, match="overwrite"):
        save_image(np.zeros((3, 3, 3)), source, inputs=[source])
    assert source.read_bytes() == before
    save_image(np.zeros((3, 3, 3)), source, inputs=[source], overwrite_inputs=True)
    assert load_image(source).shape == (3, 3, 3)


def test_save_image_bad_array_writes_nothing(tmp_path):
    with pytest.raises(ImageError):
        save_image(np.full((3, 3, 3), np.nan), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def write_half_then(error: BaseException):
    """A stand-in for PIL.Image.Image.save that writes some bytes and then fails."""

    def fake_save(self, fp, *args, **kwargs):
        if hasattr(fp, "write"):  # imageio (GIF) hands Pillow an open file, save_image a path
            fp.write(b"partial data")
        else:
            Path(fp).write_bytes(b"partial data")
        raise error

    return fake_save


def test_save_image_disk_full(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    monkeypatch.setattr(Image.Image, "save", write_half_then(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OutputError) as info:
        save_image(random_rgb(), target)
    assert "disk full" in str(info.value) and str(target) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_save_image_interrupted_keeps_old_file(tmp_path, monkeypatch):
    target = save_image(random_rgb(), tmp_path / "out.png")
    before = target.read_bytes()
    monkeypatch.setattr(Image.Image, "save", write_half_then(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_image(np.zeros((4, 4, 3)), target)
    assert target.read_bytes() == before
    assert temp_files(tmp_path) == []


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3, 4])),
    )
)
def test_round_trip_property(pixels):
    expected = load_image(pixels)
    with tempfile.TemporaryDirectory() as folder:
        path = save_image(pixels, Path(folder) / "p.png")
        again = load_image(path)
        # Alpha is composited before saving, so the saved file holds exactly the loaded RGB.
        np.testing.assert_array_equal(to_uint8(again), to_uint8(expected))
        np.testing.assert_allclose(again, expected, atol=0.5 / 255 + 1e-6)
        assert sorted(p.name for p in Path(folder).iterdir()) == ["p.png"]


# ================================================================ GIF / MP4


def distinct_frames(count: int, height: int = 16, width: int = 20) -> list[np.ndarray]:
    """Frames that differ from each other (identical neighbours get merged by the encoder)."""
    return [np.full((height, width, 3), (i + 1) / (count + 1), np.float32) for i in range(count)]


def gif_info(path: Path) -> tuple[int, list[int], int | None]:
    with Image.open(path) as gif:
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info.get("duration"))
        return gif.n_frames, durations, gif.info.get("loop")


def test_save_gif_frames_and_durations(tmp_path):
    path = save_gif(distinct_frames(4), tmp_path / "a" / "anim.gif", duration_ms=[100, 200, 300, 400])
    assert gif_info(path) == (4, [100, 200, 300, 400], 0)
    assert temp_files(tmp_path / "a") == []


def test_save_gif_one_duration_and_loop_count(tmp_path):
    path = save_gif(distinct_frames(3), tmp_path / "anim.gif", duration_ms=50, loop=2)
    count, durations, loop = gif_info(path)
    assert (count, durations, loop) == (3, [50, 50, 50], 2)


def test_save_gif_frame_content_and_4d_array(tmp_path):
    frames = np.stack(distinct_frames(3))
    path = save_gif(frames, tmp_path / "anim.gif")
    np.testing.assert_allclose(load_image(path), frames[0], atol=2 / 255)


def test_save_gif_writes_the_bytes_of_imageios_pillow_plugin(tmp_path):
    # The palettes are made in threads; the file must be what imageio/Pillow would write frame by frame.
    import imageio.v3 as iio

    rng = np.random.default_rng(3)
    smooth = np.linspace(0, 255, 96, dtype=np.float32)[None, :, None] * np.ones((64, 1, 3), np.float32)
    frames = [np.clip(smooth + rng.normal(0, 30, smooth.shape), 0, 255).astype(np.uint8) for _ in range(5)]
    frames.insert(3, frames[2])  # an identical frame, merged with the one before
    for durations, loop in (([100, 200, 100, 50, 70, 80], 0), (40, 3)):
        path = save_gif(frames, tmp_path / "anim.gif", duration_ms=durations, loop=loop)
        expected = iio.imwrite("<bytes>", np.stack(frames), plugin="pillow", extension=".gif", is_batch=True,
                               duration=durations, loop=loop)
        assert path.read_bytes() == expected


def test_save_gif_zero_frames(tmp_path):
    with pytest.raises(ImageError, match="no frames"):
        save_gif([], tmp_path / "anim.gif")
    assert list(tmp_path.iterdir()) == []


def test_save_gif_different_sizes(tmp_path):
    frames = [np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), np.zeros((9, 8, 3))]
    with pytest.raises(ImageError, match="frame 2 is 9x8") as info:
        save_gif(frames, tmp_path / "anim.gif")
    assert "resize" in str(info.value)


def test_save_gif_single_image_is_not_frames(tmp_path):
    with pytest.raises(ImageError, match="single image"):
        save_gif(np.zeros((8, 8, 3)), tmp_path / "anim.gif")


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"duration_ms": 0}, ParameterError),
        ({"duration_ms": [100, 100]}, ParameterError),
        ({"duration_ms": -5}, ParameterError),
        ({"duration_ms": 1e9}, ParameterError),
        ({"duration_ms": [100, "x", 100]}, ParameterError),
        ({"loop": 1.5}, ParameterError),
        ({"loop": -1}, ParameterError),
        ({"path_name": "anim.png"}, OutputError),
    ],
)
def test_save_gif_bad_parameters(tmp_path, kwargs, error):
    name = kwargs.pop("path_name", "anim.gif")
    with pytest.raises(error):
        save_gif(distinct_frames(3), tmp_path / name, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_save_gif_disk_full(tmp_path, monkeypatch):
    monkeypatch.setattr(Image.Image, "save", write_half_then(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OutputError, match="disk full"):
        save_gif(distinct_frames(2), tmp_path / "anim.gif")
    assert list(tmp_path.iterdir()) == []


def test_save_mp4_reads_back(tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    frames = distinct_frames(5, height=15, width=21)  # odd sizes get padded
    path = save_mp4(frames, tmp_path / "v" / "movie.mp4", fps=5)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    count = sum(1 for _ in reader)
    assert count == 5
    assert tuple(meta["size"]) == (22, 16)
    assert meta["fps"] == pytest.approx(5)
    assert temp_files(tmp_path / "v") == []


def test_save_mp4_without_ffmpeg_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes the import fail
    with pytest.raises(OutputError, match=r"pip install -e '\.\[mp4\]'"):
        save_mp4(distinct_frames(2), tmp_path / "movie.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs,error", [({"fps": 0}, ParameterError), ({"fps": float("inf")}, ParameterError),
                                          ({"name": "movie.gif"}, OutputError)])
def test_save_mp4_bad_parameters(tmp_path, kwargs, error):
    name = kwargs.pop("name", "movie.mp4")
    with pytest.raises(error):
        save_mp4(distinct_frames(2), tmp_path / name, **kwargs)


def test_save_animation_picks_the_format_by_extension(tmp_path):
    path = save_animation(distinct_frames(3), tmp_path / "out" / "loop.gif", duration_ms=80)
    assert gif_info(path) == (3, [80, 80, 80], 0)
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    movie = save_animation(distinct_frames(4), tmp_path / "out" / "loop.MP4", duration_ms=50)
    reader = imageio_ffmpeg.read_frames(str(movie))
    assert next(reader)["fps"] == pytest.approx(20) and sum(1 for _ in reader) == 4
    assert temp_files(tmp_path / "out") == []


def test_save_animation_bad_extension_and_durations(tmp_path):
    with pytest.raises(OutputError, match=r"\.gif, \.mp4"):
        save_animation(distinct_frames(2), tmp_path / "loop.png")
    for duration in (0, -5, float("nan"), 1e300, "100"):
        with pytest.raises(ParameterError, match="duration_ms") as info:
            save_animation(distinct_frames(2), tmp_path / "loop.mp4", duration_ms=duration)
        assert "milliseconds" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_save_animation_mp4_without_ffmpeg_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(OutputError, match=r"pip install -e '\.\[mp4\]'"):
        save_animation(distinct_frames(2), tmp_path / "movie.mp4")
    assert list(tmp_path.iterdir()) == []


def test_save_mp4_zero_frames(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    with pytest.raises(ImageError, match="no frames"):
        save_mp4([], tmp_path / "movie.mp4")


# ================================================================ montage


def test_montage_layout():
    frames = [np.full((4, 6, 3), value, np.float32) for value in (0.0, 0.25, 0.5)]
    sheet = montage(frames, cols=2, gap=1, background=1.0)
    assert sheet.shape == (4 * 2 + 1, 6 * 2 + 1, 3)
    assert sheet[0, 0, 0] == 0.0
    assert sheet[0, 7, 0] == 0.25  # second image, right of the gap
    assert sheet[5, 0, 0] == 0.5  # third image, next row
    assert sheet[0, 6, 0] == 1.0  # the gap
    assert sheet[5, 7, 0] == 1.0  # the empty cell


def test_montage_default_columns_and_mixed_sizes():
    frames = [np.zeros((4, 4, 3)), np.zeros((2, 2)), np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), np.zeros((4, 4, 3))]
    sheet = montage(frames, gap=0)
    assert sheet.shape == (8, 12, 3)  # 5 images -> 3 columns, 2 rows
    assert sheet[4 + 0, 4 + 0, 0] == 0.0 and sheet[4, 8, 0] == 1.0  # row 2 has two images


def test_montage_centres_small_images():
    sheet = montage([np.ones((4, 4, 3)), np.zeros((2, 2, 3))], cols=2, gap=0, background=0.5)
    np.testing.assert_allclose(sheet[1:3, 5:7], 0.0)
    np.testing.assert_allclose(sheet[0, 4:8], 0.5)


@pytest.mark.parametrize(
    "frames,kwargs,error",
    [
        ([], {}, ImageError),
        ([np.zeros((2, 2, 3))], {"cols": 0}, ParameterError),
        ([np.zeros((2, 2, 3))], {"cols": 1.5}, ParameterError),
        ([np.zeros((2, 2, 3))], {"gap": -1}, ParameterError),
        ([np.zeros((2, 2, 3))], {"background": 2.0}, ParameterError),
        ([np.full((2, 2, 3), np.nan)], {}, ImageError),
    ],
)
def test_montage_bad_input(frames, kwargs, error):
    with pytest.raises(error):
        montage(frames, **kwargs)


# ================================================================ display


@pytest.fixture
def displayed(monkeypatch):
    """Capture what show/show_gif hand to IPython.display.display."""
    import IPython.display

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    return shown


def test_show_displays_a_png_of_the_image(displayed):
    pixels = random_rgb(6, 9)
    show(pixels, title="<b>coffee</b> & cream", width=300)
    title, picture = displayed
    assert "&lt;b&gt;coffee&lt;/b&gt; &amp; cream" in title.data
    decoded = np.asarray(Image.open(io.BytesIO(picture.data)))
    np.testing.assert_array_equal(decoded, pixels)
    assert picture.width == 300


def test_show_without_title_and_from_a_path(displayed, tmp_path):
    path = save_image(random_rgb(5, 5), tmp_path / "x.png")
    show(path)
    assert len(displayed) == 1


def test_show_gif_embeds_the_file(displayed, tmp_path):
    path = save_gif(distinct_frames(2), tmp_path / "anim.gif")
    show_gif(path, width=128)
    (html_obj,) = displayed
    text = html_obj.data
    assert text.startswith('<img src="data:image/gif;base64,') and 'width="128"' in text
    encoded = text.split("base64,", 1)[1].split('"', 1)[0]
    assert base64.b64decode(encoded) == path.read_bytes()


def test_show_gif_errors(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        show_gif(tmp_path / "nope.gif")
    png = save_image(random_rgb(4, 4), tmp_path / "still.png")
    with pytest.raises(ImageError, match="not a GIF"):
        show_gif(png)


# ================================================================ sample data


@pytest.mark.parametrize("kind", ["photo", "style"])
def test_sample_images_exist_and_load(kind):
    found = sample_images(kind)
    assert len(found) >= 3
    for name, path in found.items():
        assert path.stem == name and path.is_file()
        image = load_image(path)
        assert max(image.shape[:2]) <= 1024
        assert image.std() > 0.02  # a real picture, not a blank


def test_sample_data_is_documented_and_small():
    readme = (REPO / "data" / "README.md").read_text()
    total = 0
    for kind in ("photo", "style"):
        for path in sample_images(kind).values():
            assert f"`{path.name}`" in readme, f"{path.name} has no source/licence row in data/README.md"
            total += path.stat().st_size
    assert total < 3_000_000


def test_sample_images_plural_and_unknown_kind():
    assert sample_images("photos") == sample_images("photo")
    with pytest.raises(ParameterError, match="'photo' or 'style'"):
        sample_images("painting")


def test_sample_images_missing_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CADL_DATA_DIR", str(tmp_path))
    with pytest.raises(ImageError, match="CADL_DATA_DIR"):
        sample_images("photo")
    (tmp_path / "styles").mkdir()
    save_image(random_rgb(4, 4), tmp_path / "styles" / "mine.png")
    (tmp_path / "styles" / "notes.txt").write_text("not an image")
    assert list(sample_images("style")) == ["mine"]


def test_module_reads_every_listed_extension():
    assert set(images.READ_EXTENSIONS) == {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}


def test_crop_to_aspect_extreme_ratios_are_refused_not_overflowed():
    with pytest.raises(ParameterError, match="at most"):
        crop_to_aspect(np.zeros((4, 4, 3)), 1e308, 1e-308)
    with pytest.raises(ParameterError):
        load_image(np.zeros((4, 4, 3)), crop="1e300:1")
    assert crop_to_aspect(np.zeros((4, 4, 3)), 1e6, 1e-6).shape == (4, 1, 3)


def test_identical_frames_whose_merged_duration_overflows_a_gif_delay_are_refused(tmp_path):
    """Found by the fuzzer: Pillow merges identical consecutive frames and adds their delays."""
    still = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.raises(ParameterError, match="more than 655.35 s together"):
        save_gif([still, still, still], tmp_path / "long.gif", duration_ms=218_454)
    assert not list(tmp_path.iterdir())
    path = save_gif([still, still], tmp_path / "ok.gif", duration_ms=300_000)
    assert path.exists()
