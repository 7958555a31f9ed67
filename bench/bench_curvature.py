"""Ollivier-Ricci curvature and Ricci flow against GraphRicciCurvature, on the same graphs.

    python bench/bench_curvature.py [--sizes 1000 5000] [--flow-size 500] [--proc 2] [--repeat 1]

Graphs: kNN (k = 10, union) over points drawn N(0, I/64) in 64-D (edge lengths about 1, so the
neighbour masses exp(-w^2) are not degenerate). GraphRicciCurvature runs with method "OTD"
(exact) or "Sinkhorn", ``proc`` processes, from a NetworkX graph it is handed; ours takes the
same graph as a sparse matrix. Every row prints both times (the best of ``--repeat`` runs of
each), the ratio and the largest difference in edge curvature (flow: in weights). Numba kernels
are compiled (and cached) before timing. Sinkhorn: ours runs on ``device="cpu"`` (compiled
per-edge kernel); the torch batched path is for GPUs (``--torch`` times it on CPU too).
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

import numpy as np

from brainbridge.analyses import knn_graph, ricci_curvature, ricci_flow

REPEAT = 1


def _best(fn):
    """Best wall time of REPEAT calls of ``fn`` and the last result."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def _theirs(g, method: str, proc: int, flow: int = 0):
    from GraphRicciCurvature.OllivierRicci import OllivierRicci

    def run():
        orc = OllivierRicci(g.to_networkx(), alpha=0.5, method=method, proc=proc, verbose="ERROR")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if flow:
                orc.compute_ricci_flow(iterations=flow)
            else:
                orc.compute_ricci_curvature()
        return orc.G

    return _best(run)


def _values(ds, graph, key="ricciCurvature"):
    return np.array([graph[u][v][key] for u, v in zip(ds.source.values, ds.target.values)])


def _row(label: str, ours: float, theirs: float, err: float) -> None:
    print(f"| {label} | {theirs:.2f} | {ours:.3f} | {theirs / ours:.1f}x | {err:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--flow-size", type=int, default=500)
    parser.add_argument("--proc", type=int, default=2)
    parser.add_argument("--sinkhorn-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing; the best counts")
    parser.add_argument("--torch", action="store_true", help="also time the torch Sinkhorn path on CPU")
    args = parser.parse_args()
    global REPEAT
    REPEAT = args.repeat
    rng = np.random.default_rng(0)
    ricci_curvature(knn_graph(rng.normal(size=(40, 4)), k=5))  # compile the numba kernels
    print("| case | GraphRicciCurvature (s) | brainbridge (s) | ratio | max abs diff |")
    print("|---|---|---|---|---|")
    exact = {}
    for n in args.sizes:
        g = knn_graph(rng.normal(size=(n, 64)) / 8, k=10)
        ours, ds = _best(partial(ricci_curvature, g, method="exact"))
        theirs, ref = _theirs(g, "OTD", args.proc)
        exact[n] = (g, ds)
        _row(f"exact, {n} points ({g.n_edges} edges)", ours, theirs,
             float(np.abs(ds.edge_curvature.values - _values(ds, ref)).max()))
    n = args.sinkhorn_size
    g, ds_exact = exact.get(n) or (knn_graph(rng.normal(size=(n, 64)) / 8, k=10), None)
    if ds_exact is None:
        ds_exact = ricci_curvature(g)
    theirs, ref = _theirs(g, "Sinkhorn", args.proc)
    err_theirs = float(np.abs(_values(ds_exact, ref) - ds_exact.edge_curvature.values).max())
    for reg in (0.1, 0.03, 0.01):
        ours, ds = _best(partial(ricci_curvature, g, method="sinkhorn", reg=reg, device="cpu"))
        err = float(np.abs(ds.edge_curvature.values - ds_exact.edge_curvature.values).max())
        _row(f"sinkhorn reg {reg}, {n} points (error vs exact; theirs (reg 0.1): {err_theirs:.1e})",
             ours, theirs, err)
    if args.torch:  # the batched torch path (for GPUs), here on CPU
        from unittest import mock

        from brainbridge.analyses import _curvature

        with mock.patch.object(_curvature, "_compiled", lambda: None):
            ours, ds = _best(lambda: ricci_curvature(g, method="sinkhorn", reg=0.1, device="cpu"))
        err = float(np.abs(ds.edge_curvature.values - ds_exact.edge_curvature.values).max())
        _row(f"sinkhorn reg 0.1, torch batches on CPU, {n} points", ours, theirs, err)
    g = knn_graph(rng.normal(size=(args.flow_size, 64)) / 8, k=10)
    ours, ds = _best(lambda: ricci_flow(g, iterations=10, progress=False))
    theirs, ref = _theirs(g, "OTD", args.proc, flow=10)
    err = float(np.abs(ds.weight.values - _values(ds, ref, "weight")).max())
    _row(f"Ricci flow, 10 iterations, {args.flow_size} points (diff in weights)", ours, theirs, err)


if __name__ == "__main__":
    main()
