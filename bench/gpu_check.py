"""Every CUDA path in one go: the gpu-marked tests, then each kernel on CPU and on the GPU.

Usage::

    python bench/gpu_check.py                 # on a machine with CUDA: tests + table
    python bench/gpu_check.py --skip-tests    # the table only
    python bench/gpu_check.py --smoke         # tiny sizes, "GPU" column on the CPU (checks the script)

Prints one table: per kernel the CPU time, the GPU time (best of ``--repeat`` after one
warm-up call on each device, which pays for CUDA initialisation and compilation), their ratio,
and the largest absolute difference between the CPU and GPU values. Sizes are chosen so the
whole run takes a few minutes on one GPU (the issue's budget is 8 minutes). A kernel whose
GPU values differ from its CPU values by more than its tolerance is flagged ``DIFF``; one
that raises is flagged ``ERROR`` with the message. The exit status is non-zero when a test
failed, a kernel errored or a difference exceeded its tolerance.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    name: str
    run: Callable[[str], Any]  # device -> values (anything np.asarray takes, or a tuple of them)
    tol: float                 # largest acceptable |cpu - gpu|


def _values(out: Any) -> np.ndarray:
    if isinstance(out, tuple | list):
        return np.concatenate([_values(o).ravel() for o in out])
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    if hasattr(out, "values") and not callable(out.values):
        out = out.values
    return np.asarray(out, dtype=np.float64)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def cases(small: bool) -> list[Case]:
    """The kernels with a torch path, at sizes that show the GPU's use (tiny with ``small``)."""
    import torch
    import xarray as xr

    import brainbridge as bb
    from brainbridge import analyses, encoders, snn

    rng = np.random.default_rng(0)
    s = 0.1 if small else 1.0

    def n(k: int) -> int:
        return max(8, int(k * s))

    def acts(n_stim: int, n_unit: int, seed: int = 0) -> xr.DataArray:
        r = np.random.default_rng(seed)
        return bb.assembly(r.normal(size=(n_stim, n_unit)).astype(np.float32), dims=("stimulus", "unit"),
                           modality="ann")

    x, y = acts(n(600), n(4000)), acts(n(600), n(3000), seed=1)
    runs = bb.assembly(rng.normal(size=(4, n(200), n(500))).astype(np.float32),
                       dims=("trial", "stimulus", "unit"), modality="fmri")
    rdms = analyses.rdm(acts(n(100), n(300), seed=2).expand_dims(subject=[f"s{i}" for i in range(n(200))])
                        + 0.0, device="cpu")
    model_rdm = analyses.rdm(acts(n(100), n(50), seed=3), device="cpu")
    X = rng.normal(size=(n(3000), n(800)))
    Y = X[:, :n(500)] @ rng.normal(size=(n(500), n(2000))) * 0.1 + rng.normal(size=(n(3000), n(2000)))
    seq = torch.as_tensor(rng.normal(size=(n(500), 16, n(256))).astype(np.float32))

    def lif(dev: str) -> Any:
        torch.manual_seed(0)
        layer = snn.LIF(beta=0.9).to(dev)
        spikes, state = layer.forward_seq(seq.to(dev) * 2.0)
        return spikes.float().mean(dim=0), state.v if hasattr(state, "v") else spikes

    def elm(dev: str) -> Any:
        torch.manual_seed(0)
        layer = snn.ELM(n(256), 32).to(dev)
        return layer.forward_seq(seq.to(dev))[0]

    def kuramoto(dev: str) -> Any:
        torch.manual_seed(0)
        block = snn.Kuramoto(n(64), steps=3).to(dev)
        r = np.random.default_rng(6)
        c = torch.as_tensor(r.normal(size=(16, n(64))).astype(np.float32)).to(dev)
        x0 = torch.as_tensor(r.normal(size=(16, n(64))).astype(np.float32)).to(dev)  # same start on both
        return block(c, x0)[0]

    def curvature(dev: str) -> Any:
        pts = np.random.default_rng(4).normal(size=(n(1500), 10))
        g = analyses.knn_graph(pts, k=10)
        return analyses.ricci_curvature(g, method="sinkhorn", device=dev)["edge_curvature"]

    def extract(dev: str) -> Any:
        from brainbridge.models import EFFICIENTNET_BLOCKS, efficientnet_lite0

        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
            net = efficientnet_lite0()
        images = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8)
                  for i in range(n(64))]
        return bb.extract(net, images, layers=EFFICIENTNET_BLOCKS[-1:], reduce="mean", device=dev,
                          progress=False)

    def simulate(dev: str) -> Any:
        names = [f"n{i}" for i in range(n(300))]
        counts = np.stack([(np.random.default_rng(5).random((len(names),) * 2) < 0.05) * 1.0,
                           np.zeros((len(names),) * 2)], -1)
        conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
                            coords={"pre": names, "post": names, "synapse_type": ["chemical", "electrical"]})
        return snn.simulate_stimulation(conn, device=dev)

    return [
        Case("rdm correlation", lambda d: analyses.rdm(x, method="correlation", device=d), 1e-4),
        Case("rdm crossnobis", lambda d: analyses.rdm(runs, method="crossnobis", cv_dim="trial", device=d),
             1e-3),
        Case("compare_rdms corr", lambda d: analyses.compare_rdms(rdms, model_rdm, method="corr", device=d),
             1e-5),
        Case("cka linear", lambda d: analyses.cka(x, y, device=d), 1e-5),
        Case("cka rbf", lambda d: analyses.cka(x, y, kernel="rbf", device=d), 1e-4),
        Case("neuron_correlation", lambda d: analyses.neuron_correlation(x, y, device=d, top_k=1)["r"], 1e-4),
        Case("RidgeEncoder fit+predict",
             lambda d: encoders.RidgeEncoder(alphas=np.logspace(-2, 4, 7), device=d).fit(X, Y).predict(X),
             1e-3),
        Case("BandedRidgeEncoder fit+predict",
             lambda d: encoders.BandedRidgeEncoder(groups=[slice(0, n(400)), slice(n(400), n(800))],
                                                   n_iter=5, random_state=0, device=d)
             .fit(X, Y[:, :n(300)]).predict(X), 1e-3),
        Case("ricci_curvature sinkhorn", curvature, 1e-4),
        Case("LIF forward_seq", lif, 1e-4),
        Case("ELM forward_seq", elm, 1e-3),
        Case("Kuramoto forward", kuramoto, 1e-3),
        Case("simulate_stimulation", simulate, 1e-4),
        Case("extract EfficientNet-Lite0", extract, 1e-2),
    ]


def time_case(case: Case, device: str, repeat: int) -> tuple[float, np.ndarray]:
    values = _values(case.run(device))  # warm-up: CUDA init, compilation, caches
    _sync(device)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        values = _values(case.run(device))
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, values


def run_gpu_tests() -> tuple[int, str]:
    """pytest -m gpu over the suite; returns (exit code, its summary line)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                           str(ROOT / "tests")], capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    print("\n".join(lines[-25:]))
    return proc.returncode, lines[-1] if lines else "(no output)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; the GPU column runs on the CPU")
    parser.add_argument("--skip-tests", action="store_true", help="skip pytest -m gpu")
    parser.add_argument("--device", default="cuda", help="the accelerator's device (default: cuda)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per device (best kept)")
    parser.add_argument("--only", nargs="+", help="run only the kernels whose name contains one of these")
    args = parser.parse_args(argv)

    import torch

    gpu = "cpu" if args.smoke else args.device
    if gpu.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --smoke to check the script on the CPU")
        return 2
    logging.getLogger("brainbridge").setLevel(logging.ERROR)  # e.g. Sinkhorn max_iter notes on tiny graphs
    os.environ.setdefault("BRAINBRIDGE_DEVICE", "cpu")  # 'auto' inside helpers stays on the CPU side
    started = time.perf_counter()
    status = 0
    test_line = "skipped"
    if not (args.skip_tests or args.smoke):
        code, test_line = run_gpu_tests()
        status |= code not in (0, 5)
    label = torch.cuda.get_device_name(0) if gpu.startswith("cuda") else "cpu (smoke)"
    print(f"\nbrainbridge GPU check: torch {torch.__version__}, accelerator {label}")
    header = f"{'kernel':<32}{'cpu s':>9}{'gpu s':>9}{'cpu/gpu':>9}{'max |diff|':>12}  status"
    print(header)
    print("-" * len(header))
    for case in cases(small=args.smoke):
        if args.only and not any(k in case.name for k in args.only):
            continue
        try:
            t_cpu, v_cpu = time_case(case, "cpu", args.repeat)
            t_gpu, v_gpu = time_case(case, gpu, args.repeat)
        except Exception as err:  # noqa: BLE001 - one table row per kernel, whatever breaks
            status = 1
            msg = f"{type(err).__name__}: {err}".splitlines()[0][:90]
            print(f"{case.name:<32}{'':>39}  ERROR {msg}")
            if os.environ.get("GPU_CHECK_TRACEBACK"):
                traceback.print_exc()
            continue
        if v_cpu.shape != v_gpu.shape:
            status = 1
            print(f"{case.name:<32}{t_cpu:9.3f}{t_gpu:9.3f}{t_cpu / t_gpu:9.1f}{'shape':>12}  DIFF "
                  f"{v_cpu.shape} vs {v_gpu.shape}")
            continue
        both = np.isfinite(v_cpu) & np.isfinite(v_gpu)
        same_nan = bool(np.array_equal(np.isnan(v_cpu), np.isnan(v_gpu)))
        diff = float(np.max(np.abs(v_cpu[both] - v_gpu[both]))) if both.any() else 0.0
        ok = same_nan and diff <= case.tol
        status |= not ok
        flag = "ok" if ok else ("DIFF (NaN pattern)" if not same_nan else f"DIFF > {case.tol:g}")
        print(f"{case.name:<32}{t_cpu:9.3f}{t_gpu:9.3f}{t_cpu / t_gpu:9.1f}{diff:12.2e}  {flag}")
    print(f"\ngpu-marked tests: {test_line}")
    print(f"gpu_check: {time.perf_counter() - started:.0f} s in all; exit {status}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
