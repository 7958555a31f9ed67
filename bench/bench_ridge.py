"""Benchmark ``RidgeEncoder`` against himalaya ``RidgeCV`` and scikit-learn ``RidgeCV``.

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_ridge.py            # 3000 x 2000 features, 5000 then 20000 targets
    python bench/bench_ridge.py --quick    # small sizes, a smoke run

Problem (issue #5): 3000 training samples x 2000 features x 5000 targets, 10 penalties, float32
data; 500 more samples are held out to compare predictions. Cases, each run in its own
subprocess so that its peak resident memory (``VmHWM`` from ``/proc/self/status``, which counts
BLAS and torch buffers that ``tracemalloc`` misses) is its own; the time is the best of
``--repeat`` fits:

* ours, 5-fold (``cv=KFold(5)``, ``score_func="neg_mse"``, himalaya's criterion)
* ours, leave-one-out (``cv="gcv"``, scikit-learn's criterion)
* himalaya ``RidgeCV(cv=KFold(5), fit_intercept=True)``, numpy backend, then torch backend
* scikit-learn ``RidgeCV(alpha_per_target=True)`` (efficient leave-one-out; float64 inside)

Results are compared in the same run: the fraction of targets whose chosen penalty is the same
and the largest difference of held-out predictions relative to their largest magnitude (ours
5-fold vs himalaya, ours leave-one-out vs scikit-learn). Then ours at 20000 targets, with its
memory peak.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_data(n: int, n_test: int, p: int, t: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    mix = (np.eye(p, dtype=np.float32)
           + rng.standard_normal((p, p), dtype=np.float32) * np.float32(0.5 / np.sqrt(p)))
    X = rng.standard_normal((n + n_test, p), dtype=np.float32) @ mix
    W = rng.standard_normal((p, t), dtype=np.float32) * np.float32(1 / np.sqrt(p))
    snr = rng.uniform(0.02, 1.0, t).astype(np.float32)
    Y = (X @ W) * snr + rng.standard_normal((n + n_test, t), dtype=np.float32)
    return X[:n], Y[:n], X[n:]


def vm(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 2**20  # kB -> GiB
    return float("nan")


def run_case(case: str, n: int, n_test: int, p: int, t: int, n_alphas: int, repeat: int,
             out: str) -> None:
    """One case, in this (sub)process: fit ``repeat`` times, save alphas and predictions."""
    from sklearn.model_selection import KFold

    X, Y, Xt = make_data(n, n_test, p, t)
    alphas = np.logspace(0, 9, n_alphas)
    rss_data = vm("VmRSS")
    cv = KFold(5)
    if case.startswith("ours"):
        from brainbridge.encoders import RidgeEncoder

        kw = dict(cv=cv, score_func="neg_mse") if case == "ours_kfold" else dict(cv="gcv")

        def fit():
            enc = RidgeEncoder(alphas=alphas, device="cpu", **kw).fit(X, Y)
            return enc.alpha_, enc.predict(Xt)
    elif case.startswith("himalaya"):
        import warnings

        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV as HRidgeCV

        backend = set_backend(case.split("_")[1])

        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = HRidgeCV(alphas=alphas, cv=cv, fit_intercept=True).fit(X, Y)
                return (backend.to_numpy(est.best_alphas_),
                        backend.to_numpy(est.predict(Xt)))
    else:
        from sklearn.linear_model import RidgeCV

        def fit():
            est = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
            return est.alpha_, est.predict(Xt)

    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        best, pred = fit()
        times.append(time.perf_counter() - t0)
    np.savez(out, alphas=np.asarray(best, dtype=np.float64), pred=np.asarray(pred))
    with open(out + ".json", "w") as f:
        json.dump({"time": min(times), "times": times, "peak_gib": vm("VmHWM"),
                   "data_gib": rss_data}, f)


def spawn(case: str, args, t: int, tmp: str) -> dict:
    out = os.path.join(tmp, f"{case}_{t}.npz")
    cmd = [sys.executable, __file__, "--case", case, "--targets", str(t), "--out", out,
           "--repeat", str(args.repeat)] + (["--quick"] if args.quick else [])
    subprocess.run(cmd, check=True)
    with open(out + ".json") as f:
        info = json.load(f)
    data = np.load(out)
    info.update(alphas=data["alphas"], pred=data["pred"])
    print(f"  {case:16s} {info['time']:7.2f} s (runs: {', '.join(f'{x:.2f}' for x in info['times'])})"
          f"   peak RSS {info['peak_gib']:.2f} GiB (data alone {info['data_gib']:.2f} GiB)",
          flush=True)
    return info


def agree(a: dict, b: dict) -> str:
    same = np.mean(np.isclose(a["alphas"], b["alphas"], rtol=1e-5))
    diff = np.abs(a["pred"] - b["pred"]).max() / np.abs(b["pred"]).max()
    return f"same penalty for {100 * same:.2f}% of targets, max |pred diff| / max |pred| {diff:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case")
    parser.add_argument("--targets", type=int)
    parser.add_argument("--out")
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    n, n_test, p, t, t_big = (600, 100, 300, 500, 2000) if args.quick else \
        (3000, 500, 2000, 5000, 20000)
    n_alphas = 10
    if args.case:
        run_case(args.case, n, n_test, p, args.targets, n_alphas, args.repeat, args.out)
        return
    print(f"ridge CV: {n} train x {p} features x {t} targets, {n_alphas} penalties, 5 folds, "
          f"float32 data, {os.cpu_count()} CPU cores, best of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        res = {c: spawn(c, args, t, tmp) for c in ["ours_kfold", "ours_gcv"]}
        if not args.skip_peers:
            for c in ["himalaya_numpy", "himalaya_torch", "sklearn_gcv"]:
                res[c] = spawn(c, args, t, tmp)
            print("results:")
            for peer in ["himalaya_numpy", "himalaya_torch"]:
                print(f"  ours 5-fold vs {peer}: {agree(res['ours_kfold'], res[peer])}")
            print(f"  ours gcv vs sklearn_gcv: {agree(res['ours_gcv'], res['sklearn_gcv'])}")
            fastest = min(["himalaya_numpy", "himalaya_torch", "sklearn_gcv"],
                          key=lambda c: res[c]["time"])
            for ours in ["ours_kfold", "ours_gcv"]:
                print(f"  ratio {fastest} / {ours}: "
                      f"{res[fastest]['time'] / res[ours]['time']:.2f}x")
        print(f"{t_big} targets:")
        for c in ["ours_kfold", "ours_gcv"]:
            spawn(c, argparse.Namespace(**{**vars(args), "repeat": 1}), t_big, tmp)


if __name__ == "__main__":
    main()
