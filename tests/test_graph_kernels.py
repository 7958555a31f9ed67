"""Compiled curvature kernels: transport simplex against POT and scipy's LP, bucket Dijkstra against
scipy's, and the POT fallback for problems over the pivot budget."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("numba")
ot = pytest.importorskip("ot")

from brainbridge.analyses import _graph_numba as kernels  # noqa: E402
from brainbridge.analyses._graph_kernels import dijkstra_rows  # noqa: E402


def _problems(rng):
    """Random, rectangular, integer (degenerate: partial sums tie) and tied-cost problems."""
    out = []
    for m, n in [(1, 1), (1, 7), (9, 1), (5, 5), (17, 17), (40, 6), (6, 40), (120, 90)]:
        a, b = rng.random(m), rng.random(n)
        out.append((a / a.sum(), b / b.sum(), rng.random((m, n)) * 3))
    for m, n in [(6, 6), (12, 8), (30, 30)]:
        a = rng.integers(1, 4, m).astype(float)
        b = rng.integers(1, 4, n).astype(float)
        b[-1] += a.sum() - b.sum()
        if b[-1] <= 0:
            a[-1] += -b[-1] + 1
            b[-1] = 1.0
        out.append((a, b, rng.integers(0, 3, (m, n)).astype(float)))  # many equal costs
    return out


def test_transport_equals_pot_and_linprog(rng):
    from scipy.optimize import linprog

    for a, b, c in _problems(rng):
        m, n = c.shape
        pot = np.zeros(m + n)
        basis = np.zeros(m + n - 1, dtype=np.int64)
        none = np.zeros(0, dtype=np.int64)
        cost, ok = kernels.transport(a, b, c.ravel(), m, n, 100 * (m + n), np.zeros(n), pot, none, basis)
        assert ok
        reduced = c - pot[:m, None] - pot[None, m:]  # dual feasible, and tight on the basis
        assert reduced.min() > -1e-10 and np.abs(reduced.ravel()[basis]).max() < 1e-10
        old = basis.copy()
        for start, shifts in ((none, pot[m:].copy()), (old, np.zeros(n))):  # warm starts
            warm_cost, ok = kernels.transport(a, b, c.ravel(), m, n, 100 * (m + n), shifts, pot, start, basis)
            assert ok and abs(warm_cost - cost) < 1e-12
        # the old optimum's basis for other masses (feasible or not) is only a start
        a2, b2 = a[::-1].copy(), np.roll(b, 1)
        other, ok = kernels.transport(a2, b2, c.ravel(), m, n, 100 * (m + n), np.zeros(n), pot, old, basis)
        assert ok
        np.testing.assert_allclose(other, ot.emd2(a2, b2, c), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cost, ot.emd2(a, b, c), rtol=1e-12, atol=1e-12)
        eq = np.vstack([np.kron(np.eye(m), np.ones(n)), np.kron(np.ones(m), np.eye(n))])
        lp = linprog(c.ravel(), A_eq=eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
        np.testing.assert_allclose(cost, lp.fun, rtol=1e-9, atol=1e-12)


def test_transport_reports_an_exhausted_budget(rng):
    a = np.full(20, 0.05)
    cost, ok = kernels.transport(a, a[::-1].copy(), rng.random(400), 20, 20, 0, np.zeros(20), np.zeros(40),
                                 np.zeros(0, dtype=np.int64), np.zeros(39, dtype=np.int64))
    assert not ok and np.isnan(cost)


def test_over_budget_edges_fall_back_to_pot(rng, monkeypatch, caplog):
    from brainbridge.analyses import _curvature, knn_graph, ricci_curvature

    g = knn_graph(rng.normal(size=(60, 5)), k=5)
    ref = ricci_curvature(g).edge_curvature.values
    monkeypatch.setattr(_curvature, "_PIVOTS_PER_NODE", 0)
    with caplog.at_level(logging.INFO, logger="brainbridge.analyses._curvature"):
        out = ricci_curvature(g).edge_curvature.values
    np.testing.assert_allclose(out, ref, atol=1e-12)
    assert "exceeded the pivot budget; solving them with POT" in caplog.text


@pytest.mark.parametrize("zero_arc", [False, True])
def test_bounded_dijkstra_equals_scipy(rng, zero_arc):
    from scipy.sparse.csgraph import dijkstra

    n = 200
    w = sp.random(n, n, density=0.04, random_state=np.random.RandomState(1), format="csr")
    w.data = 0.2 + rng.random(w.data.size) * 2
    if zero_arc:  # a zero-length arc rules out buckets: the heap kernel answers
        w.data[3] = 0.0
    w = sp.csr_array(w)
    sources = np.arange(0, n, 3)
    limits = rng.uniform(1.0, 6.0, sources.size)
    out = dijkstra_rows(w, sources, limits)
    m = sp.csr_matrix((w.data, w.indices.astype(np.int32), w.indptr.astype(np.int32)), shape=w.shape)
    full = dijkstra(m, directed=True, indices=sources)
    expected = np.where(full <= limits[:, None], full, np.inf)
    np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert np.isinf(expected).any() and np.isfinite(expected).sum() > sources.size * 5


def test_sinkhorn_equals_pot(rng):
    solved = beyond_exp = 0
    for a, b, c in _problems(rng)[:8]:
        m, n = c.shape
        for reg, scale in ((0.1, 1.0), (0.05, 40.0)):  # scale 40: C / reg up to 2400, beyond exp's range
            cost, ok = kernels.sinkhorn(a, b, c.ravel() * scale, reg, 20000, 1e-10)
            if not ok:  # slow at large C / reg, or a scaling overflowed (NaN): never a wrong number
                continue
            plan = ot.sinkhorn(a, b, c * scale, reg, method="sinkhorn_log", stopThr=1e-12, numItermax=50000)
            np.testing.assert_allclose(cost, np.sum(plan * c * scale), rtol=1e-7, atol=1e-10)
            solved += 1
            beyond_exp += bool(np.ptp(c * scale) / reg > 745)
    assert solved >= 12 and beyond_exp >= 3


def test_sinkhorn_compiled_equals_torch_and_flags_nonconvergence(rng, monkeypatch, caplog):
    from brainbridge.analyses import _graph_kernels, knn_graph, ricci_curvature

    g = knn_graph(rng.normal(size=(60, 5)), k=5)
    compiled = ricci_curvature(g, method="sinkhorn", device="cpu", tol=1e-12, max_iter=20000)
    with caplog.at_level(logging.WARNING, logger="brainbridge.analyses._curvature"):
        ricci_curvature(g, method="sinkhorn", device="cpu", max_iter=10)
    assert "Sinkhorn did not converge for" in caplog.text and "in max_iter=10 iterations" in caplog.text
    real = kernels.edge_sinkhorn

    def overflowing(*args):  # as if some scalings overflowed: those edges go to torch's log domain
        out, ok = real(*args)
        out[::3] = np.nan
        return out, ok

    monkeypatch.setattr(kernels, "edge_sinkhorn", overflowing)
    redone = ricci_curvature(g, method="sinkhorn", device="cpu", tol=1e-12, max_iter=20000)
    np.testing.assert_allclose(redone.transport.values, compiled.transport.values, rtol=1e-8)
    monkeypatch.setattr(_graph_kernels, "_compiled", lambda: None)
    torch_path = ricci_curvature(g, method="sinkhorn", device="cpu", tol=1e-12, max_iter=20000)
    np.testing.assert_allclose(torch_path.transport.values, compiled.transport.values, rtol=1e-8)


def test_ricci_flow_warm_starts_equal_cold_solves(rng):
    from brainbridge.analyses import knn_graph, ricci_curvature, ricci_flow
    from brainbridge.analyses._curvature import _with_weights

    g = knn_graph(rng.normal(size=(80, 8)) / 3, k=6)
    flow = ricci_flow(g, iterations=6, progress=False)  # steps 2.. start from the last optima
    src, dst, w = g.edges()
    kappa = ricci_curvature(g).edge_curvature.values
    for _ in range(6):  # the same flow, every step solved from scratch
        w = w - kappa * w
        w = w * (src.size / w.sum())
        kappa = ricci_curvature(_with_weights(g, src, dst, w)).edge_curvature.values
    np.testing.assert_allclose(flow.weight.values, w, rtol=1e-12)
    np.testing.assert_allclose(flow.edge_curvature.values, kappa, atol=1e-12)


@pytest.mark.gpu
def test_sinkhorn_on_gpu_equals_cpu(rng):
    from brainbridge.analyses import knn_graph, ricci_curvature

    g = knn_graph(rng.normal(size=(200, 16)) / 4, k=8)
    cpu = ricci_curvature(g, method="sinkhorn", device="cpu", tol=1e-12, max_iter=20000)
    gpu = ricci_curvature(g, method="sinkhorn", device="cuda", tol=1e-12, max_iter=20000)
    np.testing.assert_allclose(gpu.transport.values, cpu.transport.values, rtol=1e-8)


def test_sinkhorn_iteration_arguments_are_checked(rng):
    import re

    from brainbridge.analyses import knn_graph, ricci_curvature

    g = knn_graph(rng.normal(size=(20, 3)), k=3)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'max_iter': expected an integer >= 1 (Sinkhorn iteration cap); got 0.")):
        ricci_curvature(g, method="sinkhorn", max_iter=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'tol': expected a positive number (L1 marginal error); got -1.0.")):
        ricci_curvature(g, method="sinkhorn", tol=-1.0)
