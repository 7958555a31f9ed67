"""numba kernels of :mod:`._graph_kernels` (imported only when numba is installed)."""

from __future__ import annotations

import numba
import numpy as np

#: Independent work groups of the parallel kernels (rows or edges are dealt out round-robin,
#: so hubs spread over the threads).
_GROUPS = 256


@numba.njit(parallel=True, cache=True)
def bucket_rows(indptr, indices, data, sources, limits, n, width):
    """Shortest-path lengths from each of ``sources`` to every node, up to ``limits[r]``.

    Dial's buckets of ``width`` <= the shortest arc: a node in the lowest non-empty bucket
    cannot be improved by another node of that bucket (any path through one is at least
    ``width`` longer), so bucket members are settled in any order, without a heap. Entries
    beyond the limit stay ``inf``; lengths are summed from the source outwards. The arcs of
    each row must be sorted by length.
    """
    out = np.full((sources.size, n), np.inf)
    groups = min(sources.size, _GROUPS)
    cap = indices.size + 1  # each arc is relaxed at most once: one entry per arc, plus the source
    for grp in numba.prange(groups):
        node = np.empty(cap, np.int64)
        nxt = np.empty(cap, np.int64)
        done = np.zeros(n, np.bool_)
        head = np.full(16, -1, np.int64)
        for r in range(grp, sources.size, groups):
            dist = out[r]
            lim = limits[r]
            n_buckets = int(lim / width) + 2
            if head.size < n_buckets:
                head = np.full(n_buckets, -1, np.int64)
            done[:] = False
            dist[sources[r]] = 0.0
            node[0] = sources[r]
            nxt[0] = -1
            head[0] = 0
            used = 1
            for bucket in range(n_buckets):
                while head[bucket] != -1:
                    k = head[bucket]
                    head[bucket] = nxt[k]
                    u = node[k]
                    if done[u]:
                        continue
                    done[u] = True
                    du = dist[u]
                    for p in range(indptr[u], indptr[u + 1]):
                        nd = du + data[p]
                        if nd > lim:
                            break  # arcs are sorted by length within a row
                        v = indices[p]
                        if nd < dist[v]:
                            dist[v] = nd
                            i = int(nd / width)
                            node[used] = v
                            nxt[used] = head[i]
                            head[i] = used
                            used += 1
    return out


@numba.njit(parallel=True, cache=True)
def heap_rows(indptr, indices, data, sources, limits, n):
    """As :func:`bucket_rows`, with a binary heap (lazy deletion): for zero-length arcs or
    lengths too spread for buckets."""
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
def _net_masses(x, y, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, scratch, rows, a, cols, b):
    """The support entries of ``m_x`` (source support of ``x``) and ``m_y`` (target support of
    ``y``) that keep net mass ``m_x - m_y`` > 0 (into ``rows``, ``a``) and < 0 (``cols``, ``b``:
    the excess of ``m_y``), as positions in ``s_idx`` / ``t_idx``; returns how many of each.
    ``scratch``: zeros of shape (2, n_nodes), left zero (each measure's mass by node)."""
    a0, a1, b0, b1 = s_ptr[x], s_ptr[x + 1], t_ptr[y], t_ptr[y + 1]
    mass_x, mass_y = scratch[0], scratch[1]
    for p in range(a0, a1):
        mass_x[s_idx[p]] = s_mass[p]
    for p in range(b0, b1):
        mass_y[t_idx[p]] = t_mass[p]
    m = _excess(a0, a1, s_idx, s_mass, mass_y, rows, a)
    n = _excess(b0, b1, t_idx, t_mass, mass_x, cols, b)
    for p in range(a0, a1):
        mass_x[s_idx[p]] = 0.0
    for p in range(b0, b1):
        mass_y[t_idx[p]] = 0.0
    return m, n


@numba.njit(cache=True)
def _excess(p0, p1, idx, mass, other, out_pos, out_mass):
    """Entries ``p0:p1`` whose mass exceeds ``other`` (the other measure by node), and by how much."""
    k = 0
    for p in range(p0, p1):
        net = mass[p] - other[idx[p]]
        if net > 0:
            out_pos[k] = p
            out_mass[k] = net
            k += 1
    return k


@numba.njit(parallel=True, cache=True)
def reduce_sizes(src, dst, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass):
    """Per edge, how many support points keep net mass ``m_x - m_y`` > 0 and < 0."""
    ns = np.zeros(src.size, np.int64)
    nt = np.zeros(src.size, np.int64)
    groups = min(src.size, _GROUPS)
    for grp in numba.prange(groups):
        scratch = np.zeros((2, s_ptr.size - 1))
        for e in range(grp, src.size, groups):
            x, y = src[e], dst[e]
            rows = np.empty(s_ptr[x + 1] - s_ptr[x], np.int64)
            cols = np.empty(t_ptr[y + 1] - t_ptr[y], np.int64)
            ns[e], nt[e] = _net_masses(x, y, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, scratch, rows,
                                       np.empty(rows.size), cols, np.empty(cols.size))
    return ns, nt


@numba.njit(parallel=True, cache=True)
def pack_reduced(src, dst, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of, dist, a_ptr, b_ptr, c_ptr):
    """Masses and costs of the reduced problems (Kantorovich-Rubinstein: W1 depends on
    ``m_x - m_y`` only, so mass common to both supports stays put at cost 0)."""
    a = np.empty(a_ptr[-1])
    b = np.empty(b_ptr[-1])
    c = np.empty(c_ptr[-1])
    groups = min(src.size, _GROUPS)
    for grp in numba.prange(groups):
        scratch = np.zeros((2, dist.shape[1]))
        for e in range(grp, src.size, groups):
            rows = np.empty(a_ptr[e + 1] - a_ptr[e], np.int64)
            cols = np.empty(b_ptr[e + 1] - b_ptr[e], np.int64)
            _net_masses(src[e], dst[e], s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, scratch, rows,
                        a[a_ptr[e]:a_ptr[e + 1]], cols, b[b_ptr[e]:b_ptr[e + 1]])
            pos = c_ptr[e]
            for r in range(rows.size):
                row = row_of[s_idx[rows[r]]]
                for k in range(cols.size):
                    c[pos] = dist[row, t_idx[cols[k]]]
                    pos += 1
    return a, b, c


@numba.njit(cache=True)
def _find(uf, x):
    while uf[x] != x:
        uf[x] = uf[uf[x]]
        x = uf[x]
    return x


@numba.njit(cache=True)
def _unlink(v, par, first, nxt, prv):
    """Remove ``v`` from its parent's child list."""
    if prv[v] >= 0:
        nxt[prv[v]] = nxt[v]
    else:
        first[par[v]] = nxt[v]
    if nxt[v] >= 0:
        prv[nxt[v]] = prv[v]


@numba.njit(cache=True)
def _link(v, p, first, nxt, prv):
    """Make ``v`` the first child of ``p``."""
    prv[v] = -1
    nxt[v] = first[p]
    if first[p] >= 0:
        prv[first[p]] = v
    first[p] = v


@numba.njit(cache=True)
def _tree_adjacency(cells, m, n):
    """CSR adjacency of the cells (row ``i`` = node ``i``, column ``j`` = node ``m + j``):
    node ``v``'s cells are ``cells[adj[start[v]:start[v + 1]]]``."""
    nn = m + n
    start = np.zeros(nn + 1, np.int64)
    for t in range(cells.size):
        start[cells[t] // n + 1] += 1
        start[m + cells[t] % n + 1] += 1
    for v in range(nn):
        start[v + 1] += start[v]
    fill = start[:nn].copy()
    adj = np.empty(2 * cells.size, np.int64)
    for t in range(cells.size):
        for v in (cells[t] // n, m + cells[t] % n):
            adj[fill[v]] = t
            fill[v] += 1
    return start, adj


@numba.njit(cache=True)
def _tree_flows(cells, a, b, m, n, basic, flow):
    """Set ``basic``/``flow`` to the basic solution of the basis ``cells`` (``m + n - 1`` cells
    forming a spanning tree) for masses ``a``, ``b``, found by peeling leaves. Returns False,
    setting nothing, when the cells are not a spanning tree or a flow is negative."""
    nn = m + n
    if cells.size != nn - 1:
        return False
    start, adj = _tree_adjacency(cells, m, n)
    deg = np.diff(start)
    rem = np.concatenate((a, b))
    used = np.zeros(nn - 1, np.bool_)
    f = np.zeros(nn - 1)
    queue = np.empty(nn, np.int64)
    tail = 0
    for v in range(nn):
        if deg[v] == 1:
            queue[tail] = v
            tail += 1
    floor = -1e-13 * a.sum()
    head = 0
    peeled = 0
    while head < tail:
        v = queue[head]
        head += 1
        if deg[v] != 1:
            continue
        t = -1
        for p in range(start[v], start[v + 1]):
            if not used[adj[p]]:
                t = adj[p]
                break
        if rem[v] < floor:
            return False
        used[t] = True
        peeled += 1
        f[t] = max(rem[v], 0.0)
        i = cells[t] // n
        w = m + cells[t] % n if v == i else i
        rem[w] -= rem[v]
        deg[v] = 0
        deg[w] -= 1
        if deg[w] == 1:
            queue[tail] = w
            tail += 1
    if peeled != nn - 1:
        return False
    for t in range(nn - 1):
        basic[cells[t]] = True
        flow[cells[t]] = f[t]
    return True


@numba.njit(cache=True)
def transport(a, b, c, m, n, max_iter, v0, pot_out, basis_in, basis_out):
    """Exact optimal transport cost ``min <P, C>`` s.t. ``P 1 = a``, ``P^T 1 = b``, ``P >= 0``.

    Primal simplex on the transportation problem (a network simplex on the complete bipartite
    graph): rows ``0..m-1`` and columns ``m..m+n-1`` are the nodes of a spanning tree of basic
    cells, potentials ``u_i + v_j = c_ij`` on them. Start: row minimum on ``c_ij - v0_j``
    (each row sends to its cheapest open columns; every allocation closes a row or a column,
    so the cells form a forest), completed to a tree with zero-flow cells; ``v0`` = 0, or the
    column potentials of a similar problem's optimum. Pivot: the most negative reduced cost
    ``c_ij - u_i - v_j`` among the first rows (round-robin) that hold at least ``2 sqrt(mn)``
    cells and one negative cost; the cycle closes through the tree; the subtree cut off by the
    leaving cell is re-rooted and its potentials shifted. ``a`` and ``b`` must have equal sums;
    rows should be the longer side (``m >= n``), so that a row is shorter than a block.

    A basis ``basis_in`` (``m + n - 1`` cells, e.g. a similar problem's optimum) replaces the
    start when its basic solution is feasible for ``a``, ``b``.

    Returns ``(cost, converged)``; ``converged`` is False after ``max_iter`` pivots. The
    final potentials (rows, then columns) are written to ``pot_out``, the final basic cells
    to ``basis_out``.
    """
    nn = m + n
    mn = m * n
    tol = 1e-11 * max(c.max(), -c.min(), 1e-300)  # rounding noise of reduced costs
    ra = a.copy()
    rb = b.copy()
    basic = np.zeros(mn, np.bool_)
    flow = np.zeros(mn)
    cells = np.empty(nn - 1, np.int64)
    if _tree_flows(basis_in, a, b, m, n, basic, flow):
        cells[:] = basis_in
        k = nn - 1
    else:
        k = 0
    uf = np.arange(nn)
    prefer = np.zeros(mn if k == 0 and basis_in.size else 0, np.bool_)
    if prefer.size:  # an infeasible old basis still says where mass went
        prefer[basis_in] = True
    for i in range(m if k == 0 else 0):
        base = i * n
        while ra[i] > 0.0:
            j = -1
            best = np.inf
            for jj in range(n):
                if rb[jj] > 0.0 and prefer.size and prefer[base + jj] and c[base + jj] - v0[jj] < best:
                    best = c[base + jj] - v0[jj]
                    j = jj
            for jj in range(n if j < 0 else 0):
                if rb[jj] > 0.0 and c[base + jj] - v0[jj] < best:
                    best = c[base + jj] - v0[jj]
                    j = jj
            if j < 0:
                break  # rounding: the columns are full
            q = min(ra[i], rb[j])
            if ra[i] <= rb[j]:
                ra[i] = 0.0
                rb[j] -= q
            else:
                rb[j] = 0.0
                ra[i] -= q
            flow[base + j] = q
            basic[base + j] = True
            cells[k] = base + j
            k += 1
            uf[_find(uf, i)] = _find(uf, m + j)
    for cell in range(mn):
        if k == nn - 1:
            break
        if not basic[cell]:
            x = _find(uf, cell // n)
            y = _find(uf, m + cell % n)
            if x != y:
                uf[x] = y
                basic[cell] = True
                cells[k] = cell
                k += 1
    # root the tree at row 0: parent, parent cell, child lists, potentials
    start, adj = _tree_adjacency(cells, m, n)
    par = np.full(nn, -1, np.int64)
    pcell = np.full(nn, -1, np.int64)
    first = np.full(nn, -1, np.int64)
    nxt = np.full(nn, -1, np.int64)
    prv = np.full(nn, -1, np.int64)
    pot = np.zeros(nn)
    stack = np.empty(nn, np.int64)
    stack[0] = 0
    top = 1
    while top > 0:
        top -= 1
        u = stack[top]
        for p in range(start[u], start[u + 1]):
            cell = cells[adj[p]]
            v = cell // n
            if v == u:
                v = m + cell % n
            if v == par[u]:
                continue
            par[v] = u
            pcell[v] = cell
            pot[v] = c[cell] - pot[u]
            _link(v, u, first, nxt, prv)
            stack[top] = v
            top += 1
    mark = np.full(nn, -1, np.int64)
    block = max(8, int(2.0 * np.sqrt(mn)))
    pi = 0
    it = 0
    while True:
        # pricing: rows round-robin from where the last search stopped; the most negative
        # reduced cost once at least `block` cells were seen. Basic cells have reduced cost 0
        # up to rounding (< tol), so the inner loop needs no basis test.
        best = -tol
        enter = -1
        count = 0
        for _ in range(m):
            base = pi * n
            row_best = np.inf
            row_arg = 0
            for j in range(n):
                r = c[base + j] - pot[m + j]
                if r < row_best:
                    row_best = r
                    row_arg = j
            r = row_best - pot[pi]
            if r < best and not basic[base + row_arg]:
                best = r
                enter = base + row_arg
            pi = pi + 1 if pi + 1 < m else 0
            count += n
            if count >= block and enter >= 0:
                break
        if enter < 0:
            break
        if it == max_iter:
            return np.nan, False
        it += 1
        ei = enter // n
        ej = m + enter % n
        v = ei
        while v >= 0:
            mark[v] = it
            v = par[v]
        apex = ej
        while mark[apex] != it:
            apex = par[apex]
        # cycle: +theta on the entering cell, then -, +, -, ... upwards from each end to the apex
        theta = np.inf
        leave = -1
        for end in (ej, ei):
            v = end
            minus = True
            while v != apex:
                if minus and flow[pcell[v]] < theta:
                    theta = flow[pcell[v]]
                    leave = v
                minus = not minus
                v = par[v]
        leave_on_i = False
        for end in (ej, ei):
            v = end
            minus = True
            while v != apex:
                flow[pcell[v]] += -theta if minus else theta
                leave_on_i = leave_on_i or (v == leave and end == ei)
                minus = not minus
                v = par[v]
        flow[enter] = theta
        basic[enter] = True
        basic[pcell[leave]] = False
        flow[pcell[leave]] = 0.0
        # the subtree below the leaving cell holds one end of the entering cell: re-root it
        # there and hang it from the other end
        w, other = (ei, ej) if leave_on_i else (ej, ei)
        prev = other
        prev_cell = enter
        v = w
        while True:
            up = par[v]
            up_cell = pcell[v]
            _unlink(v, par, first, nxt, prv)
            par[v] = prev
            pcell[v] = prev_cell
            _link(v, prev, first, nxt, prv)
            if v == leave:
                break
            prev = v
            prev_cell = up_cell
            v = up
        # potentials of the moved subtree: columns + d, rows - d, so u_i + v_j = c_ij holds on
        # the entering cell and stays true inside the subtree
        d = best if w >= m else -best
        stack[0] = w
        top = 1
        while top > 0:
            top -= 1
            u = stack[top]
            pot[u] += d if u >= m else -d
            ch = first[u]
            while ch >= 0:
                stack[top] = ch
                top += 1
                ch = nxt[ch]
    cost = 0.0
    for v in range(1, nn):  # the basic cells: each non-root node's cell to its parent
        cost += flow[pcell[v]] * c[pcell[v]]
        basis_out[v - 1] = pcell[v]
    pot_out[:] = pot
    return cost, True


@numba.njit(cache=True)
def _reduced(x, y, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of, dist, scratch):
    """The reduced problem of the edge ``x -> y`` (as :func:`pack_reduced`): net masses ``a``
    (rows), ``b`` (columns, rescaled to ``a``'s sum: they balance up to rounding), row-major
    costs ``c``, and the support positions of rows and columns (within ``x``'s source support,
    or ``y``'s target support). Rows are the longer side: when ``y``'s side is longer the
    problem comes transposed (``flipped``), which has the same W1 and the same entropic cost.
    Empty for equal measures. ``scratch``: zeros over the nodes (2, n_nodes), left zero."""
    a0, a1, b0, b1 = s_ptr[x], s_ptr[x + 1], t_ptr[y], t_ptr[y + 1]
    rows = np.empty(a1 - a0, np.int64)
    a = np.empty(a1 - a0)
    cols = np.empty(b1 - b0, np.int64)
    b = np.empty(b1 - b0)
    m, n = _net_masses(x, y, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, scratch, rows, a, cols, b)
    flipped = m < n
    if m == 0 or n == 0:
        return a[:0], b[:0], np.empty(0), rows[:0], cols[:0], flipped
    a = a[:m]
    b = b[:n] * (a.sum() / b[:n].sum())
    c = np.empty(m * n)
    for r in range(m):
        row = dist[row_of[s_idx[rows[r]]]]
        for q in range(n):
            if flipped:
                c[q * m + r] = row[t_idx[cols[q]]]
            else:
                c[r * n + q] = row[t_idx[cols[q]]]
    rows = rows[:m] - a0
    cols = cols[:n] - b0
    if flipped:
        return b, a, c, cols, rows, flipped
    return a, b, c, rows, cols, flipped


@numba.njit(parallel=True, cache=True)
def edge_w1(src, dst, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of, dist, pivots_per_node,
            warm_pot, warm_basis, warm_ptr, use_warm):
    """Exact W1 of every edge ``x -> y`` on its reduced problem, solved where it is gathered;
    NaN where :func:`transport` needed more than ``pivots_per_node`` pivots per node.

    Each edge's slot ``warm_ptr[e]:warm_ptr[e + 1]`` (the sizes of ``x``'s source support plus
    ``y``'s target support) receives its optimum: dual potentials over the support positions
    in ``warm_pot`` and the basic cells as ``x position * |y support| + y position`` in
    ``warm_basis`` (-1 after the last). With ``use_warm`` they are read first: a Ricci-flow
    step changes each problem a little, so the last optimal basis is often still feasible
    and near-optimal, and otherwise the old potentials guide the start.
    """
    out = np.zeros(src.size)
    groups = min(src.size, _GROUPS)
    for grp in numba.prange(groups):
        scratch = np.zeros((2, dist.shape[1]))
        for e in range(grp, src.size, groups):
            x, y = src[e], dst[e]
            a, b, c, rows, cols, flipped = _reduced(x, y, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of,
                                                    dist, scratch)
            m, n = a.size, b.size
            if m == 0:
                continue
            nx = s_ptr[x + 1] - s_ptr[x]
            ny = t_ptr[y + 1] - t_ptr[y]
            slot = warm_ptr[e]
            row_off = slot + (nx if flipped else 0)  # support positions: x's first, then y's
            col_off = slot + (0 if flipped else nx)
            v0 = np.zeros(n)
            basis = np.empty(0, np.int64)
            if use_warm:
                for q in range(n):
                    v0[q] = warm_pot[col_off + cols[q]]
                where_x = np.full(nx, -1, np.int64)  # support position -> reduced index
                where_y = np.full(ny, -1, np.int64)
                for r in range(m):
                    if flipped:
                        where_y[rows[r]] = r
                    else:
                        where_x[rows[r]] = r
                for q in range(n):
                    if flipped:
                        where_x[cols[q]] = q
                    else:
                        where_y[cols[q]] = q
                basis = np.empty(m + n - 1, np.int64)
                k = 0
                for t in range(slot, warm_ptr[e + 1]):
                    code = warm_basis[t]
                    if code < 0 or code >= nx * ny or k == basis.size:
                        break  # end of the stored basis (or one from another graph)
                    ix = where_x[code // ny]
                    iy = where_y[code % ny]
                    if ix < 0 or iy < 0:
                        break  # the supports changed: no warm basis
                    basis[k] = iy * n + ix if flipped else ix * n + iy
                    k += 1
                basis = basis[:k]
            pot = np.zeros(m + n)
            final = np.full(m + n - 1, -1, np.int64)
            cost, ok = transport(a, b, c, m, n, pivots_per_node * (m + n), v0, pot, basis, final)
            out[e] = cost if ok else np.nan
            for r in range(m):
                warm_pot[row_off + rows[r]] = pot[r]
            for q in range(n):
                warm_pot[col_off + cols[q]] = pot[m + q]
            warm_basis[slot:warm_ptr[e + 1]] = -1
            for t in range(m + n - 1):
                if final[t] < 0:
                    break
                r = final[t] // n
                q = final[t] % n
                px, py = (cols[q], rows[r]) if flipped else (rows[r], cols[q])
                warm_basis[slot + t] = px * ny + py
    return out


@numba.njit(cache=True, error_model="numpy")  # x / 0 -> inf, not an exception
def sinkhorn(a, b, c, reg, max_iter, tol):
    """Entropic transport cost ``<P, C>`` of the Sinkhorn plan ``P = diag(u) K diag(v)``.

    ``K = exp(-C' / reg)`` with ``C'`` the costs less their row minima, then less their column
    minima: the plan is unchanged (the shifts are diagonal scalings, absorbed by ``u`` and
    ``v``) and every row and column of ``K`` holds a 1, so nothing underflows to a zero row.
    Updates ``u = a / (K v)``, ``v = b / (K^T u)``; stops when the L1 error of the row
    marginal ``u * (K v)`` is below ``tol`` (checked every 10 iterations) or after
    ``max_iter`` iterations. Returns ``(cost, converged)``; NaN if a scaling over- or
    underflowed.
    """
    m, n = a.size, b.size
    k = c.copy()
    for i in range(m):
        k[i * n:(i + 1) * n] -= k[i * n:(i + 1) * n].min()
    low = np.full(n, np.inf)
    for i in range(m):
        for j in range(n):
            low[j] = min(low[j], k[i * n + j])
    for i in range(m):
        for j in range(n):
            k[i * n + j] = np.exp(-(k[i * n + j] - low[j]) / reg)
    u = np.ones(m)
    v = np.ones(n)
    kv = np.empty(m)
    ktu = np.empty(n)
    converged = False
    for it in range(max_iter + 1):
        for i in range(m):
            acc = 0.0
            for j in range(n):
                acc += k[i * n + j] * v[j]
            kv[i] = acc
        if it % 10 == 0 and it > 0:
            err = 0.0
            for i in range(m):
                err += abs(u[i] * kv[i] - a[i])
            if err < tol:
                converged = True
                break
        if it == max_iter:
            break
        for i in range(m):
            u[i] = a[i] / kv[i]
        ktu[:] = 0.0
        for i in range(m):
            ui = u[i]
            for j in range(n):
                ktu[j] += k[i * n + j] * ui
        for j in range(n):
            v[j] = b[j] / ktu[j]
    cost = 0.0
    for i in range(m):
        for j in range(n):
            cost += u[i] * k[i * n + j] * v[j] * c[i * n + j]
    return cost, converged


@numba.njit(parallel=True, cache=True, error_model="numpy")
def edge_sinkhorn(src, dst, s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of, dist, reg, max_iter, tol):
    """:func:`sinkhorn` of every edge's reduced problem; returns costs and convergence flags."""
    out = np.zeros(src.size)
    ok = np.ones(src.size, np.bool_)
    groups = min(src.size, _GROUPS)
    for grp in numba.prange(groups):
        scratch = np.zeros((2, dist.shape[1]))
        for e in range(grp, src.size, groups):
            a, b, c, _, _, _ = _reduced(src[e], dst[e], s_ptr, s_idx, s_mass, t_ptr, t_idx, t_mass, row_of,
                                        dist, scratch)
            if a.size:
                out[e], ok[e] = sinkhorn(a, b, c, reg, max_iter, tol)
    return out, ok
