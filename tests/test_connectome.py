"""Connectome-constrained network (snn), stimulation (snn), degree-preserving shuffles and
structure-function scores (analyses)."""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pytest
import torch
import xarray as xr
from scipy.stats import pearsonr, spearmanr

from brainbridge.analyses import STRUCTURE_FUNCTION_SCORES, shuffle_connectome
from brainbridge.analyses import structure_function as _structure_function
from brainbridge.analyses._nulls import _swap_rounds
from brainbridge.snn import GABA_NEURONS, ConnectomeNetwork, connectome_simulator, simulate_stimulation


def structure_function(connectome, measured, *, stimulation=None, **kwargs):
    """The analysis with the default connectome network as its simulator (network options in kwargs)."""
    scoring = {k: kwargs.pop(k) for k in ("n_permutations", "q_threshold", "min_units", "n_swaps",
                                          "random_state", "progress") if k in kwargs}
    return _structure_function(connectome, measured,
                               simulate=connectome_simulator(stimulation=stimulation, **kwargs), **scoring)


@pytest.fixture
def float64():
    """Build networks in float64 (their weights follow torch's default dtype)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _connectome(chem: np.ndarray, elec: np.ndarray | None = None,
                names: list[str] | None = None) -> xr.DataArray:
    n = chem.shape[0]
    names = names or [f"n{i}" for i in range(n)]
    elec = np.zeros_like(chem) if elec is None else elec
    return xr.DataArray(
        np.stack([chem, elec], axis=-1).astype(float), dims=("pre", "post", "synapse_type"),
        coords={"pre": names, "post": names, "synapse_type": ["chemical", "electrical"],
                "transmission": ("synapse_type", ["chemical", "electrical"])},
    )


def _random_connectome(rng: np.random.Generator, n: int = 7, p: float = 0.4) -> xr.DataArray:
    chem = (rng.random((n, n)) < p) * rng.integers(1, 6, (n, n))
    np.fill_diagonal(chem, 0)
    upper = np.triu((rng.random((n, n)) < p) * rng.integers(1, 4, (n, n)), 1)
    return _connectome(chem, upper + upper.T)


# ----------------------------------------------------------------------------- network step
def _numpy_euler(chem, elec, inputs, *, gc, ge, tau, dt, f, sign, normalize, threshold=None):
    """The ODE of the module docstring, one neuron and one synapse at a time (float64)."""
    n = chem.shape[0]
    chem = chem.astype(float).copy()
    elec = elec.astype(float).copy()
    np.fill_diagonal(chem, 0)
    np.fill_diagonal(elec, 0)
    w = np.zeros((n, n))
    g = np.zeros((n, n))
    if normalize == "in":
        for post in range(n):
            total = sum(chem[pre, post] for pre in range(n))
            for pre in range(n):
                w[pre, post] = chem[pre, post] / total if total > 0 else 0.0
        max_degree = max(sum(elec[i, j] for j in range(n)) for i in range(n))
        g = elec / max_degree
    else:
        w = chem / chem.max()
        g = elec / elec.max()
    for pre in range(n):
        w[pre, :] *= sign[pre]
    v = np.zeros((inputs.shape[1], n))
    r = np.zeros_like(v)
    outs, vs = [], []
    for x in inputs:
        new_v = np.zeros_like(v)
        for b in range(v.shape[0]):
            for i in range(n):
                chem_in = sum(w[j, i] * r[b, j] for j in range(n))
                gap_in = sum(g[i, j] * (v[b, j] - v[b, i]) for j in range(n))
                dv = (-v[b, i] + gc * chem_in + ge * gap_in + x[b, i]) / tau
                new_v[b, i] = v[b, i] + dt * dv
        if threshold is None:
            v, r = new_v, f(new_v)
        else:
            s = (new_v >= threshold).astype(float)
            v, r = new_v - threshold * s, s
        outs.append(r.copy())
        vs.append(v.copy())
    return np.array(outs), np.array(vs)


@pytest.mark.parametrize(("nonlinearity", "f", "normalize"), [
    ("tanh", np.tanh, "in"), ("relu", lambda z: np.maximum(z, 0), "in"), ("tanh", np.tanh, "max"),
])
def test_step_matches_numpy_euler(rng, float64, nonlinearity, f, normalize):
    conn = _random_connectome(rng)
    chem, elec = conn.values[..., 0], conn.values[..., 1]
    sign = rng.choice([-1.0, 1.0], size=7)
    kw = dict(gain_chemical=0.8, gain_electrical=0.6, tau=0.5, dt=0.1)
    net = ConnectomeNetwork(conn, nonlinearity=nonlinearity, sign=sign, normalize=normalize, **kw)
    x = rng.normal(size=(12, 3, 7))
    ref_out, ref_v = _numpy_euler(chem, elec, x, gc=0.8, ge=0.6, tau=0.5, dt=0.1, f=f, sign=sign,
                                  normalize=normalize)
    out, state = net.forward_seq(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state.v.numpy(), ref_v[-1], rtol=1e-12, atol=1e-14)
    # the single-step path gives the same trajectory
    st = None
    for t in range(x.shape[0]):
        o, st = net(torch.from_numpy(x[t]), st)
        np.testing.assert_allclose(o.numpy(), ref_out[t], rtol=1e-12, atol=1e-14)


def test_lif_step_matches_numpy_euler(rng, float64):
    conn = _random_connectome(rng)
    chem, elec = conn.values[..., 0], conn.values[..., 1]
    net = ConnectomeNetwork(conn, nonlinearity="lif", threshold=0.3, gain_chemical=2.0,
                            gain_electrical=0.5, tau=0.5, dt=0.1)
    x = np.abs(rng.normal(size=(40, 2, 7)))
    ref_out, ref_v = _numpy_euler(chem, elec, x, gc=2.0, ge=0.5, tau=0.5, dt=0.1, f=None,
                                  sign=np.ones(7), normalize="in", threshold=0.3)
    out, state = net.forward_seq(torch.from_numpy(x))
    assert ref_out.sum() > 10  # the test exercises spikes and resets
    np.testing.assert_array_equal(out.numpy(), ref_out)
    np.testing.assert_allclose(state.v.numpy(), ref_v[-1], rtol=1e-12, atol=1e-14)


def test_forward_emits_traces(rng):
    from brainbridge.snn._trace import tracing

    net = ConnectomeNetwork(_random_connectome(rng))
    seen = []
    with tracing(lambda module, step, tensors: seen.append((step, sorted(tensors)))):
        net.forward_seq(torch.zeros(3, 1, 7))
        net(torch.zeros(1, 7))
    assert seen == [(False, ["out", "v"]), (True, ["out", "v"])]


def test_gaba_neurons_recomputed_from_wang2024():
    """GABA_NEURONS is a constant; the shipped Wang et al. 2024 annotation gives the same set."""
    from brainbridge.loaders import load_celegans_connectome

    w = load_celegans_connectome("wang2024_herm")
    has = {t: np.nan_to_num(w.sel(synapse_type=t).values).sum(axis=1) > 0
           for t in ("acetylcholine", "glutamate", "gaba")}
    inhibitory = has["gaba"] & ~has["acetylcholine"] & ~has["glutamate"]
    assert GABA_NEURONS == frozenset(str(n) for n in w["pre"].values[inhibitory])
    assert len(GABA_NEURONS) == 29


def test_gaba_sign_from_wang2024():
    from brainbridge.loaders import load_celegans_connectome

    conn = load_celegans_connectome("cook2019")
    net = ConnectomeNetwork(conn, sign="gaba")
    names = list(net.neurons)
    w = net.w_chem.numpy()
    # Wang et al. 2024: DD/VD motor neurons and RIS are GABAergic; AVAL is cholinergic and
    # SMDDL releases both GABA and acetylcholine (kept excitatory)
    for name, negative in [("DD1", True), ("VD5", True), ("RIS", True), ("AVAL", False),
                           ("SMDDL", False)]:
        row = w[names.index(name)]
        assert row.any()
        assert bool((row <= 0).all()) == negative
        assert bool((row >= 0).all()) == (not negative)
    assert int((w.min(axis=1) < 0).sum()) == 29
    expected = np.array([-1.0 if n in GABA_NEURONS else 1.0 for n in names])
    wired = np.abs(w).sum(axis=1) > 0  # every row has one sign: its sum's
    np.testing.assert_array_equal(np.sign(w.sum(axis=1))[wired], expected[wired])


# ----------------------------------------------------------------------------- stimulation
def test_chain_responses_closed_form(float64):
    # A -> B -> C, linear regime (relu of non-negative potentials), no gap junctions.
    # Summed over a window long enough for the activity to decay, the Euler recursion
    # v[t] = (1 - a) v[t-1] + a (g r_pre[t-1] + I[t]) gives sum v = g sum r_pre + sum I,
    # so the responses are amp * d / T times 1, g, g^2 down the chain and 0 upstream.
    chem = np.zeros((3, 3))
    chem[0, 1] = 3
    chem[1, 2] = 1
    conn = _connectome(chem, names=["A", "B", "C"])
    g, amp, d, n = 0.7, 2.0, 4, 3000
    net = ConnectomeNetwork(conn, gain_chemical=g, gain_electrical=0.0, tau=1.0, dt=0.1,
                            nonlinearity="relu")
    resp = simulate_stimulation(net, ["A", "B", "C"], amplitude=amp, duration_steps=d, n_steps=n)
    unit = amp * d / n
    expected = unit * np.array([[1, g, g ** 2], [0, 1, g], [0, 0, 1]])
    np.testing.assert_allclose(resp.values, expected, rtol=1e-9, atol=0)
    assert resp.dims == ("stimulus", "unit")
    assert resp["stimulus"].values.tolist() == ["A", "B", "C"]
    assert resp["unit"].values.tolist() == ["A", "B", "C"]
    assert resp.attrs["modality"] == "celegans"


def test_stimulation_window_and_lif_units(float64):
    chem = np.zeros((2, 2))
    chem[0, 1] = 1
    conn = _connectome(chem, names=["A", "B"])
    net = ConnectomeNetwork(conn, nonlinearity="lif", threshold=0.5, gain_chemical=10.0, dt=0.1)
    x = torch.zeros(50, 1, 2, dtype=torch.float64)
    x[:20, 0, 0] = 3.0
    spikes, _ = net.forward_seq(x)
    resp = simulate_stimulation(net, ["A"], amplitude=3.0, duration_steps=20, n_steps=50, window=(10, 50))
    expected = spikes[10:50, 0].numpy().mean(axis=0) / 0.1
    assert expected[1] > 0
    np.testing.assert_allclose(resp.values[0], expected, rtol=1e-12)
    assert resp.attrs["units"] == "Hz"


# ----------------------------------------------------------------------------- shuffles
def test_shuffle_keeps_degrees_and_changes_edges(rng):
    n = 40
    chem = (rng.random((n, n)) < 0.15) * rng.integers(1, 9, (n, n)).astype(float)
    np.fill_diagonal(chem, [3.0] * n)  # self-connections stay in place
    upper = np.triu((rng.random((n, n)) < 0.1) * rng.integers(1, 5, (n, n)), 1).astype(float)
    conn = _connectome(chem, upper + upper.T)
    out = shuffle_connectome(conn, n_swaps=5, random_state=1)
    assert out.dims == conn.dims
    for t in ("chemical", "electrical"):
        a, b = conn.sel(synapse_type=t).values, out.sel(synapse_type=t).values
        np.testing.assert_array_equal((a > 0).sum(0), (b > 0).sum(0))  # in-degrees
        np.testing.assert_array_equal((a > 0).sum(1), (b > 0).sum(1))  # out-degrees
        assert (a > 0).sum() == (b > 0).sum()
        np.testing.assert_array_equal(np.sort(a[a > 0]), np.sort(b[b > 0]))  # weights move with edges
        np.testing.assert_array_equal(np.diag(a), np.diag(b))
        changed = ((a > 0) & ~(b > 0)).sum() / (a > 0).sum()
        assert changed > 0.5
    chem_b = out.sel(synapse_type="chemical").values
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_array_equal((chem * off).sum(1), (chem_b * off).sum(1))  # out-strength
    elec_b = out.sel(synapse_type="electrical").values
    np.testing.assert_array_equal(elec_b, elec_b.T)
    # reproducible
    again = shuffle_connectome(conn, n_swaps=5, random_state=1)
    np.testing.assert_array_equal(again.values, out.values)


def test_swap_rounds_reach_the_target(rng):
    g = nx.gnm_random_graph(50, 200, seed=3, directed=True)
    src, dst = (np.array(e) for e in zip(*g.edges()))
    new_src, new_dst, done = _swap_rounds(src, dst, 50, 1000, rng, directed=True)
    assert done == 1000
    assert len(set(zip(new_src.tolist(), new_dst.tolist()))) == 200  # still simple
    assert not np.any(new_src == new_dst)


def test_shuffle_real_connectome():
    from brainbridge.loaders import load_celegans_connectome

    conn = load_celegans_connectome("cook2019")
    out = shuffle_connectome(conn, random_state=0)
    for t in ("chemical", "electrical"):
        a, b = conn.sel(synapse_type=t).values > 0, out.sel(synapse_type=t).values > 0
        np.testing.assert_array_equal(a.sum(0), b.sum(0))
        np.testing.assert_array_equal(a.sum(1), b.sum(1))
        assert (a & b).sum() < 0.5 * a.sum()


# ----------------------------------------------------------------------------- scores
def _synthetic_atlas(rng, conn, noise=0.02, missing=0.3):
    sim = simulate_stimulation(conn)
    names = list(sim["unit"].values)
    n = len(names)
    dff = sim.values + rng.normal(0, noise, (n, n))
    n_obs = rng.integers(1, 5, (n, n)).astype(float)
    hole = rng.random((n, n)) < missing
    n_obs[hole] = 0
    dff[hole] = np.nan
    dff[rng.random((n, n)) < 0.05] = np.nan  # observed but no amplitude kept
    q = np.where(np.abs(dff) > np.nanquantile(np.abs(dff), 0.8), 0.01, 0.5)
    q[np.isnan(dff)] = np.nan
    dims = ("stimulus", "unit")
    return xr.Dataset({"dff": (dims, dff), "n_obs": (dims, n_obs), "q": (dims, q)},
                      coords={"stimulus": names, "unit": names}), sim


def test_scores_match_independent_references(rng):
    from brainbridge.analyses import ricci_curvature

    n = 25
    chem = (rng.random((n, n)) < 0.2) * rng.integers(1, 5, (n, n)).astype(float)
    conn = _connectome(chem)
    atlas, sim = _synthetic_atlas(rng, conn)
    res = structure_function(conn, atlas, n_permutations=0, min_units=5)
    names = list(sim["unit"].values)
    s, m = sim.values, atlas.dff.values
    obs = (atlas.n_obs.values > 0) & np.isfinite(m) & ~np.eye(n, dtype=bool)
    # (a) pairs: scipy on the same masked arrays
    assert res.attrs["n_pairs"] == obs.sum()
    np.testing.assert_allclose(float(res.value.sel(score="pair_pearson")), pearsonr(s[obs], m[obs])[0],
                               rtol=1e-10)
    np.testing.assert_allclose(float(res.value.sel(score="pair_spearman")),
                               spearmanr(s[obs], m[obs])[0], rtol=1e-10)
    # (b) RSA: pairwise-complete correlation distance with an explicit loop, then Spearman
    rows = [i for i in range(n) if obs[i].sum() >= 5]
    dm, ds = [], []
    for ai, a in enumerate(rows):
        for b in rows[ai + 1:]:
            both = obs[a] & obs[b]
            if both.sum() < 5:
                continue
            dm.append(1 - pearsonr(m[a, both], m[b, both])[0])
            ds.append(1 - pearsonr(s[a, both], s[b, both])[0])
    assert res.attrs["n_rdm_entries"] == len(dm)
    np.testing.assert_allclose(float(res.value.sel(score="rsa")), spearmanr(ds, dm)[0], rtol=1e-9)
    # (c) curvature: graphs built with networkx, curvature from ricci_curvature, scipy Spearman
    q = np.nan_to_num(atlas.q.values, nan=1.0)
    g_meas = nx.Graph()
    g_meas.add_nodes_from(names)
    g_meas.add_edges_from((names[i], names[j]) for i, j in zip(*np.nonzero(obs & (q < 0.05))))
    n_edges = int((obs & (q < 0.05)).sum())
    pairs = list(zip(*np.nonzero(obs)))
    order = np.argsort(-np.abs(s[obs]), kind="stable")[:n_edges]
    g_sim = nx.Graph()
    g_sim.add_nodes_from(names)
    g_sim.add_edges_from((names[pairs[k][0]], names[pairs[k][1]]) for k in order)
    km = ricci_curvature(g_meas)["node_curvature"].to_series()
    ks = ricci_curvature(g_sim)["node_curvature"].to_series()
    km.index, ks.index = list(g_meas.nodes), list(g_sim.nodes)
    both = km.notna() & ks[km.index].notna()
    np.testing.assert_allclose(float(res.value.sel(score="curvature")),
                               spearmanr(ks[km.index][both], km[both])[0], rtol=1e-9)


def test_p_values_and_null(rng):
    n = 20
    chem = (rng.random((n, n)) < 0.2) * rng.integers(1, 5, (n, n)).astype(float)
    conn = _connectome(chem)
    atlas, _ = _synthetic_atlas(rng, conn, noise=0.005, missing=0.1)
    res = structure_function(conn, atlas, n_permutations=19, min_units=5, random_state=0)
    assert res["null"].shape == (19, len(STRUCTURE_FUNCTION_SCORES))
    null, value = res["null"].values, res["value"].values
    expected = (1 + (null >= value).sum(0)) / (1 + 19)
    np.testing.assert_allclose(res["p_value"].values, expected)
    # the true connectome generated the data: no shuffle matches its pair correlation
    assert float(res.p_value.sel(score="pair_pearson")) == pytest.approx(1 / 20)
    # the same seed gives the same null
    again = structure_function(conn, atlas, n_permutations=19, min_units=5, random_state=0)
    np.testing.assert_array_equal(again["null"].values, null)


def test_structure_function_real_data():
    from brainbridge.loaders import load_celegans_connectome, load_celegans_funatlas

    conn = load_celegans_connectome("cook2019")
    atlas = load_celegans_funatlas("wt", trials=False, neurons="canonical")
    res = structure_function(conn, atlas, n_permutations=2, random_state=0)
    assert np.isfinite(res.value.values).all()
    assert np.isfinite(res.null.values).all()
    assert res.attrs["n_pairs"] > 20000
    assert res.sizes["stimulus"] > 150
    obs = res.observed.values
    np.testing.assert_array_equal(res.measured.values[obs],
                                  atlas.dff.sel(stimulus=res.stimulus, unit=res.unit).values[obs])


# ----------------------------------------------------------------------------- errors
def test_errors(rng):
    conn = _random_connectome(rng)
    cases = [
        (lambda: ConnectomeNetwork(conn, nonlinearity="sigmoid"),
         "Invalid value for 'nonlinearity': expected one of 'tanh', 'relu', 'lif'; got 'sigmoid'."),
        (lambda: ConnectomeNetwork(conn, dt=2.0),
         "Invalid value for 'dt': expected dt <= tau for a stable Euler step; got dt=2.0 and tau=1.0. "
         "Use a smaller dt (e.g. tau / 10)."),
        (lambda: ConnectomeNetwork(conn, tau=0),
         "Invalid value for 'tau': expected a finite number in (0, inf) (membrane time constant in seconds); "
         "got 0."),
        (lambda: ConnectomeNetwork(conn, threshold=0.5),
         "Invalid value for 'threshold': the threshold applies to nonlinearity='lif' only; got "
         "threshold=0.5 with nonlinearity='tanh'. Drop threshold."),
        (lambda: ConnectomeNetwork(conn, sign=[1, -1]),
         "Invalid value for 'sign': expected None, 'gaba', a {neuron: sign} mapping or 7 finite numbers "
         "(one per presynaptic neuron); got shape (2,)."),
        (lambda: ConnectomeNetwork(conn, neurons=["n0", "X"]),
         "Invalid value for 'neurons': expected names of the connectome's neurons; 'X' are not in it. "
         "Use names from connectome.pre.values."),
        (lambda: ConnectomeNetwork(conn.sel(synapse_type="chemical")),
         "Invalid value for 'connectome': expected a connectome DataArray with dims ('pre', 'post', "
         "'synapse_type'); got dims ('pre', 'post'). Load one with "
         "brainbridge.loaders.load_celegans_connectome('cook2019')."),
        (lambda: ConnectomeNetwork(conn.sel(synapse_type=["electrical"])),
         "Invalid value for 'connectome': expected a 'chemical' synapse type; got 'electrical'. Use an "
         "annotation with chemical synapse counts (e.g. 'cook2019', 'white1986_whole')."),
        (lambda: ConnectomeNetwork(conn)(torch.zeros(2, 5)),
         "Invalid value for 'x': expected a tensor of shape (batch, n_neurons), n_neurons = 7; got "
         "shape (2, 5)."),
        (lambda: simulate_stimulation(conn, ["n0", "Z"]),
         "Invalid value for 'stimulated': expected names of the network's neurons; 'Z' are not in it."),
        (lambda: simulate_stimulation(conn, window=(5, 500)),
         "Invalid value for 'window': expected (start, stop) steps with 0 <= start < stop <= n_steps = "
         "100; got (5, 500)."),
        (lambda: simulate_stimulation(conn, duration_steps=0),
         "Invalid value for 'duration_steps': expected an integer >= 1 (steps); got 0."),
        (lambda: simulate_stimulation(ConnectomeNetwork(conn), tau=2.0),
         "Invalid value for 'network_kwargs': 'tau' apply when 'network' is a connectome; this is a "
         "ConnectomeNetwork already. Build it with those options instead."),
        (lambda: shuffle_connectome(conn.where(conn.pre != "n0")),
         "Invalid value for 'connectome': it has NaN entries (pairs the annotation did not reconstruct), "
         "which a rewiring cannot place; fill them first, e.g. connectome.fillna(0)."),
        (lambda: structure_function(conn, xr.Dataset({"dff": conn.isel(synapse_type=0)})),
         "Invalid value for 'measured': expected a Dataset with 'dff', 'n_obs' and 'q' over ('stimulus', "
         "'unit'); got variables ['dff']. Load it with "
         "brainbridge.loaders.load_celegans_funatlas('wt', neurons='canonical')."),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=re.escape(message) + "$"):
            call()
    atlas, _ = _synthetic_atlas(rng, conn)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'q_threshold': expected a finite number in (0, 1]; got 0.") + "$"):
        structure_function(conn, atlas, q_threshold=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'stimulation': 'stimulated' is set by structure_function (the stimulated "
            "neurons of 'measured'); remove it, or subset measured.sel(stimulus=[...]).") + "$"):
        structure_function(conn, atlas, stimulation={"stimulated": ["n0"]})
    renamed = atlas.assign_coords(stimulus=[f"x{i}" for i in range(7)], unit=[f"x{i}" for i in range(7)])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'measured': expected at least 3 observed pairs (n_obs > 0, finite dff, "
            "stimulus != unit) among neurons of the network; got 0. Check that measured uses the "
            "connectome's neuron names.") + "$"):
        structure_function(conn, renamed)


def test_structure_function_takes_any_simulator(rng):
    """A simulator that ignores the wiring: every shuffle scores as the real one (p = 1)."""
    conn = _random_connectome(rng, n=12)
    atlas, sim = _synthetic_atlas(rng, conn)
    calls = []

    def fixed(connectome, stimulated):
        calls.append(list(stimulated))
        return sim.sel(stimulus=list(stimulated))

    res = _structure_function(conn, atlas, simulate=fixed, n_permutations=3, min_units=5, random_state=0)
    assert len(calls) == 4 and calls[0] == list(res.stimulus.values)
    np.testing.assert_array_equal(res.null.values, np.broadcast_to(res.value.values, (3, 4)))
    np.testing.assert_array_equal(res.p_value.values, 1.0)
    assert res.attrs["n_permutations"] == 3 and res.sizes["shuffle"] == 3
    assert res.attrs["simulate"].startswith("<function")


def test_connectome_simulator(rng, float64):
    conn = _random_connectome(rng)
    simulate = connectome_simulator(nonlinearity="relu", sign={"n0": -1.0},
                                    stimulation={"n_steps": 30, "device": "cpu"})
    got = simulate(conn, ["n0", "n3"])
    net = ConnectomeNetwork(conn, nonlinearity="relu", sign={"n0": -1.0})
    xr.testing.assert_identical(got, simulate_stimulation(net, ["n0", "n3"], n_steps=30, device="cpu"))
    assert repr(simulate) == ("connectome_simulator(nonlinearity='relu', sign={'n0': -1.0}, "
                              "stimulation={'n_steps': 30, 'device': 'cpu'})")
    cases = [
        (lambda: connectome_simulator(stimulation={"stimulated": ["n0"]}),
         "Invalid value for 'stimulation': 'stimulated' is set by structure_function (the stimulated "
         "neurons of 'measured'); remove it, or subset measured.sel(stimulus=[...])."),
        (lambda: connectome_simulator(stimulation={"steps": 3}),
         "Invalid value for 'stimulation': unknown option(s) 'steps'; expected keys among 'amplitude', "
         "'duration_steps', 'n_steps', 'window', 'device'."),
        (lambda: connectome_simulator(neurons=["n0"]),
         "Invalid value for 'neurons': connectome_simulator simulates every neuron of the connectome it "
         "is given; got neurons=... . Select them on the connectome instead: "
         "connectome.sel(pre=names, post=names)."),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=re.escape(message) + "$"):
            call()


def test_structure_function_checks_the_simulator(rng):
    conn = _random_connectome(rng)
    atlas, sim = _synthetic_atlas(rng, conn)
    cases = [
        ("not callable", "Invalid value for 'simulate': expected a callable simulate(connectome, "
         "stimulated) -> DataArray ('stimulus', 'unit'); got str. Make one with "
         "brainbridge.snn.connectome_simulator(...)."),
        (lambda c, s: sim.values, "Invalid value for 'simulate': expected it to return a DataArray with "
         "dims ('stimulus', 'unit'); got ndarray."),
        (lambda c, s: sim.sel(stimulus=list(s)).isel(unit=slice(1, None)),
         "Invalid value for 'simulate': its responses lack the unit(s) 'n0'; it must return every "
         "neuron of the connectome."),
    ]
    for simulate, message in cases:
        with pytest.raises(ValueError, match=re.escape(message) + "$"):
            _structure_function(conn, atlas, simulate=simulate, n_permutations=0, min_units=3)


@pytest.mark.gpu
def test_stimulation_on_cuda_matches_cpu(rng):
    conn = _random_connectome(rng, n=30, p=0.2)
    net = ConnectomeNetwork(conn)
    cpu = simulate_stimulation(net, device="cpu")
    gpu = simulate_stimulation(net, device="cuda")
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-5, atol=1e-7)
    assert net.w_chem.device.type == "cpu"  # the caller's module is not moved
