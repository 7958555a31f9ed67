"""curvature_alignment and the curvature plots, against plain scipy / sklearn / networkx references."""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pytest
import xarray as xr
from scipy.stats import pearsonr, spearmanr, wasserstein_distance
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from brainbridge import AssemblyError
from brainbridge.analyses import rdm
from brainbridge.analyses._curvature import ricci_community, ricci_curvature, ricci_flow
from brainbridge.analyses._curvature_align import (
    ALIGNMENT_SCORES,
    _community_agreement,
    curvature_alignment,
    system_curvature,
)
from brainbridge.analyses._graph import Graph, knn_graph


def _clusters(seed: int, n_per: int = 15, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    centers = g.normal(size=(3, 4))
    labels = np.repeat([0, 1, 2], n_per)
    return centers[labels] + g.normal(size=(labels.size, 4)) * noise, labels


def _assembly(x: np.ndarray, ids: list[str]) -> xr.DataArray:
    return xr.DataArray(x, dims=("stimulus", "unit"), coords={"stimulus": ids})


def _edge_map(ds: xr.Dataset, directed: bool = False) -> dict:
    key = (lambda s, t: (s, t)) if directed else (lambda s, t: frozenset((s, t)))
    return {key(s, t): k for s, t, k in zip(ds.source.values.tolist(), ds.target.values.tolist(),
                                            ds.edge_curvature.values.tolist())}


def _communities(g: Graph, iterations: int) -> dict:
    try:
        com = ricci_community(ricci_flow(g, iterations, progress=False))
    except ValueError:
        return {}
    return dict(zip(com.node.values.tolist(), com.community.values.tolist()))


def _reference(ga: Graph, gb: Graph, iterations: int, directed: bool = False) -> dict[str, float]:
    """Every score from the two graphs, the plain way: dicts keyed by node / edge ids."""
    ca, cb = ricci_curvature(ga), ricci_curvature(gb)
    out = {"edge_wasserstein": wasserstein_distance(ca.edge_curvature, cb.edge_curvature),
           "node_wasserstein": wasserstein_distance(ca.node_curvature.dropna("node"),
                                                    cb.node_curvature.dropna("node"))}
    na = dict(zip(ca.node.values.tolist(), ca.node_curvature.values.tolist()))
    nb = dict(zip(cb.node.values.tolist(), cb.node_curvature.values.tolist()))
    shared = [v for v in na if v in nb and np.isfinite(na[v]) and np.isfinite(nb[v])]
    x, y = [na[v] for v in shared], [nb[v] for v in shared]
    out["node_spearman"], out["node_pearson"] = spearmanr(x, y)[0], pearsonr(x, y)[0]
    common = set(na) & set(nb)
    ea = {e: k for e, k in _edge_map(ca, directed).items() if set(e) <= common}
    eb = {e: k for e, k in _edge_map(cb, directed).items() if set(e) <= common}
    both = sorted(set(ea) & set(eb), key=str)
    x, y = [ea[e] for e in both], [eb[e] for e in both]
    out["edge_spearman"], out["edge_pearson"] = spearmanr(x, y)[0], pearsonr(x, y)[0]
    out["edge_jaccard"] = len(both) / len(set(ea) | set(eb))
    if iterations and not directed:
        coma, comb = _communities(ga, iterations), _communities(gb, iterations)
        nodes = [v for v in coma if v in comb]
        la, lb = [coma[v] for v in nodes], [comb[v] for v in nodes]
        out["community_ari"] = adjusted_rand_score(la, lb) if len(nodes) >= 2 else np.nan
        out["community_nmi"] = normalized_mutual_info_score(la, lb) if len(nodes) >= 2 else np.nan
    else:
        out["community_ari"] = out["community_nmi"] = np.nan
    return out


def test_scores_equal_references_after_alignment():
    x, _ = _clusters(0)
    y = x @ np.random.default_rng(1).normal(size=(4, 6)) + np.random.default_rng(2).normal(size=(45, 6)) * 0.2
    ids = [f"s{i:02d}" for i in range(45)]
    a = _assembly(x, ids)
    # b: another order, one stimulus missing, one extra: alignment must match them by id
    order = np.random.default_rng(3).permutation(45)[:44]
    b = _assembly(np.vstack([y[order], np.zeros((1, 6))]), [ids[i] for i in order] + ["extra"])
    res = curvature_alignment(a, b, k=5, flow_iterations=8, n_permutations=20, random_state=0)
    shared = [v for v in ids if v in set(b.stimulus.values.tolist()) and v != "extra"]
    ga = knn_graph(a.sel(stimulus=shared), k=5)
    gb = knn_graph(b.sel(stimulus=shared), k=5)
    ref = _reference(ga, gb, 8)
    assert np.isfinite(ref["community_ari"])  # the clusters give communities, so ARI is checked
    for name in ALIGNMENT_SCORES:
        assert float(res.value.sel(score=name)) == pytest.approx(ref[name], abs=1e-12), name
    assert res.attrs["n_shared_nodes"] == 44 and res.sizes["node_a"] == 44
    assert res.attrs["community_note"] == ""
    # the stored per-system curvature is ricci_curvature of each graph
    np.testing.assert_array_equal(system_curvature(res, "b").edge_curvature.values,
                                  ricci_curvature(gb).edge_curvature.values)
    # p-values follow (1 + #{null >= observed}) / (1 + n_permutations) on the stored null
    null = res.null.values
    for j, name in enumerate(ALIGNMENT_SCORES[2:], start=2):
        expected = (1 + np.sum(null[:, j] >= res.value.values[j] - 1e-12)) / 21
        assert float(res.p_value.sel(score=name)) == pytest.approx(expected)
    assert np.all(np.isnan(res.p_value.values[:2])) and np.all(np.isnan(null[:, :2]))


def test_null_equals_recomputing_curvature_on_relabelled_graphs():
    x, _ = _clusters(4, n_per=10)
    y = x + np.random.default_rng(5).normal(size=x.shape) * 0.3
    ga, gb = knn_graph(x, k=4), knn_graph(y, k=4)
    res = curvature_alignment(ga, gb, flow_iterations=5, n_permutations=2, random_state=11)
    assert np.isfinite(res.value.sel(score="community_ari"))
    rng = np.random.default_rng(11)
    for r in range(2):
        perm = rng.permutation(gb.n_nodes)
        names = np.empty_like(gb.nodes)
        names[perm] = ga.nodes  # b's node perm[i] becomes node i (both graphs list nodes in one order)
        relabelled = Graph(gb.weights, names, gb.directed)
        ref = _reference(ga, relabelled, 5)
        for j, name in enumerate(ALIGNMENT_SCORES[2:], start=2):
            assert res.null.values[r, j] == pytest.approx(ref[name], abs=1e-12), (r, name)


def test_degree_null_shuffles_within_degree_strata():
    ga = Graph.from_networkx(nx.barabasi_albert_graph(60, 2, seed=1))
    rewired = nx.barabasi_albert_graph(60, 2, seed=1)
    nx.double_edge_swap(rewired, nswap=200, max_tries=10_000, seed=2)  # same degrees, other edges
    gb = Graph.from_networkx(rewired)
    res = curvature_alignment(ga, gb, flow_iterations=0, n_permutations=3, random_state=4, null="degree",
                              degree_bins=6)
    assert res.attrs["null_kind"] == "degree" and res.attrs["degree_bins"] == 6
    degree = dict(rewired.degree())
    order = np.lexsort((np.arange(60), [degree[int(v)] for v in gb.nodes.tolist()]))
    rng = np.random.default_rng(4)
    for r in range(3):  # the documented rule, on relabelled graphs
        perm = np.arange(60)
        for grp in np.array_split(order, 6):
            perm[grp] = grp[rng.permutation(grp.size)]
        names = np.empty_like(gb.nodes)
        names[perm] = ga.nodes
        ref = _reference(ga, Graph(gb.weights, names, gb.directed), 0)
        for j, name in enumerate(ALIGNMENT_SCORES[2:], start=2):
            assert res.null.values[r, j] == pytest.approx(ref[name], abs=1e-12, nan_ok=True), (r, name)
    # curvature tracks degree and the rewiring kept every degree: the degree null keeps that part
    # of the agreement (here all of it: observed 0.146), the label shuffle does not
    big = {kind: curvature_alignment(ga, gb, flow_iterations=0, n_permutations=200, random_state=0, null=kind)
           for kind in ("labels", "degree")}
    mean = {kind: float(np.mean(r.null.sel(score="node_spearman"))) for kind, r in big.items()}
    assert abs(mean["labels"]) < 0.05 and mean["degree"] > 0.15
    p = {kind: float(r.p_value.sel(score="node_spearman")) for kind, r in big.items()}
    assert p["labels"] < 0.2 and p["degree"] > 0.5


def test_identical_systems_align_perfectly():
    x, _ = _clusters(6)
    a = _assembly(x, [f"s{i}" for i in range(45)])
    res = curvature_alignment(a, a, k=5, flow_iterations=8, n_permutations=50, random_state=0)
    value = res.value.to_series()
    assert value["edge_wasserstein"] == 0 and value["node_wasserstein"] == 0
    for name in ALIGNMENT_SCORES[2:]:
        assert value[name] == pytest.approx(1.0), name
        assert float(res.p_value.sel(score=name)) == pytest.approx(1 / 51), name


def test_independent_systems_give_roughly_uniform_p():
    g = np.random.default_rng(7)
    p = []
    for _ in range(20):
        res = curvature_alignment(g.normal(size=(30, 3)) / 3, g.normal(size=(30, 3)) / 3, k=4,
                                  flow_iterations=0, n_permutations=49, random_state=g)
        p.append(res.p_value.sel(score=["node_spearman", "edge_jaccard"]).values)
    p = np.array(p)
    assert 0.25 < p.mean() < 0.75
    assert np.mean(p < 0.05) < 0.25
    assert np.all(np.isnan(res.value.sel(score=["community_ari", "community_nmi"]).values))
    assert res.attrs["community_note"] == ("a: flow_iterations=0, communities not computed; "
                                           "b: flow_iterations=0, communities not computed")


def test_rdm_and_similarity_inputs_give_the_same_graphs():
    x, _ = _clusters(8)
    y = x[:, ::-1] ** 2
    ids = [f"s{i}" for i in range(45)]
    a, b = _assembly(x, ids), _assembly(y, ids)
    direct = curvature_alignment(a, b, k=5, flow_iterations=0, n_permutations=10, random_state=1)
    via_rdm = curvature_alignment(rdm(a, method="euclidean"), rdm(b.isel(stimulus=slice(None, None, -1)),
                                  method="euclidean"), k=5, flow_iterations=0, n_permutations=10,
                                  random_state=1)
    np.testing.assert_allclose(via_rdm.value.values, direct.value.values, atol=1e-10)
    np.testing.assert_allclose(via_rdm.null.values, direct.null.values, atol=1e-10)
    # a similarity matrix (larger = closer) of the same distances
    d = np.asarray(rdm(a, method="euclidean").values)
    sim = curvature_alignment(-d, knn_graph(x, k=5), k=5, similarity=True, flow_iterations=0,
                              n_permutations=0)
    np.testing.assert_allclose(sim.edge_curvature_a.values, direct.edge_curvature_a.values, atol=1e-10)


def test_graphs_with_different_nodes_and_directed_edges():
    g = np.random.default_rng(9)
    da = nx.gnm_random_graph(30, 90, seed=1, directed=True)
    db = nx.gnm_random_graph(30, 90, seed=2, directed=True)
    da = nx.relabel_nodes(da, {i: f"n{i}" for i in da})
    db = nx.relabel_nodes(db, {i: f"n{i + 5}" for i in db})  # n5..n34: 25 shared nodes
    db.add_edges_from([("n6", "n5"), ("n5", "n6")])
    res = curvature_alignment(da, db, flow_iterations=5, n_permutations=30, random_state=g)
    ref = _reference(Graph.from_networkx(da), Graph.from_networkx(db), 5, directed=True)
    for name in ALIGNMENT_SCORES:
        np.testing.assert_allclose(float(res.value.sel(score=name)), ref[name], atol=1e-12, err_msg=name)
    assert res.attrs["n_shared_nodes"] == 25 and res.attrs["directed"] == 1
    assert int(res.matched_a.sum()) == 25 and not bool(res.matched_a.sel(node_a="n0"))
    assert res.attrs["community_note"].startswith(
        "a: Ricci flow needs an undirected graph and this one is directed; build it undirected for "
        "communities; b: ")


def test_no_community_structure_gives_nan_with_reason():
    res = curvature_alignment(nx.complete_graph(6), nx.complete_graph(6), flow_iterations=2,
                              n_permutations=5, random_state=0)
    assert np.all(np.isnan(res.value.sel(score=["community_ari", "community_nmi"]).values))
    assert np.all(np.isnan(res.p_value.sel(score=["community_ari", "community_nmi"]).values))
    assert res.attrs["community_note"].startswith(
        "a: no community structure found after 2 flow iterations (Invalid value for 'flow': no "
        "modularity drop found")
    assert (res.community_a.values == -1).all()


@pytest.mark.parametrize("n", [2, 5, 12, 30])
def test_community_agreement_equals_sklearn(rng, n):
    for _ in range(30):
        a = rng.integers(0, rng.integers(1, 5), n)
        b = rng.integers(0, rng.integers(1, 5), n)
        ari, nmi = _community_agreement(a, b)
        assert ari == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
        assert nmi == pytest.approx(normalized_mutual_info_score(a, b), abs=1e-12)
    for a, b in [(np.zeros(n, int), np.zeros(n, int)), (np.arange(n), np.arange(n)),
                 (np.arange(n), np.zeros(n, int))]:
        assert _community_agreement(a, b) == pytest.approx(
            (adjusted_rand_score(a, b), normalized_mutual_info_score(a, b)))
    # nodes without a community (-1) are left out
    a, b = rng.integers(0, 3, n), rng.integers(-1, 3, n)
    ok = b >= 0
    if ok.sum() >= 2:
        assert _community_agreement(a, b)[0] == pytest.approx(adjusted_rand_score(a[ok], b[ok]))


def test_errors(rng):
    x = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_permutations': expected an integer >= 0; got -1.")):
        curvature_alignment(x, x, k=3, n_permutations=-1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'flow_iterations': expected an integer >= 0; got True.")):
        curvature_alignment(x, x, k=3, flow_iterations=True)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'alpha': expected a number in [0, 1] (mass kept on the node); got 2.")):
        curvature_alignment(x, x, k=3, alpha=2)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'null': expected one of 'labels', 'degree'; got 'edges'.")):
        curvature_alignment(x, x, k=3, null="edges")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'degree_bins': expected an integer >= 1; got 0.")):
        curvature_alignment(x, x, k=3, null="degree", degree_bins=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'b': expected a graph as directed as 'a' (directed=False); got "
            "directed=True. Build both graphs directed or both undirected (e.g. "
            "connectome_graph(..., directed=False)).")):
        curvature_alignment(nx.path_graph(4), nx.DiGraph(nx.path_graph(4)))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'b': expected at least 3 node ids shared with 'a'; got 2 (a has 4 nodes, "
            "e.g. ['0', '1', '2']; b has 4, e.g. ['2', '3', '4']). Check that both use the same "
            "stimulus ids or neuron names.")):
        curvature_alignment(nx.path_graph(4), nx.path_graph([2, 3, 4, 5]))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'b': expected 20 rows like 'a' (inputs without ids are matched by "
            "position); got 19. Give both stimulus ids (DataArrays with a 'stimulus' coord) or the "
            "same stimuli in the same order.")):
        curvature_alignment(x, x[:19], k=3)
    a = _assembly(x, [f"s{i}" for i in range(20)])
    b = _assembly(x, [f"t{i}" for i in range(20)])
    with pytest.raises(AssemblyError, match=re.escape("'a' and 'b' share no 'stimulus' ids")):
        curvature_alignment(a, b, k=3)
    with pytest.raises(AssemblyError, match=re.escape(
            "'b' is a square matrix over 'image' but dim='stimulus'; pass dim='image' or rename its "
            "dims to ('stimulus', 'stimulus_').")):
        curvature_alignment(a, rdm(a).rename(stimulus="image", stimulus_="image_"), k=3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'system': expected one of 'a', 'b'; got 'c'.")):
        system_curvature(curvature_alignment(x, x, k=3, flow_iterations=0, n_permutations=0), "c")


# ----------------------------------------------------------------------------------------- plots


def test_plot_curvature_histogram_counts(rng):
    from brainbridge.analyses._plots import plot_curvature_histogram

    x = rng.normal(size=(40, 3)) / 3
    res = curvature_alignment(x, x + rng.normal(size=x.shape) * 0.1, k=5, flow_iterations=0,
                              n_permutations=0)
    for kind in ("edge", "node"):
        ax = plot_curvature_histogram(res, kind=kind, bins=12)
        va, vb = res[f"{kind}_curvature_a"].values, res[f"{kind}_curvature_b"].values
        edges = np.histogram_bin_edges(np.concatenate([va, vb]), bins=12)
        assert len(ax.containers) == 2
        for container, values in zip(ax.containers, (va, vb)):
            np.testing.assert_array_equal([p.get_height() for p in container], np.histogram(values, edges)[0])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            f"a: mean {va.mean():.3f}", f"b: mean {vb.mean():.3f}"]
    one = ricci_curvature(knn_graph(x, k=5))
    ax = plot_curvature_histogram(one, one, labels=["x", "y"])
    assert [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("x: mean ")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'labels': expected 2 labels (one per system); got 1.")):
        plot_curvature_histogram(res, labels=["a"])


def test_plot_curvature_graph_colours_edges_by_curvature(rng):
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from brainbridge.analyses._plots import plot_curvature_graph

    ds = ricci_curvature(nx.karate_club_graph())
    pos = rng.normal(size=(ds.sizes["node"], 2))
    fig, ax = plt.subplots()
    plot_curvature_graph(ds, pos=pos, ax=ax, cmap="RdBu")
    lines = [c for c in ax.collections if isinstance(c, LineCollection)][0]
    kappa = ds.edge_curvature.values
    np.testing.assert_array_equal(lines.get_array(), kappa)
    index = {v: i for i, v in enumerate(ds.node.values.tolist())}
    for seg, s, t in zip(lines.get_segments(), ds.source.values, ds.target.values):
        np.testing.assert_allclose(seg, [pos[index[s]], pos[index[t]]])
    vmax = np.abs(kappa).max()
    expected = plt.get_cmap("RdBu")((kappa + vmax) / (2 * vmax))
    np.testing.assert_allclose(lines.to_rgba(lines.get_array()), expected)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "Ollivier-Ricci curvature"  # colorbar
    # nodes coloured by community on an alignment result
    res = curvature_alignment(*(_clusters(12)[0],) * 2, k=5, flow_iterations=8, n_permutations=0)
    ax = plot_curvature_graph(res, system="b", nodes="community")
    assert ax.collections[-1].get_offsets().shape == (45, 2)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'pos': expected shape (34, 2) (one row per node); got (3, 2).")):
        plot_curvature_graph(ds, pos=pos[:3])


def test_graph_layout_mds_recovers_path_lengths():
    from brainbridge.analyses._plots import graph_layout

    g = nx.path_graph(6)
    lengths = [1.0, 2.0, 0.5, 1.5, 3.0]
    for (u, v), w in zip(g.edges(), lengths):
        g[u][v]["weight"] = w
    ds = ricci_curvature(g)
    xy = graph_layout(ds, layout="mds")
    spl = dict(nx.shortest_path_length(g, weight="weight"))
    d = np.array([[spl[i][j] for j in range(6)] for i in range(6)])
    np.testing.assert_allclose(np.linalg.norm(xy[:, None] - xy[None], axis=2), d, atol=1e-9)
    spring = graph_layout(ds, layout="spring", random_state=3)
    ref = nx.spring_layout(nx.path_graph(6), seed=3)
    np.testing.assert_allclose(spring, np.array([ref[i] for i in range(6)]))


def test_plot_communities_contingency():
    from sklearn.metrics.cluster import contingency_matrix

    from brainbridge.analyses._plots import plot_communities

    x, _ = _clusters(13)
    res = curvature_alignment(x, x + np.random.default_rng(0).normal(size=x.shape) * 0.2, k=5,
                              flow_iterations=8, n_permutations=0)
    ax = plot_communities(res)
    ca, cb = res.community_a.values, res.community_b.values
    ok = (ca >= 0) & (cb >= 0)
    np.testing.assert_array_equal(ax.images[0].get_array(), contingency_matrix(ca[ok], cb[ok]))
    ari = adjusted_rand_score(ca[ok], cb[ok])
    nmi = normalized_mutual_info_score(ca[ok], cb[ok])
    assert ax.get_title() == f"ARI {ari:.3f}, NMI {nmi:.3f} ({ok.sum()} nodes)"
    # two ricci_community results, matched by node id
    com = ricci_community(ricci_flow(knn_graph(x, k=5), 8, progress=False))
    ax = plot_communities(com, com)
    assert ax.get_title().startswith("ARI 1.000, NMI 1.000")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'a': expected a curvature_alignment result, or two ricci_community "
            "results as a and b; got Dataset and b=None.")):
        plot_communities(com)
