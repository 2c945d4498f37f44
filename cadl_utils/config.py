"""Run-time settings: profiles, weights mode, cache folder and a quiet TensorFlow start-up.

Everything here reads environment variables so that notebooks, the CLI and CI agree:

- ``CADL_WEIGHTS``: ``pretrained`` (default), ``untrained`` or ``auto``.
- ``CADL_PROFILE``: ``full`` (default) or ``quick`` (small sizes and few steps, for CI).
- ``CADL_CACHE_DIR``: where downloaded weights live (default ``~/.cache/cadl_utils``).
- ``CADL_INCEPTION5H_URL``: a mirror of inception5h.zip (same hashes).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ParameterError

WEIGHTS_MODES = ("pretrained", "untrained", "auto")
PROFILES = ("full", "quick")


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up messages out of the user's output (terminal and notebooks).

    TensorFlow's C++ core prints notices (oneDNN, CUDA drivers) straight to file descriptor 2 while
    it is imported and when it creates its first device; notebooks show those (ipykernel forwards
    fd 2) and ``TF_CPP_MIN_LOG_LEVEL`` alone does not stop them. So this imports TensorFlow and
    creates the CPU device with fd 2 pointed at a temporary file, then restores it; if the import
    fails, the captured text is printed before the error is raised. oneDNN stays on, because turning
    it off (``TF_ENABLE_ONEDNN_OPTS=0``, the only other way to silence it) slows convolutions down.
    Set ``CADL_VERBOSE_TF=1`` to see everything.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules or os.environ.get("CADL_VERBOSE_TF") == "1":
        return
    with _stderr_fd_captured():
        import tensorflow as tf

        tf.constant(0.0)  # creates the CPU device now, while its notices are captured


@contextlib.contextmanager
def _stderr_fd_captured():
    """Point file descriptor 2 at a temporary file; replay it only when the block raises."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def weights_mode(weights: str | None = None) -> str:
    """The weights mode: ``weights`` if given, else ``CADL_WEIGHTS`` (an empty value means unset), else ``pretrained``.

    Returns:
        One of ``WEIGHTS_MODES``.
    """
    mode = weights if weights is not None else (os.environ.get("CADL_WEIGHTS") or "pretrained")
    if not isinstance(mode, str) or mode.strip().lower() not in WEIGHTS_MODES:
        raise ParameterError(
            f"unknown weights mode {mode!r}: use one of {', '.join(WEIGHTS_MODES)} "
            "(argument weights=... or environment variable CADL_WEIGHTS)"
        )
    return mode.strip().lower()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder for downloaded weights (not created here): ``path``, else ``CADL_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/cadl_utils`` or ``~/.cache/cadl_utils``."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get("CADL_CACHE_DIR"):
        return Path(os.environ["CADL_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "cadl_utils"


@dataclass(frozen=True)
class Profile:
    """Sizes and step counts for one quality level (``full``, or ``quick`` for CI).

    Attributes: the long side of working images (``size``) and of widget previews (``preview_size``);
    gradient ``steps`` of a dream or style run and of a preview (``preview_steps``); Deep Dream
    ``octaves``; ``frames`` of feedback and zoom GIFs.
    """

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
    chosen = name if name is not None else (os.environ.get("CADL_PROFILE") or "full")
    if not isinstance(chosen, str) or chosen.strip().lower() not in _PROFILES:
        raise ParameterError(
            f"unknown profile {chosen!r}: use one of {', '.join(PROFILES)} "
            "(argument or environment variable CADL_PROFILE)"
        )
    return _PROFILES[chosen.strip().lower()]
