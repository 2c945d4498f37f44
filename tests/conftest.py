"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Tests run offline on the untrained stand-in unless a test says otherwise.
os.environ.setdefault("CADL_WEIGHTS", "untrained")
os.environ.setdefault("CADL_PROFILE", "quick")
# float32 unless a test asks for more: results compare with TensorFlow's to float tolerance.
os.environ.setdefault("CADL_PRECISION", "float32")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_model():
    """A tiny Model (milliseconds per step) for engine unit tests."""
    from tiny_model import TinyModel

    return TinyModel(seed=0)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder."""
    return REPO
