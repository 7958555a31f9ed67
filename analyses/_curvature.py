"""Ollivier-Ricci curvature, Ricci flow and Ricci-flow communities of weighted graphs.

Conventions are GraphRicciCurvature's (Ni et al. 2015, 2019), so values agree with it:

* Edge ``(x, y)`` with length ``w_xy``. The measure ``m_x`` keeps mass ``alpha`` on ``x`` and
  spreads ``1 - alpha`` over the neighbours ``v`` of ``x`` in proportion to
  ``base ** -(w_xv ** exp_power)`` (uniformly when those terms sum to at most 1e-7; all mass on
  ``x`` when it has no neighbour). Directed graphs: ``m_x`` uses the predecessors of ``x``
  (edges ``v -> x``), ``m_y`` the successors of ``y`` (edges ``y -> v``).
* ``kappa(x, y) = 1 - W1(m_x, m_y) / d(x, y)``, with ``d`` the shortest-path length on the
  weighted (directed) graph, both as ground cost and in the denominator; ``kappa = 0`` when
  ``d(x, y) < 1e-7``.
* Node curvature: mean curvature of the node's edges (undirected). Directed graphs: mean over
  in- and out-edges (GraphRicciCurvature divides the sum over out-edges by the total degree).
* Ricci flow: ``w <- w - step * kappa * w``, then ``w <- w * n_edges / sum(w)``, then
  curvature again; stop early when ``max kappa - min kappa < delta``.

Only the shortest-path lengths between the supports of each edge are needed; they are found
by a multi-source Dijkstra bounded, per source, by the longest path any edge can ask of it
(``w(a, x) + w(x, y) + w(y, b)``), so no all-pairs matrix is built beyond that radius.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
import xarray as xr
from scipy.sparse.csgraph import connected_components

from .._checks import _check_option, check_scalar
from ._graph import Graph, as_graph
from ._graph_kernels import _compiled, dijkstra_rows, pack_reduced

logger = logging.getLogger(__name__)

EPSILON = 1e-7
CURVATURE_METHODS = ("exact", "sinkhorn")
#: Bytes of float64 shortest-path rows kept at once (rows x nodes x 8).
_ROW_BYTES = 2**28
#: Pivot budget of the compiled transport simplex, per node of a problem; edges over it are
#: solved again by POT's network simplex.
_PIVOTS_PER_NODE = 100
#: Within one Ricci flow: every edge's optimal dual potentials and basis from the last exact
#: solve (``{"ptr", "pot", "basis"}``); each step starts its transport problems from them.
_WARM: ContextVar[dict | None] = ContextVar("_WARM", default=None)
#: Entries of padded (edge, m, n) Sinkhorn tensors per batch.
_SINKHORN_BATCH = 2**23


class _Supports(NamedTuple):
    """Per node, the support of its measure (CSR-like) and the masses on it."""

    ptr: np.ndarray
    idx: np.ndarray
    mass: np.ndarray


def _supports(w: Any, alpha: float, base: float, exp_power: float) -> _Supports:
    """The measure of every node over the rows of ``w`` (neighbours ``v`` of row ``x``)."""
    n = w.shape[0]
    deg = np.diff(w.indptr)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg + 1, out=ptr[1:])
    idx = np.empty(ptr[-1], dtype=np.int64)
    mass = np.empty(ptr[-1])
    nodes = np.arange(n)
    terms = base ** (-(w.data.astype(np.float64) ** exp_power))
    row = np.repeat(nodes, deg)
    sums = np.bincount(row, terms, n)
    uniform = sums[row] <= EPSILON
    if np.any(uniform & (deg[row] > 0)):
        logger.warning("%d nodes have neighbour weights base**-(w**exp_power) summing to <= 1e-7; "
                       "their mass is spread uniformly (edge lengths may be too large for "
                       "exp_power=%g)", int(np.sum((sums <= EPSILON) & (deg > 0))), exp_power)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(uniform, (1.0 - alpha) / np.maximum(deg[row], 1),
                         (1.0 - alpha) * terms / sums[row])
    # neighbours first, the node itself last (alpha, or 1 when it has no neighbour)
    pos = np.arange(w.indices.size) + row
    idx[pos] = w.indices
    mass[pos] = share
    idx[ptr[1:] - 1] = nodes
    mass[ptr[1:] - 1] = np.where(deg > 0, alpha, 1.0)
    return _Supports(ptr, idx, mass)


def _limits(w: Any, wt: Any) -> np.ndarray:
    """Per node ``a``: the longest shortest path any edge can need from ``a``.

    ``d(a, b) <= w(a -> x) + w(x -> y) + w(y -> b)`` for ``a`` in the source support of the
    edge ``x -> y`` (``a == x`` or ``a -> x``) and ``b`` in its target support, so Dijkstra
    from ``a`` may stop there.
    """
    reach = _row_max(w, _row_max(wt))  # max over edges x -> y of w(x -> y) + max_b w(y -> b)
    return np.maximum(reach, _row_max(w, reach)) * (1 + 1e-9) + 1e-12


def _row_max(m: Any, add: np.ndarray | None = None) -> np.ndarray:
    """Per row ``i``: ``max_j (m_ij + add_j)`` over stored entries (0 for empty rows)."""
    vals = m.data.astype(np.float64) + (add[m.indices] if add is not None else 0.0)
    out = np.zeros(m.shape[0])
    np.maximum.at(out, np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), vals)
    return out


def _exact_w1(src, dst, s_sup: _Supports, t_sup: _Supports, row_of, dist, n_jobs: int,
              warm: tuple[np.ndarray, np.ndarray, np.ndarray, bool]) -> np.ndarray:
    """Exact W1 of every edge: the compiled transport simplex (numba), POT without numba.
    ``warm``: last optimal potentials and bases, per-edge offsets, whether to start from them."""
    kernels = _compiled()
    if kernels is None:
        return _emd_batch(*pack_reduced(src, dst, s_sup, t_sup, row_of, dist), n_jobs)
    out = kernels.edge_w1(src, dst, *s_sup, *t_sup, row_of, dist, _PIVOTS_PER_NODE, *warm)
    redo = np.flatnonzero(np.isnan(out))
    if redo.size:
        logger.info("%d transport problems exceeded the pivot budget; solving them with POT", redo.size)
        out[redo] = _emd_batch(*pack_reduced(src[redo], dst[redo], s_sup, t_sup, row_of, dist), n_jobs)
    return out


def _emd_batch(a_ptr, a_mass, b_ptr, b_mass, c_ptr, costs, n_jobs: int) -> np.ndarray:
    """Exact W1 of every edge with POT's network simplex, in threads (it releases the GIL)."""
    try:
        from ot.lp.emd_wrap import emd_c
    except ImportError as err:  # pragma: no cover - POT is in the geometry extra
        raise ImportError(
            "method='exact' needs POT (optimal transport). Install it with: pip install "
            "'brainbridge[geometry]', or use method='sinkhorn'."
        ) from err
    n_edges = c_ptr.size - 1
    out = np.empty(n_edges)

    def run(block: range) -> None:
        for e in block:
            a = a_mass[a_ptr[e]:a_ptr[e + 1]]
            b = b_mass[b_ptr[e]:b_ptr[e + 1]]
            if a.size == 0 or b.size == 0:  # equal measures
                out[e] = 0.0
                continue
            b = b * (a.sum() / b.sum())  # the net masses balance up to rounding
            m = costs[c_ptr[e]:c_ptr[e + 1]].reshape(a.size, b.size)
            out[e] = emd_c(a, b, m, 100000, 1)[1]

    jobs = max(1, min(n_jobs, n_edges // 256 or 1))
    bounds = np.linspace(0, n_edges, jobs + 1).astype(int)
    blocks = [range(bounds[i], bounds[i + 1]) for i in range(jobs)]
    if jobs == 1:
        run(blocks[0])
    else:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(run, blocks))
    return out


def _entropic_w1(src, dst, s_sup: _Supports, t_sup: _Supports, row_of, dist, reg: float, max_iter: int,
                 tol: float, device: Any) -> np.ndarray:
    """Sinkhorn transport cost of every edge: compiled per edge on CPU (numba), batched in torch
    on a GPU or without numba. Warns about edges that did not converge."""
    from .._config import resolve_device

    dev = resolve_device(device)
    kernels = _compiled()
    if dev.type == "cpu" and kernels is not None:
        out, ok = kernels.edge_sinkhorn(src, dst, *s_sup, *t_sup, row_of, dist, reg, max_iter, tol)
        redo = np.flatnonzero(np.isnan(out))  # a scaling overflowed: log-domain updates in torch
        if redo.size:
            out[redo], ok[redo] = _sinkhorn_batch(
                *pack_reduced(src[redo], dst[redo], s_sup, t_sup, row_of, dist), reg, max_iter, tol, dev,
                log_domain=True)
    else:
        problems = pack_reduced(src, dst, s_sup, t_sup, row_of, dist)
        out, ok = _sinkhorn_batch(*problems, reg, max_iter, tol, dev)
    if not ok.all():
        logger.warning("Sinkhorn did not converge for %d of %d edges in max_iter=%d iterations (L1 marginal "
                       "error above tol=%g); raise max_iter or reg", int(np.sum(~ok)), ok.size, max_iter, tol)
    return out


def _sinkhorn_batch(a_ptr, a_mass, b_ptr, b_mass, c_ptr, costs, reg: float, max_iter: int,
                    tol: float, dev: Any, log_domain: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Entropic W1 ``<P, C>`` of the Sinkhorn plan ``P = diag(u) K diag(v)``, ``K = exp(-C / reg)``,
    batched over edges in torch (float64, zero-padded ``(edge, m, n)`` tensors).

    Scaling updates ``u = a / (K v)``, ``v = b / (K^T u)`` (log-domain updates when
    ``max C / reg > 600``, where ``K`` would underflow, or when asked), until every edge's L1
    marginal error is below ``tol`` (checked every 10 iterations) or ``max_iter`` iterations.
    Returns the costs and, per edge, whether its error is below ``tol``.
    """
    n_edges = c_ptr.size - 1
    ma = np.diff(a_ptr)
    mb = np.diff(b_ptr)
    out = np.zeros(n_edges)  # empty problems (equal measures) cost 0
    ok = np.ones(n_edges, dtype=bool)
    side = np.maximum(ma, mb)
    order = np.argsort(side, kind="stable")  # similar sizes share a batch: little padding
    start = int(np.sum(ma * mb == 0))
    while start < n_edges:
        # edges in size order: the batch is padded to its last (largest) edge's side, squared
        stop = start + max(1, int(_SINKHORN_BATCH // max(1, int(side[order[start]]) ** 2)))
        stop = min(stop, n_edges)
        while stop > start + 1 and (stop - start) * int(side[order[stop - 1]]) ** 2 > _SINKHORN_BATCH:
            stop = start + max(1, (stop - start) // 2)
        sel = order[start:stop]
        m, n = int(ma[sel].max()), int(mb[sel].max())
        a = np.zeros((sel.size, m))
        b = np.zeros((sel.size, n))
        c = np.zeros((sel.size, m, n))
        for k, e in enumerate(sel):
            a[k, :ma[e]] = a_mass[a_ptr[e]:a_ptr[e + 1]]
            b[k, :mb[e]] = b_mass[b_ptr[e]:b_ptr[e + 1]]
            c[k, :ma[e], :mb[e]] = costs[c_ptr[e]:c_ptr[e + 1]].reshape(ma[e], mb[e])
        at, bt, ct = (torch.as_tensor(v, device=dev) for v in (a, b, c))
        if float(ct.max()) / reg <= 600 and not log_domain:
            plan = _sinkhorn_scaling(at, bt, ct, reg, max_iter, tol)
        else:
            plan = _sinkhorn_log(at, bt, ct, reg, max_iter, tol)
        out[sel] = (plan * ct).sum((1, 2)).cpu().numpy()
        ok[sel] = ((plan.sum(2) - at).abs().sum(1) < tol).cpu().numpy()
        start = stop
    return out, ok


def _sinkhorn_scaling(a: Any, b: Any, c: Any, reg: float, max_iter: int, tol: float) -> Any:
    k = torch.exp(-c / reg)  # padded entries: cost 0, K 1, but u or v is 0 there
    u = torch.ones_like(a)
    v = torch.ones_like(b)
    for it in range(max_iter):  # broadcast products: batched tiny GEMMs are far slower on CPU
        u = a / (k * v[:, None, :]).sum(2)
        v = b / (k * u[:, :, None]).sum(1)
        if it % 10 == 9:
            err = (u * (k * v[:, None, :]).sum(2) - a).abs().sum(1).max()
            if float(err) < tol:
                break
    return u[:, :, None] * k * v[:, None, :]


def _sinkhorn_log(a: Any, b: Any, c: Any, reg: float, max_iter: int, tol: float) -> Any:
    la = torch.where(a > 0, a.log(), torch.full_like(a, -1e100))
    lb = torch.where(b > 0, b.log(), torch.full_like(b, -1e100))
    f = torch.zeros_like(a)
    g = torch.zeros_like(b)
    for it in range(max_iter):
        f = reg * la - reg * torch.logsumexp((g[:, None, :] - c) / reg, dim=2)
        g = reg * lb - reg * torch.logsumexp((f[:, :, None] - c) / reg, dim=1)
        if it % 10 == 9:
            plan = torch.exp((f[:, :, None] + g[:, None, :] - c) / reg)
            if float((plan.sum(2) - a).abs().sum(1).max()) < tol:
                break
    return torch.exp((f[:, :, None] + g[:, None, :] - c) / reg)


def _edge_curvature(g: Graph, alpha: float, method: str, base: float, exp_power: float, reg: float,
                    max_iter: int, tol: float, n_jobs: int, device: Any) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(source, target, weight, curvature, w1, distance)`` arrays over the edges of ``g``."""
    w = sp.csr_array(g.weights, dtype=np.float64)
    w.sort_indices()
    src, dst, length = g.edges()
    if src.size == 0:
        return src, dst, length, np.zeros(0), np.zeros(0), np.zeros(0)
    wt = w  # target measures: successors of y (undirected: neighbours)
    ws = sp.csr_array(w.T) if g.directed else w  # source measures: predecessors of x
    ws.sort_indices()
    s_sup = _supports(ws, alpha, base, exp_power)
    t_sup = _supports(wt, alpha, base, exp_power)
    limits = _limits(w, wt)
    n = w.shape[0]
    warm_ptr = np.zeros(src.size + 1, dtype=np.int64)
    np.cumsum(np.diff(s_sup.ptr)[src] + np.diff(t_sup.ptr)[dst], out=warm_ptr[1:])
    state = _WARM.get()
    if state is not None and state.get("ptr") is not None and np.array_equal(state["ptr"], warm_ptr):
        warm = (state["pot"], state["basis"], True)  # same graph as the last step
    else:
        warm = (np.zeros(warm_ptr[-1]), np.full(warm_ptr[-1], -1, dtype=np.int64), False)
        if state is not None:
            state.update(ptr=warm_ptr, pot=warm[0], basis=warm[1])
    kappa = np.empty(src.size)
    w1 = np.empty(src.size)
    dxy = np.empty(src.size)
    # Blocks of edges (sorted by source node) whose source supports fit the row budget.
    budget = max(1, _ROW_BYTES // (8 * n))
    sizes = np.diff(s_sup.ptr)[src]
    start = 0
    while start < src.size:
        if n <= budget:
            stop = src.size
            sources = np.unique(s_sup.idx)
        else:
            stop = start + max(1, int(np.searchsorted(np.cumsum(sizes[start:]), budget, side="right")))
            sources = np.unique(np.concatenate(
                [s_sup.idx[s_sup.ptr[x]:s_sup.ptr[x + 1]] for x in np.unique(src[start:stop])]))
        dist = dijkstra_rows(w, sources, limits[sources])
        row_of = np.full(n, -1, dtype=np.int64)
        row_of[sources] = np.arange(sources.size)
        es, ed = src[start:stop], dst[start:stop]
        if method == "exact":
            m = _exact_w1(es, ed, s_sup, t_sup, row_of, dist, n_jobs,
                          (warm[0], warm[1], warm_ptr[start:stop + 1], warm[2]))
        else:
            m = _entropic_w1(es, ed, s_sup, t_sup, row_of, dist, reg, max_iter, tol, device)
        d = dist[row_of[es], ed]
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa[start:stop] = np.where(d < EPSILON, 0.0, 1.0 - m / d)
        w1[start:stop] = m
        dxy[start:stop] = d
        start = stop
    return src, dst, length, kappa, w1, dxy


def _check_lengths(g: Graph) -> Graph:
    data = np.asarray(g.weights.data, dtype=float)
    bad = ~np.isfinite(data) | (data < 0)
    if np.any(bad):
        raise ValueError(
            f"Invalid value for 'graph': expected finite, non-negative edge lengths; got {int(bad.sum())} "
            f"stored entries that are NaN, infinite or negative (e.g. {data[bad][0]!r}). Drop those "
            "edges or give them a length first."
        )
    return g


def _node_curvature(n: int, src: np.ndarray, dst: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    total = np.bincount(src, kappa, n) + np.bincount(dst, kappa, n)
    count = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _check_params(alpha: float, method: str, reg: float) -> None:
    if isinstance(alpha, bool) or not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"Invalid value for 'alpha': expected a number in [0, 1] (mass kept on the node); got {alpha!r}."
        )
    _check_option("method", method, CURVATURE_METHODS)
    if method == "sinkhorn" and not reg > 0:
        raise ValueError(f"Invalid value for 'reg': expected a positive number; got {reg!r}.")


def _dataset(g: Graph, src, dst, length, kappa, w1, dxy, attrs: dict[str, Any]) -> xr.Dataset:
    node_k = _node_curvature(g.n_nodes, src, dst, kappa)
    return xr.Dataset(
        {
            "edge_curvature": ("edge", kappa),
            "node_curvature": ("node", node_k),
            "transport": ("edge", w1),
            "distance": ("edge", dxy),
        },
        coords={
            "source": ("edge", g.nodes[src]),
            "target": ("edge", g.nodes[dst]),
            "weight": ("edge", length),
            "node": g.nodes,
            "degree": ("node", np.bincount(src, minlength=g.n_nodes) + np.bincount(dst, minlength=g.n_nodes)),
        },
        attrs={"directed": int(g.directed), **attrs},
    )


def ricci_curvature(
    graph: Any,
    *,
    alpha: float = 0.5,
    method: str = "exact",
    base: float = math.e,
    exp_power: float = 2.0,
    reg: float = 0.1,
    max_iter: int = 1000,
    tol: float = 1e-9,
    n_jobs: int | None = None,
    device: Any = "auto",
    **knn: Any,
) -> xr.Dataset:
    """Ollivier-Ricci curvature of every edge and node of a graph.

    ``kappa(x, y) = 1 - W1(m_x, m_y) / d(x, y)`` with GraphRicciCurvature's measures and
    shortest-path ground cost (module docstring).

    Parameters
    ----------
    graph : Graph, networkx graph, connectome DataArray, or anything :func:`knn_graph` takes
        An assembly (stimulus x unit) or a matrix becomes a kNN graph with ``**knn``
        (``k=10`` by default).
    alpha : float, default=0.5
        Mass kept on the node itself.
    method : {'exact', 'sinkhorn'}, default='exact'
        'exact': W1 by a compiled transport simplex (POT's network simplex without numba),
        equal to GraphRicciCurvature's ``"OTD"``.
        'sinkhorn': entropic W1 ``<P, C>`` of the Sinkhorn plan with regularisation ``reg``
        (same units as the edge lengths; ``reg -> 0`` tends to exact), on the reduced problems
        (net masses): compiled per edge on CPU, batched over edges in torch on a GPU.
    base, exp_power : float, default=e, 2
        Neighbour mass ``base ** -(w ** exp_power)``.
    reg, max_iter, tol : float, int, float
        Sinkhorn regularisation, iteration cap, and stopping bound on the L1 marginal error.
    n_jobs : int, optional
        Threads for POT's network simplex (default: all cores), which runs without numba or for
        problems over the compiled solver's pivot budget. The compiled kernels use numba's
        threads (``numba.set_num_threads`` or ``NUMBA_NUM_THREADS``).
    device : str, default='auto'
        Where Sinkhorn runs: 'cpu' (compiled kernels; torch without numba) or a torch GPU.

    Returns
    -------
    Dataset
        ``edge_curvature``, ``transport`` (W1) and ``distance`` over 'edge' (coords
        ``source``, ``target``, ``weight``); ``node_curvature`` over 'node' (NaN for isolated
        nodes; coord ``degree``). Undirected edges appear once, source < target in node order.

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import ricci_curvature
    >>> ds = ricci_curvature(nx.karate_club_graph(), method="exact")
    >>> round(float(ds.edge_curvature[0]), 6)  # edge (0, 1); GraphRicciCurvature gives the same
    0.039583
    """
    import os

    _check_params(alpha, method, reg)
    max_iter = check_scalar("max_iter", max_iter, int, low=1, what="Sinkhorn iteration cap")
    if not tol > 0:
        raise ValueError(f"Invalid value for 'tol': expected a positive number (L1 marginal error); "
                         f"got {tol!r}.")
    g = _check_lengths(as_graph(graph, name="graph", **knn))
    n_jobs = n_jobs or os.cpu_count() or 1
    parts = _edge_curvature(g, alpha, method, base, exp_power, reg, max_iter, tol, n_jobs, device)
    attrs = {"alpha": alpha, "method": method, "base": base, "exp_power": exp_power}
    if method == "sinkhorn":
        attrs["reg"] = reg
    return _dataset(g, *parts, attrs)


def _with_weights(g: Graph, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> Graph:
    """``g`` with edges ``src -> dst`` of lengths ``w`` (both directions when undirected)."""
    rows, cols, vals = (src, dst, w) if g.directed else (
        np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([w, w]))
    m = sp.csr_array((vals, (rows, cols)), shape=(g.n_nodes, g.n_nodes))
    return Graph(m, g.nodes, g.directed)


def _largest_component(g: Graph) -> Graph:
    src, dst, _ = g.edges()
    labels = _components(g.n_nodes, src, dst)  # from the edge list: zero-length edges connect too
    sizes = np.bincount(labels)
    if sizes.size == 1:
        return g
    keep = np.flatnonzero(labels == np.argmax(sizes))
    logger.info("graph is not connected: Ricci flow runs on its largest component (%d of %d nodes)",
                keep.size, g.n_nodes)
    return Graph(g.weights[keep][:, keep], g.nodes[keep], g.directed)


def ricci_flow(
    graph: Any,
    iterations: int = 10,
    *,
    step: float = 1.0,
    delta: float = 1e-4,
    surgery: Any = None,
    surgery_every: int = 100,
    alpha: float = 0.5,
    method: str = "exact",
    progress: bool | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Discrete Ricci flow (Ni et al. 2019): edges of negative curvature stretch, positive shrink.

    Each iteration: ``w <- w - step * kappa * w``; ``w <- w * n_edges / sum(w)``; curvature
    of the new weights. Stops early once ``max kappa - min kappa < delta``. A disconnected
    graph flows on its largest connected component (GraphRicciCurvature's convention).

    Parameters
    ----------
    graph : as in :func:`ricci_curvature` (undirected)
    iterations : int, default=10
    step, delta : float, default=1, 1e-4
    surgery : float or callable, optional
        Every ``surgery_every`` iterations (not at iteration 0): a float removes edges whose
        flowed weight exceeds it; a callable maps a :class:`Graph` to a new one.
    surgery_every : int, default=100
    alpha, method, **kwargs
        Passed to :func:`ricci_curvature` (``base``, ``exp_power``, ``reg``, ``n_jobs``, ...).
    progress : bool or None
        Progress bar over iterations (None: on a terminal only).

    Returns
    -------
    Dataset
        As :func:`ricci_curvature` for the flowed graph (``weight`` = flowed length), plus
        ``original_curvature`` and ``original_weight`` over 'edge' and ``spread`` (max - min
        curvature) over 'iteration'; attrs ``iterations`` (run).

    Examples
    --------
    The negatively curved bridge between two cliques stretches:

    >>> import networkx as nx
    >>> from brainbridge.analyses import ricci_flow
    >>> flow = ricci_flow(nx.barbell_graph(4, 0), iterations=2, progress=False)
    >>> bridge = (flow["source"] == "3") & (flow["target"] == "4")
    >>> flow["original_curvature"][bridge].item(), flow["original_weight"][bridge].item()
    (-0.5, 1.0)
    >>> round(flow["weight"][bridge].item(), 2), round(float(flow["weight"].max()), 2)
    (6.6, 6.6)
    """
    _check_params(alpha, method, kwargs.get("reg", 0.1))
    iterations = check_scalar("iterations", iterations, int, low=0, what="flow steps")
    g = as_graph(graph, name="graph")
    if g.directed:
        raise ValueError(
            "Invalid value for 'graph': Ricci flow needs an undirected graph; got a directed one. "
            "Build it undirected (e.g. connectome_graph(..., directed=False))."
        )
    g = _largest_component(g)
    opts = {"alpha": alpha, "method": method, **kwargs}
    token = _WARM.set({})  # each step's transport problems start from the last step's optimum
    try:
        return _flow(g, iterations, step, delta, surgery, surgery_every, progress, opts)
    finally:
        _WARM.reset(token)


def _flow(g: Graph, iterations: int, step: float, delta: float, surgery: Any, surgery_every: int,
          progress: bool | None, opts: dict[str, Any]) -> xr.Dataset:
    from tqdm.auto import tqdm

    first = ricci_curvature(g, **opts)
    src, dst, w0 = g.edges()
    original = first.edge_curvature.values.copy()
    kappa = original
    w = w0.copy()
    n_target = float(src.size)
    spread = []
    ds = first
    it = -1
    for it in tqdm(range(iterations), desc="Ricci flow", disable=None if progress is None else not progress):
        w = w - step * kappa * w
        w = w * (n_target / w.sum())
        g = _with_weights(g, src, dst, w)
        ds = ricci_curvature(g, **opts)
        kappa = ds.edge_curvature.values
        spread.append(float(kappa.max() - kappa.min()))
        if spread[-1] < delta:
            break
        if surgery is not None and it != 0 and it % surgery_every == 0:
            cut = w <= surgery if not callable(surgery) else None
            g = surgery(g) if cut is None else _with_weights(g, src[cut], dst[cut], w[cut])
            src, dst, w = g.edges()
            n_target = float(src.size)
            ds = ricci_curvature(g, **opts)
            kappa = ds.edge_curvature.values
    if surgery is not None and src.size != original.size:
        logger.info("surgery removed %d edges; original_curvature is not reported", original.size - src.size)
        original = np.full(src.size, np.nan)
        w0 = np.full(src.size, np.nan)
    ds = ds.assign(original_curvature=("edge", original), original_weight=("edge", w0),
                   spread=("iteration", np.asarray(spread)))
    ds.attrs["iterations"] = it + 1
    return ds


def _modularity(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray, labels: np.ndarray) -> float:
    """Newman modularity of a weighted undirected graph: ``sum_c L_c / m - (D_c / 2m)^2``."""
    m = w.sum()
    if m <= 0:
        return float("nan")
    k = labels.max() + 1
    deg = np.bincount(src, w, n) + np.bincount(dst, w, n)
    d_c = np.bincount(labels, deg, k)
    same = labels[src] == labels[dst]
    l_c = np.bincount(labels[src][same], w[same], k)
    return float(np.sum(l_c / m - (d_c / (2 * m)) ** 2))


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    adj = sp.csr_array((np.ones(src.size), (src, dst)), shape=(n, n))
    return connected_components(adj, directed=False)[1]


def ricci_community(flow: xr.Dataset, *, cutoff_step: float = 0.025,
                    drop_threshold: float = 0.01) -> xr.Dataset:
    """Communities from Ricci-flowed weights (Ni et al. 2019; GraphRicciCurvature's rule).

    Edges heavier than a cutoff are removed, for cutoffs from the largest flowed weight down
    to 1 in steps of ``cutoff_step``; each cut gives the connected components as a partition
    and its weighted modularity. A cutoff is *good* where modularity drops (relative drop >
    ``drop_threshold``) when going up past it; the communities are the components after
    cutting at the smallest good cutoff.

    Parameters
    ----------
    flow : Dataset
        The result of :func:`ricci_flow`.
    cutoff_step, drop_threshold : float, default=0.025, 0.01

    Returns
    -------
    Dataset
        ``community`` over 'node' (0, 1, ...: components in node order); ``modularity`` over
        'cutoff' (the scan); attrs ``cutoff`` (the chosen one), ``good_cutoffs``,
        ``modularity_at_cutoff``.

    Examples
    --------
    >>> import networkx as nx
    >>> import numpy as np
    >>> from brainbridge.analyses import ricci_community, ricci_flow
    >>> flow = ricci_flow(nx.karate_club_graph(), iterations=5, progress=False)
    >>> comm = ricci_community(flow)
    >>> np.bincount(comm["community"].values).tolist(), round(comm.attrs["modularity_at_cutoff"], 3)
    ([12, 13, 5, 4], 0.602)
    """
    cutoff_step = check_scalar("cutoff_step", cutoff_step, float, low=0, closed="neither",
                               what="weight between scanned cutoffs")
    drop_threshold = check_scalar("drop_threshold", drop_threshold, float, low=0,
                                  what="relative modularity drop")
    for name in ("source", "target", "weight", "node"):
        if name not in flow.coords:
            raise ValueError(
                "Invalid value for 'flow': expected the Dataset returned by ricci_flow (coords "
                f"source, target, weight, node); it has no {name!r}."
            )
    nodes = np.asarray(flow["node"].values)
    index = {v: i for i, v in enumerate(nodes.tolist())}
    src = np.array([index[v] for v in flow["source"].values.tolist()], dtype=np.int64)
    dst = np.array([index[v] for v in flow["target"].values.tolist()], dtype=np.int64)
    w = np.asarray(flow["weight"].values, dtype=float)
    n = nodes.size
    cutoffs = np.arange(w.max(), 1, -cutoff_step) if w.size else np.zeros(0)
    mods = np.empty(cutoffs.size)
    for i, cut in enumerate(cutoffs):
        keep = w <= cut
        labels = _components(n, src[keep], dst[keep])
        mods[i] = _modularity(n, src[keep], dst[keep], w[keep], labels)
    good = []
    last = mods[-1] if mods.size else np.nan
    for i in range(mods.size - 1, 0, -1):
        now = mods[i]
        if last > now > 1e-4 and abs(last - now) / last > drop_threshold:
            good.append(float(cutoffs[i + 1]))
        last = now
    if not good:
        raise ValueError(
            "Invalid value for 'flow': no modularity drop found while cutting the flowed weights "
            f"(max weight {w.max() if w.size else float('nan'):.4g}); there is no community structure "
            "at this resolution. Run more flow iterations or lower drop_threshold."
        )
    cut = min(good)
    keep = w <= cut
    labels = _components(n, src[keep], dst[keep])
    return xr.Dataset(
        {"community": ("node", labels), "modularity": ("cutoff", mods)},
        coords={"node": nodes, "cutoff": cutoffs},
        attrs={"cutoff": cut, "good_cutoffs": np.asarray(good),
               "modularity_at_cutoff": _modularity(n, src[keep], dst[keep], w[keep], labels)},
    )


def curvature_communities(
    graph: Any,
    *,
    k: int | None = 10,
    metric: str = "euclidean",
    symmetrize: str = "union",
    similarity: bool = False,
    dim: str = "stimulus",
    alpha: float = 0.5,
    method: str = "exact",
    flow_iterations: int = 10,
    progress: bool | None = None,
    device: Any = "auto",
    **kwargs: Any,
) -> xr.Dataset:
    """Curvature of one graph with its Ricci flow and Ricci-flow communities in one Dataset.

    The graph's Ollivier-Ricci curvature (:func:`ricci_curvature`); then, when
    ``flow_iterations > 0``, ``flow_iterations`` steps of Ricci flow (:func:`ricci_flow`, on
    the largest connected component), whose flowed lengths and curvature are merged into the
    edge table, and the communities of the flowed graph (:func:`ricci_community`) over every
    node (-1 for nodes outside the component, or for all nodes when no community structure is
    found).

    Parameters
    ----------
    graph : Graph, networkx graph, connectome DataArray, or anything :func:`knn_graph` takes
        An assembly (``dim`` x 'unit'), a square (dis)similarity matrix or a plain
        ``(n, n_features)`` array becomes a kNN graph.
    k, metric, symmetrize, similarity, dim
        kNN graph options (:func:`knn_graph`); ignored for graphs and connectomes.
    alpha : float, default=0.5
        Mass kept on each node by the curvature measures.
    method : {'exact', 'sinkhorn'}, default='exact'
    flow_iterations : int, default=10
        Ricci-flow iterations before community detection; 0 computes the curvature only.
    progress : bool or None, default=None
        Progress bar of the flow (None: on a terminal only).
    device : str, default='auto'
        Where Sinkhorn runs (:func:`ricci_curvature`).
    **kwargs
        Passed to :func:`ricci_curvature` and :func:`ricci_flow` (``base``, ``exp_power``,
        ``reg``, ``n_jobs``, ...).

    Returns
    -------
    Dataset
        The :func:`ricci_curvature` result of the graph, plus ``flow_weight`` and
        ``flow_curvature`` over 'edge' (flowed length and curvature; NaN for edges outside the
        flowed component, all NaN without flow), ``community`` over 'node' (-1: none) and
        ``modularity`` over 'cutoff' (the :func:`ricci_community` scan; empty when there are no
        communities). Attrs: ``flow_iterations`` (run), ``cutoff`` and
        ``modularity_at_cutoff`` (NaN without communities), ``community_note`` (why there are
        no communities; empty when there are).

    Raises
    ------
    ValueError
        ``flow_iterations > 0`` on a directed graph (Ricci flow needs an undirected one).

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import curvature_communities
    >>> ds = curvature_communities(nx.karate_club_graph(), flow_iterations=10, progress=False)
    >>> int(ds.community.max()) + 1, round(ds.attrs["modularity_at_cutoff"], 3)
    (4, 0.617)
    >>> round(float(ds.edge_curvature[0]), 6)  # as ricci_curvature alone
    0.039583
    """
    from .._checks import check_scalar

    _check_params(alpha, method, kwargs.get("reg", 0.1))
    flow_iterations = check_scalar("flow_iterations", flow_iterations, int, low=0)
    g = as_graph(graph, name="graph", k=k, metric=metric, symmetrize=symmetrize,
                 similarity=similarity, dim=dim)
    if flow_iterations and g.directed:
        raise ValueError(
            f"Invalid value for 'graph': Ricci flow (flow_iterations={flow_iterations}) needs an "
            "undirected graph; got a directed one. Build it undirected (e.g. "
            "connectome_graph(..., directed=False)) or pass flow_iterations=0."
        )
    opts = {"alpha": alpha, "method": method, "device": device, **kwargs}
    ds = ricci_curvature(g, **opts)
    n_edges, n_nodes = ds.sizes["edge"], ds.sizes["node"]
    flow_weight = np.full(n_edges, np.nan)
    flow_curvature = np.full(n_edges, np.nan)
    community = np.full(n_nodes, -1, dtype=np.int64)
    attrs: dict[str, Any] = {"flow_iterations": 0, "cutoff": np.nan, "modularity_at_cutoff": np.nan,
                             "community_note": "flow_iterations=0, communities not computed"}
    modularity, cutoffs = np.zeros(0), np.zeros(0)
    if flow_iterations:
        flow = ricci_flow(g, flow_iterations, progress=progress, **opts)
        index = {(s, t): i for i, (s, t) in enumerate(zip(ds["source"].values.tolist(),
                                                          ds["target"].values.tolist()))}
        rows = [index[(s, t)] for s, t in zip(flow["source"].values.tolist(),
                                              flow["target"].values.tolist())]
        flow_weight[rows] = flow["weight"].values
        flow_curvature[rows] = flow["edge_curvature"].values
        attrs["flow_iterations"] = int(flow.attrs["iterations"])
        try:
            com = ricci_community(flow)
        except ValueError as err:
            if "no modularity drop" not in str(err):
                raise
            logger.warning("no Ricci-flow communities: %s", err)
            attrs["community_note"] = str(err)
        else:
            pos = {v: i for i, v in enumerate(ds["node"].values.tolist())}
            community[[pos[v] for v in com["node"].values.tolist()]] = com["community"].values
            modularity, cutoffs = com["modularity"].values, com["cutoff"].values
            attrs.update(cutoff=float(com.attrs["cutoff"]),
                         modularity_at_cutoff=float(com.attrs["modularity_at_cutoff"]),
                         community_note="")
    out = ds.assign(flow_weight=("edge", flow_weight), flow_curvature=("edge", flow_curvature),
                    community=("node", community), modularity=("cutoff", modularity))
    out = out.assign_coords(cutoff=cutoffs)
    out.attrs.update(attrs)
    return out
