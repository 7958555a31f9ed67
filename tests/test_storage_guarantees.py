"""Storage guarantees (issue #15): never replace what save did not write; respect
permissions and symlinks; verify stores on load; name the user's path in every error."""

import json
import os
import re
import stat

import numpy as np
import pytest
import xarray as xr

import brainbridge as bb
from brainbridge._figures import new_figure, save_figure
from brainbridge._storage import _MANIFEST, atomic_path

SUFFIXES = [".nc", ".zarr"]


@pytest.fixture
def a(rng):
    return bb.assembly(rng.normal(size=(6, 4)), dims=("stimulus", "unit"), modality="ann",
                       source="a")


@pytest.fixture
def b(rng):
    return bb.assembly(rng.normal(size=(6, 4)), dims=("stimulus", "unit"), modality="ann",
                       source="b")


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _no_temporaries(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


# -- finding 1: permissions -----------------------------------------------------------------

@pytest.mark.parametrize("suffix", SUFFIXES)
def test_read_only_target_is_refused_and_kept(tmp_path, a, b, suffix):
    path = bb.save(a, tmp_path / f"p{suffix}")
    os.chmod(path, 0o444)
    msg = (f"Cannot save to {str(path)!r}: it is read-only (mode 0o444) and would be replaced. "
           "Make it writable (chmod u+w) or choose another path.")
    with pytest.raises(PermissionError, match=re.escape(msg)):
        bb.save(b, path)
    assert _mode(path) == 0o444
    xr.testing.assert_identical(bb.load(path), a)
    assert _no_temporaries(tmp_path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_overwrite_keeps_the_mode(tmp_path, a, b, suffix):
    path = bb.save(a, tmp_path / f"p{suffix}")
    os.chmod(path, 0o700 if suffix == ".zarr" else 0o600)
    bb.save(b, path)
    assert _mode(path) == (0o700 if suffix == ".zarr" else 0o600)
    xr.testing.assert_identical(bb.load(path), b)


def test_read_only_folder_is_refused(tmp_path, a):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        msg = (f"Cannot save to {str(folder / 'p.nc')!r}: the folder {str(folder)!r} is "
               "read-only (mode 0o555). Make it writable (chmod u+w) or choose another folder.")
        with pytest.raises(PermissionError, match=re.escape(msg)):
            bb.save(a, folder / "p.nc")
        assert list(folder.iterdir()) == []
    finally:
        os.chmod(folder, 0o755)


def test_folder_that_is_a_file(tmp_path, a):
    (tmp_path / "f").write_text("x")
    target = tmp_path / "f" / "p.zarr"
    msg = (f"Cannot save to {str(target)!r}: {str(tmp_path / 'f')!r} is a file, not a folder. "
           "Choose another path.")
    with pytest.raises(NotADirectoryError, match=re.escape(msg)):
        bb.save(a, target)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_os_errors_name_the_users_path_not_the_temporary(tmp_path, a, suffix, monkeypatch):
    """A failure inside the writer (disk full, EROFS, EACCES) names the path the user gave."""
    path = tmp_path / f"p{suffix}"

    def refuse(self, target, **kwargs):
        raise PermissionError(13, "Permission denied", str(target))

    def h5py_style(self, target, **kwargs):
        raise OSError(f"Unable to synchronously create file (unable to open file: name = "
                      f"'{target}', errno = 28, error message = 'No space left on device')")

    method = "to_zarr" if suffix == ".zarr" else "to_netcdf"
    monkeypatch.setattr(xr.DataArray, method, refuse)
    msg = f"Cannot save to {str(path)!r}: [Errno 13] Permission denied"
    with pytest.raises(PermissionError, match=re.escape(msg) + "$") as info:
        bb.save(a, path)
    assert info.value.errno == 13
    monkeypatch.setattr(xr.DataArray, method, h5py_style)
    msg = (f"Cannot save to {str(path)!r}: Unable to synchronously create file (unable to open "
           f"file: name = '{path}', errno = 28, error message = 'No space left on device')")
    with pytest.raises(OSError, match=re.escape(msg) + "$"):
        bb.save(a, path)
    assert list(tmp_path.iterdir()) == []


def test_other_errors_naming_the_temporary_are_reworded(tmp_path, a, monkeypatch):
    path = tmp_path / "p.nc"

    def broken(self, target, **kwargs):
        raise ValueError(f"unsupported layout in {target}")

    monkeypatch.setattr(xr.DataArray, "to_netcdf", broken)
    msg = f"Cannot save to {str(path)!r}: unsupported layout in {path}"
    with pytest.raises(ValueError, match=re.escape(msg) + "$"):
        bb.save(a, path)


def test_atomic_path_helpers_respect_permissions(tmp_path):
    """Figures, reports and CLI outputs share atomic_path, so they get the same rules."""
    png = tmp_path / "fig.png"
    png.write_bytes(b"old")
    os.chmod(png, 0o444)
    fig, ax = new_figure(size=(2, 2))
    msg = (f"Cannot write {str(png)!r}: it is read-only (mode 0o444) and would be replaced. "
           "Make it writable (chmod u+w) or choose another path.")
    with pytest.raises(PermissionError, match=re.escape(msg)):
        save_figure(fig, png)
    assert png.read_bytes() == b"old"


# -- finding 2: never replace what save did not write ----------------------------------------

def _refusal(path, why):
    return (f"Cannot save to {str(path)!r}: it exists and was not written by brainbridge "
            f"({why}), and brainbridge never replaces what it did not write. Choose another "
            "path, or delete it yourself first.")


def test_ordinary_folder_named_zarr_is_kept(tmp_path, a):
    notes = tmp_path / "notes.zarr"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    msg = _refusal(notes, f"it is a folder without brainbridge's {_MANIFEST}")
    with pytest.raises(FileExistsError, match=re.escape(msg)):
        bb.save(a, notes)
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]
    assert _no_temporaries(tmp_path)


def test_foreign_zarr_store_and_file_are_kept(tmp_path, a):
    foreign = tmp_path / "other.zarr"
    a.to_zarr(foreign, zarr_format=2, consolidated=True)  # written by xarray, not save
    with pytest.raises(FileExistsError, match=re.escape(
            _refusal(foreign, f"it is a folder without brainbridge's {_MANIFEST}"))):
        bb.save(a, foreign)
    xr.testing.assert_identical(bb.load(foreign), a)  # a foreign store still loads
    plain = tmp_path / "plain.zarr"
    plain.write_text("not a store")
    with pytest.raises(FileExistsError,
                       match=re.escape(_refusal(plain, "it is a file, not a zarr store"))):
        bb.save(a, plain)
    assert plain.read_text() == "not a store"


def test_foreign_netcdf_and_other_files_are_kept(tmp_path, a):
    foreign = tmp_path / "other.nc"
    a.to_netcdf(foreign, engine="h5netcdf")
    before = foreign.read_bytes()
    msg = _refusal(foreign, "it is a NetCDF/HDF5 file without brainbridge's "
                            "'brainbridge_writer' attribute")
    with pytest.raises(FileExistsError, match=re.escape(msg)):
        bb.save(a, foreign)
    assert foreign.read_bytes() == before
    text = tmp_path / "notes.nc"
    text.write_text("my notes")
    msg = _refusal(text, "it is not a NetCDF/HDF5 file that brainbridge.save wrote")
    with pytest.raises(FileExistsError, match=re.escape(msg)):
        bb.save(a, text)
    assert text.read_text() == "my notes"
    folder = tmp_path / "dir.nc"
    folder.mkdir()
    msg = f"Cannot save to {str(folder)!r}: it is a folder, not a NetCDF file. Choose another path."
    with pytest.raises(IsADirectoryError, match=re.escape(msg)):
        bb.save(a, folder)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_what_save_wrote_is_replaced(tmp_path, a, b, suffix):
    path = bb.save(a, tmp_path / f"p{suffix}")
    bb.save(b, path)
    xr.testing.assert_identical(bb.load(path), b)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_extract_out_follows_the_same_rules(tmp_path, suffix):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    x = np.ones((4, 3), dtype=np.float32)
    notes = tmp_path / f"notes{suffix}"
    if suffix == ".zarr":
        notes.mkdir()
        (notes / "todo.txt").write_text("keep me")
        why = f"it is a folder without brainbridge's {_MANIFEST}"
    else:
        notes.write_text("keep me")
        why = "it is not a NetCDF/HDF5 file that brainbridge.save wrote"
    with pytest.raises(FileExistsError, match=re.escape(_refusal(notes, why))):
        bb.extract(model, x, layers="0", out=notes, progress=False)
    assert (notes / "todo.txt" if suffix == ".zarr" else notes).read_text() == "keep me"
    out = tmp_path / f"acts{suffix}"
    bb.extract(model, x, layers="0", out=out, progress=False)
    if suffix == ".zarr":
        assert (out / _MANIFEST).is_file()  # sealed: load verifies it
    bb.extract(model, x * 2, layers="0", out=out, progress=False)  # its own output: replaced
    bb.save(bb.load(out) * 3, out)
    expected = 3 * model(torch.from_numpy(x * 2)).detach().numpy()
    np.testing.assert_allclose(bb.load(out).values, expected, rtol=1e-6)


# -- finding 3: symlinks ----------------------------------------------------------------------

@pytest.mark.parametrize("suffix", SUFFIXES)
def test_symlink_is_kept_and_its_target_written(tmp_path, a, b, suffix):
    (tmp_path / "data").mkdir()
    real = bb.save(a, tmp_path / "data" / f"real{suffix}")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(real)
    assert bb.save(b, link) == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    xr.testing.assert_identical(bb.load(real), b)
    xr.testing.assert_identical(bb.load(link), b)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [real.name]


def test_dangling_symlink_creates_its_target(tmp_path, a):
    link = tmp_path / "link.nc"
    link.symlink_to(tmp_path / "real.nc")
    bb.save(a, link)
    assert link.is_symlink()
    xr.testing.assert_identical(bb.load(tmp_path / "real.nc"), a)


def test_read_only_symlink_target_is_refused(tmp_path, a, b):
    real = bb.save(a, tmp_path / "real.nc")
    os.chmod(real, 0o444)
    link = tmp_path / "link.nc"
    link.symlink_to(real)
    msg = (f"Cannot save to {str(link)!r} (a link to {str(real)!r}): it is read-only (mode "
           "0o444) and would be replaced. Make it writable (chmod u+w) or choose another path.")
    with pytest.raises(PermissionError, match=re.escape(msg)):
        bb.save(b, link)
    xr.testing.assert_identical(bb.load(real), a)


def test_symlinked_report_file(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with atomic_path(link) as tmp:
        tmp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"


# -- finding 5: corrupt stores ----------------------------------------------------------------

@pytest.fixture
def store(rng, tmp_path):
    da = bb.assembly(rng.normal(size=(40, 30)), dims=("stimulus", "unit"), modality="ann")
    path = bb.save(da.chunk({"stimulus": 10}), tmp_path / "s.zarr")
    return path, da


_FIX = ("Save the assembly again from its source; if you changed the store on purpose, delete "
        f"its {_MANIFEST} to load it unchecked.")
_CHUNK = "__xarray_dataarray_variable__/1.0"


@pytest.mark.parametrize("chunks", [None, {}])
def test_truncated_chunk_raises_naming_store_and_chunk(store, chunks):
    path, da = store
    xr.testing.assert_identical(bb.load(path, chunks=chunks).compute(), da)
    chunk = path / _CHUNK
    size = chunk.stat().st_size
    chunk.write_bytes(chunk.read_bytes()[:200])
    msg = (f"Cannot read {str(path)!r} as zarr: the file {_CHUNK!r} has 200 bytes, {size} when "
           f"saved (truncated or changed). {_FIX}")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path, chunks=chunks)
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path, chunks=chunks, verify=False)  # sizes are always checked


@pytest.mark.parametrize("chunks", [None, {}])
def test_deleted_chunk_raises(store, chunks):
    path, _ = store
    (path / _CHUNK).unlink()
    msg = f"Cannot read {str(path)!r} as zarr: the file {_CHUNK!r} is missing. {_FIX}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path, chunks=chunks)


@pytest.mark.parametrize("chunks", [None, {}])
def test_flipped_byte_fails_the_checksum(store, chunks):
    path, _ = store
    chunk = path / _CHUNK
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    chunk.write_bytes(bytes(raw))
    msg = (f"Cannot read {str(path)!r} as zarr: the file {_CHUNK!r} does not match its sha256 "
           f"checksum (corrupt or changed). {_FIX}")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path, chunks=chunks)


def test_deleted_metadata_and_added_chunk_raise(store):
    path, _ = store
    (path / "__xarray_dataarray_variable__" / "9.0").write_bytes(b"x")
    msg = (f"Cannot read {str(path)!r} as zarr: '__xarray_dataarray_variable__/9.0' was added "
           f"after it was saved (1 unexpected file(s)). {_FIX}")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path)
    (path / "__xarray_dataarray_variable__" / "9.0").unlink()
    (path / ".zmetadata").unlink()
    msg = f"Cannot read {str(path)!r} as zarr: the file '.zmetadata' is missing. {_FIX}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path)


def test_damaged_manifest(store):
    path, da = store
    (path / _MANIFEST).write_text("{")
    msg = (f"Cannot read {str(path)!r} as zarr: its manifest {_MANIFEST!r} is damaged "
           "(JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 "
           "(char 1)). Save the assembly again from its source.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path)
    (path / _MANIFEST).write_text(json.dumps({"files": []}))
    msg = (f"Cannot read {str(path)!r} as zarr: its manifest {_MANIFEST!r} is damaged (not the "
           "layout brainbridge.save writes). Save the assembly again from its source.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path)
    (path / _MANIFEST).unlink()  # the documented way to load a changed store unchecked
    xr.testing.assert_identical(bb.load(path), da)


def test_all_nan_chunk_is_not_a_missing_chunk(tmp_path):
    """zarr skips writing a chunk equal to the fill value; the manifest knows it never was."""
    values = np.full((20, 3), np.nan)
    values[10:] = 1.0
    da = bb.assembly(values, dims=("stimulus", "unit"), modality="ann").chunk({"stimulus": 10})
    path = bb.save(da, tmp_path / "n.zarr")
    xr.testing.assert_identical(bb.load(path), da.compute())


def test_truncated_netcdf_lazy_names_the_file(tmp_path, a):
    path = bb.save(a, tmp_path / "t.nc")
    path.write_bytes(path.read_bytes()[:-100])
    msg = f"Cannot read {str(path)!r} as NetCDF4/HDF5 (OSError: "
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.load(path, chunks={})


def test_zarr_path_that_is_not_a_store(tmp_path):
    path = tmp_path / "x.zarr"
    path.mkdir()
    with pytest.raises(ValueError, match=re.escape(f"Cannot read {str(path)!r} as a zarr store (")):
        bb.load(path)


def test_verify_must_be_a_bool(store):
    path, _ = store
    msg = "Invalid type for 'verify': expected a bool; got str."
    with pytest.raises(TypeError, match=re.escape(msg)):
        bb.load(path, verify="no")


# -- values that cannot round-trip are refused before anything is written ---------------------

def test_object_values_are_refused_with_the_fix(tmp_path, a):
    values = a.values.astype(object)
    values[0, 0] = None
    msg = ("Invalid value for 'da': its values are an object array holding NoneType, float, "
           "which NetCDF and zarr cannot store exactly (only strings or numbers). Convert first, "
           "e.g. with .astype(float) (None becomes NaN) or .astype(str).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.save(a.copy(data=values), tmp_path / "o.nc")
    mixed = a.assign_coords(unit=np.array([1, "a", None, "b"], dtype=object))
    msg = ("Invalid value for 'da': its coord 'unit' is an object array holding NoneType, int, "
           "str, which NetCDF and zarr cannot store exactly")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bb.save(mixed, tmp_path / "o.zarr")
    assert list(tmp_path.iterdir()) == []
    strings = a.assign_coords(unit=np.array(["u0", "u1", "u2", "u3"], dtype=object))
    xr.testing.assert_identical(bb.load(bb.save(strings, tmp_path / "s.nc")), strings)


# -- finding 6 (kept): kill -9 at the worst moment of a zarr swap -----------------------------

_SWAP_KILLER = """
import os, signal, sys, numpy as np, brainbridge as bb
real_replace = os.replace
def replace(src, dst):
    if str(dst) == sys.argv[1] and ".x.zarr.tmp-" in str(src):
        os.kill(os.getpid(), signal.SIGKILL)  # the old store is aside, the new one not in
    real_replace(src, dst)
os.replace = replace
bb.save(bb.assembly(np.zeros((2, 2)), dims=("stimulus", "unit"), modality="ann"), sys.argv[1])
"""


def test_zarr_swap_killed_midway_keeps_a_complete_copy(tmp_path, a):
    import signal
    import subprocess
    import sys

    path = bb.save(a, tmp_path / "x.zarr")
    proc = subprocess.run([sys.executable, "-c", _SWAP_KILLER, str(path)], check=False)
    assert proc.returncode == -signal.SIGKILL
    (old,) = tmp_path.glob(".x.zarr.old-*")
    msg = (f"No assembly at {str(path)!r}: the path does not exist. An interrupted save left "
           f"the previous store at {str(old)!r}: rename it back to load it.")
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        bb.load(path)
    old.rename(path)
    xr.testing.assert_identical(bb.load(path), a)  # complete, and its manifest still matches
