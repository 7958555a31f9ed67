"""Benchmark ``brainbridge.analyses.rdm`` against rsatoolbox, in one run, with ratios.

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_rsa.py                  # full sizes, about a minute on 2 CPU cores
    python bench/bench_rsa.py --quick          # small sizes, a smoke run
    python bench/bench_rsa.py --device cuda    # our side on a GPU (rsatoolbox is NumPy only)

Cases (issue #4):

a. correlation RDM of 1000 stimuli x 10000 units;
b. crossnobis pipeline, 8 runs x 92 conditions x 2000 channels: the shrinkage
   (``shrinkage_diag``) noise precision from 800 x 2000 residuals, then the RDM;
c. squared-euclidean / n_units RDM (rsatoolbox's ``"euclidean"``) of 1000 x 10000.

Each case checks in the same run that both give the same numbers (max relative
difference of the dissimilarities; float64) and prints the best of ``--repeats`` timings
for each side and their ratio. Inputs are built before timing; our side is timed from a
plain float64 array, rsatoolbox's from its ``Dataset``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from brainbridge.analyses import noise_precision, rdm, rdm_vector


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def max_rel(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--device", default="auto", help="our side's device (auto, cpu, cuda)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per side (best kept)")
    args = parser.parse_args()

    from rsatoolbox.data import Dataset
    from rsatoolbox.data.noise import prec_from_residuals
    from rsatoolbox.rdm import calc_rdm

    n_stim, n_units = (200, 2000) if args.quick else (1000, 10000)
    n_runs, n_cond, n_chan, n_res = (4, 20, 300, 200) if args.quick else (8, 92, 2000, 800)
    rng = np.random.default_rng(0)
    rows = []

    # a / c: correlation and euclidean RDMs of one big pattern matrix
    x = rng.standard_normal((n_stim, n_units))
    ds = Dataset(x)
    for label, ours_m, theirs_m in (("a. correlation RDM", "correlation", "correlation"),
                                    ("c. euclidean RDM (sq./n)", "sqeuclidean", "euclidean")):
        t_ours, r_ours = best_time(lambda m=ours_m: rdm(x, method=m, device=args.device),
                                   args.repeats)
        t_rsa, r_rsa = best_time(lambda m=theirs_m: calc_rdm(ds, method=m),
                                 max(1, args.repeats - 1))
        err = max_rel(rdm_vector(r_ours).values, r_rsa.dissimilarities[0])
        rows.append((f"{label} {n_stim} x {n_units}", t_ours, t_rsa, err))

    # b: crossnobis pipeline with a shrinkage noise precision from residuals
    residuals = rng.standard_normal((n_res, n_chan)) @ (
        np.eye(n_chan) + 0.1 * rng.standard_normal((n_chan, n_chan)) / np.sqrt(n_chan))
    signal = rng.standard_normal((n_cond, 1, n_chan))
    data = signal + rng.standard_normal((n_cond, n_runs, n_chan))  # (cond, run, chan)
    ids = np.array([f"c{i:03d}" for i in range(n_cond)])
    ds_cv = Dataset(data.reshape(n_cond * n_runs, n_chan), obs_descriptors={
        "stimulus": np.repeat(ids, n_runs), "run": np.tile(np.arange(n_runs), n_cond)})

    def ours_cv() -> Any:
        prec = noise_precision(residuals, method="shrinkage_diag", device=args.device)
        return rdm(data, method="crossnobis", cv_dim="run", noise=prec.values,
                   device=args.device)

    def rsa_cv() -> Any:
        prec = prec_from_residuals(residuals, method="shrinkage_diag")
        with warnings.catch_warnings():  # rsatoolbox casts NaN into its int 'run' descriptor
            warnings.simplefilter("ignore", RuntimeWarning)
            return calc_rdm(ds_cv, method="crossnobis", descriptor="stimulus",
                            cv_descriptor="run", noise=prec)

    t_ours, r_ours = best_time(ours_cv, args.repeats)
    t_rsa, r_rsa = best_time(rsa_cv, max(1, args.repeats - 1))
    err = max_rel(rdm_vector(r_ours).values, r_rsa.dissimilarities[0])
    rows.append((f"b. crossnobis {n_runs} runs x {n_cond} x {n_chan} + prec {n_res} x {n_chan}",
                 t_ours, t_rsa, err))

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"brainbridge on {device} ({name}, {torch.get_num_threads()} CPU threads); "
          "rsatoolbox on CPU (NumPy). float64 on both sides.")
    header = f"{'case':<58} {'ours [s]':>9} {'rsatoolbox [s]':>15} {'speed-up':>9}"
    print(f"{header} {'max rel diff':>13}")
    for label, t_o, t_r, e in rows:
        print(f"{label:<58} {t_o:9.3f} {t_r:15.3f} {t_r / t_o:8.1f}x {e:13.1e}")


if __name__ == "__main__":
    main()
