"""Ollivier-Ricci curvature, Ricci flow and communities against GraphRicciCurvature."""

from __future__ import annotations

import re
import warnings

import networkx as nx
import numpy as np
import pytest
import xarray as xr

from brainbridge.analyses._curvature import (
    _modularity,
    ricci_community,
    ricci_curvature,
    ricci_flow,
)
from brainbridge.analyses._graph import Graph, connectome_graph, knn_graph

grc = pytest.importorskip("GraphRicciCurvature.OllivierRicci")


def _reference(g: Graph, **kw) -> nx.Graph:
    orc = grc.OllivierRicci(g.to_networkx(), alpha=kw.pop("alpha", 0.5), method="OTD", proc=1,
                            verbose="ERROR", **kw)
    with warnings.catch_warnings():  # POT warns on the integer histogram [1] of a node without neighbours
        warnings.simplefilter("ignore", UserWarning)
        orc.compute_ricci_curvature()
    return orc.G


def _edge_values(ds: xr.Dataset, ref: nx.Graph, key: str = "ricciCurvature") -> np.ndarray:
    return np.array([ref[u][v][key] for u, v in zip(ds.source.values, ds.target.values)])


@pytest.mark.parametrize("k,alpha", [(5, 0.5), (8, 0.0), (4, 0.9)])
def test_knn_graph_curvature_equals_graphriccicurvature(rng, k, alpha):
    x = rng.normal(size=(120, 16)) / 4
    g = knn_graph(x, k=k)
    ds = ricci_curvature(g, alpha=alpha)
    ref = _reference(g, alpha=alpha)
    np.testing.assert_allclose(ds.edge_curvature.values, _edge_values(ds, ref), atol=1e-6)
    node_ref = np.array([ref.nodes[n]["ricciCurvature"] for n in ds.node.values])
    np.testing.assert_allclose(ds.node_curvature.values, node_ref, atol=1e-6)
    assert ds.sizes["edge"] == ref.number_of_edges()


def test_unweighted_random_graph_and_exp_power(rng):
    g = Graph.from_networkx(nx.gnm_random_graph(60, 200, seed=1))
    ds = ricci_curvature(g, exp_power=0.0)
    ref = _reference(g, exp_power=0.0)
    np.testing.assert_allclose(ds.edge_curvature.values, _edge_values(ds, ref), atol=1e-6)
    # a complete graph K_n (alpha 0.5, unit lengths): kappa = n / (2 (n - 1)) in closed form
    k6 = ricci_curvature(nx.complete_graph(6))
    np.testing.assert_allclose(k6.edge_curvature.values, 6 / 10)


def test_connectome_directed_and_gap_junctions():
    from brainbridge.loaders import load_celegans_connectome

    c = load_celegans_connectome("cook2019_herm")
    for synapse_type in ("chemical", "electrical"):
        g = connectome_graph(c, synapse_type=synapse_type, weight="inverse")
        assert g.directed == (synapse_type == "chemical")
        ds = ricci_curvature(g)
        ref = _reference(g)
        np.testing.assert_allclose(ds.edge_curvature.values, _edge_values(ds, ref), atol=1e-6)


def test_disconnected_graph_and_isolated_node():
    g = nx.Graph()
    g.add_edges_from([(0, 1), (1, 2), (2, 0), (3, 4)])
    g.add_node(5)
    ds = ricci_curvature(g)
    ref = _reference(Graph.from_networkx(g))
    np.testing.assert_allclose(ds.edge_curvature.values, _edge_values(ds, ref), atol=1e-6)
    assert np.isnan(ds.node_curvature.sel(node="5"))


def test_ricci_flow_equals_graphriccicurvature(rng):
    x = rng.normal(size=(80, 8)) / 3
    g = knn_graph(x, k=6)
    ds = ricci_flow(g, iterations=10, progress=False)
    orc = grc.OllivierRicci(g.to_networkx(), alpha=0.5, method="OTD", proc=1, verbose="ERROR")
    orc.compute_ricci_flow(iterations=10)
    np.testing.assert_allclose(ds.weight.values, _edge_values(ds, orc.G, "weight"), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ds.edge_curvature.values, _edge_values(ds, orc.G), atol=1e-4)
    np.testing.assert_allclose(ds.original_curvature.values, _edge_values(ds, orc.G, "original_RC"),
                               atol=1e-6)
    np.testing.assert_allclose(ds.weight.sum(), ds.sizes["edge"])  # renormalised to n_edges
    # communities from the flowed weights: the same partition as ricci_community
    ours = ricci_community(ds)
    cutoff, clustering = orc.ricci_community()
    assert ours.attrs["cutoff"] == pytest.approx(cutoff)
    from sklearn.metrics import adjusted_rand_score

    theirs = [clustering[n] for n in ds.node.values]
    assert adjusted_rand_score(theirs, ours.community.values) == 1.0


def test_community_recovers_clusters(rng):
    centers = np.random.default_rng(0).normal(size=(3, 5)) * 1.5
    labels = np.repeat([0, 1, 2], 30)
    x = centers[labels] + np.random.default_rng(0).normal(size=(90, 5)) * 0.5
    flow = ricci_flow(knn_graph(x, k=6), iterations=20, progress=False)
    com = ricci_community(flow)
    from sklearn.metrics import adjusted_rand_score

    kept = flow.node.values.astype(int)  # the largest connected component
    assert adjusted_rand_score(labels[kept], com.community.values) > 0.6
    assert com.modularity.dims == ("cutoff",) and com.attrs["cutoff"] in com.attrs["good_cutoffs"]


def test_modularity_equals_networkx(rng):
    g = nx.gnm_random_graph(40, 120, seed=3)
    for u, v in g.edges():
        g[u][v]["weight"] = float(rng.uniform(0.5, 2))
    labels = rng.integers(0, 4, 40)
    parts = [set(np.flatnonzero(labels == c).tolist()) for c in range(4)]
    src, dst = np.array(list(g.edges())).T
    w = np.array([g[u][v]["weight"] for u, v in zip(src, dst)])
    ours = _modularity(40, src, dst, w, labels)
    assert ours == pytest.approx(nx.community.modularity(g, parts, weight="weight"), abs=1e-12)


def test_sinkhorn_tends_to_exact(rng):
    x = rng.normal(size=(60, 8)) / 3
    g = knn_graph(x, k=5)
    exact = ricci_curvature(g).edge_curvature.values
    errors = [np.abs(ricci_curvature(g, method="sinkhorn", reg=reg, device="cpu", max_iter=5000)
                     .edge_curvature.values - exact).max() for reg in (0.3, 0.1, 0.03, 0.01)]
    assert errors[0] > errors[1] > errors[2] > errors[3] and errors[3] < 2e-3


def test_sinkhorn_plans_equal_pot(rng):
    import ot
    import torch

    from brainbridge.analyses._curvature import _sinkhorn_log, _sinkhorn_scaling

    a = rng.random((3, 5))
    b = rng.random((3, 4))
    a[1, 4] = 0.0  # padding
    a /= a.sum(1, keepdims=True)
    b /= b.sum(1, keepdims=True)
    c = rng.random((3, 5, 4))
    at, bt, ct = (torch.as_tensor(v) for v in (a, b, c))
    for solver in (_sinkhorn_scaling, _sinkhorn_log):
        plan = solver(at, bt, ct, 0.1, 5000, 1e-12).numpy()
        for k in range(3):
            rows = a[k] > 0  # POT takes the unpadded problem; padded rows carry no mass
            ref = ot.sinkhorn(a[k][rows], b[k], c[k][rows], 0.1, stopThr=1e-12, numItermax=100000)
            np.testing.assert_allclose(plan[k][rows], ref, atol=1e-9)
            assert np.all(plan[k][~rows] == 0)


def test_knn_graph_structure_and_inputs(rng):
    pts = rng.normal(size=(30, 3))
    g = knn_graph(pts, k=3)
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :3]
    expected = {tuple(sorted((i, j))) for i in range(30) for j in nearest[i]}
    src, dst, w = g.edges()
    assert set(zip(src.tolist(), dst.tolist())) == expected
    np.testing.assert_allclose(w, d[src, dst])
    mutual = knn_graph(pts, k=3, symmetrize="mutual")
    ms, md, _ = mutual.edges()
    assert {(i, j) for i, j in zip(ms.tolist(), md.tolist())} == {
        (i, j) for i, j in expected if j in nearest[i] and i in nearest[j]}
    ball = knn_graph(pts, k=None, radius=1.0)
    bs, bd, _ = ball.edges()
    assert np.all(d[bs, bd] < 1.0) and bs.size == int(np.sum(np.triu(d < 1.0, 1)))
    # an RDM (dims stimulus, stimulus_) and an assembly give the same graph
    from brainbridge.analyses import rdm

    ids = [f"s{i}" for i in range(30)]
    acts = xr.DataArray(pts, dims=("stimulus", "unit"), coords={"stimulus": ids})
    from_rdm = knn_graph(rdm(acts, method="euclidean"), k=3)
    np.testing.assert_allclose(from_rdm.weights.toarray(), knn_graph(acts, k=3).weights.toarray(), atol=1e-12)
    assert from_rdm.nodes.tolist() == ids
    sim = knn_graph(-d.clip(max=100), k=3, similarity=True)
    assert set(zip(*sim.edges()[:2])) == expected
    back = Graph.from_networkx(g.to_networkx())
    np.testing.assert_allclose(back.weights.toarray(), g.weights.toarray())


def test_errors(rng):
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'alpha': expected a number in [0, 1] (mass kept on the node); got 1.5.")):
        ricci_curvature(nx.path_graph(3), alpha=1.5)
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'method'")):
        ricci_curvature(nx.path_graph(3), method="OTD")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'graph': Ricci flow needs an undirected graph; got a directed one. "
            "Build it undirected (e.g. connectome_graph(..., directed=False)).")):
        ricci_flow(nx.DiGraph([(0, 1), (1, 2)]))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'k': expected fewer neighbours than nodes (5); got 5. Use k <= 4.")):
        knn_graph(rng.normal(size=(5, 2)), k=5)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'k': expected a positive integer, or pass radius=; got k=None and "
            "radius=None. Give k (e.g. 10) or radius.")):
        knn_graph(rng.normal(size=(5, 2)), k=None)
    from brainbridge.loaders import load_celegans_connectome

    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'synapse_type': expected one of ['chemical', 'electrical'] for a "
            "connectome with several synapse types; got None. Pass synapse_type='chemical'.")):
        connectome_graph(load_celegans_connectome("cook2019_herm"))
    import scipy.sparse as sp

    nan_graph = Graph(sp.csr_array(([np.nan, 1.0, 1.0], ([0, 1, 2], [1, 2, 0])), shape=(3, 3)),
                      np.array(["a", "b", "c"]), True)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'graph': expected finite, non-negative edge lengths; got 1 stored entries "
            "that are NaN, infinite or negative (e.g. np.float64(nan)). Drop those edges or give them a "
            "length first.")):
        ricci_curvature(nan_graph)
    flat = ricci_flow(nx.complete_graph(5), iterations=2, progress=False)
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'flow': no modularity drop found")):
        ricci_community(flat)


def test_without_numba_same_values(rng, monkeypatch):
    from brainbridge.analyses import _graph_kernels

    g = knn_graph(rng.normal(size=(50, 6)), k=4)
    chem = nx.gnm_random_graph(30, 90, seed=2, directed=True)
    compiled = [ricci_curvature(x).edge_curvature.values for x in (g, chem)]
    monkeypatch.setattr(_graph_kernels, "_compiled", lambda: None)
    for x, ref in zip((g, chem), compiled):
        np.testing.assert_allclose(ricci_curvature(x).edge_curvature.values, ref, atol=1e-12)


def test_row_blocks_equal_one_block(rng, monkeypatch):
    from brainbridge.analyses import _curvature

    g = knn_graph(rng.normal(size=(80, 6)), k=5)
    whole = ricci_curvature(g).edge_curvature.values
    monkeypatch.setattr(_curvature, "_ROW_BYTES", 8 * 80 * 12)  # 12 rows at a time
    np.testing.assert_allclose(ricci_curvature(g).edge_curvature.values, whole, atol=1e-12)


def test_nan_stimulus_raises_instead_of_being_isolated(rng):
    """Issue #15, finding 10: a NaN stimulus was silently left without edges."""
    x = xr.DataArray(rng.standard_normal((12, 4)), dims=("stimulus", "unit"),
                     coords={"stimulus": [f"s{i}" for i in range(12)]})
    x[5, 0] = np.nan
    msg = ("Invalid value for 'graph': expected finite numbers; got 1 NaN of 48 entries, the "
           "first at stimulus='s5', unit=0. Graphs need complete response vectors;")
    with pytest.raises(ValueError, match=re.escape(msg)):
        ricci_curvature(x, k=3)


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"max_iter": 0}, "Invalid value for 'max_iter': expected an integer >= 1 (Sinkhorn "
                      "iteration cap); got 0."),
    ({"alpha": True}, "Invalid value for 'alpha': expected a number in [0, 1] (mass kept on "
                      "the node); got True."),
])
def test_parameters_checked_for_every_method(kwargs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        ricci_curvature(nx.cycle_graph(5), **kwargs)


def test_flow_and_community_parameters():
    msg = "Invalid value for 'iterations': expected an integer >= 0 (flow steps); got True."
    with pytest.raises(ValueError, match=re.escape(msg)):
        ricci_flow(nx.cycle_graph(5), iterations=True)
    flow = ricci_flow(nx.cycle_graph(5), iterations=1, progress=False)
    msg = ("Invalid value for 'cutoff_step': expected a finite number in (0, inf) (weight "
           "between scanned cutoffs); got 0.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        ricci_community(flow, cutoff_step=0)
