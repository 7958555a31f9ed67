"""Banded ridge: brainbridge ``BandedRidgeEncoder`` vs himalaya ``MultipleKernelRidgeCV``.

    python bench/bench_banded.py

Both search the same explicit candidate list of space weights against the same alphas and
folds (random search, R2 scoring, intercept, float64 CPU); the script checks that the
selections are identical and prints both times and the ratio, with himalaya's numpy and
torch backends.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from himalaya.backend import set_backend
from himalaya.kernel_ridge import MultipleKernelRidgeCV
from himalaya.scoring import r2_score
from sklearn.model_selection import KFold

from brainbridge.encoders import BandedRidgeEncoder
from brainbridge.encoders._banded import _candidates


def main() -> None:
    rng = np.random.default_rng(0)
    n, sizes, t = 1000, [100, 200, 300], 2000
    p = sum(sizes)
    edges = np.cumsum([0, *sizes])
    groups = [slice(int(edges[i]), int(edges[i + 1])) for i in range(3)]
    x = rng.standard_normal((n, p))
    weights = rng.standard_normal((p, t)) * np.repeat([1, 0.3, 0], sizes)[:, None]
    y = x @ weights + 5 * rng.standard_normal((n, t))
    candidates = _candidates(20, 3, [0.1, 1.0], np.random.default_rng(0))
    alphas = np.logspace(-2, 5, 10)
    cv = KFold(5)

    def ours() -> BandedRidgeEncoder:
        return BandedRidgeEncoder(groups=groups, n_iter=candidates, alphas=alphas, cv=cv,
                                  device="cpu").fit(x, y)

    start = time.perf_counter()
    fitted = ours()
    t_ours = time.perf_counter() - start
    times = {}
    for backend in ["numpy", "torch"]:
        set_backend(backend)
        start = time.perf_counter()
        kernels = np.stack([x[:, g] @ x[:, g].T for g in groups])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer = MultipleKernelRidgeCV(
                kernels="precomputed", fit_intercept=True, cv=cv,
                solver_params=dict(n_iter=candidates, alphas=alphas, score_func=r2_score,
                                   progress_bar=False, return_alphas=True)).fit(kernels, y)
        times[backend] = time.perf_counter() - start
        same = (np.array_equal(np.asarray(peer.best_alphas_), fitted.alpha_)
                and np.array_equal(np.asarray(peer.deltas_), fitted.deltas_))
        dual = np.abs(np.asarray(peer.dual_coef_) - fitted.dual_coef_).max()
        print(f"himalaya[{backend}] {times[backend]:.2f} s  same selection: {same}  "
              f"max |dual diff| {dual:.1e}")
    start = time.perf_counter()
    ours()
    t_again = time.perf_counter() - start
    best = min(times.values())
    print(f"n={n} p={p} (3 spaces) targets={t} candidates={len(candidates)} "
          f"alphas={len(alphas)} folds=5")
    print(f"brainbridge {t_ours:.2f} s (again {t_again:.2f} s) | himalaya best {best:.2f} s | "
          f"ratio himalaya/ours {best / min(t_ours, t_again):.2f}x")


if __name__ == "__main__":
    main()
