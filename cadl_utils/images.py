"""Images: load any file as float32 RGB [H, W, 3] in [0, 1], resize and crop, save images, GIFs and MP4s.

Every function also takes arrays (uint8 0..255 or float 0..1; [H,W], [H,W,1], [H,W,3] or [H,W,4]).
Sizes are (height, width); an int size is the long side.
"""

import base64
import html
import importlib.util
import io
import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tensorflow as tf
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ImageError, OutputError, ParameterError
from .files import PathLike, atomic_write, check_output_path
from .settings import check_float, check_int

Size = int | tuple[int, int]
Frames = Sequence[object] | np.ndarray

DEFAULT_MAX_PIXELS = 64_000_000
READ_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp")  # save_image writes them too
# Floats this far outside [0, 1] are clipped (rounding, resampling overshoot); further is a bug.
_FLOAT_TOLERANCE = 0.5
_SCALES = {np.dtype(bool): 1.0, np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_ASPECT = {"at_least": 1e-6, "at_most": 1e6, "fix": "give an aspect ratio such as 9, 16"}  # keeps sizes finite
_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def load_image(path_or_array: object, size: Size | None = None, max_side: int | None = None,
               crop: Size | str | None = None, *, max_pixels: int | None = None) -> np.ndarray:
    """An image file (any format and mode Pillow reads, EXIF orientation applied), PIL image or array
    as float32 RGB [H, W, 3] in [0, 1]; ``max_pixels`` guards against decompression bombs (default:
    ``CADL_MAX_PIXELS`` or 64 megapixels). Then, in order: ``crop`` the centre (int: a square, (height,
    width) or an aspect ratio "W:H" such as "16:9"); ``size``: int: the long side (may enlarge), (height,
    width): exactly, cropped to that aspect first; shrink to a long side of at most ``max_side``."""
    is_path = isinstance(path_or_array, (str, os.PathLike))
    image = _decode(path_or_array, None, max_pixels) if is_path else _as_float_image(path_or_array)
    if crop is not None:
        image = center_crop(image, crop)
    if isinstance(size, (tuple, list)):
        image = crop_to_aspect(image, *_hw(size, "size"))
    if size is not None:
        image = resize(image, size)
    return _shrink(image, max_side)


def as_image(image: object, what: str = "image", max_side: int | None = None) -> np.ndarray:
    """An engine's or widget's input (a file path, a file's bytes, a PIL image, or an RGB array or
    tensor [H, W, 3] or [1, H, W, 3]) as by ``load_image``; ``what`` names it in messages. Grey or
    4-channel arrays are refused: handed to an engine they are more often a mask than a picture."""
    if isinstance(image, bytes) and not image:
        raise ImageError(f"{what} is empty (0 bytes): pass the whole contents of an image file")
    if isinstance(image, (bytes, str, os.PathLike)):
        picture = _decode(image, what, None)
    elif isinstance(image, (list, tuple)) or (hasattr(image, "__array__") and not isinstance(image, Image.Image)):
        array = np.asarray(image)
        if not (array.ndim == 3 or (array.ndim == 4 and array.shape[0] == 1)) or array.shape[-1] != 3:
            raise ImageError(f"{what} must be an RGB array [H, W, 3], got shape {array.shape}; convert greyscale "
                             "or RGBA arrays with cadl_utils.images.load_image(array), which also loads files")
        picture = _as_float_image(array.reshape(array.shape[-3:]), what)
    else:
        picture = _as_float_image(image, what)
    return _shrink(picture, max_side)


def _pixel_budget(max_pixels: int | None) -> int:
    """The pixel budget: the argument, else CADL_MAX_PIXELS, else DEFAULT_MAX_PIXELS."""
    if max_pixels is not None:
        return check_int(max_pixels, "max_pixels", minimum=1, fix="give a number of pixels, e.g. 100000000")
    text = os.environ.get("CADL_MAX_PIXELS", "").strip() or str(DEFAULT_MAX_PIXELS)
    try:
        value = int(float(text))
    except (ValueError, OverflowError):
        value = 0
    if not 0 < value <= 10**12:
        raise ParameterError(f"CADL_MAX_PIXELS={text!r} is not a number of pixels from 1 to 10^12: set it to e.g. "
                             "100000000 (100 megapixels) or unset it for the default of 64 megapixels")
    return value


def _decode(source: PathLike | bytes, name: str | None, max_pixels: int | None) -> np.ndarray:
    """Decode a whole image file (a path, or bytes named ``name``) within the pixel budget."""
    max_pixels = _pixel_budget(max_pixels)
    if not isinstance(source, bytes):
        source = Path(os.path.expanduser(source))
        name = str(source)
        if not os.path.exists(source):  # False, not an error, for names the system refuses
            raise ImageError(f"image file not found: {source} (relative paths start at {Path.cwd()}). "
                             "Check the spelling, or use sample_images() for the bundled pictures.")
        if source.is_dir():
            raise ImageError(f"{source} is a folder, not an image file: pass one of the image files inside it")
        if source.stat().st_size == 0:
            raise ImageError(f"{source} is an empty file (0 bytes): copy or download the image again")
    # Not a template: the file name may contain braces.
    too_big = (f" pixels, over the budget of {max_pixels} (a guard against decompression "
               "bombs): shrink the image first, or raise the budget with load_image(..., max_pixels=N) or "
               "the environment variable CADL_MAX_PIXELS")
    # Pillow's limits are global: ours hold for this read only; truncation is an error even if others allowed it.
    saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = max_pixels, False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        with opened:
            width, height = opened.size
            if width * height == 0:
                raise ImageError(f"{name} has no pixels ({width}x{height}): use another image")
            if width * height > max_pixels:
                raise ImageError(f"{name} has {width * height}{too_big}")
            opened.load()
            return _pil_to_float(ImageOps.exif_transpose(opened), name)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name} has more than {2 * max_pixels}{too_big}") from exc
    except PermissionError as exc:
        raise ImageError(f"cannot read {name}: permission denied. Copy the image somewhere you can read, "
                         "or fix its permissions") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name} is not an image, or its header is damaged: use a PNG, JPEG, GIF, BMP, "
                         "TIFF or WebP file (re-export or download it again if it should be one)") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise ImageError(f"{name} is truncated or corrupt ({exc}): download or export the image again") from exc
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _pil_to_float(image: Image.Image, what: str = "image") -> np.ndarray:
    """Any Pillow mode as float32 RGB in [0, 1], alpha composited on white; ``what`` names it."""
    mode = image.mode
    if mode == "F" or mode.startswith("I"):
        # Float TIFFs are checked as they are; 16-bit grey (Pillow widens some to "I") keeps its precision.
        values = np.asarray(image, np.float32)
        return _as_float_image(values if mode == "F" else np.clip(values / 65535.0, 0, 1), what)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")  # composited on white below
    elif mode != "RGB":
        image = image.convert("RGB")
    return _as_float_image(np.asarray(image), what)


def _as_float_image(array: object, what: str = "image") -> np.ndarray:
    """A checked [H,W], [H,W,1], [H,W,3] or [H,W,4] array (or PIL image) as a new float32 RGB image."""
    if isinstance(array, Image.Image):
        return _pil_to_float(array, what)
    if not isinstance(array, np.ndarray) and not hasattr(array, "__array__"):
        raise ImageError(f"{what} must be a file path or an array, not {type(array).__name__}: "
                         "pass e.g. 'data/photos/coffee.jpg' or a numpy array [H, W, 3]")
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[0] == 1:
        raise ImageError(f"{what} is a batch of one with shape {array.shape}: pass image[0] (shape [H, W, 3])")
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError(f"{what} has shape {array.shape}: expected [H, W], [H, W, 1], [H, W, 3] or "
                         "[H, W, 4] (height, width, channels)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{what} is empty (shape {array.shape}): it needs at least one pixel")
    values = _scaled_values(array, what).reshape(array.shape[0], array.shape[1], -1)
    if values.shape[2] == 4:
        alpha = values[:, :, 3:]
        values = values[:, :, :3] * alpha + (1.0 - alpha)
    return np.array(np.broadcast_to(values, values.shape[:2] + (3,)), dtype=np.float32)


def _scaled_values(array: np.ndarray, what: str) -> np.ndarray:
    """An array's values as float32 in [0, 1], by its dtype."""
    if array.dtype in _SCALES:
        return array.astype(np.float32) / _SCALES[array.dtype]
    if array.dtype.kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise ImageError(f"{what} is an integer array with values from {low} to {high}: integers must be "
                             "0..255 (use uint8), or pass floats in [0, 1]")
        return array.astype(np.float32) / 255.0
    if array.dtype.kind != "f":
        raise ImageError(f"{what} has dtype {array.dtype}: use uint8 (0..255) or float (0..1) pixel values")
    if not np.isfinite(array).all():  # checked in the array's own dtype: a finite 1e300 is out of range, not Inf
        raise ImageError(f"{what} contains NaN or infinite values: check the computation that produced it, "
                         "or clean it with np.nan_to_num(image)")
    low, high = float(array.min()), float(array.max())
    if low < -_FLOAT_TOLERANCE or high > 1.0 + _FLOAT_TOLERANCE:
        hint = "divide by 255" if high > 1.0 + _FLOAT_TOLERANCE else "map -1..1 with (x + 1) / 2"
        raise ImageError(f"{what} is a float array with values from {low:g} to {high:g}: floats must be in "
                         f"[0, 1] ({hint}, or clip with np.clip(image, 0, 1))")
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def _pixels(value: object, name: str) -> int:
    return check_int(value, name, minimum=1, fix="give a positive whole number of pixels, e.g. 512")


def _hw(size: object, name: str) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ParameterError(f"{name} must be an int or a (height, width) pair, not {size!r}")
    return _pixels(size[0], f"{name} height"), _pixels(size[1], f"{name} width")


def _target_size(height: int, width: int, size: Size) -> tuple[int, int]:
    """The (height, width) an int (long side) or (height, width) ``size`` asks of a height x width image."""
    if isinstance(size, (tuple, list)):
        return _hw(size, "size")
    scale = _pixels(size, "size") / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray | tf.Tensor, size: Size) -> np.ndarray | tf.Tensor:
    """Resize an image or a batch [N, H, W, 3], bilinear with antialiasing, to ``size`` (an int long side
    or (height, width)). Arrays give float32 arrays in [0, 1] (sizes over CADL_MAX_PIXELS are refused
    before allocating); tf.Tensors give tensors of their float dtype."""
    if tf.is_tensor(image):
        dtype = image.dtype if image.dtype.is_floating else tf.float32
        pixels = tf.image.convert_image_dtype(image, tf.float32)
        if None in pixels.shape[-3:-1] and not isinstance(size, (tuple, list)):
            # Height and width are only known when the graph runs.
            dims = tf.cast(tf.shape(pixels)[-3:-1], tf.float32)
            target = tf.cast(tf.maximum(tf.round(dims * _pixels(size, "size") / tf.reduce_max(dims)), 1), tf.int32)
        else:
            target = _target_size(pixels.shape[-3], pixels.shape[-2], size)
        out = tf.image.resize(pixels, target, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(out, 0.0, 1.0), dtype)
    array = np.stack(_frames(image, "resize")) if getattr(image, "ndim", 0) == 4 else _as_float_image(image)
    height, width = _target_size(array.shape[-3], array.shape[-2], size)
    budget = _pixel_budget(None)
    if height * width > budget:
        raise ParameterError(f"size {height}x{width} ({height * width} pixels) is over the pixel budget of {budget}: "
                             "choose a smaller size, or raise the budget with the environment variable CADL_MAX_PIXELS")
    if (height, width) == array.shape[-3:-1]:
        return array
    out = tf.image.resize(array, (height, width), method="bilinear", antialias=True)
    return np.clip(out.numpy(), 0.0, 1.0)


def crop_to_aspect(image: np.ndarray | tf.Tensor, height: float, width: float) -> np.ndarray | tf.Tensor:
    """The largest centred crop with aspect height:width of an array or tensor ([N,] H, W, C), of its kind."""
    ratio = check_float(height, "height", **_ASPECT) / check_float(width, "width", **_ASPECT)
    image = image if tf.is_tensor(image) else np.asarray(image)
    rows, cols = image.shape[-3], image.shape[-2]
    if rows is None or cols is None:
        rows, cols = tf.shape(image)[-3], tf.shape(image)[-2]
        rows_f, cols_f = tf.cast(rows, tf.float32), tf.cast(cols, tf.float32)
        crop_h = tf.minimum(rows, tf.cast(tf.maximum(tf.round(cols_f * ratio), 1), tf.int32))
        crop_w = tf.minimum(cols, tf.cast(tf.maximum(tf.round(rows_f / ratio), 1), tf.int32))
    else:
        crop_h, crop_w = min(rows, max(1, round(cols * ratio))), min(cols, max(1, round(rows / ratio)))
    top, left = (rows - crop_h) // 2, (cols - crop_w) // 2
    return image[..., top : top + crop_h, left : left + crop_w, :]


def center_crop(image: object, size: Size | str) -> np.ndarray:
    """Cut the centre out of an image (see ``load_image``): ``size`` is an int (a square), (height,
    width) in pixels, or an aspect ratio "W:H" (e.g. "16:9") for the largest centred crop of that shape."""
    array = _as_float_image(image)
    if isinstance(size, str):
        try:
            ratio_w, ratio_h = (check_float(float(part), "aspect ratio", above=0) for part in size.split(":"))
        except (ValueError, ParameterError):
            raise ParameterError(f"aspect ratio {size!r} must look like 'W:H', e.g. '1:1' or '16:9'") from None
        return crop_to_aspect(array, ratio_h, ratio_w)
    crop_h, crop_w = _hw(size, "crop") if isinstance(size, (tuple, list)) else (_pixels(size, "crop"),) * 2
    height, width = array.shape[:2]
    if crop_h > height or crop_w > width:
        raise ParameterError(f"crop {crop_h}x{crop_w} is larger than the {height}x{width} image: use a "
                             "smaller crop, or an aspect ratio such as '1:1'")
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return array[top : top + crop_h, left : left + crop_w]


def _shrink(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """``image`` shrunk so that its long side is at most ``max_side`` (None: unchanged)."""
    if max_side is None:
        return image
    limit = _pixels(max_side, "max_side")
    return resize(image, limit) if max(image.shape[:2]) > limit else image


def to_uint8(image: object) -> np.ndarray:
    """An image (see ``load_image``) as uint8 RGB [H, W, 3], values rounded."""
    return (_as_float_image(image) * 255.0 + 0.5).astype(np.uint8)


def save_image(image: object, path: PathLike, *, inputs: Iterable[object] = (), overwrite_inputs: bool = False,
               quality: int = 95) -> Path:
    """Save one image atomically, in the format of the extension (``READ_EXTENSIONS``), and return its
    Path. ``inputs`` (source files) are refused as ``path`` unless ``overwrite_inputs``; ``quality``: JPEG/WebP."""
    target = _output(path, READ_EXTENSIONS, "save_image")
    pixels = to_uint8(image)
    quality = check_int(quality, "quality", minimum=1, maximum=100, fix="use e.g. 95")  # other formats ignore it
    return _write(lambda: iio.imwrite("<bytes>", pixels, plugin="pillow", extension=target.suffix, quality=quality),
                  target, inputs, overwrite_inputs)


def _output(path: PathLike, extensions: Sequence[str], caller: str) -> Path:
    target = Path(os.path.expanduser(path if isinstance(path, (str, os.PathLike)) else check_output_path(path)))
    if target.suffix.lower() not in extensions:
        raise OutputError(f"{caller} cannot write {target}: end the file name with one of "
                          f"{', '.join(extensions)} (the extension picks the format)")
    return target


def _write(encode: Callable[[], bytes], target: Path, inputs: Iterable[object], overwrite_inputs: bool) -> Path:
    """Check the output path, then write the file's bytes from ``encode()`` via a temporary file."""
    target = check_output_path(target, inputs, overwrite_inputs)
    with atomic_write(target) as tmp:
        # Encoded in memory first, so a disk error comes from one plain write, not from inside the encoder.
        tmp.write_bytes(encode())
    return target


def _gif_bytes(pixels: np.ndarray, duration: float | list, loop: int) -> bytes:
    """Frames [N, H, W, 3] uint8 as the GIF Pillow writes (the same bytes as imageio's pillow plugin), each frame's
    palette made in a thread: median cut is most of the time and frees the GIL (2x faster on 2 cores)."""
    def palette_image(frame: np.ndarray) -> Image.Image:
        return Image.fromarray(frame).convert("P", palette=Image.Palette.ADAPTIVE)  # what Pillow's GIF writer does

    with ThreadPoolExecutor(min(len(pixels), os.cpu_count() or 1)) as pool:
        frames = list(pool.map(palette_image, pixels))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=loop)
    return buffer.getvalue()


def _frames(frames: object, caller: str, same_size: bool = False) -> list[np.ndarray]:
    """Checked frames (at least one, all one size if ``same_size``), as float32 RGB images."""
    # A path, or [H, W, 3] (which would otherwise be read as H frames of one row each).
    if isinstance(frames, (str, os.PathLike)) or (getattr(frames, "ndim", 0) == 3 and frames.shape[-1] in (1, 3, 4)):
        shown = f"of shape {frames.shape}" if hasattr(frames, "shape") else repr(str(frames))
        raise ImageError(f"{caller} got a single image {shown}: pass a list of frames or an array "
                         "[N, H, W, 3] (wrap one image as [image])")
    try:
        items = list(frames)
    except TypeError as exc:
        raise ImageError(f"{caller} needs a list of frames, not {type(frames).__name__}") from exc
    if not items:
        raise ImageError(f"{caller} got no frames: pass a list with at least one image")
    out = [_as_float_image(frame, f"frame {i}") for i, frame in enumerate(items)]
    first = out[0].shape[:2]
    for i, frame in enumerate(out):
        if same_size and frame.shape[:2] != first:
            raise ImageError(f"{caller}: frame {i} is {frame.shape[0]}x{frame.shape[1]} but frame 0 is "
                             f"{first[0]}x{first[1]}; all frames must have one size. Resize them first, e.g. "
                             f"resize(frame, {first})")
    return out


def _duration(value: object) -> float:
    """A frame's display time in ms (a GIF delay is at most 655.35 s)."""
    return check_float(value, "duration_ms", at_least=1, at_most=655_350,
                       fix="give the display time of a frame in milliseconds, e.g. 100")


def save_gif(frames: Frames, path: PathLike, duration_ms: float | Sequence[float] = 100, loop: int = 0, *,
             inputs: Iterable[object] = (), overwrite_inputs: bool = False) -> Path:
    """Save frames (a list of images or [N, H, W, 3], one size) as an animated GIF, atomically; ``inputs``
    as for ``save_image``. ``duration_ms``: one for all or one per frame (GIF counts in 10 ms; browsers
    play less than 20 ms as 100 ms); ``loop``: 0 repeats forever. Identical consecutive frames merge."""
    target = _output(path, (".gif",), "save_gif")
    pixels = np.stack([to_uint8(frame) for frame in _frames(frames, "save_gif", same_size=True)])
    durations = list(duration_ms) if isinstance(duration_ms, (list, tuple, np.ndarray)) else [duration_ms] * len(pixels)
    if len(durations) != len(pixels):
        raise ParameterError(f"duration_ms has {len(durations)} values for {len(pixels)} frames: give one, or "
                             "one per frame")
    durations = [round(_duration(value)) for value in durations]
    # Pillow merges identical consecutive frames, adding their durations; one GIF delay holds at most 655.35 s.
    together = 0
    for index, value in enumerate(durations):
        together = value + (together if index and np.array_equal(pixels[index], pixels[index - 1]) else 0)
        if together > 655_350:
            raise ParameterError("identical consecutive frames would play for more than 655.35 s together, the "
                                 "most one GIF frame can hold: give a shorter duration_ms")
    loop = check_int(loop, "loop", minimum=0, maximum=65535, fix="use 0 to repeat forever or a loop count")
    # Pillow takes a list of durations only for several frames.
    duration = durations if len(set(durations)) > 1 else durations[0]
    return _write(lambda: _gif_bytes(pixels, duration, loop), target, inputs, overwrite_inputs)


def save_mp4(frames: Frames, path: PathLike, fps: float = 10, *, inputs: Iterable[object] = (),
             overwrite_inputs: bool = False) -> Path:
    """Save frames (as for ``save_gif``) as an H.264 MP4 at ``fps`` frames per second, atomically (needs
    ``pip install -e '.[mp4]'``). Odd sizes are padded by one edge pixel, as yuv420p needs even sizes."""
    target = _output(path, (".mp4",), "save_mp4")
    fps = check_float(fps, "fps", above=0, at_most=1000, fix="use e.g. 10 frames per second")
    if importlib.util.find_spec("imageio_ffmpeg") is None:  # imageio's ffmpeg plugin runs its ffmpeg
        raise OutputError("writing MP4 needs the optional package imageio-ffmpeg: install it with "
                          "pip install -e '.[mp4]' (or save a GIF instead)")
    pixels = np.stack([to_uint8(frame) for frame in _frames(frames, "save_mp4", same_size=True)])
    pixels = np.pad(pixels, ((0, 0), (0, pixels.shape[1] % 2), (0, pixels.shape[2] % 2), (0, 0)), mode="edge")
    return _write(lambda: iio.imwrite("<bytes>", pixels, extension=".mp4", fps=fps, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error"), target, inputs, overwrite_inputs)


def save_animation(frames: Frames, path: PathLike, duration_ms: float = 100, inputs: Iterable[object] = ()) -> Path:
    """Write frames as ``save_gif`` or ``save_mp4`` (at 1000 / duration_ms fps), by the extension of ``path``."""
    target = _output(path, (".gif", ".mp4"), "save_animation")
    if target.suffix.lower() == ".mp4":
        return save_mp4(frames, target, fps=1000.0 / _duration(duration_ms), inputs=inputs)
    return save_gif(frames, target, duration_ms=duration_ms, inputs=inputs)


def montage(frames: Frames, cols: int | None = None, *, gap: int = 2, background: float = 1.0) -> np.ndarray:
    """Lay images out on a grid of ``cols`` per row (default: about square), each centred in a cell as
    large as the largest, ``gap`` pixels apart, gaps and empty cells of grey level ``background``."""
    items = _frames(frames, "montage")
    cols = min(len(items), math.ceil(math.sqrt(len(items))) if cols is None else check_int(cols, "cols", minimum=1))
    gap = check_int(gap, "gap", minimum=0, maximum=10_000, fix="give a number of pixels, e.g. 2")
    background = check_float(background, "background", at_least=0, at_most=1, fix="give a grey level in [0, 1]")
    rows = math.ceil(len(items) / cols)
    cell_h, cell_w = max(item.shape[0] for item in items), max(item.shape[1] for item in items)
    sheet = np.full((rows * (cell_h + gap) - gap, cols * (cell_w + gap) - gap, 3), background, np.float32)
    for index, item in enumerate(items):
        row, col = divmod(index, cols)
        top = row * (cell_h + gap) + (cell_h - item.shape[0]) // 2
        left = col * (cell_w + gap) + (cell_w - item.shape[1]) // 2
        sheet[top : top + item.shape[0], left : left + item.shape[1]] = item
    return sheet


def show(image: object, title: str | None = None, width: int | None = None) -> None:
    """Display an image (anything ``load_image`` reads) in a notebook, with an optional title and ``width``."""
    from IPython.display import HTML, Image as IPyImage, display

    png = iio.imwrite("<bytes>", to_uint8(load_image(image)), extension=".png")
    if title:
        display(HTML(f"<b>{html.escape(str(title))}</b>"))
    display(IPyImage(data=png, format="png", width=width))


def gif_html(path: PathLike, width: int | None = None) -> str:
    """An ``<img>`` tag embedding a GIF file as a base64 data URI; ImageError if it is not a GIF."""
    gif = Path(os.path.expanduser(path))
    if not gif.is_file():
        raise ImageError(f"GIF not found: {gif}. Save one first with save_gif(frames, '{gif}')")
    data = gif.read_bytes()
    if not data.startswith((b"GIF87a", b"GIF89a")):
        raise ImageError(f"{gif} is not a GIF file: save animations with save_gif(frames, path)")
    size = f' width="{int(width)}"' if width else ""
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/gif;base64,{encoded}" alt="{html.escape(gif.name, quote=True)}"{size}/>'


def show_gif(path: PathLike, width: int | None = None) -> None:
    """Display an animated GIF in a notebook (browsers animate it; nbval compares plain HTML)."""
    from IPython.display import HTML, display

    display(HTML(gif_html(path, width)))


def sample_images(kind: str = "photo") -> dict[str, Path]:
    """The bundled sample images of a ``kind``, "photo" or "style", as {name: Path} sorted by name
    (e.g. ``sample_images("photo")["coffee"]``); data/README.md gives their sources and licences."""
    name = str(kind).lower().removesuffix("s")
    if name not in ("photo", "style"):
        raise ParameterError(f"unknown sample kind {kind!r}: use 'photo' or 'style'")
    folder = Path(os.environ.get("CADL_DATA_DIR") or _DATA_DIR).expanduser() / f"{name}s"
    if not folder.is_dir():
        raise ImageError(f"sample images not found in {folder}: cadl_utils was installed without the "
                         "repository's data/ folder. Install from a clone with pip install -e . , or set "
                         "CADL_DATA_DIR to a folder holding photos/ and styles/")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in READ_EXTENSIONS and p.is_file())
    return {p.stem: p for p in files}
