"""Benchmark ``brainbridge.analyses.cka`` against the plain numpy formula.

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_cka.py            # 5000 stimuli x 4096 vs 2048 units, float32
    python bench/bench_cka.py --quick    # small sizes, a smoke run
    python bench/bench_cka.py --device cuda

Cases, each timed in this one run (best of ``--repeat``), with the ratio peer / ours:

1. Linear CKA, X (5000 x 4096) vs Y (5000 x 2048), float32 inputs. The peer is the plain
   numpy feature-space formula with float64 accumulation (products in float32, each cast to
   float64 before its Frobenius norm)::

       Xc, Yc = X - X.mean(0), Y - Y.mean(0)
       ||Yc^T Xc||^2 / (||Xc^T Xc|| ||Yc^T Yc||)

   Both values are also compared with a float64 computation.
2. Layer x layer: 6 layers of 1024 units on 5000 stimuli (a 6 x 6 matrix). The peer loops
   the same numpy formula over the 21 pairs of the upper triangle, reusing nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import brainbridge as bb
from brainbridge.analyses import cka


def centred(a: np.ndarray) -> np.ndarray:
    return a - a.mean(0, dtype=np.float64).astype(a.dtype)


def fro64(m: np.ndarray) -> float:
    return float(np.linalg.norm(m.astype(np.float64)))


def numpy_cka(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = centred(x), centred(y)
    return fro64(yc.T @ xc) ** 2 / (fro64(xc.T @ xc) * fro64(yc.T @ yc))


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def report(name: str, ours: float, peer: float) -> None:
    print(f"{name}: ours {ours:.3f} s, numpy {peer:.3f} s, ratio numpy/ours {peer / ours:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    n, p, q = (1000, 800, 400) if args.quick else (5000, 4096, 2048)
    n_layers, width = (4, 200) if args.quick else (6, 1024)
    rng = np.random.default_rng(0)

    x = rng.standard_normal((n, p), dtype=np.float32) + 1.0
    mix = rng.standard_normal((q // 2, q), dtype=np.float32) / np.float32(np.sqrt(q))
    y = x[:, : q // 2] @ mix + rng.standard_normal((n, q), dtype=np.float32)
    print(f"linear CKA, {n} stimuli x {p} vs {q} units, float32, device {args.device}")
    cka(x[:50], y[:50], device=args.device)  # warm-up (torch init, device)
    t_ours, ours = best(lambda: cka(x, y, device=args.device), args.repeat)
    t_peer, peer = best(lambda: numpy_cka(x, y), args.repeat)
    exact = numpy_cka(x.astype(np.float64), y.astype(np.float64))
    form = ours.attrs["form"]
    report(f"  pair ({form} form)", t_ours, t_peer)
    print(f"  values: ours {float(ours):.10f}, numpy {peer:.10f}, float64 {exact:.10f}; "
          f"rel. error ours {abs(float(ours) - exact) / exact:.1e}, "
          f"numpy {abs(peer - exact) / exact:.1e}")
    for other in ("feature", "gram"):
        if other != form:
            t_other, v = best(lambda other=other: cka(x, y, form=other, device=args.device), 1)
            print(f"  (the {other} form: {t_other:.3f} s, value {float(v):.10f})")

    feats = rng.standard_normal((n, n_layers * width), dtype=np.float32)
    feats[:, width:] += 0.5 * feats[:, :-width]  # neighbouring layers share signal
    layers = np.repeat([f"layer{i}" for i in range(n_layers)], width)
    a = bb.assembly(feats, dims=("stimulus", "unit"), modality="ann",
                    coords={"layer": ("unit", layers)})
    print(f"layer x layer, {n_layers} layers x {width} units, {n} stimuli, float32")
    blocks = [feats[:, i * width:(i + 1) * width] for i in range(n_layers)]

    def numpy_matrix() -> np.ndarray:
        out = np.eye(n_layers)
        for i in range(n_layers):
            for j in range(i + 1, n_layers):
                out[i, j] = out[j, i] = numpy_cka(blocks[i], blocks[j])
        return out

    t_ours, ours_m = best(lambda: cka(a, a, by_x="layer", by_y="layer", device=args.device),
                          args.repeat)
    t_peer, peer_m = best(numpy_matrix, args.repeat)
    report(f"  matrix ({ours_m.attrs['form']} form)", t_ours, t_peer)
    print(f"  max |ours - numpy| {np.max(np.abs(ours_m.values - peer_m)):.1e}")


if __name__ == "__main__":
    main()
