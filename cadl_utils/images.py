"""Image I/O: load any common image as float RGB, save images, GIFs and MP4s, show them in notebooks.

Inside cadl_utils an image is a numpy array of shape [H, W, 3], dtype float32, values in [0, 1].
``load_image`` turns files and arrays into that form; every other function here accepts the
same inputs as ``load_image``'s arrays (uint8 0..255, float 0..1, [H,W], [H,W,1], [H,W,3],
[H,W,4]). ``as_image`` is the door of the engines and widgets: the same loading and value checks,
with the image named in every message, but arrays must already be RGB.

Sizes are always (height, width), like numpy shapes. An int size means "the long side".
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ImageError, OutputError, ParameterError
from .files import atomic_write, check_output_path
from .settings import check_float, check_int

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "READ_EXTENSIONS",
    "as_image",
    "center_crop",
    "crop_to_aspect",
    "gif_html",
    "load_image",
    "montage",
    "resize",
    "sample_images",
    "save_animation",
    "save_gif",
    "save_image",
    "save_mp4",
    "show",
    "show_gif",
    "to_uint8",
]

PathLike = str | os.PathLike
Size = int | tuple[int, int]

DEFAULT_MAX_PIXELS = 64_000_000
READ_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".gif": "GIF",
}
# Floats this far outside [0, 1] are clipped (rounding, resampling overshoot); further is a bug.
_FLOAT_TOLERANCE = 0.5
_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_SAMPLE_FOLDERS = {"photo": "photos", "photos": "photos", "style": "styles", "styles": "styles"}


# ----------------------------------------------------------------------------------------------
# Loading


def load_image(
    path_or_array: object,
    size: Size | None = None,
    max_side: int | None = None,
    crop: Size | str | None = None,
    *,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Load an image file or array as float32 RGB in [0, 1].

    Files: PNG, JPEG, GIF (first frame), BMP, TIFF and WebP, in any mode Pillow reads (grey,
    palette, RGBA/LA composited on white, CMYK, 16-bit). The EXIF orientation is applied, and the
    whole file is decoded, so truncated files are reported rather than padded with grey.

    The steps run in this order: ``crop``, then ``size``, then ``max_side``.

    Args:
        path_or_array: a file path, a PIL image, or an array (uint8 0..255 or float 0..1;
            [H,W], [H,W,1], [H,W,3] or [H,W,4] with alpha composited on white).
        size: int: scale so the long side has this many pixels (aspect kept, may enlarge).
            (height, width): exactly this size; the image is first centre-cropped to that aspect
            ratio, so nothing is stretched.
        max_side: shrink (never enlarge) so that the long side is at most this many pixels.
        crop: centre crop before resizing: int (a square of that many pixels), (height, width)
            in pixels, or an aspect ratio string "W:H" such as "1:1" or "16:9" (the largest
            centred crop of that shape).
        max_pixels: pixel budget for files (decompression-bomb guard); default: environment
            variable ``CADL_MAX_PIXELS`` or 64 megapixels.

    Returns:
        float32 array [H, W, 3] with values in [0, 1].

    Raises:
        ImageError: the file is missing, a folder, empty, not an image, truncated or corrupt,
            zero-sized or over the pixel budget; or the array has a wrong shape/dtype or
            non-finite values.
        ParameterError: ``size``, ``max_side`` or ``crop`` is not valid.
    """
    image = _picture(path_or_array, "image", max_pixels)
    if crop is not None:
        image = center_crop(image, crop)
    if size is not None:
        image = _fit(image, size)
    return _shrink(image, max_side)


def as_image(image: object, what: str = "image", max_side: int | None = None) -> np.ndarray:
    """An input of the engines and widgets as float32 RGB [H, W, 3] in [0, 1].

    Files (paths or their bytes) and PIL images are read as by ``load_image``, in any mode. Arrays
    and tensors must already be RGB, [H, W, 3] or a batch of one [1, H, W, 3]: a 2-D or 4-channel
    array handed to an engine is more often a mask, a feature map or a mix-up than a picture, so
    converting it is left to an explicit ``load_image(array)``. Values are checked as by
    ``load_image`` (uint8 0..255, floats 0..1 with a small overshoot clipped, nothing non-finite).

    Args:
        image: a file path, the bytes of an image file, a PIL image, or an RGB array or tensor.
        what: how messages name the image, e.g. "guide image" (files are named by their path).
        max_side: shrink (never enlarge) so that the long side is at most this many pixels.

    Returns:
        float32 array [H, W, 3] with values in [0, 1].

    Raises:
        ImageError: the file cannot be read (see ``load_image``), or the array is not one RGB
            picture, has a dtype that is not a pixel type, or values out of range or non-finite.
        ParameterError: ``max_side`` is not a positive whole number.
    """
    if isinstance(image, bytes):
        if not image:
            raise ImageError(f"{what} is empty (0 bytes): pass the whole contents of an image file")
        picture = _decode(io.BytesIO(image), what, _pixel_budget(None))
    else:
        if not isinstance(image, (str, os.PathLike, Image.Image)):
            image = _rgb_array(image, what)
        picture = _picture(image, what, None)
    return _shrink(picture, max_side)


def _picture(source: object, what: str, max_pixels: int | None) -> np.ndarray:
    """Decode a path, PIL image or array into float32 RGB; ``what`` names PIL images and arrays."""
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source).expanduser(), _pixel_budget(max_pixels))
    if isinstance(source, Image.Image):
        return _pil_to_float(source, what)
    return _as_float_image(source, what)


def _rgb_array(image: object, what: str) -> object:
    """The array of one RGB picture (a batch of one is unwrapped); other objects pass unchanged."""
    if not isinstance(image, (list, tuple)) and not hasattr(image, "__array__"):
        # _as_float_image names the wrong type.
        return image
    array = np.asarray(image)
    shape = array.shape
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(
            f"{what} must be an RGB array [H, W, 3], got shape {shape}; convert greyscale or RGBA "
            "arrays with cadl_utils.images.load_image(array), which also loads files"
        )
    return array


def _shrink(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """``image`` shrunk so that its long side is at most ``max_side`` (None: unchanged)."""
    if max_side is None:
        return image
    limit = _positive_int(max_side, "max_side")
    if max(image.shape[:2]) > limit:
        image = resize(image, limit)
    return image


def _pixel_budget(max_pixels: int | None) -> int:
    """The pixel budget: the argument, else CADL_MAX_PIXELS, else DEFAULT_MAX_PIXELS."""
    if max_pixels is not None:
        return _positive_int(max_pixels, "max_pixels")
    text = os.environ.get("CADL_MAX_PIXELS", "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except ValueError:
        value = 0
    if value <= 0:
        raise ParameterError(
            f"CADL_MAX_PIXELS={text!r} is not a positive number of pixels: set it to e.g. "
            "100000000 (100 megapixels) or unset it for the default of 64 megapixels"
        )
    return value


@contextmanager
def _strict_pillow(max_pixels: int) -> Iterator[None]:
    """Make Pillow apply our pixel budget and refuse truncated files, for one read only."""
    old_pixels, old_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = max_pixels
    # Another library may have switched this on globally; we want truncation to be an error.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = old_pixels, old_truncated


def _read_file(path: Path, max_pixels: int) -> np.ndarray:
    """Decode an image file fully into float32 RGB, with clear errors for every failure."""
    if not path.exists():
        raise ImageError(
            f"image file not found: {path} (relative paths start at {Path.cwd()}). "
            "Check the spelling, or use sample_images() for the bundled pictures."
        )
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file: pass one of the image files inside it")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is an empty file (0 bytes): copy or download the image again")
    return _decode(path, str(path), max_pixels)


def _decode(source: Path | io.BytesIO, name: str, max_pixels: int) -> np.ndarray:
    """Decode a whole image file (a path or the file's bytes); ``name`` names it in errors."""
    too_big = _too_big_message(name, max_pixels)
    try:
        with _strict_pillow(max_pixels), Image.open(source) as opened:
            width, height = opened.size
            if width == 0 or height == 0:
                raise ImageError(f"{name} has no pixels ({width}x{height}): use another image")
            if width * height > max_pixels:
                raise ImageError(too_big.format(pixels=width * height))
            opened.seek(0)
            opened.load()
            upright = ImageOps.exif_transpose(opened)
            return _pil_to_float(upright if upright is not None else opened, name)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(too_big.format(pixels=f"more than {2 * max_pixels}")) from exc
    except PermissionError as exc:
        raise ImageError(
            f"cannot read {name}: permission denied. Copy the image somewhere you can read, or fix "
            "its permissions"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{name} is not an image, or its header is damaged: use a PNG, JPEG, GIF, BMP, TIFF "
            "or WebP file (re-export or download it again if it should be one)"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(
            f"{name} is truncated or corrupt ({exc}): download or export the image again"
        ) from exc


def _too_big_message(name: str, max_pixels: int) -> str:
    """The over-budget message; {pixels} is filled in by the caller."""
    return (
        f"{name} has {{pixels}} pixels, over the budget of {max_pixels} "
        "(a guard against decompression bombs): shrink the image first, or raise the budget with "
        "load_image(..., max_pixels=N) or the environment variable CADL_MAX_PIXELS"
    )


def _pil_to_float(image: Image.Image, what: str = "image") -> np.ndarray:
    """Convert any Pillow image mode to float32 RGB in [0, 1], compositing alpha on white.

    ``what`` names the image (its file) in error messages.
    """
    mode = image.mode
    if mode == "P":
        # A palette may mark one entry as transparent; composite it like any alpha.
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale (Pillow widens some of it to 32-bit "I"): keep the extra precision.
        grey = np.asarray(image, dtype=np.float64) / 65535.0
        return _as_float_image(np.clip(grey, 0.0, 1.0).astype(np.float32), what)
    elif mode == "F":
        return _as_float_image(np.asarray(image, dtype=np.float32), what)
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        image = image.convert("RGBA")
    elif mode != "RGB":
        image = image.convert("RGB")
    return _as_float_image(np.asarray(image), what)


def _as_float_image(array: object, what: str = "image") -> np.ndarray:
    """Validate an array and return it as float32 [H, W, 3] in [0, 1].

    Args:
        array: uint8/uint16/bool/int/float array [H,W], [H,W,1], [H,W,3] or [H,W,4], or anything
            with ``__array__`` (e.g. a TensorFlow tensor).
        what: how to name the array in error messages (e.g. "frame 3").

    Returns:
        float32 [H, W, 3] in [0, 1].
    """
    if isinstance(array, Image.Image):
        return _pil_to_float(array)
    if not isinstance(array, np.ndarray):
        if not hasattr(array, "__array__"):
            raise ImageError(
                f"{what} must be a file path or an array, not {type(array).__name__}: "
                "pass e.g. 'data/photos/coffee.jpg' or a numpy array [H, W, 3]"
            )
        array = np.asarray(array)
    if array.ndim == 4 and array.shape[0] == 1:
        raise ImageError(
            f"{what} is a batch of one with shape {array.shape}: pass image[0] (shape [H, W, 3])"
        )
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(
            f"{what} has shape {array.shape}: expected [H, W], [H, W, 1], [H, W, 3] or [H, W, 4]"
            " (height, width, channels)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{what} is empty (shape {array.shape}): it needs at least one pixel")
    values = _scaled_values(array, what)
    if values.ndim == 2:
        values = values[:, :, None]
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    elif values.shape[2] == 4:
        alpha = values[:, :, 3:4]
        values = values[:, :, :3] * alpha + (1.0 - alpha)
    return np.ascontiguousarray(values, dtype=np.float32)


def _scaled_values(array: np.ndarray, what: str) -> np.ndarray:
    """Map an array's values to float32 in [0, 1] according to its dtype."""
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageError(
                f"{what} is an integer array with values from {low} to {high}: integers must be "
                "0..255 (use uint8), or pass floats in [0, 1]"
            )
        return array.astype(np.float32) / 255.0
    if kind == "f":
        values = array.astype(np.float32)
        if not np.isfinite(values).all():
            raise ImageError(
                f"{what} contains NaN or infinite values: check the computation that produced "
                "it, or clean it with np.nan_to_num(image)"
            )
        low, high = float(values.min()), float(values.max())
        if low < -_FLOAT_TOLERANCE or high > 1.0 + _FLOAT_TOLERANCE:
            hint = "divide by 255" if high > 1.0 + _FLOAT_TOLERANCE else "map -1..1 with (x + 1) / 2"
            raise ImageError(
                f"{what} is a float array with values from {low:g} to {high:g}: floats must be in "
                f"[0, 1] ({hint}, or clip with np.clip(image, 0, 1))"
            )
        return np.clip(values, 0.0, 1.0)
    raise ImageError(
        f"{what} has dtype {array.dtype}: use uint8 (0..255) or float (0..1) pixel values"
    )


# ----------------------------------------------------------------------------------------------
# Geometry


def _positive_int(value: object, name: str) -> int:
    """Check that a size parameter is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"{name} must be a positive whole number of pixels, not {value!r}")
    return int(value)


def _hw(size: object, name: str) -> tuple[int, int]:
    """Check a (height, width) pair."""
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ParameterError(f"{name} must be an int or a (height, width) pair, not {size!r}")
    return _positive_int(size[0], f"{name} height"), _positive_int(size[1], f"{name} width")


def _target_size(shape: tuple[int, ...], size: Size) -> tuple[int, int]:
    """Resolve an int (long side) or (height, width) size against an image shape."""
    if isinstance(size, (tuple, list)):
        height, width = _hw(size, "size")
    else:
        long_side = _positive_int(size, "size")
        scale = long_side / max(shape[:2])
        height, width = max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))
    budget = _pixel_budget(None)
    # Refuse before allocating: a typo like size=200000 would otherwise exhaust memory.
    if height * width > budget:
        raise ParameterError(
            f"size {height}x{width} ({height * width} pixels) is over the pixel budget of {budget}: "
            "choose a smaller size, or raise the budget with the environment variable CADL_MAX_PIXELS"
        )
    return height, width


def resize(image, size: Size):
    """Resize with bilinear antialiasing: the one resize of the package.

    Args:
        image: an image array (see ``load_image``) or a batch [N, H, W, 3]; or a tf.Tensor.
        size: int: the new long side, aspect kept; (height, width): exactly this size.

    Returns:
        float32 numpy array in [0, 1] for array input; a tf.Tensor for tensor input.
    """
    import tensorflow as tf

    if tf.is_tensor(image):
        dtype = image.dtype if image.dtype.is_floating else tf.float32
        pixels = tf.image.convert_image_dtype(image, tf.float32)
        out = tf.image.resize(pixels, _tensor_size(pixels, size), method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(out, 0.0, 1.0), dtype)
    array = np.asarray(image) if hasattr(image, "__array__") else image
    if isinstance(array, np.ndarray) and array.ndim == 4 and array.shape[0] != 1:
        array = np.stack([_as_float_image(frame, f"frame {i}") for i, frame in enumerate(array)])
    else:
        array = _as_float_image(image)
    height, width = _target_size(array.shape[-3:], size)
    if (height, width) == array.shape[-3:-1]:
        return array.copy()
    out = tf.image.resize(array, (height, width), method="bilinear", antialias=True)
    return np.clip(out.numpy(), 0.0, 1.0)


def _tensor_size(image, size: Size):
    """A tensor's target (height, width), with tf arithmetic when its shape is not static."""
    import tensorflow as tf

    if isinstance(size, (tuple, list)):
        return _hw(size, "size")
    long_side = _positive_int(size, "size")
    shape = image.shape[-3:-1]
    if None not in shape:
        scale = long_side / max(shape)
        return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))
    dims = tf.cast(tf.shape(image)[-3:-1], tf.float32)
    return tf.cast(tf.maximum(tf.round(dims * long_side / tf.reduce_max(dims)), 1.0), tf.int32)


def crop_to_aspect(image, height: int, width: int):
    """The largest centred crop with the aspect ratio height:width; numpy or tensor in, same kind out.

    Args:
        image: an array or tf.Tensor [H, W, C] or [N, H, W, C].
        height, width: the aspect ratio (e.g. the size the crop will be resized to).
    """
    import tensorflow as tf

    height, width = _positive_int(height, "height"), _positive_int(width, "width")
    if not tf.is_tensor(image):
        image = np.asarray(image)
    rows, cols = image.shape[-3], image.shape[-2]
    minimum = min
    if rows is None or cols is None:
        rows, cols, minimum = tf.shape(image)[-3], tf.shape(image)[-2], tf.minimum
    # Integer rounding (half up) works on Python ints and int tensors alike.
    crop_h = minimum(rows, (cols * height + width // 2) // width)
    crop_w = minimum(cols, (rows * width + height // 2) // height)
    top, left = (rows - crop_h) // 2, (cols - crop_w) // 2
    return image[..., top : top + crop_h, left : left + crop_w, :]


def center_crop(image: object, size: Size | str) -> np.ndarray:
    """Cut the centre out of an image.

    Args:
        image: an image array (see ``load_image``).
        size: int (a square of that side), (height, width) in pixels, or an aspect ratio
            string "W:H" (e.g. "1:1", "16:9") for the largest centred crop of that shape.

    Returns:
        float32 [height, width, 3] in [0, 1].

    Raises:
        ParameterError: the crop is larger than the image or not a valid size.
    """
    array = _as_float_image(image)
    height, width = array.shape[:2]
    if isinstance(size, str):
        crop_h, crop_w = _aspect_crop(size, height, width)
    elif isinstance(size, (tuple, list)):
        crop_h, crop_w = _hw(size, "crop")
    else:
        crop_h = crop_w = _positive_int(size, "crop")
    if crop_h > height or crop_w > width:
        raise ParameterError(
            f"crop {crop_h}x{crop_w} is larger than the {height}x{width} image: use a smaller "
            "crop, or an aspect ratio such as '1:1'"
        )
    top = (height - crop_h) // 2
    left = (width - crop_w) // 2
    return array[top : top + crop_h, left : left + crop_w].copy()


def _aspect_crop(aspect: str, height: int, width: int) -> tuple[int, int]:
    """The largest (height, width) with aspect "W:H" that fits in the image."""
    parts = aspect.split(":")
    try:
        ratio_w, ratio_h = float(parts[0]), float(parts[1])
        valid = len(parts) == 2 and ratio_w > 0 and ratio_h > 0 and math.isfinite(ratio_w / ratio_h)
    except (ValueError, IndexError):
        valid = False
    if not valid:
        raise ParameterError(f"aspect ratio {aspect!r} must look like 'W:H', e.g. '1:1' or '16:9'")
    ratio = ratio_w / ratio_h
    if width / height > ratio:
        return height, max(1, min(width, round(height * ratio)))
    return max(1, min(height, round(width / ratio))), width


def _fit(image: np.ndarray, size: Size) -> np.ndarray:
    """load_image's ``size``: long side for an int, crop-to-aspect then resize for a pair."""
    if isinstance(size, (tuple, list)):
        height, width = _hw(size, "size")
        image = center_crop(image, f"{width}:{height}")
        return resize(image, (height, width))
    return resize(image, size)


# ----------------------------------------------------------------------------------------------
# Saving


def to_uint8(image: object) -> np.ndarray:
    """Convert an image to uint8 RGB for saving or display.

    Args:
        image: an image array (see ``load_image``).

    Returns:
        uint8 array [H, W, 3] (values rounded, not truncated).
    """
    array = _as_float_image(image)
    return (array * 255.0 + 0.5).astype(np.uint8)


def save_image(
    image: object,
    path: PathLike,
    *,
    inputs: Iterable[object] = (),
    overwrite_inputs: bool = False,
    quality: int = 95,
) -> Path:
    """Save one image; the format comes from the extension.

    Args:
        image: an image array (see ``load_image``).
        path: .png, .jpg/.jpeg, .bmp, .tif/.tiff, .webp or .gif. Parent folders are created.
        inputs: files the image was made from; they are never overwritten unless
            ``overwrite_inputs`` is True.
        overwrite_inputs: allow ``path`` to be one of ``inputs``.
        quality: JPEG/WebP quality (1-100).

    Returns:
        The written file's Path.

    Raises:
        OutputError: unsupported extension, unwritable folder, input in the way or disk full.
        ImageError: the image array is not valid.
    """
    target = Path(path).expanduser()
    fmt = _save_format(target, "save_image")
    pixels = Image.fromarray(to_uint8(image))
    target = check_output_path(target, inputs, overwrite_inputs)
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    with atomic_write(target) as tmp:
        pixels.save(tmp, format=fmt, **options)
    return target


def _save_format(path: Path, caller: str) -> str:
    """Pillow's format name for a file extension, or an OutputError listing the choices."""
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        choices = ", ".join(sorted(_SAVE_FORMATS))
        raise OutputError(
            f"{caller} cannot tell the format of {path} from its extension "
            f"{path.suffix or '(none)'}: end the name with one of {choices}"
        )
    return fmt


def _frame_list(frames: object, caller: str) -> list[np.ndarray]:
    """Validate a sequence of frames (at least one) and return them as float32 RGB images."""
    if isinstance(frames, (str, os.PathLike)):
        raise ImageError(f"{caller} needs a list of frames, not the single path {frames}")
    if isinstance(frames, np.ndarray) and frames.ndim == 3 and frames.shape[-1] in (1, 3, 4):
        # [H, W, 3] would otherwise be read as H frames of one row each.
        raise ImageError(
            f"{caller} got a single image of shape {frames.shape}: pass a list of frames "
            "or an array [N, H, W, 3] (wrap one image as [image])"
        )
    try:
        items = list(frames)  # type: ignore[call-overload]
    except TypeError as exc:
        raise ImageError(f"{caller} needs a list of frames, not {type(frames).__name__}") from exc
    if not items:
        raise ImageError(f"{caller} got no frames: pass a list with at least one image")
    return [_as_float_image(frame, f"frame {i}") for i, frame in enumerate(items)]


def _frames_uint8(frames: object, caller: str) -> list[np.ndarray]:
    """Validate frames for an animation (all the same size) and return them as uint8 RGB."""
    out = [to_uint8(frame) for frame in _frame_list(frames, caller)]
    first = out[0].shape[:2]
    for i, frame in enumerate(out):
        if frame.shape[:2] != first:
            raise ImageError(
                f"{caller}: frame {i} is {frame.shape[0]}x{frame.shape[1]} but frame 0 is "
                f"{first[0]}x{first[1]}; all frames must have one size. Resize them first, e.g. "
                f"resize(frame, {first})"
            )
    return out


def save_gif(
    frames: Sequence[object] | np.ndarray,
    path: PathLike,
    duration_ms: int | Sequence[int] = 100,
    loop: int = 0,
    *,
    inputs: Iterable[object] = (),
    overwrite_inputs: bool = False,
) -> Path:
    """Save frames as an animated GIF.

    GIF stores delays in steps of 10 ms, and most browsers play delays under 20 ms at 100 ms, so
    use 20 ms or more. Frames must all have the same size (resize them first otherwise). The GIF
    encoder merges consecutive identical frames into one longer frame; the animation looks the
    same, but reading it back gives fewer frames.

    Args:
        frames: a list of image arrays (see ``load_image``) or an array [N, H, W, 3].
        path: a file name ending in .gif. Parent folders are created.
        duration_ms: display time of each frame in milliseconds, one number or one per frame.
        loop: 0 repeats forever; n > 0 is the loop count written to the file.
        inputs: files the frames were made from (never overwritten unless asked).
        overwrite_inputs: allow ``path`` to be one of ``inputs``.

    Returns:
        The written file's Path.

    Raises:
        ImageError: no frames, frames of different sizes, or invalid frame arrays.
        ParameterError: invalid duration or loop.
        OutputError: not a .gif name, unwritable folder, input in the way or disk full.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() != ".gif":
        raise OutputError(f"save_gif writes GIF files: give {target} the extension .gif")
    pixels = _frames_uint8(frames, "save_gif")
    durations = _durations(duration_ms, len(pixels))
    if isinstance(loop, bool) or not isinstance(loop, (int, np.integer)) or loop < 0:
        raise ParameterError(f"loop must be 0 (forever) or a positive count, not {loop!r}")
    target = check_output_path(target, inputs, overwrite_inputs)
    images = [Image.fromarray(frame) for frame in pixels]
    with atomic_write(target) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=int(loop),
        )
    return target


def _durations(duration_ms: int | Sequence[int], count: int) -> list[int]:
    """One positive duration per frame, in ms."""
    if np.isscalar(duration_ms):
        values = [duration_ms] * count
    else:
        values = list(duration_ms)  # type: ignore[arg-type]
    if len(values) != count:
        raise ParameterError(
            f"duration_ms has {len(values)} values for {count} frames: give one number or one per frame"
        )
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value > 0:
            raise ParameterError(f"frame durations must be positive milliseconds, not {value!r}")
    return [int(round(value)) for value in values]


def save_mp4(
    frames: Sequence[object] | np.ndarray,
    path: PathLike,
    fps: float = 10,
    *,
    inputs: Iterable[object] = (),
    overwrite_inputs: bool = False,
) -> Path:
    """Save frames as an H.264 MP4 video (needs the optional extra: ``pip install -e '.[mp4]'``).

    Frames with an odd width or height are padded by one edge pixel, because the widely playable
    yuv420p format needs even sizes.

    Args:
        frames: a list of image arrays (see ``load_image``) or an array [N, H, W, 3], one size.
        path: a file name ending in .mp4. Parent folders are created.
        fps: frames per second.
        inputs: files the frames were made from (never overwritten unless asked).
        overwrite_inputs: allow ``path`` to be one of ``inputs``.

    Returns:
        The written file's Path.

    Raises:
        OutputError: imageio-ffmpeg is not installed, not a .mp4 name, unwritable folder, input in
            the way or disk full.
        ImageError: no frames, frames of different sizes, or invalid frame arrays.
        ParameterError: fps is not positive.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() != ".mp4":
        raise OutputError(f"save_mp4 writes MP4 files: give {target} the extension .mp4")
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not fps > 0:
        raise ParameterError(f"fps must be a positive number, not {fps!r}")
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise OutputError(
            "save_mp4 needs the optional package imageio-ffmpeg: install it with "
            "pip install -e '.[mp4]' (or save a GIF with save_gif instead)"
        ) from exc
    pixels = _frames_uint8(frames, "save_mp4")
    height, width = pixels[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    target = check_output_path(target, inputs, overwrite_inputs)
    with atomic_write(target) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp),
            (width + width % 2, height + height % 2),
            fps=float(fps),
            codec="libx264",
            pix_fmt_out="yuv420p",
            macro_block_size=2,
            ffmpeg_log_level="error",
        )
        writer.send(None)  # start the generator
        try:
            for frame in pixels:
                writer.send(np.ascontiguousarray(np.pad(frame, pad, mode="edge")))
        finally:
            writer.close()
    return target


def save_animation(frames, path: PathLike, duration_ms: float = 100, inputs: Iterable[object] = ()) -> Path:
    """Write frames as an animated GIF (.gif) or an MP4 video (.mp4), atomically.

    Args:
        frames: a list of image arrays or an array [N, H, W, 3], all one size.
        path: output file; the extension picks the format.
        duration_ms: display time per frame (the MP4 frame rate is 1000 / duration_ms).
        inputs: source files that must not be overwritten.

    Returns:
        The written Path.
    """
    target = Path(path).expanduser()
    if target.suffix.lower() == ".mp4":
        fps = 1000.0 / check_float(duration_ms, "duration_ms", above=0, fix="use e.g. 100 (ms per frame)")
        return save_mp4(frames, target, fps=fps, inputs=inputs)
    if target.suffix.lower() != ".gif":
        raise OutputError(f"animations are written as .gif or .mp4: give {target} one of those extensions")
    return save_gif(frames, target, duration_ms=duration_ms, inputs=inputs)


def montage(
    frames: Sequence[object] | np.ndarray,
    cols: int | None = None,
    *,
    gap: int = 2,
    background: float = 1.0,
) -> np.ndarray:
    """Lay images out on a grid, row by row.

    Images of different sizes are centred in cells as large as the largest one.

    Args:
        frames: a list of image arrays (see ``load_image``) or an array [N, H, W, 3].
        cols: images per row; default: about a square grid.
        gap: pixels between cells (and none around the edge).
        background: grey level (0..1) of gaps and empty cells.

    Returns:
        float32 [H, W, 3] in [0, 1].
    """
    items = _frame_list(frames, "montage")
    count = len(items)
    cols = math.ceil(math.sqrt(count)) if cols is None else _positive_int(cols, "cols")
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ParameterError(f"gap must be a whole number of pixels >= 0, not {gap!r}")
    if not 0.0 <= float(background) <= 1.0:
        raise ParameterError(f"background must be a grey level in [0, 1], not {background!r}")
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    cell_h = max(item.shape[0] for item in items)
    cell_w = max(item.shape[1] for item in items)
    sheet = np.full(
        (rows * cell_h + (rows - 1) * gap, cols * cell_w + (cols - 1) * gap, 3),
        float(background),
        dtype=np.float32,
    )
    for index, item in enumerate(items):
        row, col = divmod(index, cols)
        top = row * (cell_h + gap) + (cell_h - item.shape[0]) // 2
        left = col * (cell_w + gap) + (cell_w - item.shape[1]) // 2
        sheet[top : top + item.shape[0], left : left + item.shape[1]] = item
    return sheet


# ----------------------------------------------------------------------------------------------
# Notebook display


def show(image: object, title: str | None = None, width: int | None = None) -> None:
    """Display an image in a notebook as a PNG (lightweight: no matplotlib figure).

    Args:
        image: an image array or file path (anything ``load_image`` accepts).
        title: optional caption shown above the image.
        width: optional display width in pixels (the PNG keeps its full resolution).
    """
    from IPython.display import HTML, Image as IPyImage, display

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(load_image(image))).save(buffer, format="PNG")
    if title:
        display(HTML(f"<b>{html.escape(str(title))}</b>"))
    display(IPyImage(data=buffer.getvalue(), format="png", width=width))


def gif_html(path: PathLike, width: int | None = None) -> str:
    """An ``<img>`` tag embedding a GIF file as a ``data:image/gif;base64`` URI.

    Args:
        path: the GIF file.
        width: optional display width in pixels.

    Returns:
        The HTML text.

    Raises:
        ImageError: the file is missing, empty or not a GIF.
    """
    gif = Path(path).expanduser()
    if not gif.is_file():
        raise ImageError(f"GIF not found: {gif}. Save one first with save_gif(frames, '{gif}')")
    data = gif.read_bytes()
    if not data.startswith((b"GIF87a", b"GIF89a")):
        raise ImageError(f"{gif} is not a GIF file: save animations with save_gif(frames, path)")
    encoded = base64.b64encode(data).decode("ascii")
    size = f' width="{int(width)}"' if width else ""
    alt = html.escape(gif.name, quote=True)
    return f'<img src="data:image/gif;base64,{encoded}" alt="{alt}"{size}/>'


def show_gif(path: PathLike, width: int | None = None) -> None:
    """Display an animated GIF in a notebook (an HTML ``<img>`` with a base64 data URI).

    Browsers animate it and nbval compares it as plain HTML.

    Args:
        path: the GIF file (e.g. what ``save_gif`` returned).
        width: optional display width in pixels.
    """
    from IPython.display import HTML, display

    display(HTML(gif_html(path, width)))


# ----------------------------------------------------------------------------------------------
# Sample data


def sample_images(kind: str = "photo") -> dict[str, Path]:
    """The bundled sample images (see data/README.md for sources and licences).

    Args:
        kind: "photo" or "style".

    Returns:
        {name: Path}, sorted by name; the name is the file name without extension
        (e.g. ``sample_images("photo")["coffee"]``).

    Raises:
        ParameterError: unknown kind.
        ImageError: the data folder is missing (the package was installed without the repository).
    """
    folder_name = _SAMPLE_FOLDERS.get(str(kind).lower())
    if folder_name is None:
        raise ParameterError(f"unknown sample kind {kind!r}: use 'photo' or 'style'")
    root = Path(os.environ["CADL_DATA_DIR"]).expanduser() if os.environ.get("CADL_DATA_DIR") else _DATA_DIR
    folder = root / folder_name
    if not folder.is_dir():
        raise ImageError(
            f"sample images not found in {folder}: cadl_utils was installed without the "
            "repository's data/ folder. Install from a clone with pip install -e . , or set "
            "CADL_DATA_DIR to a folder holding photos/ and styles/"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in READ_EXTENSIONS and p.is_file())
    return {p.stem: p for p in files}
