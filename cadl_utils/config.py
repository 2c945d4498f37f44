"""Run-time settings: profiles, weights mode, cache folder and a quiet TensorFlow start-up.

Everything here reads environment variables so that notebooks, the CLI and CI agree:

- ``CADL_WEIGHTS``: ``pretrained`` (default), ``untrained`` or ``auto``.
- ``CADL_PROFILE``: ``full`` (default) or ``quick`` (small sizes and few steps, for CI).
- ``CADL_CACHE_DIR``: where downloaded weights live (default ``~/.cache/cadl_utils``).
- ``CADL_INCEPTION5H_URL``: a mirror of inception5h.zip (same hashes).
- ``CADL_PRECISION``: ``auto`` (default: bfloat16 where the hardware computes it natively), ``float32``, ``bfloat16``.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ParameterError

WEIGHTS_MODES = ("pretrained", "untrained", "auto")
PROFILES = ("full", "quick")
PRECISIONS = ("auto", "float32", "bfloat16")


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up notices out of the user's output (``CADL_VERBOSE_TF=1`` shows them)."""
    # Its C++ core writes them (oneDNN, CUDA) straight to fd 2 on import and on creating the first device, which
    # notebooks show and TF_CPP_MIN_LOG_LEVEL does not stop; so both happen with fd 2 captured (replayed if the
    # import fails). oneDNN stays on: TF_ENABLE_ONEDNN_OPTS=0, the other way to silence it, slows convolutions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules or os.environ.get("CADL_VERBOSE_TF") == "1":
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded interpreters): nothing to silence
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.constant(0.0)  # creates the CPU device now, while its notices are captured
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _choice(value: str | None, variable: str, default: str, choices: tuple[str, ...], what: str) -> str:
    """``value`` if given, else the environment ``variable`` (empty: unset), else ``default``; one of ``choices``."""
    chosen = value if value is not None else (os.environ.get(variable) or default)
    if not isinstance(chosen, str) or chosen.strip().lower() not in choices:
        raise ParameterError(f"unknown {what} {chosen!r}: use one of {', '.join(choices)} "
                             f"(an argument, or the environment variable {variable})")
    return chosen.strip().lower()


def weights_mode(weights: str | None = None) -> str:
    """The weights mode (one of ``WEIGHTS_MODES``): ``weights``, else ``CADL_WEIGHTS``, else ``pretrained``."""
    return _choice(weights, "CADL_WEIGHTS", "pretrained", WEIGHTS_MODES, "weights mode")


def precision(value: str | None = None) -> str:
    """The precision asked for (one of ``PRECISIONS``): ``value``, else ``CADL_PRECISION``, else ``auto``."""
    return _choice(value, "CADL_PRECISION", "auto", PRECISIONS, "precision")


def compute_dtype(value: str | None = None) -> tuple[str, str]:
    """(``float32`` or ``bfloat16``, why) for a precision: ``auto`` picks bfloat16 on a GPU of compute
    capability 8.0 or more, or a CPU with ``amx_bf16`` or ``avx512_bf16`` in /proc/cpuinfo; else float32."""
    chosen = precision(value)
    if chosen != "auto":
        return chosen, f"precision={chosen}"
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability") or (8, 0)
        if tuple(capability) >= (8, 0):
            return "bfloat16", f"auto: GPU {gpu.name} computes bfloat16 natively"
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    native = [flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags]
    if native:
        return "bfloat16", f"auto: the CPU computes bfloat16 natively ({', '.join(native)})"
    return "float32", "auto: no GPU and no native bfloat16 on the CPU (amx_bf16, avx512_bf16)"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder for downloaded weights (not created here): ``path``, else ``CADL_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/cadl_utils`` or ``~/.cache/cadl_utils``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    folder = Path(os.path.expanduser(path if path is not None else os.environ.get("CADL_CACHE_DIR") or (
        Path(os.path.expanduser(xdg or Path.home() / ".cache")) / "cadl_utils")))
    try:
        os.stat(folder)  # raises for names the system cannot take (a NUL byte, too long)
    except (FileNotFoundError, NotADirectoryError):
        pass  # created, or refused with its reason, when the weights are downloaded
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot use the cache folder {str(folder)!r} ({exc}): give an ordinary folder name "
                             "(argument cache_dir or the environment variable CADL_CACHE_DIR)") from exc
    return folder


@dataclass(frozen=True)
class Profile:
    """Sizes and step counts of one quality level (``full``, or ``quick`` for CI): the long side of working
    images and of widget previews, gradient steps of a run and of a preview, octaves, frames of a GIF."""

    name: str
    size: int
    steps: int
    octaves: int
    frames: int
    preview_size: int
    preview_steps: int


_PROFILES = {
    "full": Profile("full", size=512, steps=100, octaves=4, frames=60, preview_size=224, preview_steps=10),
    "quick": Profile("quick", size=128, steps=4, octaves=2, frames=4, preview_size=96, preview_steps=2),
}


def profile(name: str | None = None) -> Profile:
    """The active quality profile: ``name`` if given, else ``CADL_PROFILE``, else ``full``."""
    return _PROFILES[_choice(name, "CADL_PROFILE", "full", PROFILES, "profile")]
