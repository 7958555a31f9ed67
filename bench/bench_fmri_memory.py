# ruff: noqa: T201  (a benchmark reports on stdout)
"""Benchmark ``brainbridge.loaders.load_fmri``: peak memory on a large 4D NIfTI file.

Run by hand from the repository root (not part of the test suite)::

    python bench/bench_fmri_memory.py             # ~2 GB file (64 x 64 x 40 x 3000 float32)
    python bench/bench_fmri_memory.py --quick     # ~200 MB file (300 volumes)
    python bench/bench_fmri_memory.py --compare   # also nilearn's NiftiMasker, which loads all

It writes an uncompressed float32 ``.nii`` into a temporary folder, volume chunk by volume
chunk (a nibabel header, then raw bytes appended, so the writer's memory stays flat), then
runs each case in a fresh subprocess and reports that process's peak RSS (``VmHWM``, or
``ru_maxrss``) next to the file and output sizes:

- ``mask``: ``load_fmri(path, mask=box)`` with a 16 x 16 x 10 box (2,560 voxels);
- ``atlas``: ``load_fmri(path, atlas=parcels)``, 100 parcels covering every voxel, so every
  byte of the file is read and averaged;
- ``nilearn`` (``--compare``): ``NiftiMasker(mask_img=box).fit_transform(path)``.

Each child checks three voxel (or one parcel) time series against nibabel's own proxy reads
after its peak has been recorded. The file is deleted at the end.
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

SHAPE = (64, 64, 40)
TR = 2.0
CHUNK = 50  # volumes generated and written at a time
BOX = (slice(24, 40), slice(24, 40), slice(15, 25))


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (``VmHWM``; ``ru_maxrss`` where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def box_mask() -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[BOX] = True
    return mask


def parcels() -> np.ndarray:
    """100 parcels covering the grid: 5 x 5 blocks in-plane times 4 slabs, labels 1..100."""
    i, j, k = np.indices(SHAPE)
    return 1 + (i * 5 // SHAPE[0]) + 5 * (j * 5 // SHAPE[1]) + 25 * (k * 4 // SHAPE[2])


def write_nifti(path: Path, n_volumes: int) -> None:
    """A float32 4D NIfTI written CHUNK volumes at a time: header, then raw bytes."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape((*SHAPE, n_volumes))
    header.set_data_dtype(np.float32)
    header.set_zooms((3.0, 3.0, 3.0, TR))
    header.set_xyzt_units("mm", "sec")
    header.set_qform(np.diag([3.0, 3.0, 3.0, 1.0]), code=1)
    header.set_sform(np.diag([3.0, 3.0, 3.0, 1.0]), code=1)
    header["vox_offset"] = 352
    rng = np.random.default_rng(0)
    with open(path, "wb") as f:
        f.write(header.binaryblock)
        f.write(b"\0" * (352 - len(header.binaryblock)))  # empty extension flag
        for start in range(0, n_volumes, CHUNK):
            n = min(CHUNK, n_volumes - start)
            # C order (t, z, y, x) is the NIfTI (Fortran) order of (x, y, z, t)
            block = rng.standard_normal((n, *SHAPE[::-1]), dtype=np.float32)
            block += np.float32(1000.0)
            f.write(block.tobytes())


def child(case: str, path: str) -> None:
    """One load in this (fresh) process; prints its peak RSS and timings as JSON."""
    import nibabel as nib

    from brainbridge.loaders import load_fmri

    base = peak_rss_mb()
    t0 = time.perf_counter()
    if case == "mask":
        result = load_fmri(path, mask=box_mask()).values
    elif case == "atlas":
        result = load_fmri(path, atlas=parcels()).values
    else:
        from nilearn.maskers import NiftiMasker

        mask = nib.Nifti1Image(box_mask().astype(np.uint8), np.diag([3.0, 3.0, 3.0, 1.0]))
        result = NiftiMasker(mask_img=mask, standardize=None).fit_transform(path)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    proxy = nib.load(path).dataobj
    if case == "atlas":  # parcel 1: the block i < 13, j < 13, k < 10
        labels = parcels()
        region = np.asarray(proxy[:13, :13, :10, :], dtype=np.float64)
        assert np.all(labels[:13, :13, :10] == 1) and (labels == 1).sum() == 13 * 13 * 10
        np.testing.assert_allclose(result[:, 0], region.mean(axis=(0, 1, 2)), rtol=1e-10)
    else:
        ijk = np.argwhere(box_mask())
        for n in (0, len(ijk) // 2, len(ijk) - 1):
            expected = np.asarray(proxy[(*ijk[n], slice(None))])
            np.testing.assert_array_equal(result[:, n], expected)
    print(json.dumps({"base_mb": base, "peak_mb": peak, "seconds": seconds,
                      "out_mb": result.nbytes / 1e6, "shape": list(result.shape)}))


def run_child(case: str, path: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", case, "--path", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~200 MB file instead of ~2 GB")
    parser.add_argument("--compare", action="store_true",
                        help="also run nilearn's NiftiMasker (loads the whole file)")
    parser.add_argument("--dir", help="folder for the temporary file (default: the system's)")
    parser.add_argument("--child", choices=["mask", "atlas", "nilearn"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.path)
        return
    n_volumes = 300 if args.quick else 3000
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "big_bold.nii"
        t0 = time.perf_counter()
        write_nifti(path, n_volumes)
        size = os.path.getsize(path)
        print(f"wrote {path.name}: {SHAPE} x {n_volumes} float32, {size / 1e6:.0f} MB in "
              f"{time.perf_counter() - t0:.1f} s (writer peak RSS {peak_rss_mb():.0f} MB)")
        cases = ["mask", "atlas"] + (["nilearn"] if args.compare else [])
        print(f"{'case':<8} {'file MB':>8} {'output':>14} {'out MB':>7} {'peak MB':>8} "
              f"{'imports MB':>10} {'peak/file':>9} {'s':>6}")
        for case in cases:
            r = run_child(case, path)
            shape = "x".join(map(str, r["shape"]))
            print(f"{case:<8} {size / 1e6:8.0f} {shape:>14} {r['out_mb']:7.1f} "
                  f"{r['peak_mb']:8.0f} {r['base_mb']:10.0f} {r['peak_mb'] * 1e6 / size:9.3f} "
                  f"{r['seconds']:6.1f}")
    print(f"(peak = the child's peak RSS; 'imports MB' = its RSS after importing, before "
          f"loading; the temporary file is deleted: {not path.exists()})")


if __name__ == "__main__":
    main()
