# ruff: noqa: T201  (a benchmark script reports on stdout)
"""Benchmark: peak memory of ``load_calcium`` on a large NWB file, lazy vs in memory.

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_nwb_memory.py            # ~2 GB file: 500 ROIs x 1,000,000 frames
    python bench/bench_nwb_memory.py --quick    # ~200 MB file: 500 ROIs x 100,000 frames

Steps, each in a fresh subprocess so that its peak RSS (``VmHWM``) is its own:

1. **write** an NWB file holding one float32 ``RoiResponseSeries`` (``Fluorescence``
   container) through ``H5DataIO`` wrapping an ``hdmf`` ``GenericDataChunkIterator``: the
   writer produces one buffer of frames at a time and never holds the whole array.
   Values are ``roi + (frame % 7)``, so every per-ROI time mean has a closed form.
2. **import**: the RSS of a process that only imports brainbridge, pynwb and dask.
3. **lazy**: ``load_calcium(path, chunks={"time": ...})`` then the per-ROI time mean
   through dask (``mean(skipna=False, dtype=float64)``: float64 accumulation, no copy),
   checked against the closed form.
4. **eager** (skip with ``--no-eager``): ``load_calcium(path)`` reads all values into
   memory, then the same mean.

The temporary folder (and the file) is removed at the end.
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

N_ROIS = 500
N_FRAMES = {"full": 1_000_000, "quick": 100_000}
PERIOD = 7  # values are roi + frame % PERIOD


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (``VmHWM``; ``ru_maxrss`` where /proc is missing).

    Linux carries ``ru_maxrss`` across ``exec``, so a child could report its parent's peak;
    ``VmHWM`` belongs to the new address space.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def expected_mean(n_frames: int, n_rois: int) -> np.ndarray:
    """Closed form of the per-ROI time mean of ``roi + frame % PERIOD``."""
    residues = np.bincount(np.arange(n_frames) % PERIOD, minlength=PERIOD)
    return np.arange(n_rois) + float(residues @ np.arange(PERIOD)) / n_frames


def child_write(path: str, n_frames: int, n_rois: int) -> dict:
    from datetime import datetime, timezone

    from hdmf.data_utils import GenericDataChunkIterator
    from pynwb import NWBHDF5IO, H5DataIO, NWBFile
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    class Synthetic(GenericDataChunkIterator):
        """Frames made on demand, one buffer at a time."""

        def __init__(self, shape: tuple[int, int], **kwargs):
            self._shape = shape
            super().__init__(**kwargs)

        def _get_data(self, selection):
            frames = np.arange(self._shape[0])[selection[0]]
            rois = np.arange(self._shape[1])[selection[1]]
            return ((frames % PERIOD)[:, None] + rois[None, :]).astype(np.float32)

        def _get_maxshape(self):
            return self._shape

        def _get_dtype(self):
            return np.dtype("float32")

    t0 = time.perf_counter()
    nwb = NWBFile(session_description="brainbridge memory benchmark", identifier="bench",
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    device = nwb.create_device(name="Microscope")
    channel = OpticalChannel(name="OpticalChannel", description="green", emission_lambda=520.0)
    plane = nwb.create_imaging_plane(name="ImagingPlane", optical_channel=channel,
                                     imaging_rate=30.0, description="synthetic", device=device,
                                     excitation_lambda=920.0, indicator="GCaMP6s",
                                     location="V1")
    ophys = nwb.create_processing_module(name="ophys", description="synthetic traces")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    ps = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="rois",
                                                imaging_plane=plane)
    for i in range(n_rois):
        ps.add_roi(pixel_mask=[(i % 512, i // 512, 1.0)])
    fluorescence = Fluorescence()
    ophys.add(fluorescence)
    data = Synthetic((n_frames, n_rois), chunk_shape=(2000, n_rois),
                     buffer_shape=(20_000, n_rois))
    fluorescence.create_roi_response_series(
        name="RoiResponseSeries", data=H5DataIO(data=data), unit="n.a.", rate=30.0,
        rois=ps.create_roi_table_region(region=list(range(n_rois)), description="all"))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwb)
    return {"seconds": time.perf_counter() - t0, "peak_mb": peak_rss_mb()}


def child_import() -> dict:
    import dask.array  # noqa: F401
    import pynwb  # noqa: F401

    from brainbridge.loaders import load_calcium  # noqa: F401

    return {"peak_mb": peak_rss_mb()}


def child_load(path: str, n_frames: int, n_rois: int, chunk: int | None) -> dict:
    from brainbridge.loaders import load_calcium

    base = peak_rss_mb()
    t0 = time.perf_counter()
    da = load_calcium(path, chunks=None if chunk is None else {"time": chunk})
    t_load = time.perf_counter() - t0
    mean = da.mean("time", skipna=False, dtype=np.float64).values  # float64 accumulation
    seconds = time.perf_counter() - t0
    ok = bool(np.allclose(mean, expected_mean(n_frames, n_rois), rtol=1e-12, atol=0))
    return {"base_mb": base, "peak_mb": peak_rss_mb(), "load_s": t_load, "seconds": seconds,
            "lazy": da.chunks is not None, "shape": list(da.shape), "mean_ok": ok}


def run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~200 MB file instead of ~2 GB")
    parser.add_argument("--chunk", type=int, default=20_000,
                        help="frames per dask chunk (default 20000: 40 MB for 500 ROIs)")
    parser.add_argument("--no-eager", action="store_true", help="skip the in-memory load")
    parser.add_argument("--tmpdir", default=None, help="where the temporary file goes")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "write":
            out = child_write(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "import":
            out = child_import()
        else:
            chunk = None if rest[3] == "none" else int(rest[3])
            out = child_load(rest[0], int(rest[1]), int(rest[2]), chunk)
        print(json.dumps(out))
        return

    n_frames, n_rois = N_FRAMES["quick" if args.quick else "full"], N_ROIS
    with tempfile.TemporaryDirectory(dir=args.tmpdir, prefix="bb-nwb-bench-") as tmp:
        path = str(Path(tmp) / "big.nwb")
        dims = (str(n_frames), str(n_rois))
        print(f"RoiResponseSeries float32, {n_rois} ROIs x {n_frames:,} frames "
              f"({n_frames * n_rois * 4 / 1e9:.2f} GB of values)")
        w = run_child("write", path, *dims)
        size = os.path.getsize(path)
        print(f"  write  : {w['seconds']:6.1f} s, peak RSS {w['peak_mb']:7.0f} MB "
              f"(file {size / 1e9:.2f} GB)")
        imp = run_child("import")
        print(f"  import : peak RSS {imp['peak_mb']:7.0f} MB (brainbridge + pynwb + dask)")
        cases = [("lazy", str(args.chunk))] + ([] if args.no_eager else [("eager", "none")])
        for name, chunk in cases:
            r = run_child("load", path, *dims, chunk)
            what = f"chunks time={chunk}" if name == "lazy" else "chunks=None"
            print(f"  {name:<7}: load_calcium {r['load_s']:5.1f} s + mean over time = "
                  f"{r['seconds']:5.1f} s, peak RSS {r['peak_mb']:7.0f} MB = "
                  f"{r['peak_mb'] / (size / 1e6):.1%} of the file ({what}; dask-backed: "
                  f"{r['lazy']}; mean == closed form: {r['mean_ok']})")
    print("  (temporary file removed; load_calcium's time includes the sha256 of the file "
          "for the 'source' attr)")


if __name__ == "__main__":
    main()
