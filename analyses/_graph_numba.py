"""numba kernels of :mod:`._graph_kernels` (imported only when numba is installed)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def dijkstra_rows(indptr, indices, data, sources, limits, n):
    """Shortest-path lengths from each of ``sources`` to every node, up to ``limits[r]``.

    Binary heap with lazy deletion; rows are independent (``prange``). Entries beyond the
    limit stay ``inf``. Path lengths are summed from the source outwards, as Dijkstra does.
    """
    out = np.full((sources.size, n), np.inf)
    for r in numba.prange(sources.size):
        dist = out[r]
        cap = indices.size + 1
        hk = np.empty(cap)
        hv = np.empty(cap, np.int64)
        done = np.zeros(n, np.bool_)
        s = sources[r]
        lim = limits[r]
        dist[s] = 0.0
        hk[0] = 0.0
        hv[0] = s
        size = 1
        while size > 0:
            d = hk[0]
            u = hv[0]
            size -= 1
            if size > 0:
                key = hk[size]
                val = hv[size]
                i = 0
                while True:
                    c = 2 * i + 1
                    if c >= size:
                        break
                    if c + 1 < size and hk[c + 1] < hk[c]:
                        c += 1
                    if hk[c] >= key:
                        break
                    hk[i] = hk[c]
                    hv[i] = hv[c]
                    i = c
                hk[i] = key
                hv[i] = val
            if done[u]:
                continue
            done[u] = True
            for p in range(indptr[u], indptr[u + 1]):
                v = indices[p]
                nd = d + data[p]
                if nd < dist[v] and nd <= lim:
                    dist[v] = nd
                    i = size
                    size += 1
                    while i > 0:
                        par = (i - 1) // 2
                        if hk[par] <= nd:
                            break
                        hk[i] = hk[par]
                        hv[i] = hv[par]
                        i = par
                    hk[i] = nd
                    hv[i] = v
    return out


@numba.njit(cache=True)
def _net_side(p0, p1, idx, mass, q0, q1, other_idx, other_mass, out_nodes, out_mass):
    """Support points of one measure (entries p0:p1) whose mass exceeds the other's there;
    writes them and the excess into ``out_*`` and returns how many."""
    k = 0
    for i in range(p0, p1):
        net = mass[i]
        for j in range(q0, q1):
            if other_idx[j] == idx[i]:
                net -= other_mass[j]
        if net > 0:
            out_nodes[k] = idx[i]
            out_mass[k] = net
            k += 1
    return k


@numba.njit(parallel=True, cache=True)
def reduce_sizes(src, dst, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass):
    """Per edge, how many support points keep net mass ``m_x - m_y`` > 0 and < 0."""
    ns = np.zeros(src.size, np.int64)
    nt = np.zeros(src.size, np.int64)
    for e in numba.prange(src.size):
        x, y = src[e], dst[e]
        a0, a1, b0, b1 = s_ptr[x], s_ptr[x + 1], t_ptr[y], t_ptr[y + 1]
        nodes = np.empty(max(a1 - a0, b1 - b0), np.int64)
        mass = np.empty(nodes.size)
        ns[e] = _net_side(a0, a1, s_idx, s_mass, b0, b1, t_idx, t_mass, nodes, mass)
        nt[e] = _net_side(b0, b1, t_idx, t_mass, a0, a1, s_idx, s_mass, nodes, mass)
    return ns, nt


@numba.njit(parallel=True, cache=True)
def pack_reduced(src, dst, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of, dist, a_ptr, b_ptr, c_ptr):
    """Masses and costs of the reduced problems (Kantorovich-Rubinstein: W1 depends on
    ``m_x - m_y`` only, so mass common to both supports stays put at cost 0)."""
    a = np.empty(a_ptr[-1])
    b = np.empty(b_ptr[-1])
    c = np.empty(c_ptr[-1])
    for e in numba.prange(src.size):
        x, y = src[e], dst[e]
        a0, a1, b0, b1 = s_ptr[x], s_ptr[x + 1], t_ptr[y], t_ptr[y + 1]
        rows = np.empty(a_ptr[e + 1] - a_ptr[e], np.int64)
        cols = np.empty(b_ptr[e + 1] - b_ptr[e], np.int64)
        _net_side(a0, a1, s_idx, s_mass, b0, b1, t_idx, t_mass, rows, a[a_ptr[e]:a_ptr[e + 1]])
        _net_side(b0, b1, t_idx, t_mass, a0, a1, s_idx, s_mass, cols, b[b_ptr[e]:b_ptr[e + 1]])
        pos = c_ptr[e]
        for r in range(rows.size):
            row = row_of[rows[r]]
            for k in range(cols.size):
                c[pos] = dist[row, cols[k]]
                pos += 1
    return a, b, c
