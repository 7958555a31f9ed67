"""Ablation / clamping hooks against manual forward passes written in the test."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import xarray as xr

import brainbridge
from brainbridge import extract
from brainbridge.ann._ablate import ablate, ablation_effect

ID_HELP = (
    "expected '{layer}:c{channel}' (the whole channel) or '{layer}:c{channel}:{position}' "
    "(e.g. 'conv1:c3:y1x2', 'fc:c7', 'encoder.0:c5:t2'), as in the 'unit' coord of "
    "brainbridge.extract"
)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.fc = torch.nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).flatten(1))

    def manual(self, x, edit):
        """The forward pass with ``edit`` applied to the conv output."""
        h = self.conv(x).clone()
        edit(h)
        return self.fc(self.relu(h).flatten(1))


@pytest.fixture
def net():
    torch.manual_seed(0)
    return Net().double().eval()


@pytest.fixture
def x(rng):
    return torch.from_numpy(rng.standard_normal((6, 2, 5, 5)))


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_zero_channel_equals_manual(net, x):
    with torch.no_grad():
        want = net.manual(x, lambda h: h[:, 2].zero_())
        for units in ({"conv": 2}, {"conv": [2]}, ["conv:c2"]):
            with ablate(net, units):
                got = net(x)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_clamp_unit_equals_manual(net, x):
    def edit(h):
        h[:, 1, 3, 4] = 2.5
        h[:, 0, 0, 0] = -1.0

    with torch.no_grad():
        want = net.manual(x, edit)
        with ablate(net, ["conv:c1:y3x4", "conv:c0:y0x0"], mode="clamp", value=[2.5, -1.0]):
            got = net(x)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
        with ablate(net, ["conv:c1:y3x4", "conv:c0:y0x0"], mode="clamp",
                    value={"conv:c0:y0x0": -1.0, "conv:c1:y3x4": 2.5}):
            got = net(x)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_mean_mode_equals_manual(net, x):
    def edit(h):
        h[:, 3] = h[:, 3].mean(dim=0, keepdim=True)

    with torch.no_grad():
        want = net.manual(x, edit)
        with ablate(net, {"conv": 3}, mode="mean"):
            got = net(x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_position_id_touches_only_that_position(net, x):
    with torch.no_grad():
        base = net.conv(x)
        with ablate(net, ["conv:c1:y2x3"]):
            h = net.conv(x)
    changed = (h != base).nonzero().tolist()
    assert {tuple(c[1:]) for c in changed} == {(1, 2, 3)}
    assert torch.all(h[:, 1, 2, 3] == 0)


def test_units_from_extracted_assembly(net, x):
    acts = extract(net, x, layers="conv", device="cpu", progress=False)
    sel = acts.unit[(acts.channel == 1) & (acts.position == "y0x1")]
    ablated = None
    with ablate(net, sel):
        ablated = extract(net, x, layers="conv", device="cpu", progress=False)
    diff = ablated != acts
    assert list(acts.unit.values[diff.any("stimulus").values]) == ["conv:c1:y0x1"]
    np.testing.assert_array_equal(ablated.sel(unit="conv:c1:y0x1").values, 0.0)


def test_channel_last_3d_output(rng):
    lin = torch.nn.Sequential(torch.nn.Linear(3, 4)).double()
    tokens = torch.from_numpy(rng.standard_normal((2, 5, 3)))
    with torch.no_grad():
        base = lin(tokens)
        with ablate(lin, ["0:c2:t1"], mode="clamp", value=7.0):
            got = lin(tokens)
    want = base.clone()
    want[:, 1, 2] = 7.0
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_hooks_removed_after_context_and_error(net, x):
    before = _params(net)
    with torch.no_grad():
        base = net(x)
        with ablate(net, {"conv": [0, 1]}):
            assert not torch.equal(net(x), base)
        torch.testing.assert_close(net(x), base, rtol=0, atol=0)
        with pytest.raises(RuntimeError, match="boom"):
            with ablate(net, {"conv": 0}):
                raise RuntimeError("boom")
        torch.testing.assert_close(net(x), base, rtol=0, atol=0)
    assert not net.conv._forward_hooks
    after = _params(net)
    for k in before:
        assert torch.equal(before[k], after[k])


def test_gradients_flow_through_ablation(net, x):
    with ablate(net, {"conv": 0}):
        net(x).sum().backward()
    assert net.conv.weight.grad is not None
    # channel 0's output is constant, so its filter gets no gradient
    assert torch.all(net.conv.weight.grad[0] == 0)
    assert torch.any(net.conv.weight.grad[1] != 0)


def test_errors(net, x):
    msg = ("Invalid value for 'units': layer 'cnv' is not a module of the model. Did you mean "
           "'conv'? List the names with [n for n, _ in model.named_modules()].")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["cnv:c0"]):
            pass
    msg = f"Invalid value for 'units': 'conv-c0' is not a unit id; {ID_HELP}."
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["conv-c0"]):
            pass
    msg = f"Invalid value for 'units': 'conv:c0:q1' is not a unit id; {ID_HELP}."
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["conv:c0:q1"]):
            pass
    msg = ("Invalid value for 'mode': expected one of 'zero', 'clamp', 'mean'; got 'zeros'. "
           "Did you mean 'zero'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["conv:c0"], mode="zeros"):
            pass
    msg = ("Invalid value for 'value': mode='clamp' needs a value (a number, one number per "
           "unit, or a dict unit id -> number); got None.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["conv:c0"], mode="clamp"):
            pass
    msg = ("Invalid value for 'value': it is only used with mode='clamp'; got value=1.0 with "
           "mode='zero'. Drop 'value' or use mode='clamp'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["conv:c0"], value=1.0):
            pass
    msg = ("Invalid value for 'value': expected a number or 2 numbers (one per unit or "
           "channel); got 3.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, ["conv:c0", "conv:c1"], mode="clamp", value=[1, 2, 3]):
            pass
    msg = ("Invalid value for 'units': channel 9 of layer 'conv' does not exist; the layer "
           "has 4 channels (0 to 3).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with torch.no_grad(), ablate(net, {"conv": 9}):
            net(x)
    msg = ("Invalid value for 'units': position (7, 0) does not exist in layer 'conv', whose "
           "positions have shape (5, 5).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        with torch.no_grad(), ablate(net, ["conv:c0:y7x0"]):
            net(x)
    assert not net.conv._forward_hooks


def test_ablation_effect_output(net, x):
    eff = ablation_effect(net, x, {"conv": [0, 2]}, batch_size=4, device="cpu")
    with torch.no_grad():
        base = net(x).numpy()
        abl = net.manual(x, lambda h: h[:, 0:3:2].zero_()).numpy()
    assert isinstance(eff, xr.Dataset)
    assert eff.change_norm.dims == ("stimulus", "layer")
    assert list(eff.layer.values) == ["output"]
    assert list(eff.stimulus.values) == [str(i) for i in range(6)]
    np.testing.assert_allclose(eff.change_norm.sel(layer="output"),
                               np.linalg.norm(abl - base, axis=1), rtol=1e-10)
    np.testing.assert_allclose(eff.relative_change.sel(layer="output"),
                               np.linalg.norm(abl - base, axis=1) / np.linalg.norm(base, axis=1),
                               rtol=1e-10)
    np.testing.assert_array_equal(eff.top_class, base.argmax(1))
    np.testing.assert_array_equal(eff.ablated_top_class, abl.argmax(1))
    np.testing.assert_array_equal(eff.top_class_changed, base.argmax(1) != abl.argmax(1))
    p = np.exp(base) / np.exp(base).sum(1, keepdims=True)
    q = np.exp(abl) / np.exp(abl).sum(1, keepdims=True)
    rows = np.arange(6)
    np.testing.assert_allclose(eff.top_prob, p[rows, base.argmax(1)], rtol=1e-10)
    np.testing.assert_allclose(eff.ablated_top_prob, q[rows, base.argmax(1)], rtol=1e-10)
    assert not net.conv._forward_hooks
    assert not net.training


def test_ablation_effect_layers(net, x):
    eff = ablation_effect(net, x, ["conv:c1:y0x0"], layers=["conv", "fc"], mode="clamp",
                          value=3.0, device="cpu")
    with torch.no_grad():
        h0 = net.conv(x)
        h1 = h0.clone()
        h1[:, 1, 0, 0] = 3.0
        fc0, fc1 = net(x), net.manual(x, lambda h: h[:, 1, 0, 0].fill_(3.0))
    assert list(eff.layer.values) == ["conv", "fc"]
    np.testing.assert_allclose(eff.change_norm.sel(layer="conv"),
                               (h1 - h0).flatten(1).norm(dim=1).numpy(), rtol=1e-10)
    np.testing.assert_allclose(eff.change_norm.sel(layer="fc"),
                               (fc1 - fc0).norm(dim=1).numpy(), rtol=1e-10)
    np.testing.assert_allclose(eff.baseline_norm.sel(layer="conv"),
                               h0.flatten(1).norm(dim=1).numpy(), rtol=1e-10)
    assert "top_class" not in eff


def test_doctest_examples(monkeypatch):
    import doctest

    import brainbridge.ann._ablate as mod

    monkeypatch.setattr(brainbridge, "ablate", mod.ablate, raising=False)
    monkeypatch.setattr(brainbridge, "ablation_effect", mod.ablation_effect, raising=False)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


class TupleOut(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 4)

    def forward(self, x):
        return self.lin(x), "extra"


def test_tuple_output_and_repeated_calls(rng):
    torch.manual_seed(1)
    model = torch.nn.ModuleDict({"block": TupleOut()}).double()
    x = torch.from_numpy(rng.standard_normal((3, 3)))
    with torch.no_grad():
        base, _ = model["block"](x)
        with ablate(model, ["block:c3", "block:c0"], mode="clamp", value=[1.0, 2.0]):
            for _ in range(2):  # the cached indices give the same result
                got, extra = model["block"](x)
                want = base.clone()
                want[:, 3], want[:, 0] = 1.0, 2.0
                torch.testing.assert_close(got, want, rtol=0, atol=0)
                assert extra == "extra"


def test_channel_dim_last_4d(rng):
    ident = torch.nn.Sequential(torch.nn.Identity())
    x = torch.from_numpy(rng.standard_normal((2, 3, 4, 5)))  # (batch, y, x, channel)
    with torch.no_grad(), ablate(ident, ["0:c4:y1x2"], channel_dim=-1):
        got = ident(x)
    want = x.clone()
    want[:, 1, 2, 4] = 0.0
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_empty_units(net):
    msg = "Invalid value for 'units': expected at least one unit; got none."
    with pytest.raises(ValueError, match=re.escape(msg)):
        with ablate(net, []):
            pass


@pytest.mark.gpu
def test_ablate_on_gpu(net, x):
    with torch.no_grad():
        want = net.manual(x, lambda h: h[:, 1].zero_())
        gpu = net.to("cuda")
        with ablate(gpu, {"conv": 1}):
            got = gpu(x.to("cuda")).cpu()
        net.to("cpu")
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    eff = ablation_effect(net, x, {"conv": 1}, device="cuda")
    assert eff.change_norm.sizes == {"stimulus": 6, "layer": 1}
