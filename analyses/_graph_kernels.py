"""Compiled graph kernels for curvature: bounded multi-source Dijkstra, cost-matrix packing and
exact transport.

numba is optional (the ``geometry`` extra). Without it, distances come from
:func:`scipy.sparse.csgraph.dijkstra` (same values, several times slower on big graphs),
packing runs in numpy and exact transport in POT.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


@functools.cache
def _compiled() -> Any:
    """The numba kernels (module ``_graph_numba``), or None without numba."""
    try:
        from . import _graph_numba
    except ImportError:
        return None
    return _graph_numba


def dijkstra_rows(w: Any, sources: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Rows of shortest-path lengths (``inf`` beyond each source's limit) of the CSR graph ``w``.

    Examples
    --------
    A path ``0 -1- 1 -2- 2``, searched up to length 2.5 from nodes 0 and 2:

    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from brainbridge.analyses._graph_kernels import dijkstra_rows
    >>> w = sp.csr_array(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [0.0, 2.0, 0.0]]))
    >>> dijkstra_rows(w, np.array([0, 2]), np.array([2.5, 2.5]))
    array([[ 0.,  1., inf],
           [inf,  2.,  0.]])
    """
    n = w.shape[0]
    kernels = _compiled()
    if kernels is not None:
        args = (w.indptr.astype(np.int64), w.indices.astype(np.int64), w.data.astype(np.float64),
                sources.astype(np.int64), limits.astype(np.float64), n)
        # buckets narrower than the shortest arc (a hair narrower, for rounding); a heap when
        # an arc has length 0 or there would be too many buckets
        width = float(w.data.min()) * (1 - 1e-9) if w.data.size else 0.0
        if width > 0 and float(limits.max(initial=0.0)) / width < 16 * n + 1024:
            row = np.repeat(np.arange(n), np.diff(w.indptr))
            order = np.lexsort((w.data, row))  # each row's arcs by length: stop at the limit
            return kernels.bucket_rows(args[0], args[1][order], args[2][order], *args[3:], width)
        return kernels.heap_rows(*args)

    m = sp.csr_matrix((w.data, w.indices.astype(np.int32), w.indptr.astype(np.int32)), shape=w.shape)
    return np.asarray(dijkstra(m, directed=True, indices=sources, limit=float(limits.max())))


def pack_reduced(src, dst, s_sup, t_sup, row_of, dist) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The transport problem of every edge ``x -> y``, reduced to net masses.

    W1 with a metric cost depends on ``m_x - m_y`` only (Kantorovich-Rubinstein), so the
    mass the two measures share at a node stays there at cost 0; what is left is moved from
    the nodes where ``m_x > m_y`` to those where ``m_y > m_x``.

    Returns ``a_ptr, a, b_ptr, b, c_ptr, c``: flat masses and row-major cost matrices
    (``dist[row_of[u], v]``) of every edge at the given offsets.
    """
    kernels = _compiled()
    if kernels is not None:
        ns, nt = kernels.reduce_sizes(src, dst, s_sup.ptr, s_sup.idx, s_sup.mass,
                                      t_sup.ptr, t_sup.idx, t_sup.mass)
        a_ptr, b_ptr, c_ptr = (_offsets(v) for v in (ns, nt, ns * nt))
        a, b, c = kernels.pack_reduced(src, dst, s_sup.ptr, s_sup.idx, s_sup.mass, t_sup.ptr,
                                       t_sup.idx, t_sup.mass, row_of, dist, a_ptr, b_ptr, c_ptr)
        return a_ptr, a, b_ptr, b, c_ptr, c
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for x, y in zip(src, dst):
        su, sm = s_sup.idx[s_sup.ptr[x]:s_sup.ptr[x + 1]], s_sup.mass[s_sup.ptr[x]:s_sup.ptr[x + 1]]
        tu, tm = t_sup.idx[t_sup.ptr[y]:t_sup.ptr[y + 1]], t_sup.mass[t_sup.ptr[y]:t_sup.ptr[y + 1]]
        net_s = sm - (tu[None, :] == su[:, None]) @ tm
        net_t = tm - (su[None, :] == tu[:, None]) @ sm
        ks, kt = net_s > 0, net_t > 0
        parts.append((net_s[ks], net_t[kt], dist[np.ix_(row_of[su[ks]], tu[kt])].ravel()))
    a_ptr, b_ptr, c_ptr = (_offsets(np.array([p[i].size for p in parts], dtype=np.int64)) for i in range(3))
    a, b, c = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(3))
    return a_ptr, a, b_ptr, b, c_ptr, c


def _offsets(sizes: np.ndarray) -> np.ndarray:
    out = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out
