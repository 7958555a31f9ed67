import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb

SUFFIXES = [".nc", ".zarr"]


def _assembly(rng, dtype):
    values = rng.normal(size=(5, 4, 3)).astype(dtype) if np.dtype(dtype).kind == "f" else \
        rng.integers(-100, 100, size=(5, 4, 3)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        values[1, 2, 0] = np.nan
    return bb.assembly(
        values, dims=("time", "unit", "trial"), modality="calcium", sampling_rate=30.0,
        units="dF/F", source="test.nwb sha256:abc",
        coords={"unit": ["roi_ä", "roi_1", "roi_2", "roi_3"],
                "region": ("unit", ["V1", "V1", "LM", ""]),
                "depth": ("unit", np.array([100.0, np.nan, 200.5, 1.0])),
                "trial": [1, 2, 3]},
        name="dff",
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64"])
def test_round_trip_exact(rng, tmp_path, suffix, dtype):
    da = _assembly(rng, dtype)
    da.attrs["list_attr"] = [1, 2, 3]
    path = bb.save(da, tmp_path / f"a{suffix}")
    back = bb.load(path)
    xr.testing.assert_identical(back, da)
    assert back.dtype == da.dtype
    assert back["unit"].dtype.kind == "U" and back["region"].dtype.kind == "U"
    np.testing.assert_array_equal(back["depth"].values, da["depth"].values)
    assert back.attrs["list_attr"] == [1, 2, 3]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_lazy_load_is_dask_backed(rng, tmp_path, suffix):
    import dask.array

    da = _assembly(rng, "float32")
    path = bb.save(da, tmp_path / f"a{suffix}")
    lazy = bb.load(path, chunks={})
    assert isinstance(lazy.data, dask.array.Array)
    xr.testing.assert_identical(lazy.compute(), da)
    if suffix == ".nc":  # zarr warns when asked to split its stored chunks
        lazy = bb.load(path, chunks={"time": 2})
        assert lazy.data.chunks[0] == (2, 2, 1)
    xr.testing.assert_identical(lazy.compute(), da)


def test_save_unnamed_and_overwrite(rng, tmp_path):
    a = bb.assembly(rng.normal(size=(2, 2)), dims=("stimulus", "unit"), modality="ann")
    path = tmp_path / "x.nc"
    bb.save(a, path)
    b = a + 1
    b.attrs = dict(a.attrs)
    bb.save(b, path)
    xr.testing.assert_identical(bb.load(path), b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


def test_zarr_overwrite_keeps_no_leftovers(rng, tmp_path):
    a = bb.assembly(rng.normal(size=(2, 2)), dims=("stimulus", "unit"), modality="ann")
    path = tmp_path / "x.zarr"
    bb.save(a, path)
    bb.save(a * 2, path)
    np.testing.assert_array_equal(bb.load(path).values, a.values * 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr"]


def test_bad_suffix(tmp_path, rng):
    a = bb.assembly(rng.normal(size=(2, 2)), dims=("stimulus", "unit"), modality="ann")
    msg = (f"Invalid value for 'path': expected a file ending in .nc, .nc4, .h5, .hdf5, .zarr; got "
           f"{str(tmp_path / 'x.csv')!r}. Use .nc for NetCDF4/HDF5 or .zarr for a zarr store.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.save(a, tmp_path / "x.csv")


def test_missing_folder_and_file(tmp_path, rng):
    a = bb.assembly(rng.normal(size=(2, 2)), dims=("stimulus", "unit"), modality="ann")
    target = tmp_path / "nope" / "x.nc"
    msg = (f"Cannot save to {str(target)!r}: the folder {str(target.parent)!r} does not exist. "
           "Create it first (Path(...).mkdir(parents=True)).")
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        bb.save(a, target)
    msg = f"No assembly at {str(tmp_path / 'y.nc')!r}: the path does not exist."
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        bb.load(tmp_path / "y.nc")


def test_truncated_file_is_a_clear_error(tmp_path, rng):
    a = bb.assembly(rng.normal(size=(50, 20)), dims=("stimulus", "unit"), modality="ann")
    path = bb.save(a, tmp_path / "x.nc")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    msg = (f"Cannot read {str(path)!r} as NetCDF4/HDF5 (OSError: Unable to synchronously open "
           "file (truncated file: eof = ")
    with pytest.raises(ValueError, match=re.escape(msg)) as info:
        bb.load(path)
    assert str(info.value).endswith(
        "The file may be truncated or corrupt, or its content may not be NetCDF4/HDF5 despite "
        "its ending. Save it again from its source, or give it the ending of its real format.")


def test_unstorable_attr_leaves_old_file(tmp_path, rng):
    a = bb.assembly(rng.normal(size=(2, 2)), dims=("stimulus", "unit"), modality="ann")
    path = bb.save(a, tmp_path / "x.nc")
    bad = a.copy()
    bad.attrs["flag"] = True
    msg = ("Cannot save attr 'flag' of the assembly: bool True is not storable (NetCDF and zarr "
           "keep strings, numbers and lists of them). Convert it, e.g. to a string with "
           "json.dumps, or to 0/1 for a bool.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.save(bad, path)
    xr.testing.assert_identical(bb.load(path), a)


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, rng, monkeypatch):
    a = bb.assembly(rng.normal(size=(3, 2)), dims=("stimulus", "unit"), modality="ann")
    path = bb.save(a, tmp_path / "x.nc")

    def explode(self, target, **kwargs):
        with open(target, "wb") as f:
            f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.DataArray, "to_netcdf", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        bb.save(a * 3, path)
    monkeypatch.undo()
    xr.testing.assert_identical(bb.load(path), a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


_WRITER = textwrap.dedent("""
    import sys, numpy as np, xarray as xr, brainbridge as bb
    import brainbridge._storage as storage
    path = sys.argv[1]
    big = bb.assembly(np.ones((4000, 2000)), dims=("stimulus", "unit"), modality="ann")
    original = xr.DataArray.to_netcdf
    def slow(self, target, **kw):
        # write the real file, then announce and hang: the parent kills us mid-save
        original(self, target, **kw)
        sys.stdout.write("WRITING\\n"); sys.stdout.flush()
        import time; time.sleep(60)
    xr.DataArray.to_netcdf = slow
    bb.save(big, path)
""")


@pytest.mark.parametrize("suffix", [".nc"])
def test_killed_writer_leaves_old_file_intact(tmp_path, rng, suffix):
    old = bb.assembly(rng.normal(size=(3, 2)), dims=("stimulus", "unit"), modality="ann",
                      source="old")
    path = bb.save(old, tmp_path / f"x{suffix}")
    with subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            line = proc.stdout.readline()
            assert line.strip() == "WRITING", line
            temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".x")]
            assert temporaries and temporaries[0].stat().st_size > 4000 * 2000 * 8
        finally:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    xr.testing.assert_identical(bb.load(path), old)


def test_killed_zarr_writer_leaves_old_store_intact(tmp_path, rng):
    old = bb.assembly(rng.normal(size=(3, 2)), dims=("stimulus", "unit"), modality="ann")
    path = bb.save(old, tmp_path / "x.zarr")
    code = _WRITER.replace("to_netcdf", "to_zarr")
    with subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "WRITING"
        finally:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    xr.testing.assert_identical(bb.load(path), old)
