"""Streaming neuron-pair correlation against the machine's float32 matrix-multiply rate.

    python bench/bench_neurons.py [--units 3072] [--chunk 4096] [--chunks 24] [--workers 0]

Correlates 2 x ``units`` units over ``chunk * chunks`` samples streamed as an iterable of
chunks (memory stays at one chunk plus the float64 accumulators), with top-1 partners, and
times the bare float32 product of one chunk (``X^T Y``) in the same run: the issue's target is
at least half of that rate. The full 2,000,000-sample case is ``--chunks 489``.
``--workers N`` also runs the same correlation on a local dask.distributed cluster of N
single-threaded worker processes, on dask arrays generated block by block on the workers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from brainbridge._linalg import matmul
from brainbridge.analyses import neuron_correlation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=3072)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--chunks", type=int, default=24)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.chunk, args.units), dtype=np.float32)
    b = rng.standard_normal((args.chunk, args.units), dtype=np.float32)
    pairs = [(a, b)] * args.chunks
    neuron_correlation(pairs[:1], device="cpu", top_k=1)  # warm-up
    start = time.perf_counter()
    neuron_correlation(pairs, device="cpu", top_k=1)
    ours = args.chunks * args.chunk / (time.perf_counter() - start)
    x, y = torch.from_numpy(a.T.copy()), torch.from_numpy(b)
    matmul(x, y)
    start = time.perf_counter()
    for _ in range(args.chunks):
        matmul(x, y)
    bare = args.chunks * args.chunk / (time.perf_counter() - start)
    print(f"{args.units} x {args.units} units, {args.chunks} chunks of {args.chunk} samples")
    print(f"  neuron_correlation   {ours:12,.0f} samples/s")
    print(f"  float32 X^T Y alone  {bare:12,.0f} samples/s")
    print(f"  fraction             {ours / bare:12.2f}  (target >= 0.5)")
    if args.workers:
        distributed(args)


def distributed(args: argparse.Namespace) -> None:
    import dask.array as da
    from distributed import Client, LocalCluster

    n = args.chunk * args.chunks
    shape, chunks = (n, args.units), (args.chunk, args.units)
    a = da.random.default_rng(1).standard_normal(shape, chunks=chunks, dtype=np.float32)
    b = da.random.default_rng(2).standard_normal(shape, chunks=chunks, dtype=np.float32)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        neuron_correlation(a[: 2 * args.chunk], b[: 2 * args.chunk], chunk_size=args.chunk,
                           top_k=1, client=client, device="cpu")  # warm-up
        start = time.perf_counter()
        neuron_correlation(a, b, chunk_size=args.chunk, top_k=1, client=client, device="cpu")
        rate = n / (time.perf_counter() - start)
    print(f"  distributed, {args.workers} workers {rate:10,.0f} samples/s (data generated on the workers)")


if __name__ == "__main__":
    main()
