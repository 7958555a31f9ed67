"""Benchmark ``brainbridge.extract``: CPU throughput and memory when streaming to disk.

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_extract.py           # full run, a few minutes on 2 CPU cores
    python bench/bench_extract.py --quick   # smoke run with small sizes

It measures

1. Throughput (images/s) of EfficientNet-Lite0 on the skimage images: a plain
   ``net(net.preprocess(batch))`` loop under ``torch.inference_mode()`` against
   ``extract`` with all 16 blocks mean-pooled, and with ``_blocks.15`` unreduced.
2. Peak memory (peak RSS, VmHWM, of a fresh subprocess per run) of ``extract(..., out="x.nc")``
   on a tiny random conv net with ~1.5 MB of activations per stimulus, as the stimulus
   count grows, next to the in-memory path (``out=None``), which grows linearly.
   It also checks once that the streamed file equals the in-memory result.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import brainbridge

BATCH = 32
SIDE = 64
LAYERS = ["0", "2"]
UNITS = (32 + 64) * SIDE * SIDE  # reduce=None: one unit per channel and pixel
MEMORY_LIMIT = 6e9  # bytes; the in-memory path is skipped above this estimated peak


def peak_rss_mb() -> float:
    """This process's peak RSS in MB.

    Linux carries ``ru_maxrss`` across ``exec``, so in a child it is at least the parent's
    peak at spawn time; ``VmHWM`` belongs to the new address space and is read instead.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(32, 64, 3, padding=1))


def random_batches(n: int):
    """Batches of random (b, 3, SIDE, SIDE) float32 inputs, made one at a time."""
    for start in range(0, n, BATCH):
        rng = np.random.default_rng(start)
        size = min(BATCH, n - start)
        yield torch.from_numpy(rng.random((size, 3, SIDE, SIDE), dtype=np.float32))


def extract_tiny(n: int, out: str | None):
    return brainbridge.extract(tiny_model(), random_batches(n), layers=LAYERS, reduce=None,
                               batch_size=BATCH, device="cpu", out=out, progress=False)


def child(n: int, out: str | None) -> None:
    """One extraction in this (fresh) process; prints its peak RSS as JSON."""
    base = peak_rss_mb()
    t0 = time.perf_counter()
    result = extract_tiny(n, out)
    seconds = time.perf_counter() - t0
    assert result.shape == (n, UNITS), result.shape
    size = os.path.getsize(out) if out else result.nbytes
    print(json.dumps({"base_mb": base, "peak_mb": peak_rss_mb(), "seconds": seconds,
                      "size_mb": size / 1e6}))


def run_child(n: int, out: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(n)] + (["--out", out] if out else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_throughput(n_images: int, repeats: int) -> None:
    from brainbridge.ann import load_stimuli
    from brainbridge.ann.models import EFFICIENTNET_BLOCKS, efficientnet_lite0

    net = efficientnet_lite0()
    _, base = load_stimuli("skimage")
    imgs = [base[i % len(base)] for i in range(n_images)]

    def plain(images=imgs):
        with torch.inference_mode():
            for start in range(0, len(images), BATCH):
                net(net.preprocess(images[start:start + BATCH]))

    def blocks_mean(images=imgs):
        brainbridge.extract(net, images, layers=EFFICIENTNET_BLOCKS, reduce="mean",
                            batch_size=BATCH, progress=False)

    def last_flat(images=imgs):
        brainbridge.extract(net, images, layers=["_blocks.15"], reduce=None,
                            batch_size=BATCH, progress=False)

    cases = [("plain net(preprocess(x))", plain),
             ("extract 16 blocks, mean", blocks_mean),
             ("extract _blocks.15, flatten", last_flat)]
    for _, fn in cases:
        fn(imgs[:BATCH])  # warm-up
    best = {name: float("inf") for name, _ in cases}
    for _ in range(repeats):  # round robin, so that a busy spell slows every case alike
        for name, fn in cases:
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    print(f"\n1. Throughput: EfficientNet-Lite0, {n_images} skimage images, batch {BATCH}, "
          f"{torch.get_num_threads()} torch threads, best of {repeats}")
    print(f"   {'case':<30} {'images/s':>9} {'ours/plain':>10}")
    for name, seconds in best.items():
        print(f"   {name:<30} {n_images / seconds:9.1f} {best[cases[0][0]] / seconds:10.2f}")


def bench_memory(sizes: list[int]) -> None:
    per_stim = UNITS * 4
    print(f"\n2. Peak RSS, tiny conv net, {UNITS} float32 units = {per_stim / 1e6:.2f} MB per "
          f"stimulus, batch {BATCH}, one fresh process per run")
    print(f"   {'N':>6} {'file MB':>9} {'stream MB':>10} {'stream s':>9} "
          f"{'in-mem MB':>10} {'in-mem s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        keep = str(Path(tmp) / f"stream_{sizes[0]}.nc")
        for n in sizes:
            path = keep if n == sizes[0] else str(Path(tmp) / f"stream_{n}.nc")
            s = run_child(n, path)
            if path != keep:
                os.remove(path)
            # the in-memory path holds the batches and their concatenation: ~2x the output
            if 2 * n * per_stim <= MEMORY_LIMIT:
                m = run_child(n, None)
                mem = f"{m['peak_mb']:10.0f} {m['seconds']:9.1f}"
            else:
                mem = f"{'skipped':>10} {'-':>9}"
            print(f"   {n:>6} {s['size_mb']:9.0f} {s['peak_mb']:10.0f} {s['seconds']:9.1f} {mem}")
        print(f"   (RSS before extracting, after imports: {s['base_mb']:.0f} MB)")

        streamed = brainbridge.load(keep)
        in_memory = extract_tiny(sizes[0], None)
        np.testing.assert_array_equal(streamed.values, in_memory.values)
        np.testing.assert_array_equal(streamed["unit"].values, in_memory["unit"].values)
        np.testing.assert_array_equal(streamed["stimulus"].values, in_memory["stimulus"].values)
        print(f"   streamed file == in-memory result for N={sizes[0]}: OK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.out)
        return
    t0 = time.perf_counter()
    if args.quick:
        bench_throughput(n_images=BATCH, repeats=1)
        bench_memory([64, 256])
    else:
        bench_throughput(n_images=128, repeats=4)
        bench_memory([256, 1024, 4096])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
