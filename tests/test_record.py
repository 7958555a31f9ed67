"""record(): traces of brainbridge-style layers, snntorch and spikingjelly neurons as assemblies."""

import doctest
import logging
import re

import numpy as np
import pytest
import torch
import xarray as xr

from brainbridge._config import torch_threads
from brainbridge.snn import _record
from brainbridge.snn._record import record
from brainbridge.snn._trace import emit

snntorch = pytest.importorskip("snntorch")
sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny recurrent models: thread hand-off costs more than the arithmetic (busy CI machines)."""
    with torch_threads(1):
        yield


class ToyLIF(torch.nn.Module):
    """A layer following the brainbridge interface: v = beta v + x - s theta; s = v > theta."""

    def __init__(self, beta=0.8, theta=1.0):
        super().__init__()
        self.beta, self.theta = beta, theta

    def _step(self, x, v):
        v = self.beta * v + x
        s = (v > self.theta).to(x.dtype)
        return s, v - s * self.theta

    def forward(self, x, state=None):
        v = torch.zeros_like(x) if state is None else state
        s, v = self._step(x, v)
        emit(self, step=True, spikes=s, v=v)
        return s, v

    def forward_seq(self, x_seq, state=None):
        v = torch.zeros_like(x_seq[0]) if state is None else state
        out, vs = [], []
        for x in x_seq:
            s, v = self._step(x, v)
            out.append(s)
            vs.append(v)
        s_seq, v_seq = torch.stack(out), torch.stack(vs)
        emit(self, step=False, spikes=s_seq, v=v_seq)
        return s_seq, v


class StepNet(torch.nn.Module):
    """Loops over time itself, calling the layers' single-step forward."""

    def __init__(self, n_in=3, n_hidden=4, n_out=2):
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = torch.nn.Linear(n_in, n_hidden, dtype=torch.float64)
        self.lif1 = ToyLIF(0.8)
        self.fc2 = torch.nn.Linear(n_hidden, n_out, dtype=torch.float64)
        self.lif2 = ToyLIF(0.6, 0.5)

    def forward(self, x_seq):
        s1 = s2 = None
        outs = []
        for x in x_seq:
            o1, s1 = self.lif1(self.fc1(x), s1)
            o2, s2 = self.lif2(self.fc2(o1), s2)
            outs.append(o2)
        return torch.stack(outs)


def _by_hand_toy(net, x_seq):
    """The same network computed with explicit loops: (T, batch, unit) spikes and v per layer."""
    beta1, beta2 = 0.8, 0.6
    v1 = torch.zeros(x_seq.shape[1], 4, dtype=torch.float64)
    v2 = torch.zeros(x_seq.shape[1], 2, dtype=torch.float64)
    rows = {"s1": [], "v1": [], "s2": [], "v2": []}
    with torch.no_grad():
        for x in x_seq:
            v1 = beta1 * v1 + net.fc1(x)
            s1 = (v1 > 1.0).double()
            v1 = v1 - s1
            v2 = beta2 * v2 + net.fc2(s1)
            s2 = (v2 > 0.5).double()
            v2 = v2 - 0.5 * s2
            for k, val in (("s1", s1), ("v1", v1), ("s2", s2), ("v2", v2)):
                rows[k].append(val.clone())
    return {k: torch.stack(v).numpy() for k, v in rows.items()}


def test_doctests():
    assert doctest.testmod(_record, optionflags=doctest.ELLIPSIS).failed == 0


def test_per_step_emits_equal_a_loop_by_hand(rng):
    net = StepNet()
    x = torch.as_tensor(rng.uniform(0, 1.5, size=(5, 7, 3)))  # (stimulus, T, input)
    rec = record(net, x, dt=2e-3, device="cpu", batch_size=2)
    ref = _by_hand_toy(net, x.transpose(0, 1))
    spikes, v = rec["spikes"], rec["v"]
    assert spikes.dims == ("stimulus", "time", "unit") and spikes.attrs["modality"] == "snn"
    assert spikes["unit"].values.tolist() == [f"lif1:c{i}" for i in range(4)] + ["lif2:c0", "lif2:c1"]
    assert spikes["layer"].values.tolist() == ["lif1"] * 4 + ["lif2"] * 2
    np.testing.assert_allclose(spikes["time"].values, np.arange(7) * 2e-3)
    assert spikes.attrs["sampling_rate"] == 500.0 and spikes.attrs["units"] == "count"
    expected_s = np.concatenate([ref["s1"], ref["s2"]], axis=2).transpose(1, 0, 2)
    expected_v = np.concatenate([ref["v1"], ref["v2"]], axis=2).transpose(1, 0, 2)
    np.testing.assert_array_equal(spikes.values, expected_s)
    np.testing.assert_allclose(v.values, expected_v, rtol=0, atol=1e-12)
    assert expected_s.sum() > 0 and expected_s.sum() < expected_s.size  # the test can fail


def test_multi_step_layer_and_call_step_agree(rng):
    layer = ToyLIF(0.7)
    x = torch.as_tensor(rng.uniform(0, 0.8, size=(4, 9, 3)))
    seq = record(layer, x, device="cpu")
    step = record(layer, x, device="cpu", call="step")
    assert seq["spikes"]["unit"].values.tolist() == ["ToyLIF:c0", "ToyLIF:c1", "ToyLIF:c2"]
    xr.testing.assert_identical(seq["spikes"], step["spikes"])
    xr.testing.assert_identical(seq["v"], step["v"])
    # a loop by hand
    v = torch.zeros(4, 3, dtype=torch.float64)
    for t in range(9):
        v = 0.7 * v + x[:, t]
        s = (v > 1).double()
        v = v - s
        np.testing.assert_array_equal(seq["spikes"].values[:, t], s.numpy())


def test_readouts_reduce_time(rng):
    net = StepNet()
    x = torch.as_tensor(rng.uniform(0, 1.5, size=(6, 8, 3)))
    full = record(net, x, device="cpu", dt=1e-3)["spikes"].values
    for readout, expected in [("count", full.sum(1)), ("rate", full.sum(1) / (8 * 1e-3)),
                              ("mean", full.mean(1)), ("last", full[:, -1])]:
        da = record(net, x, device="cpu", readout=readout)["spikes"]
        assert da.dims == ("stimulus", "unit")
        np.testing.assert_allclose(da.values, expected, rtol=1e-12)
    assert record(net, x, device="cpu", readout="rate")["spikes"].attrs["units"] == "Hz"


def test_layouts_ids_and_prefix(rng):
    net = StepNet()
    data = rng.uniform(0, 1.5, size=(3, 6, 3))
    a = record(net, torch.as_tensor(data), device="cpu")["spikes"]
    b = record(net, data.transpose(1, 0, 2).copy(), time_dim=0, device="cpu")["spikes"]
    xr.testing.assert_identical(a, b)
    da = xr.DataArray(data.transpose(1, 2, 0), dims=("time", "feature", "stimulus"),
                      coords={"stimulus": ["cat", "dog", "eel"]})
    c = record(net, da, device="cpu", unit_prefix="net/")["spikes"]
    assert c["stimulus"].values.tolist() == ["cat", "dog", "eel"]
    assert c["unit"].values[0] == "net/lif1:c0"
    np.testing.assert_array_equal(c.values, a.values)
    d = record(net, data, stimulus_ids=["x", "y", "z"], device="cpu")["v"]
    assert d["stimulus"].values.tolist() == ["x", "y", "z"]


def test_conv_units_use_the_extract_convention():
    class Conv(torch.nn.Module):
        def forward(self, x_seq):  # (T, batch, C, H, W)
            emit(self, step=False, spikes=(x_seq > 0).float())
            return x_seq

    rec = record(Conv(), torch.randn(2, 3, 2, 1, 2), device="cpu")["spikes"]
    assert rec["unit"].values.tolist() == ["Conv:c0:y0x0", "Conv:c0:y0x1", "Conv:c1:y0x0",
                                           "Conv:c1:y0x1"]
    assert rec["channel"].values.tolist() == [0, 0, 1, 1]
    assert rec["position"].values.tolist() == ["y0x0", "y0x1", "y0x0", "y0x1"]


class SnnTorchNet(torch.nn.Module):
    def __init__(self, init_hidden):
        super().__init__()
        torch.manual_seed(1)
        self.fc1 = torch.nn.Linear(3, 5)
        self.lif1 = snntorch.Leaky(beta=0.85, init_hidden=init_hidden)
        self.fc2 = torch.nn.Linear(5, 2)
        self.lif2 = snntorch.Leaky(beta=0.7, init_hidden=init_hidden)
        self.init_hidden = init_hidden

    def forward(self, x_seq):
        if x_seq.ndim == 2:  # one step (call="step")
            return self.step(x_seq)
        if self.init_hidden:
            return torch.stack([self.step(x) for x in x_seq])
        m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for x in x_seq:
            s1, m1 = self.lif1(self.fc1(x), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)

    def step(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


def _snntorch_by_hand(net, x_seq):
    """Call the snntorch layers by hand (init_hidden=False copies of the same parameters)."""
    l1 = snntorch.Leaky(beta=0.85)
    l2 = snntorch.Leaky(beta=0.7)
    m1, m2 = l1.init_leaky(), l2.init_leaky()
    rows = []
    with torch.no_grad():
        for x in x_seq:
            s1, m1 = l1(net.fc1(x), m1)
            s2, m2 = l2(net.fc2(s1), m2)
            rows.append((torch.cat([s1, s2], 1), torch.cat([m1, m2], 1)))
    return (torch.stack([r[0] for r in rows], 1).numpy(), torch.stack([r[1] for r in rows], 1).numpy())


@pytest.mark.parametrize("init_hidden, call", [(False, "sequence"), (True, "sequence"), (True, "step")])
def test_snntorch_networks(rng, init_hidden, call):
    net = SnnTorchNet(init_hidden)
    x = torch.as_tensor(rng.uniform(0, 2, size=(5, 12, 3)), dtype=torch.float32)
    rec = record(net, x, device="cpu", call=call, batch_size=2)
    s_ref, v_ref = _snntorch_by_hand(net, x.transpose(0, 1))
    assert rec["spikes"]["unit"].values.tolist() == [f"lif1:c{i}" for i in range(5)] + ["lif2:c0", "lif2:c1"]
    np.testing.assert_array_equal(rec["spikes"].values, s_ref)
    np.testing.assert_allclose(rec["v"].values, v_ref, rtol=1e-6, atol=1e-6)
    assert 0 < s_ref.sum() < s_ref.size


def _sj_net(step_mode, store_v_seq=False):
    torch.manual_seed(2)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        sj_neuron.LIFNode(tau=2.0, store_v_seq=store_v_seq, step_mode=step_mode),
        torch.nn.Linear(4, 2),
        sj_neuron.LIFNode(tau=3.0, store_v_seq=store_v_seq, step_mode=step_mode),
    )
    return net


def _sj_by_hand(net, x_seq):
    """Single-step spikingjelly layers called one step at a time, reset first."""
    lif1 = sj_neuron.LIFNode(tau=2.0)
    lif2 = sj_neuron.LIFNode(tau=3.0)
    spikes, vs = [], []
    with torch.no_grad():
        for x in x_seq:
            s1 = lif1(net[0](x))
            s2 = lif2(net[2](s1))
            spikes.append(torch.cat([s1, s2], 1))
            vs.append(torch.cat([lif1.v, lif2.v], 1))
    return torch.stack(spikes, 1).numpy(), torch.stack(vs, 1).numpy()


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_spikingjelly_networks(rng, step_mode):
    net = _sj_net(step_mode, store_v_seq=True)
    x = torch.as_tensor(rng.uniform(0, 3, size=(5, 10, 3)), dtype=torch.float32)
    rec = record(net, x, device="cpu", call="step" if step_mode == "s" else "sequence", batch_size=3)
    assert rec["spikes"]["unit"].values.tolist() == [f"{i}:c{j}" for i in (1,) for j in range(4)] + [
        "3:c0", "3:c1"]
    s_ref, v_ref = [], []
    for chunk in (x[:3], x[3:]):  # by hand, batch by batch, from rest
        s, v = _sj_by_hand(net, chunk.transpose(0, 1))
        s_ref.append(s)
        v_ref.append(v)
    s_ref, v_ref = np.concatenate(s_ref), np.concatenate(v_ref)
    np.testing.assert_array_equal(rec["spikes"].values, s_ref)
    np.testing.assert_allclose(rec["v"].values, v_ref, rtol=1e-6, atol=1e-6)
    assert 0 < s_ref.sum() < s_ref.size
    # the neurons' state is left at rest
    assert all(not torch.is_tensor(m.v) for m in (net[1], net[3]))


def test_spikingjelly_multistep_without_v_seq_warns(rng, caplog):
    net = _sj_net("m", store_v_seq=False)
    x = torch.as_tensor(rng.uniform(0, 3, size=(2, 4, 3)), dtype=torch.float32)
    with caplog.at_level(logging.WARNING, logger="brainbridge.snn._record"):
        rec = record(net, x, device="cpu")
    assert list(rec) == ["spikes"]
    assert "store_v_seq=True" in caplog.text


def test_restores_mode_and_leaves_no_hooks(rng):
    net = _sj_net("m", store_v_seq=True).train()
    record(net, rng.uniform(size=(2, 3, 3)).astype(np.float32), device="cpu")
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())


def test_errors(rng):
    net = StepNet()
    x = torch.as_tensor(rng.uniform(size=(2, 3, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'readout': expected one of 'count', 'rate', 'mean', 'last'; got "
            "'counts'. Did you mean 'count'?")):
        record(net, x, readout="counts")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'dt': expected a finite number in (0, inf) (seconds per step); got 0.")):
        record(net, x, dt=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'model': no layer emitted a trace. Use brainbridge.snn layers, "
            "snntorch or spikingjelly neurons, or call brainbridge.snn._trace.emit in your own "
            "layers.")):
        record(torch.nn.Linear(3, 2, dtype=torch.float64), x, device="cpu")
    with pytest.raises(ValueError, match=re.escape(
            "'stimulus_ids' has 1 ids but 'inputs' holds 2 stimuli; give one id per stimulus.")):
        record(net, x, stimulus_ids=["a"])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'inputs': expected at least 2 dims (stimulus and time); got shape "
            "(3,). Add a time axis, e.g. inputs[:, None].")):
        record(net, torch.zeros(3))

    class TwoClocks(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Identity(), torch.nn.Identity()

        def forward(self, x):
            emit(self.a, step=False, spikes=x)
            emit(self.b, step=False, spikes=x[::2])
            return x

    with pytest.raises(ValueError, match=re.escape(
            "Layer 'b' gave 2 time steps of 'spikes' but other traces have 3; layers with "
            "different time lengths need a 'readout' (e.g. readout='count') to be recorded "
            "together.")):
        record(TwoClocks(), x, device="cpu")
    assert record(TwoClocks(), x, device="cpu", readout="mean")["spikes"].sizes["unit"] == 6


def test_real_lif_and_elm_layers(rng):
    from brainbridge.snn._elm import ELM
    from brainbridge.snn._lif import LIF

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.fc = torch.nn.Linear(3, 5, dtype=torch.float64)
            self.lif = LIF(beta=0.8)
            self.elm = ELM(5, 2, n_memory=4).double()

        def forward(self, x_seq):
            s, _ = self.lif.forward_seq(self.fc(x_seq))
            return self.elm.forward_seq(s)[0]

    net = Net()
    x = torch.as_tensor(rng.uniform(0, 1.5, size=(4, 10, 3)))
    rec = record(net, x, device="cpu", batch_size=3)
    assert sorted(rec) == ["m", "out", "spikes", "v"]
    assert rec["spikes"]["unit"].values.tolist() == [f"lif:c{i}" for i in range(5)]
    assert rec["m"]["unit"].values.tolist() == [f"elm:c{i}" for i in range(4)]
    # by hand: the single-step forward of each layer, looped
    with torch.no_grad():
        ls = es = None
        spikes, vs, outs, ms = [], [], [], []
        for t in range(10):
            s, ls = net.lif(net.fc(x[:, t]), ls)
            y, es = net.elm(s, es)
            spikes.append(s)
            vs.append(ls.v)
            outs.append(y)
            ms.append(es.m)
    for name, ref in (("spikes", spikes), ("v", vs), ("out", outs), ("m", ms)):
        np.testing.assert_allclose(rec[name].values, torch.stack(ref, 1).numpy(), rtol=1e-10, atol=1e-12)
    assert 0 < rec["spikes"].values.sum() < rec["spikes"].size
    # a bare layer: forward_seq is used; call="step" threads its state
    lif = LIF(beta=0.9)
    a = record(lif, x, device="cpu")
    b = record(lif, x, device="cpu", call="step")
    xr.testing.assert_identical(a["spikes"], b["spikes"])
    np.testing.assert_array_equal(a["spikes"].values, lif.forward_seq(x.transpose(0, 1))[0].transpose(0, 1))
