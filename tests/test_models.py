"""Tests of cadl_utils.models: load_model dispatch and the base Model's shared checks."""

from __future__ import annotations

import pytest

from cadl_utils.errors import LayerError, ModelError
from cadl_utils.models import MODEL_NAMES, load_model


def test_unknown_model_names_the_choices():
    with pytest.raises(ModelError, match="inception5h, vgg19, inception_v3") as info:
        load_model("inception6h", weights="untrained")
    assert "inception5h" in str(info.value).split("Did you mean", 1)[1]


def test_load_model_inception5h_untrained():
    model = load_model("inception5h", weights="untrained")
    assert model.name == "inception5h" and model.weights == "untrained"
    assert "UNTRAINED" in model.describe()


def test_model_names_are_loadable_names():
    assert MODEL_NAMES[0] == "inception5h"


def test_base_checks_on_the_tiny_model(tiny_model):
    with pytest.raises(LayerError, match="Closest names: conv1"):
        tiny_model.layer("conv1_pre_rel")
    with pytest.raises(LayerError, match="has 8 channels"):
        tiny_model.check_channel("conv1", 8)
    with pytest.raises(LayerError, match="must be an integer"):
        tiny_model.check_channel("conv1", 1.5)
    assert tiny_model.check_channel("conv1", 7).channels == 8
    tiny_model.check_size("conv1", 1, 1)
    assert tiny_model.label_index("Jellyfish") == 1
    assert tiny_model.label(9) == "(no label: 9)"
    with pytest.raises(LayerError, match="Closest labels: jellyfish"):
        tiny_model.label_index("jellyfis")
