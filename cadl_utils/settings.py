"""Settings objects and the checks they run: the one place parameters are validated.

Each technique has one frozen dataclass built on ``Settings`` (``DreamSettings``, ``GuidedSettings``,
``StyleSettings``) that checks itself when made, before a model loads. Public functions take ``settings=``
plus overrides: ``feedback_loop(image, objective, frames=10)``. A field's ``metadata["help"]`` documents it
(the command line builds its options from it).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import operator
from typing import Any, Sequence, TypeVar

import numpy as np

from .errors import ParameterError

S = TypeVar("S", bound="Settings")

# Seeds feed TensorFlow's stateless RNG (int32) and numpy's generators.
MAX_SEED = 2**31 - 2


def is_int(value: Any) -> bool:
    """True for Python and numpy integers (not for bools)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None, fix: str = "") -> int:
    """``value`` as an int within the inclusive bounds (None: none), else a ParameterError naming it."""
    tail = f"; {fix}" if fix else ""
    if not is_int(value):
        raise ParameterError(f"{name} must be an integer, got {value!r}{tail}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, got {value}{tail}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be at most {maximum}, got {value}{tail}")
    return value


def check_float(value: Any, name: str, *, above: float | None = None, at_least: float | None = None,
                below: float | None = None, at_most: float | None = None, fix: str = "") -> float:
    """``value`` as a finite float, else a ParameterError naming ``name``, the bound and the ``fix``
    (``above``/``below``: exclusive bounds, ``at_least``/``at_most``: inclusive; None: none)."""
    tail = f"; {fix}" if fix else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ParameterError(f"{name} must be a finite number, got {value!r}{tail}")
    value = float(value)
    for words, bound, holds in (("greater than", above, operator.gt), ("at least", at_least, operator.ge),
                                ("less than", below, operator.lt), ("at most", at_most, operator.le)):
        if bound is not None and not holds(value, bound):
            raise ParameterError(f"{name} must be {words} {bound:g}, got {value:g}{tail}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """One of ``choices`` (case and surrounding spaces ignored), returned lower-case."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in choices:
        raise ParameterError(f"unknown {name} {value!r}: use one of {', '.join(choices)}")
    return text


def check_seed(seed: Any) -> int:
    """A random seed: an integer 0..MAX_SEED, or None for a fresh random one; returned as an int."""
    if seed is None:
        return int(np.random.default_rng().integers(0, MAX_SEED))
    fix = "use a whole number such as 0, or None for a random seed"
    return check_int(seed, "seed", minimum=0, maximum=MAX_SEED, fix=fix)


def setting(default: Any, help: str, **metadata: Any) -> Any:
    """A settings field: an immutable ``default``, one ``help`` line (what it does, its range) and extra keys
    for the command line (``cli=False`` hides it, ``type`` parses it, ``choices``, ``nargs``)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of the settings objects: checks itself when made, and makes checked copies."""

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ParameterError for a bad value (subclasses; ``_set`` stores a normalised value)."""

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The names of the settings."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def make(cls: type[S], settings: S | None = None, **overrides: Any) -> S:
        """A checked copy of ``settings`` (an instance of this class; None: the defaults) with ``overrides``."""
        if settings is None:
            settings = cls()
        elif not isinstance(settings, cls):
            raise ParameterError(f"settings must be a {cls.__name__}, got {type(settings).__name__}; "
                                 f"build one with {cls.__name__}(...)")
        unknown = sorted(set(overrides) - set(cls.names()))
        if unknown:
            raise ParameterError(f"unknown setting(s) {', '.join(unknown)} for {cls.__name__}: "
                                 f"use {', '.join(cls.names())}")
        return dataclasses.replace(settings, **overrides) if overrides else settings
