"""The exceptions of cadl_utils.

Every error a user can cause has its own type, all deriving from `CadlError`, and a message that
names the problem and the fix.
"""

from __future__ import annotations


class CadlError(Exception):
    """Base class of every error cadl_utils raises on purpose."""


class ImageError(CadlError, ValueError):
    """An image file or array cannot be used (missing, corrupt, too large, wrong shape...)."""


class ParameterError(CadlError, ValueError):
    """A parameter is out of its documented range (negative size, octave scale <= 1, NaN weight...)."""


class OutputError(CadlError, OSError):
    """An output file cannot be written (missing or read-only folder, would overwrite an input...)."""


class ModelError(CadlError, ValueError):
    """A model cannot be built or loaded, or is asked for something it does not have."""


class LayerError(ModelError):
    """Unknown layer, channel index out of range, or an image too small for a layer."""


class DownloadError(ModelError):
    """The weights could not be downloaded or read from the cache."""


class IntegrityError(DownloadError):
    """A downloaded or supplied file does not match its pinned SHA-1 (or is an unsafe archive)."""


class NonFiniteError(ParameterError):
    """A step produced NaN or infinite values; ``result`` holds the finite frames before it."""
