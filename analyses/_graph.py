"""Weighted graphs over stimuli or neurons: kNN / epsilon-ball graphs, RDM and connectome graphs.

A :class:`Graph` is a sparse ``(node, node)`` matrix of edge weights read as *lengths*
(distances: larger = farther), node ids, and whether edges are directed. Undirected graphs
are stored symmetric. Curvature (:mod:`._curvature`) reads edge weights exactly as
GraphRicciCurvature reads the ``weight`` attribute of a NetworkX graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.spatial.distance import cdist

from .._checks import AssemblyError, _check_option, check_finite, check_scalar

logger = logging.getLogger(__name__)

SYMMETRIZE = ("union", "mutual")


@dataclass(frozen=True)
class Graph:
    """Sparse weighted graph; ``weights[i, j]`` is the length of the edge ``i -> j``.

    Attributes
    ----------
    weights : scipy.sparse.csr_array, shape (n_nodes, n_nodes)
        Edge lengths (> 0 unless an edge really has length 0); symmetric when undirected.
        No self-loops.
    nodes : ndarray of str, shape (n_nodes,)
        Node ids (stimulus ids, neuron names).
    directed : bool

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import Graph
    >>> g = Graph.from_networkx(nx.path_graph(["a", "b", "c"]))
    >>> g
    <Graph: 3 nodes, 2 undirected edges>
    >>> src, dst, length = g.edges()
    >>> g.nodes[src].tolist(), g.nodes[dst].tolist(), length.tolist()
    (['a', 'b'], ['b', 'c'], [1.0, 1.0])
    """

    weights: Any
    nodes: np.ndarray
    directed: bool = False

    @property
    def n_nodes(self) -> int:
        return int(self.weights.shape[0])

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(source, target, weight)`` index arrays; undirected edges once, with source < target."""
        coo = self.weights.tocoo()
        keep = coo.row != coo.col
        if not self.directed:
            keep &= coo.row < coo.col
        order = np.lexsort((coo.col[keep], coo.row[keep]))
        return (coo.row[keep][order].astype(np.int64), coo.col[keep][order].astype(np.int64),
                coo.data[keep][order].astype(np.float64))

    @property
    def n_edges(self) -> int:
        return int(self.edges()[0].size)

    def to_networkx(self) -> Any:
        """The same graph as a NetworkX (Di)Graph with a ``weight`` attribute per edge."""
        import networkx as nx

        g = nx.DiGraph() if self.directed else nx.Graph()
        g.add_nodes_from(self.nodes.tolist())
        src, dst, w = self.edges()
        g.add_weighted_edges_from(zip(self.nodes[src].tolist(), self.nodes[dst].tolist(), w.tolist()))
        return g

    @classmethod
    def from_networkx(cls, g: Any, weight: str = "weight") -> Graph:
        """A graph from NetworkX; edges without ``weight`` get length 1; self-loops are dropped."""
        import networkx as nx

        nodes = list(g.nodes())
        index = {n: i for i, n in enumerate(nodes)}
        rows, cols, vals = [], [], []
        for u, v, d in g.edges(data=True):
            if u == v:
                continue
            rows.append(index[u])
            cols.append(index[v])
            vals.append(float(d.get(weight, 1.0)))
        directed = bool(nx.is_directed(g))
        if not directed:
            rows, cols, vals = rows + cols, cols + rows, vals + vals
        w = sp.csr_array((vals, (rows, cols)), shape=(len(nodes), len(nodes)))
        return cls(w, np.asarray([str(n) for n in nodes]), directed)

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        return f"<Graph: {self.n_nodes} nodes, {self.n_edges} {kind} edges>"


def knn_graph(
    x: Any,
    k: int | None = 10,
    *,
    metric: str = "euclidean",
    radius: float | None = None,
    symmetrize: str = "union",
    dim: str = "stimulus",
    similarity: bool = False,
) -> Graph:
    """A graph over the stimuli of an assembly: k nearest neighbours or an epsilon ball.

    Parameters
    ----------
    x : DataArray or ndarray
        One of: an assembly with dims (``dim``, 'unit') (nodes are the stimuli, distances
        between their response vectors); a square (dis)similarity matrix, e.g. an RDM with
        dims ('stimulus', 'stimulus_') from :func:`brainbridge.analyses.rdm` or human
        similarity judgements; a plain ``(n, n_features)`` array.
    k : int or None, default=10
        Neighbours per node; None with ``radius`` for an epsilon ball.
    metric : str, default='euclidean'
        Any metric of :func:`scipy.spatial.distance.cdist` ('euclidean', 'correlation',
        'cosine', ...); ignored for matrices.
    radius : float, optional
        Keep pairs closer than ``radius`` (alone, or with ``k``: both conditions); > 0.

    Notes
    -----
    Features (an assembly or an ``(n, n_features)`` array) must be finite real numbers:
    NaN or inf raise a ``ValueError`` naming the first bad entry, and so does a metric that
    gives NaN distances (e.g. 'correlation' on a constant pattern). In a square matrix NaN
    marks a missing pair (no edge); inf raises.
    symmetrize : {'union', 'mutual'}, default='union'
        'union': i-j is an edge when j is among i's neighbours or i among j's; 'mutual':
        only when both hold.
    dim : str, default='stimulus'
        The node dim of an assembly.
    similarity : bool, default=False
        ``x`` is a similarity matrix (larger = closer); its distances are ``max(s) - s``.

    Returns
    -------
    Graph
        Undirected; edge weight = distance. Ties in the k-th distance are broken by index.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import knn_graph
    >>> pts = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> g = knn_graph(pts, k=1)
    >>> g.n_edges, g.weights[2, 3]
    (3, np.float64(4.0))
    """
    return _knn_graph(x, k, metric=metric, radius=radius, symmetrize=symmetrize, dim=dim,
                      similarity=similarity, name="x")


#: Metric names :func:`scipy.spatial.distance.cdist` accepts (a callable is passed through).
METRICS = ("braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine", "dice",
           "euclidean", "hamming", "jaccard", "jensenshannon", "mahalanobis", "minkowski",
           "rogerstanimoto", "russellrao", "seuclidean", "sokalmichener", "sokalsneath", "sqeuclidean",
           "yule")


def _knn_graph(x: Any, k: int | None = 10, *, metric: str = "euclidean",
               radius: float | None = None, symmetrize: str = "union", dim: str = "stimulus",
               similarity: bool = False, name: str = "x") -> Graph:
    """:func:`knn_graph`, naming the data ``name`` in errors (``'graph'`` for ricci_*)."""
    _check_option("symmetrize", symmetrize, SYMMETRIZE)
    if not callable(metric):
        _check_option("metric", metric, METRICS)
    if k is None and radius is None:
        raise ValueError(
            "Invalid value for 'k': expected a positive integer, or pass radius=; got k=None "
            "and radius=None. Give k (e.g. 10) or radius."
        )
    k = check_scalar("k", k, int, low=1, allow_none=True)
    radius = check_scalar("radius", radius, float, low=0, closed="neither", allow_none=True,
                          what="the largest edge length",
                          fix="Pass a positive distance, or radius=None for k neighbours only.")
    d, nodes = _distances(x, metric, dim, similarity, cdist, name)
    n = d.shape[0]
    if k is not None and k >= n:
        raise ValueError(
            f"Invalid value for 'k': expected fewer neighbours than nodes ({n}); got {k}. "
            f"Use k <= {n - 1}."
        )
    np.fill_diagonal(d, np.inf)
    keep = np.ones_like(d, dtype=bool)
    if k is not None:
        nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
        keep = np.zeros_like(d, dtype=bool)
        np.put_along_axis(keep, nearest, True, axis=1)
    if radius is not None:
        keep &= d < radius
    keep &= np.isfinite(d)
    keep = (keep | keep.T) if symmetrize == "union" else (keep & keep.T)
    rows, cols = np.nonzero(keep)
    vals = np.minimum(d[rows, cols], d[cols, rows])  # the same for a metric; explicit zeros are kept
    if np.any(vals <= 0):
        logger.info("%d edges have length 0 (duplicate points); their curvature is 0 by convention",
                    int(np.sum(vals <= 0)) // 2)
    w = sp.csr_array((vals, (rows, cols)), shape=(n, n))  # (rows, cols) are unique pairs
    return Graph(w, nodes, False)


def _distances(x: Any, metric: str, dim: str, similarity: bool, cdist: Any,
               name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    if isinstance(x, xr.DataArray):
        if x.ndim == 2 and x.dims[1] == f"{x.dims[0]}_":
            nodes = np.asarray(x[x.dims[0]].values).astype(str) if x.dims[0] in x.coords else None
            return _square(check_finite(name, x, allow_nan=True), similarity, nodes, name)
        if dim not in x.dims or "unit" not in x.dims or x.ndim != 2:
            raise AssemblyError(
                f"{name!r} must have dims ({dim!r}, 'unit') or be a square matrix with dims (d, d + '_'); "
                f"got dims {tuple(x.dims)}. Average or select the other dims first."
            )
        values = check_finite(name, x.transpose(dim, "unit"), fix=_FEATURES_FIX)
        nodes = (np.asarray(x[dim].values).astype(str) if dim in x.coords
                 else np.array([str(i) for i in range(values.shape[0])]))
        return _cdist(values, metric, cdist, name), nodes
    arr = check_finite(name, x, allow_nan=similarity, fix=_FEATURES_FIX)
    if arr.ndim != 2:
        raise ValueError(
            f"Invalid value for {name!r}: expected a 2-D (n, n_features) array or a square matrix; got "
            f"shape {arr.shape}."
        )
    if similarity:
        return _square(arr, True, None, name)
    return _cdist(arr, metric, cdist, name), np.array([str(i) for i in range(arr.shape[0])])


_FEATURES_FIX = ("Graphs need complete response vectors; drop the units or stimuli with missing "
                 "values first, e.g. x.dropna('unit').")


def _cdist(values: np.ndarray, metric: str, cdist: Any, name: str = "x") -> np.ndarray:
    """Pairwise distances; NaN from finite data (e.g. a constant pattern) raises."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d = cdist(values, values, metric=metric)
    bad = np.isnan(d).all(axis=1)  # a constant / zero vector: NaN against every node
    if not bad.any():
        bad = np.isnan(d).any(axis=1)
    if bad.any():
        raise ValueError(
            f"Invalid value for {name!r}: metric {metric!r} gives NaN distances for {int(bad.sum())} "
            f"of {bad.size} nodes, the first at row {int(np.argmax(bad))} (a constant or zero "
            "response vector under 'correlation' or 'cosine'). Drop those stimuli or use "
            "metric='euclidean'.")
    return d


def _square(m: np.ndarray, similarity: bool, nodes: np.ndarray | None,
            name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"Invalid value for {name!r}: expected a square matrix; got shape {m.shape}.")
    if similarity:
        m = np.nanmax(m) - m
    m = m.copy()
    if nodes is None:
        nodes = np.array([str(i) for i in range(m.shape[0])])
    return m, nodes


def connectome_graph(c: xr.DataArray, *, synapse_type: str | None = None, directed: bool | None = None,
                     weight: str = "unweighted") -> Graph:
    """A graph from a connectome assembly (dims 'pre', 'post'[, 'synapse_type']).

    Parameters
    ----------
    c : DataArray
        E.g. :func:`brainbridge.loaders.load_celegans_connectome`; ``c[i, j]`` is the number
        (or weight) of synapses from ``pre`` i to ``post`` j. An edge exists where it is > 0.
    synapse_type : str, optional
        Select one value of the 'synapse_type' dim ('chemical', 'electrical'); required when
        the dim has more than one value.
    directed : bool, optional
        Keep pre -> post direction. Default: True for chemical synapses and for data without
        a synapse type, False for electrical (gap junctions are symmetric). Undirected graphs
        sum both directions.
    weight : {'unweighted', 'inverse', 'count'}, default='unweighted'
        Edge length: 1 for every edge; ``1 / count`` (more synapses = closer); or the count.

    Returns
    -------
    Graph
        Nodes are the neuron names; neurons without any synapse are kept as isolated nodes.

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import connectome_graph
    >>> names = ["AVAL", "AVAR", "RIML"]
    >>> c = xr.DataArray([[0, 2, 0], [0, 0, 1], [4, 0, 0]], dims=("pre", "post"),
    ...                  coords={"pre": names, "post": names})
    >>> g = connectome_graph(c, weight="inverse")
    >>> g
    <Graph: 3 nodes, 3 directed edges>
    >>> float(g.weights[0, 1]), float(g.weights[2, 0])  # 1 / number of synapses
    (0.5, 0.25)
    """
    _check_option("weight", weight, ["unweighted", "inverse", "count"])
    if not isinstance(c, xr.DataArray) or not {"pre", "post"} <= set(c.dims):
        raise AssemblyError(
            f"'c' must be a connectome DataArray with dims ('pre', 'post'[, 'synapse_type']); got "
            f"{tuple(c.dims) if isinstance(c, xr.DataArray) else type(c).__name__}. Load one with "
            "brainbridge.loaders.load_celegans_connectome."
        )
    if "synapse_type" in c.dims:
        types = [str(t) for t in c["synapse_type"].values]
        if synapse_type is None and len(types) > 1:
            raise ValueError(
                f"Invalid value for 'synapse_type': expected one of {types} for a connectome with "
                f"several synapse types; got None. Pass synapse_type={types[0]!r}."
            )
        synapse_type = _check_option("synapse_type", synapse_type or types[0], types)
        c = c.sel(synapse_type=synapse_type)
    if directed is None:
        directed = synapse_type != "electrical"
    pre = [str(v) for v in c["pre"].values]
    post = [str(v) for v in c["post"].values]
    if pre != post:
        c = c.sel(post=c["pre"].values)
    m = np.nan_to_num(np.asarray(c.transpose("pre", "post").values, dtype=float))
    np.fill_diagonal(m, 0.0)
    if not directed:
        m = m + m.T
    rows, cols = np.nonzero(m > 0)
    counts = m[rows, cols]
    lengths = {"unweighted": np.ones_like(counts), "inverse": 1.0 / counts, "count": counts}[weight]
    w = sp.csr_array((lengths, (rows, cols)), shape=m.shape)
    return Graph(w, np.asarray(pre), bool(directed))


def as_graph(g: Any, *, name: str = "g", **knn: Any) -> Graph:
    """Accept a Graph, a NetworkX graph, a connectome assembly or anything :func:`knn_graph` takes.

    ``name`` is the caller's name for ``g`` in error messages (``ricci_curvature`` passes
    ``"graph"``); ``**knn`` are :func:`knn_graph`'s options.

    Examples
    --------
    >>> import networkx as nx
    >>> import numpy as np
    >>> from brainbridge.analyses import as_graph
    >>> as_graph(nx.cycle_graph(4))
    <Graph: 4 nodes, 4 undirected edges>
    >>> as_graph(np.array([[0.0], [1.0], [3.0]]), k=1)
    <Graph: 3 nodes, 2 undirected edges>
    """
    if isinstance(g, Graph):
        return g
    if hasattr(g, "adj") and hasattr(g, "edges") and hasattr(g, "nodes"):
        return Graph.from_networkx(g)
    if isinstance(g, xr.DataArray) and {"pre", "post"} <= set(g.dims):
        return connectome_graph(g)
    return _knn_graph(g, **knn, name=name)
