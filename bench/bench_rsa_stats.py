"""Bootstrap over stimuli for an RSA model comparison: brainbridge vs rsatoolbox, in one run.

    python bench/bench_rsa_stats.py [--conditions 92] [--subjects 5 20] [--methods corr spearman]

Both score one model RDM against the subject RDMs (mean 'corr' similarity) on every
bootstrap resample of the conditions and recompute the noise ceiling on each sample
(rsatoolbox's ``eval_bootstrap_pattern`` defaults). The resamples differ (each library
draws its own), so the script checks that the full-data score and noise ceiling are equal
and that the two bootstrap standard errors agree within Monte Carlo error.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", type=int, default=92)
    parser.add_argument("--subjects", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--methods", nargs="+", default=["corr", "spearman"])
    args = parser.parse_args()
    for n in args.subjects:
        for method in args.methods:
            run(args.conditions, n, args.n_boot, method)


def run(k: int, n: int, n_boot: int, method: str) -> None:
    import rsatoolbox
    from rsatoolbox.inference import eval_bootstrap_pattern
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    from brainbridge.analyses import bootstrap

    rng = np.random.default_rng(0)
    latent = rng.normal(size=(k, 20))
    iu = np.triu_indices(k, k=1)

    def rdm_of(x):
        c = np.corrcoef(x)
        return 1 - c

    data_sq = np.stack([rdm_of(latent @ rng.normal(size=(20, 100)) + rng.normal(size=(k, 100)))
                        for _ in range(n)])
    model_sq = rdm_of(latent @ rng.normal(size=(20, 50)))[None]
    data_r = RDMs(data_sq[:, iu[0], iu[1]])
    model = ModelFixed("m", model_sq[0][iu])

    np.random.seed(0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = eval_bootstrap_pattern(model, data_r, method=method, N=n_boot)
    t_theirs = time.perf_counter() - t

    bootstrap(model_sq, data_sq, method=method, n_boot=5, random_state=1, progress=False)
    t = time.perf_counter()
    ours = bootstrap(model_sq, data_sq, method=method, n_boot=n_boot, random_state=0,
                     progress=False)
    t_ours = time.perf_counter() - t

    full = float(np.mean(rsatoolbox.rdm.compare(RDMs(model_sq[0][iu][None]), data_r,
                                                method)))
    nc = rsatoolbox.inference.boot_noise_ceiling(data_r, method=method)
    print(f"\n{k} conditions, {n} subject RDMs, 1 model, method={method!r}, "
          f"{n_boot} bootstrap samples with per-sample noise ceilings")
    print(f"  rsatoolbox eval_bootstrap_pattern  {t_theirs:8.3f} s")
    print(f"  brainbridge bootstrap              {t_ours:8.3f} s")
    print(f"  speed-up                           {t_theirs / t_ours:8.1f} x")
    print(f"  full-data score   ours {float(ours['score'][0]):.10f}  rsatoolbox {full:.10f}")
    print(f"  noise ceiling     ours ({float(ours['noise_lower']):.10f}, "
          f"{float(ours['noise_upper']):.10f})  rsatoolbox ({nc[0]:.10f}, {nc[1]:.10f})")
    se_theirs = float(np.nanstd(theirs.evaluations[:, 0], ddof=1))
    print(f"  bootstrap SE      ours {float(ours['se'][0]):.4f}  rsatoolbox {se_theirs:.4f}")
    assert abs(float(ours["score"][0]) - full) < 1e-10
    assert np.allclose([float(ours["noise_lower"]), float(ours["noise_upper"])], nc, atol=1e-10)


if __name__ == "__main__":
    main()
