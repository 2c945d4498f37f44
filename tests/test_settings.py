"""Tests of cadl_utils.settings: the checks and the Settings base every technique builds on."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cadl_utils.errors import ParameterError
from cadl_utils.settings import MAX_SEED, Settings, check_choice, check_float, check_int, check_seed, setting


@dataclasses.dataclass(frozen=True)
class Example(Settings):
    size: int = setting(8, "a size in px")
    rate: float = setting(0.5, "a rate in (0, 1]")

    def check(self) -> None:
        self._set("size", check_int(self.size, "size", minimum=1, maximum=64, fix="use e.g. 8"))
        self._set("rate", check_float(self.rate, "rate", above=0, at_most=1))


def test_check_int_accepts_numpy_integers_and_refuses_bools_and_floats():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    for bad in (True, 3.0, "3", None):
        with pytest.raises(ParameterError, match="n must be an integer"):
            check_int(bad, "n")


def test_check_int_names_the_bound_and_the_fix():
    with pytest.raises(ParameterError, match=r"frames must be at most 10, got 11; use fewer"):
        check_int(11, "frames", minimum=1, maximum=10, fix="use fewer")
    with pytest.raises(ParameterError, match="at least 1"):
        check_int(0, "frames", minimum=1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "1", None, True])
def test_check_float_refuses_non_finite_and_non_numbers(bad):
    with pytest.raises(ParameterError, match="x must be a finite number"):
        check_float(bad, "x")


@pytest.mark.parametrize(
    ("bounds", "bad", "good", "words"),
    [({"above": 0}, 0, 0.1, "greater than 0"), ({"at_least": 1}, 0.5, 1, "at least 1"),
     ({"below": 1}, 1, 0.9, "less than 1"), ({"at_most": 2}, 2.5, 2, "at most 2")],
)  # fmt: skip
def test_check_float_bounds(bounds, bad, good, words):
    with pytest.raises(ParameterError, match=words):
        check_float(bad, "x", **bounds)
    assert check_float(np.float32(good), "x", **bounds) == pytest.approx(good)


def test_check_choice_is_case_insensitive_and_lists_choices():
    assert check_choice(" STD ", "normalisation", ("std", "none")) == "std"
    with pytest.raises(ParameterError, match="unknown normalisation 'x': use one of std, none"):
        check_choice("x", "normalisation", ("std", "none"))
    with pytest.raises(ParameterError):
        check_choice(3, "normalisation", ("std",))


def test_check_seed_range_and_fresh_seeds():
    assert check_seed(0) == 0 and check_seed(MAX_SEED) == MAX_SEED
    for bad in (-1, MAX_SEED + 1, 1.5):
        with pytest.raises(ParameterError, match="seed"):
            check_seed(bad)
    assert 0 <= check_seed(None) <= MAX_SEED


def test_settings_check_on_construction_and_normalise():
    assert Example(size=np.int32(4)).size == 4 and type(Example(size=np.int32(4)).size) is int
    with pytest.raises(ParameterError, match="size must be at most 64"):
        Example(size=100)


def test_make_applies_overrides_and_refuses_unknown_names():
    base = Example(size=4)
    assert Example.make() == Example()
    assert Example.make(base) is base
    assert Example.make(base, rate=1.0) == Example(size=4, rate=1.0)
    with pytest.raises(ParameterError, match=r"unknown setting\(s\) colour for Example: use size, rate"):
        Example.make(base, colour=1)
    with pytest.raises(ParameterError, match="settings must be a Example"):
        Example.make({"size": 4})
    with pytest.raises(ParameterError, match="rate must be greater than 0"):
        Example.make(rate=0)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Example().size = 3  # type: ignore[misc]
