"""Tests of cadl_utils.config: weights mode, profiles, cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadl_utils import config
from cadl_utils.errors import ParameterError


def test_weights_mode_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("CADL_WEIGHTS", "untrained")
    assert config.weights_mode("auto") == "auto"
    assert config.weights_mode() == "untrained"


def test_weights_mode_default_is_pretrained(monkeypatch):
    monkeypatch.delenv("CADL_WEIGHTS", raising=False)
    assert config.weights_mode() == "pretrained"


def test_weights_mode_is_case_and_space_tolerant():
    assert config.weights_mode(" Untrained ") == "untrained"


def test_unknown_weights_mode_names_the_choices():
    with pytest.raises(ParameterError, match="pretrained, untrained, auto"):
        config.weights_mode("imagenet")


def test_cache_dir_order(monkeypatch, tmp_path):
    monkeypatch.delenv("CADL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.cache_dir() == tmp_path / "xdg" / "cadl_utils"
    monkeypatch.setenv("CADL_CACHE_DIR", str(tmp_path / "env"))
    assert config.cache_dir() == tmp_path / "env"
    assert config.cache_dir(tmp_path / "arg") == Path(tmp_path / "arg")


def test_profiles(monkeypatch):
    monkeypatch.setenv("CADL_PROFILE", "quick")
    quick = config.profile()
    full = config.profile("full")
    assert quick.name == "quick" and full.name == "full"
    assert quick.size < full.size and quick.steps < full.steps and quick.frames < full.frames
    with pytest.raises(ParameterError, match="CADL_PROFILE"):
        config.profile("fast")


def test_importing_cadl_utils_keeps_tensorflow_quiet():
    """No oneDNN/CUDA notices reach stderr (notebooks show fd 2), yet stderr still works after."""
    import os
    import subprocess
    import sys

    code = (
        "import cadl_utils, sys\n"
        "import tensorflow as tf\n"
        "tf.ones((2, 2)) * 2\n"
        "print('after', file=sys.stderr)\n"
    )
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    env.pop("CADL_VERBOSE_TF", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "after", result.stderr


def test_empty_variables_mean_unset(monkeypatch):
    monkeypatch.setenv("CADL_WEIGHTS", "")
    monkeypatch.setenv("CADL_PROFILE", "")
    assert config.weights_mode() == "pretrained"
    assert config.profile().name == "full"
