"""Representational alignment through Ollivier-Ricci curvature (Torbati et al. 2024).

Two systems (a network layer and a brain region, a connectome and a functional atlas, human
similarity judgements and a model, ...) are each turned into a graph over the same stimuli
(or neurons); their curvature, and the communities their Ricci flow reveals, are compared.
The seed paper (Torbati, Gaebler, Hofmann & Scherf 2024, "Exploring Geometric
Representational Alignment through Ollivier-Ricci Curvature and Ricci Flow") has no public
code; every score below is defined in :func:`curvature_alignment`'s docstring.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import wasserstein_distance

from .._checks import AssemblyError, _check_option, check_random_state, check_scalar
from .._scoring import pearson_r, spearman_r
from ._curvature import _check_params, ricci_community, ricci_curvature, ricci_flow
from ._graph import Graph, as_graph

logger = logging.getLogger(__name__)

#: Scores of :func:`curvature_alignment`, in the order of its 'score' dim.
ALIGNMENT_SCORES = (
    "edge_wasserstein",
    "node_wasserstein",
    "node_spearman",
    "node_pearson",
    "edge_spearman",
    "edge_pearson",
    "edge_jaccard",
    "community_ari",
    "community_nmi",
)
#: Scores that a permutation of node identities changes (the others are invariant to it).
PERMUTED_SCORES = ALIGNMENT_SCORES[2:]
#: Null models of :func:`curvature_alignment`.
ALIGNMENT_NULLS = ("labels", "degree")
#: Two floats closer than this count as a tie of the null with the observed score.
_TIE = 1e-12


def _is_square(x: Any) -> bool:
    return isinstance(x, xr.DataArray) and x.ndim == 2 and x.dims[1] == f"{x.dims[0]}_"


def _is_connectome(x: Any) -> bool:
    return isinstance(x, xr.DataArray) and {"pre", "post"} <= set(x.dims)


def _align_inputs(a: Any, b: Any, dim: str) -> tuple[Any, Any]:
    """Restrict two stimulus DataArrays (assemblies or square RDMs) to their shared ids."""
    from .._align import align

    named = []
    for label, x in (("a", a), ("b", b)):
        d = x.dims[0] if _is_square(x) else dim
        if d != dim:
            raise AssemblyError(
                f"{label!r} is a square matrix over {d!r} but dim={dim!r}; pass dim={d!r} or "
                f"rename its dims to ({dim!r}, {dim + '_'!r})."
            )
        named.append(x)
    a2, b2 = align(named[0], named[1], dim=dim)
    shared = a2[dim].values
    if _is_square(a2):
        a2 = a2.sel({f"{dim}_": shared})
    if _is_square(b2):
        b2 = b2.sel({f"{dim}_": shared})
    return a2, b2


def _has_ids(x: Any, dim: str) -> bool:
    """Whether the nodes of ``x``'s graph carry real ids (not row positions)."""
    if isinstance(x, Graph) or hasattr(x, "adj") or _is_connectome(x):
        return True
    return isinstance(x, xr.DataArray) and (x.dims[0] if _is_square(x) else dim) in x.coords


def _build(a: Any, b: Any, dim: str, knn: dict[str, Any]) -> tuple[Graph, Graph]:
    stimulus_like = [isinstance(x, xr.DataArray) and not _is_connectome(x) for x in (a, b)]
    if all(stimulus_like):
        has_ids = [(x.dims[0] if _is_square(x) else dim) in x.coords for x in (a, b)]
        if all(has_ids):
            a, b = _align_inputs(a, b, dim)
    ga = as_graph(a, dim=dim, **knn) if not isinstance(a, Graph) else a
    gb = as_graph(b, dim=dim, **knn) if not isinstance(b, Graph) else b
    if not (_has_ids(a, dim) and _has_ids(b, dim)) and ga.n_nodes != gb.n_nodes:
        raise ValueError(
            f"Invalid value for 'b': expected {ga.n_nodes} rows like 'a' (inputs without ids are "
            f"matched by position); got {gb.n_nodes}. Give both stimulus ids (DataArrays with a "
            f"{dim!r} coord) or the same stimuli in the same order."
        )
    if ga.directed != gb.directed:
        raise ValueError(
            f"Invalid value for 'b': expected a graph as directed as 'a' (directed={ga.directed}); got "
            f"directed={gb.directed}. Build both graphs directed or both undirected (e.g. "
            "connectome_graph(..., directed=False))."
        )
    return ga, gb


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Spearman, Pearson) over the pairs finite in both; NaN with < 3 pairs or a constant side."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan"), float("nan")
    x, y = x[ok], y[ok]
    return float(spearman_r(x, y)), float(pearson_r(x, y))


def _edge_keys(src: np.ndarray, dst: np.ndarray, n: int, directed: bool) -> np.ndarray:
    if not directed:
        src, dst = np.minimum(src, dst), np.maximum(src, dst)
    return src.astype(np.int64) * n + dst


class _Matched:
    """Curvature values of ``a`` and ``b`` on their shared nodes (indices 0..n-1 in ``a``'s order)."""

    def __init__(self, ca: xr.Dataset, cb: xr.Dataset, shared: np.ndarray, directed: bool,
                 com_a: np.ndarray, com_b: np.ndarray) -> None:
        n = shared.size
        self.n = n
        self.directed = directed
        self.node_a = self._nodes(ca, shared)
        self.node_b = self._nodes(cb, shared)
        self.src_a, self.dst_a, self.edge_a = self._edges(ca, shared)
        self.src_b, self.dst_b, self.edge_b = self._edges(cb, shared)
        self.keys_a = _edge_keys(self.src_a, self.dst_a, n, directed)
        self.com_a, self.com_b = com_a, com_b

    @staticmethod
    def _nodes(c: xr.Dataset, shared: np.ndarray) -> np.ndarray:
        return np.asarray(c["node_curvature"].sel(node=shared).values, dtype=float)

    @staticmethod
    def _edges(c: xr.Dataset, shared: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = {v: i for i, v in enumerate(shared.tolist())}
        src = np.array([pos.get(v, -1) for v in c["source"].values.tolist()], dtype=np.int64)
        dst = np.array([pos.get(v, -1) for v in c["target"].values.tolist()], dtype=np.int64)
        keep = (src >= 0) & (dst >= 0)
        return src[keep], dst[keep], np.asarray(c["edge_curvature"].values, dtype=float)[keep]

    def scores(self, perm: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """The permuted scores (:data:`PERMUTED_SCORES` order) with ``b``'s node ``perm[i]``
        relabelled as node ``i``; also the number of shared edges."""
        node_b, src_b, dst_b, com_b = self.node_b, self.src_b, self.dst_b, self.com_b
        if perm is not None:
            inv = np.empty_like(perm)
            inv[perm] = np.arange(perm.size)
            node_b, src_b, dst_b, com_b = node_b[perm], inv[src_b], inv[dst_b], com_b[perm]
        keys_b = _edge_keys(src_b, dst_b, self.n, self.directed)
        common, ia, ib = np.intersect1d(self.keys_a, keys_b, assume_unique=True, return_indices=True)
        union = self.keys_a.size + keys_b.size - common.size
        out = np.full(len(PERMUTED_SCORES), np.nan)
        out[0:2] = _correlations(self.node_a, node_b)
        out[2:4] = _correlations(self.edge_a[ia], self.edge_b[ib])
        out[4] = common.size / union if union else np.nan
        out[5:7] = _community_agreement(self.com_a, com_b)
        return out, int(common.size)


def _community_agreement(ca: np.ndarray, cb: np.ndarray) -> tuple[float, float]:
    """(ARI, NMI) over the nodes with a community in both (-1: none), as sklearn.metrics computes
    them (``adjusted_rand_score``; ``normalized_mutual_info_score``, arithmetic mean), from one
    contingency table (sklearn's input checks would dominate a 1000-permutation null)."""
    ok = (ca >= 0) & (cb >= 0)
    n = int(ok.sum())
    if n < 2:
        return float("nan"), float("nan")
    _, ua = np.unique(ca[ok], return_inverse=True)
    _, ub = np.unique(cb[ok], return_inverse=True)
    ka, kb = int(ua.max()) + 1, int(ub.max()) + 1
    table = np.bincount(ua * kb + ub, minlength=ka * kb).reshape(ka, kb).astype(np.float64)
    rows, cols = table.sum(1), table.sum(0)
    # ARI (Hubert & Arabie 1985): (sum_ij C(n_ij, 2) - E) / (mean(sum_i C(a_i, 2), sum_j C(b_j, 2)) - E)
    pairs = np.sum(table * (table - 1)) / 2
    pa, pb = np.sum(rows * (rows - 1)) / 2, np.sum(cols * (cols - 1)) / 2
    expected = pa * pb / (n * (n - 1) / 2)
    top = (pa + pb) / 2 - expected
    # top == 0 only for identical trivial labelings (one community each, or all singletons)
    ari = 1.0 if top == 0 else float((pairs - expected) / top)
    # NMI: I(A; B) / ((H(A) + H(B)) / 2); 1 when neither splits the nodes
    if ka == kb == 1:
        return ari, 1.0
    nz = table > 0
    outer = np.outer(rows, cols)[nz]
    mi = max(0.0, float(np.sum(table[nz] / n * (np.log(table[nz] * n) - np.log(outer)))))
    if mi == 0:
        return ari, 0.0
    h = [-float(np.sum(v / n * np.log(v / n))) for v in (rows, cols)]
    return ari, float(mi / ((h[0] + h[1]) / 2))


def _communities(g: Graph, label: str, iterations: int, flow_opts: dict[str, Any]) -> tuple[np.ndarray, str]:
    """Community of every node of ``g`` (-1: none) and, when there are none, why."""
    none = np.full(g.n_nodes, -1, dtype=np.int64)
    if iterations == 0:
        return none, f"{label}: flow_iterations=0, communities not computed"
    if g.directed:
        return none, (f"{label}: Ricci flow needs an undirected graph and this one is directed; "
                      "build it undirected for communities")
    flow = ricci_flow(g, iterations, **flow_opts)
    try:
        com = ricci_community(flow)
    except ValueError as err:
        if "no modularity drop" not in str(err):
            raise
        return none, f"{label}: no community structure found after {iterations} flow iterations ({err})"
    index = {v: i for i, v in enumerate(g.nodes.tolist())}
    out = none.copy()
    out[[index[v] for v in com["node"].values.tolist()]] = com["community"].values
    return out, ""


def curvature_alignment(
    a: Any,
    b: Any,
    *,
    k: int | None = 10,
    metric: str = "euclidean",
    symmetrize: str = "union",
    similarity: bool = False,
    alpha: float = 0.5,
    method: str = "exact",
    flow_iterations: int = 10,
    n_permutations: int = 1000,
    null: str = "labels",
    degree_bins: int = 10,
    random_state: Any = None,
    dim: str = "stimulus",
    progress: bool | None = False,
    **kwargs: Any,
) -> xr.Dataset:
    """Compare two systems through the Ollivier-Ricci curvature of their graphs.

    After Torbati et al. (2024): one graph per system over the same stimuli, the curvature of
    each (:func:`ricci_curvature`), and communities after Ricci flow (:func:`ricci_flow`,
    :func:`ricci_community`), compared as follows. Nodes are *matched* by id (stimulus id,
    neuron name); ``S`` is the set of ids present in both graphs, in ``a``'s order;
    ``E_a``, ``E_b`` are the edges of each graph with both ends in ``S`` (unordered pairs for
    undirected graphs, ordered for directed ones).

    * ``edge_wasserstein``: ``W1(P_a, P_b)`` between the empirical distributions of edge
      curvature over *all* edges of each graph (:func:`scipy.stats.wasserstein_distance`,
      i.e. ``integral |F_a(t) - F_b(t)| dt`` of the two CDFs). 0 = same distribution.
    * ``node_wasserstein``: the same for node curvature over all non-isolated nodes.
    * ``node_spearman``, ``node_pearson``: correlation of ``kappa_a(v)`` and ``kappa_b(v)``
      over ``v`` in ``S`` (node curvature finite in both).
    * ``edge_spearman``, ``edge_pearson``: correlation of ``kappa_a(e)`` and ``kappa_b(e)``
      over the shared edges ``e`` in ``E_a ∩ E_b`` (NaN with fewer than 3 shared edges).
    * ``edge_jaccard``: ``|E_a ∩ E_b| / |E_a ∪ E_b|``.
    * ``community_ari``, ``community_nmi``: adjusted Rand index and normalised mutual
      information (arithmetic normalisation; :mod:`sklearn.metrics`) between the Ricci-flow
      communities of ``a`` and ``b`` over the nodes of ``S`` that have a community in both
      (the flow runs on each graph's largest connected component). NaN when a graph is
      directed (Ricci flow needs an undirected graph), when ``flow_iterations=0``, or when
      no community structure is found; attr ``community_note`` says which.

    Permutation null (all but the two Wasserstein distances, which do not depend on which
    node is which and so have no null): the ids of ``b``'s nodes in ``S`` are shuffled,
    ``b``'s node ``perm[i]`` becoming node ``i``, and the scores recomputed. Relabelling
    nodes does not change any curvature (it moves with its node), so curvature is computed
    once and only the matching is redone. Permutation ``r`` is ``rng.permutation(|S|)``, the
    ``r``-th draw of ``rng = numpy.random.default_rng(random_state)``. One-sided p-value
    (larger = more aligned)::

        p = (1 + #{r : null_r >= observed}) / (1 + n_valid)

    with ``n_valid`` the permutations whose score is finite (``n_permutations`` when every
    one is); ties within 1e-12 count as ``>=``.

    ``null='degree'`` shuffles ids only among nodes of similar degree: the nodes of ``S``
    sorted by their degree in ``b`` (ties by position in ``S``) are cut into ``degree_bins``
    groups of (near) equal size, and each permutation shuffles within every group (group by
    group, ``perm[g] = g[rng.permutation(len(g))]``). Node curvature tracks degree, so when
    degrees correspond across the systems the label shuffle (which breaks that too) overstates
    significance; this null keeps it and asks whether curvature aligns beyond degree.
    (``degree_bins=1`` draws from the label shuffle's distribution.)

    Parameters
    ----------
    a, b : DataArray, ndarray, Graph or networkx graph
        Assemblies with dims (``dim``, 'unit'), square (dis)similarity matrices with dims
        (``dim``, ``dim + '_'``) (e.g. RDMs, human judgements with ``similarity=True``),
        plain ``(n, n_features)`` arrays (matched by row), or prebuilt graphs
        (:func:`knn_graph`, :func:`connectome_graph`; matched by node id). DataArrays with
        ids are first restricted to their shared ids (:func:`brainbridge.align`), so both
        kNN graphs are built over the same stimuli; prebuilt graphs are used as they are.
    k, metric, symmetrize, similarity
        kNN graph options (:func:`knn_graph`), the same for ``a`` and ``b``; used only for
        inputs that are not graphs (pass a :func:`knn_graph` to treat one side differently).
    alpha : float, default=0.5
        Mass kept on each node by the curvature measures.
    method : {'exact', 'sinkhorn'}, default='exact'
    flow_iterations : int, default=10
        Ricci-flow iterations before community detection (0: no communities).
    n_permutations : int, default=1000
        Node-label shuffles for the null (0: no p-values).
    null : {'labels', 'degree'}, default='labels'
        Shuffle all ids of ``S``, or only within degree strata of ``b`` (above).
    degree_bins : int, default=10
        Number of degree strata for ``null='degree'``.
    random_state : int, numpy Generator or None
    dim : str, default='stimulus'
        The node dim of assemblies.
    progress : bool or None, default=False
        Progress bars of the Ricci flow.
    **kwargs
        Passed to :func:`ricci_curvature` and :func:`ricci_flow` (``base``, ``exp_power``,
        ``reg``, ``n_jobs``, ``device``, ...).

    Returns
    -------
    Dataset
        ``value`` and ``p_value`` over 'score' (:data:`ALIGNMENT_SCORES`; p is NaN for the
        Wasserstein distances), ``null`` over ('permutation', 'score') (NaN columns for the
        Wasserstein distances); per system ``s`` in {a, b}: ``edge_curvature_s`` over
        'edge_s' (coords ``source_s``, ``target_s``, ``weight_s``), ``node_curvature_s`` and
        ``community_s`` (-1: none) over 'node_s' (coord ``matched_s``: the node is in ``S``).
        Attrs: the options, node and edge counts (``n_shared_nodes``, ``n_shared_edges``),
        ``community_note``.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import curvature_alignment
    >>> x = np.random.default_rng(0).normal(size=(40, 5))
    >>> res = curvature_alignment(x, x, k=5, flow_iterations=0, n_permutations=99, random_state=0)
    >>> float(res.value.sel(score="node_spearman")), float(res.p_value.sel(score="node_spearman"))
    (1.0, 0.01)
    >>> float(res.value.sel(score="edge_wasserstein"))
    0.0
    """
    _check_params(alpha, method, kwargs.get("reg", 0.1))
    flow_iterations = check_scalar("flow_iterations", flow_iterations, int, low=0)
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=0)
    _check_option("null", null, ALIGNMENT_NULLS)
    degree_bins = check_scalar("degree_bins", degree_bins, int, low=1)
    rng = check_random_state(random_state)
    knn = {"k": k, "metric": metric, "symmetrize": symmetrize, "similarity": similarity}
    ga, gb = _build(a, b, dim, knn)
    in_b = set(gb.nodes.tolist())
    shared = np.asarray([v for v in ga.nodes.tolist() if v in in_b])
    if shared.size < 3:
        raise ValueError(
            f"Invalid value for 'b': expected at least 3 node ids shared with 'a'; got {shared.size} "
            f"(a has {ga.n_nodes} nodes, e.g. {ga.nodes[:3].tolist()}; b has {gb.n_nodes}, e.g. "
            f"{gb.nodes[:3].tolist()}). Check that both use the same stimulus ids or neuron names."
        )
    if shared.size < max(ga.n_nodes, gb.n_nodes):
        logger.info("matching %d shared nodes (a has %d, b has %d)", shared.size, ga.n_nodes, gb.n_nodes)
    opts = {"alpha": alpha, "method": method, **kwargs}
    ca = ricci_curvature(ga, **opts)
    cb = ricci_curvature(gb, **opts)
    flow_opts = {**opts, "progress": progress}
    com_a, note_a = _communities(ga, "a", flow_iterations, flow_opts)
    com_b, note_b = _communities(gb, "b", flow_iterations, flow_opts)
    pos_a = {v: i for i, v in enumerate(ga.nodes.tolist())}
    pos_b = {v: i for i, v in enumerate(gb.nodes.tolist())}
    ia = np.array([pos_a[v] for v in shared.tolist()])
    ib = np.array([pos_b[v] for v in shared.tolist()])
    matched = _Matched(ca, cb, shared, ga.directed, com_a[ia], com_b[ib])

    value = np.full(len(ALIGNMENT_SCORES), np.nan)
    ea, eb = ca["edge_curvature"].values, cb["edge_curvature"].values
    na, nb = ca["node_curvature"].values, cb["node_curvature"].values
    na, nb = na[np.isfinite(na)], nb[np.isfinite(nb)]
    value[0] = wasserstein_distance(ea, eb) if ea.size and eb.size else np.nan
    value[1] = wasserstein_distance(na, nb) if na.size and nb.size else np.nan
    observed, n_shared_edges = matched.scores()
    value[2:] = observed

    groups = [np.arange(shared.size)]
    if null == "degree":
        degree_b = cb["degree"].values[ib]
        groups = np.array_split(np.lexsort((np.arange(shared.size), degree_b)), min(degree_bins, shared.size))
    null_scores = np.full((n_permutations, len(ALIGNMENT_SCORES)), np.nan)
    for r in range(n_permutations):
        perm = np.arange(shared.size)
        for grp in groups:
            perm[grp] = grp[rng.permutation(grp.size)]
        null_scores[r, 2:] = matched.scores(perm)[0]
    p_value: np.ndarray = np.full(len(ALIGNMENT_SCORES), np.nan)
    if n_permutations:
        finite = np.isfinite(null_scores)
        n_valid = finite.sum(0)
        exceed = np.sum(finite & (null_scores >= value[None, :] - _TIE), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_value = np.where(np.isfinite(value), (1.0 + exceed) / (1.0 + n_valid), np.nan)
        p_value[:2] = np.nan

    note = "; ".join(n for n in (note_a, note_b) if n)
    if note:
        logger.info("community agreement is NaN: %s", note)
    ds = xr.Dataset(
        {
            "value": ("score", value),
            "p_value": ("score", p_value),
            "null": (("permutation", "score"), null_scores),
            "edge_curvature_a": ("edge_a", ea),
            "edge_curvature_b": ("edge_b", eb),
            "node_curvature_a": ("node_a", ca["node_curvature"].values),
            "node_curvature_b": ("node_b", cb["node_curvature"].values),
            "community_a": ("node_a", com_a),
            "community_b": ("node_b", com_b),
        },
        coords={
            "score": list(ALIGNMENT_SCORES),
            "permutation": np.arange(n_permutations),
            "source_a": ("edge_a", ca["source"].values),
            "target_a": ("edge_a", ca["target"].values),
            "weight_a": ("edge_a", ca["weight"].values),
            "source_b": ("edge_b", cb["source"].values),
            "target_b": ("edge_b", cb["target"].values),
            "weight_b": ("edge_b", cb["weight"].values),
            "node_a": ga.nodes,
            "node_b": gb.nodes,
            "matched_a": ("node_a", np.isin(ga.nodes, shared)),
            "matched_b": ("node_b", np.isin(gb.nodes, shared)),
        },
        attrs={
            "alpha": alpha, "method": method, "k": -1 if k is None else int(k), "metric": metric,
            "flow_iterations": int(flow_iterations), "n_permutations": int(n_permutations),
            "null_kind": null, "degree_bins": int(degree_bins) if null == "degree" else 1,
            "directed": int(ga.directed), "n_nodes_a": ga.n_nodes, "n_nodes_b": gb.n_nodes,
            "n_shared_nodes": int(shared.size), "n_edges_a": int(ea.size), "n_edges_b": int(eb.size),
            "n_shared_edges": n_shared_edges,
            "n_communities_a": int(com_a.max() + 1), "n_communities_b": int(com_b.max() + 1),
            "community_note": note,
            "null_note": "edge_wasserstein and node_wasserstein do not depend on node identities: "
                         "no permutation null",
        },
    )
    return ds


def system_curvature(result: xr.Dataset, system: str = "a") -> xr.Dataset:
    """One system's curvature from a :func:`curvature_alignment` result, laid out as
    :func:`ricci_curvature` lays it out ('edge' with ``source``, ``target``, ``weight``;
    'node'), plus ``community`` over 'node'.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import (curvature_alignment, knn_graph, ricci_curvature,
    ...                                   system_curvature)
    >>> x = np.random.default_rng(0).normal(size=(12, 3))
    >>> res = curvature_alignment(x, 2 * x, k=3, flow_iterations=0, n_permutations=0)
    >>> a = system_curvature(res, "a")
    >>> dict(a.sizes), a["edge_curvature"].values[:3].round(3)
    ({'edge': 23, 'node': 12}, array([ 0.577,  0.49 , -0.113]))
    >>> bool(np.allclose(a["edge_curvature"], ricci_curvature(knn_graph(x, k=3))["edge_curvature"]))
    True
    """
    from .._checks import _check_option

    _check_option("system", system, ("a", "b"))
    key = f"edge_curvature_{system}"
    if not isinstance(result, xr.Dataset) or key not in result:
        raise ValueError(
            "Invalid value for 'result': expected the Dataset returned by curvature_alignment "
            f"(with {key!r}); got {type(result).__name__}."
        )
    s = system
    part = result[[f"edge_curvature_{s}", f"node_curvature_{s}", f"community_{s}"]]
    part = part.drop_vars([c for c in part.coords if not str(c).endswith(f"_{s}")])
    names = {f"edge_curvature_{s}": "edge_curvature", f"node_curvature_{s}": "node_curvature",
             f"community_{s}": "community", f"edge_{s}": "edge", f"node_{s}": "node",
             f"source_{s}": "source", f"target_{s}": "target", f"weight_{s}": "weight",
             f"matched_{s}": "matched"}
    out = part.rename(names)
    out.attrs = {"directed": result.attrs.get("directed", 0), "system": s}
    return out
