"""load_calcium: NWB files (written here with pynwb), suite2p folders (np.save) and arrays."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import h5py
import numpy as np
import pytest
from loader_checks import bad_file_message, check_bad_files, check_loader

from brainbridge.loaders import load_calcium

RATE = 30.0
START = 2.0
ROI_IDS = [10, 11, 12, 13]
ISCELL = np.array([[1.0, 0.9], [0.0, 0.2], [1.0, 0.7], [1.0, 0.55]])
FLUO_ROWS = [0, 1, 3]


def _write_nwb(path, rng, *, n_frames=50, conversion=1.0, offset=0.0, dff=True):
    """An NWB file with one PlaneSegmentation (4 ROIs), Fluorescence and (optionally) DfOverF."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel

    nwb = NWBFile(session_description="test", identifier="calcium-test",
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    device = nwb.create_device(name="Microscope")
    channel = OpticalChannel(name="OpticalChannel", description="green", emission_lambda=520.0)
    plane = nwb.create_imaging_plane(name="ImagingPlaneV1", optical_channel=channel,
                                     imaging_rate=RATE, description="layer 2/3",
                                     device=device, excitation_lambda=920.0,
                                     indicator="GCaMP6s", location="V1")
    ophys = nwb.create_processing_module(name="ophys", description="processed 2p data")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    ps = segmentation.create_plane_segmentation(name="PlaneSegmentation", description="rois",
                                                imaging_plane=plane)
    for i, roi in enumerate(ROI_IDS):
        mask = np.zeros((5, 5))
        mask[i, i] = 1.0
        ps.add_roi(image_mask=mask, id=roi)
    ps.add_column("iscell", "two columns - iscell & probcell", data=ISCELL)
    fluo = rng.uniform(100, 200, size=(n_frames, len(FLUO_ROWS))).astype(np.float32)
    container = Fluorescence()
    ophys.add(container)
    container.create_roi_response_series(
        name="RoiResponseSeries", data=fluo, unit="lumens", rate=RATE, starting_time=START,
        conversion=conversion, offset=offset,
        rois=ps.create_roi_table_region(region=FLUO_ROWS, description="three rois"))
    out = {"fluo": fluo}
    if dff:
        out["dff"] = rng.normal(size=(n_frames, len(ROI_IDS)))
        out["timestamps"] = 1.0 + np.cumsum(rng.uniform(0.03, 0.035, size=n_frames))
        container = DfOverF()
        ophys.add(container)
        container.create_roi_response_series(
            name="RoiResponseSeries", data=out["dff"], unit="n.a.",
            timestamps=out["timestamps"],
            rois=ps.create_roi_table_region(region=[0, 1, 2, 3], description="all rois"))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return out


def _write_suite2p(folder, rng, *, n_rois=5, n_frames=80, fs=10.0, ops=True):
    folder.mkdir(parents=True)
    f = rng.uniform(200, 400, size=(n_rois, n_frames)).astype(np.float32)
    fneu = rng.uniform(50, 150, size=(n_rois, n_frames)).astype(np.float32)
    iscell = np.column_stack([rng.integers(0, 2, n_rois), rng.uniform(0, 1, n_rois)])
    np.save(folder / "F.npy", f)
    np.save(folder / "Fneu.npy", fneu)
    np.save(folder / "iscell.npy", iscell)
    if ops:
        np.save(folder / "ops.npy", {"fs": fs, "nplanes": 1, "neucoeff": 0.7},
                allow_pickle=True)
    return f, fneu, iscell


def _dff_loop(x, half, percentile):
    """dF/F with F0 = running percentile (method 'lower') over a truncated centred window."""
    out = np.empty(x.shape, dtype=np.float64)
    n = x.shape[0]
    for t in range(n):
        window = x[max(0, t - half):min(n, t + half + 1)].astype(np.float64)
        for j in range(x.shape[1]):
            f0 = np.nanpercentile(window[:, j], percentile, method="lower")
            out[t, j] = (x[t, j] - f0) / f0 if f0 > 0 else np.nan
    return out


# --------------------------------------------------------------------------- NWB


def test_nwb_fluorescence(tmp_path, rng):
    path = tmp_path / "session.nwb"
    written = _write_nwb(path, rng)
    da = check_loader(load_calcium, path, tmp_path, modality="calcium",
                      series="Fluorescence/RoiResponseSeries")
    assert da.dims == ("time", "unit")
    np.testing.assert_array_equal(da.values, written["fluo"])
    assert da.dtype == np.float32
    np.testing.assert_allclose(da["time"].values, START + np.arange(50) / RATE)
    assert da.attrs["sampling_rate"] == RATE
    assert da.attrs["units"] == "lumens"
    assert da["unit"].values.tolist() == ["10", "11", "13"]
    assert da["plane"].values.tolist() == ["ImagingPlaneV1"] * 3
    np.testing.assert_array_equal(da["is_cell"].values, ISCELL[FLUO_ROWS, 0].astype(bool))
    np.testing.assert_array_equal(da["cell_probability"].values, ISCELL[FLUO_ROWS, 1])
    assert "ophys/Fluorescence/RoiResponseSeries" in da.attrs["source"]
    assert "sha256:" in da.attrs["source"]


def test_nwb_dff_series_and_timestamps(tmp_path, rng):
    path = tmp_path / "session.nwb"
    written = _write_nwb(path, rng)
    da = check_loader(load_calcium, path, tmp_path, modality="calcium",
                      series="ophys/DfOverF/RoiResponseSeries")
    np.testing.assert_array_equal(da.values, written["dff"])
    np.testing.assert_array_equal(da["time"].values, written["timestamps"])
    assert da.attrs["units"] == "dF/F"  # unit "n.a." in a DfOverF container
    assert da.attrs["sampling_rate"] == pytest.approx(
        1 / np.median(np.diff(written["timestamps"])))
    assert da["unit"].values.tolist() == [str(i) for i in ROI_IDS]


def test_nwb_single_series_needs_no_name_and_applies_conversion(tmp_path, rng):
    path = tmp_path / "one.nwb"
    written = _write_nwb(path, rng, conversion=2.0, offset=1.5, dff=False)
    da = check_loader(load_calcium, path, tmp_path, modality="calcium")
    np.testing.assert_allclose(da.values, written["fluo"] * 2.0 + 1.5, rtol=1e-6)


def test_nwb_lazy_reads_chunks_and_keeps_no_handle_open(tmp_path, rng):
    path = tmp_path / "session.nwb"
    written = _write_nwb(path, rng, n_frames=60)
    da = load_calcium(path, series="Fluorescence/RoiResponseSeries", chunks={"time": 16})
    assert da.chunks == ((16, 16, 16, 12), (3,))
    # No HDF5 handle stays open between computations: the file can be opened for writing.
    with h5py.File(path, "r+"):
        pass
    np.testing.assert_array_equal(da.isel(time=slice(20, 40)).values, written["fluo"][20:40])
    np.testing.assert_allclose(da.mean("time").values, written["fluo"].mean(0), rtol=1e-6)
    check_loader(load_calcium, path, tmp_path, modality="calcium",
                 series="Fluorescence/RoiResponseSeries", chunks={"time": 16})


def test_nwb_dff_from_fluorescence_lazy_equals_eager(tmp_path, rng):
    path = tmp_path / "session.nwb"
    written = _write_nwb(path, rng, n_frames=90)
    kwargs = {"series": "Fluorescence/RoiResponseSeries", "dff": True, "baseline_window": 0.5}
    eager = load_calcium(path, **kwargs)
    lazy = load_calcium(path, chunks={"time": 10}, **kwargs)
    half = round(0.5 * RATE / 2)
    np.testing.assert_allclose(eager.values, _dff_loop(written["fluo"], half, 8), rtol=1e-5)
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert eager.attrs["units"] == "dF/F"


def test_nwb_series_errors(tmp_path, rng):
    path = tmp_path / "session.nwb"
    _write_nwb(path, rng)
    names = "'ophys/DfOverF/RoiResponseSeries', 'ophys/Fluorescence/RoiResponseSeries'"
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'series': {str(path)!r} holds 2 RoiResponseSeries: {names}; "
            "pick one with series=<name>.")):
        load_calcium(path)
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'series': 'Deconvolved' matches none of the RoiResponseSeries "
            f"in {str(path)!r}: {names}; give one of these names.")):
        load_calcium(path, series="Deconvolved")
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'series': 'RoiResponseSeries' matches 2 of the "
            f"RoiResponseSeries in {str(path)!r}: {names}; give one of these names.")):
        load_calcium(path, series="RoiResponseSeries")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'dff': the series already holds dF/F (units 'dF/F'); pass "
            "dff=False.")):
        load_calcium(path, series="DfOverF/RoiResponseSeries", dff=True)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'frame_rate': it does not apply to an NWB file (the file holds "
            "the time base and one trace per ROI); got 30.0. Pass frame_rate=None.")):
        load_calcium(path, series="DfOverF/RoiResponseSeries", frame_rate=30.0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'neuropil': it does not apply to an NWB file (the file holds "
            "the time base and one trace per ROI); got 0.5. Pass neuropil=None.")):
        load_calcium(path, series="DfOverF/RoiResponseSeries", neuropil=0.5)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'chunks': dict keys must be dims 'time' or 'unit'; got "
            "'frame'.")):
        load_calcium(path, series="DfOverF/RoiResponseSeries", chunks={"frame": 5})


def test_nwb_without_roi_response_series(tmp_path):
    from pynwb import NWBHDF5IO, NWBFile

    path = tmp_path / "empty.nwb"
    nwb = NWBFile(session_description="no ophys", identifier="empty",
                  session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'source': {str(path)!r} holds no RoiResponseSeries (searched "
            "every Fluorescence, DfOverF and other container); is it an optical-physiology "
            "file?")):
        load_calcium(path)


def test_path_errors(tmp_path):
    missing = tmp_path / "nope.nwb"
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"Invalid value for 'source': {str(missing)!r} does not exist. Give the path to "
            "an NWB file (.nwb) or a suite2p output folder.")):
        load_calcium(missing)
    other = tmp_path / "traces.csv"
    other.write_text("1,2\n")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'source': expected an NWB file (.nwb) or a suite2p output "
            f"folder ending in .nwb; got {str(other)!r}.")):
        load_calcium(other)


# --------------------------------------------------------------------------- suite2p


def test_suite2p_plane_folder(tmp_path, rng):
    f, fneu, iscell = _write_suite2p(tmp_path / "suite2p" / "plane0", rng)
    da = check_loader(load_calcium, tmp_path / "suite2p" / "plane0", tmp_path,
                      modality="calcium")
    np.testing.assert_allclose(da.values, (f - 0.7 * fneu).T, rtol=1e-6)
    assert da.sizes == {"time": 80, "unit": 5}
    np.testing.assert_allclose(da["time"].values, np.arange(80) / 10.0)
    assert da.attrs["sampling_rate"] == 10.0
    assert da.attrs["units"] == "fluorescence (a.u.)"
    assert da["unit"].values.tolist() == [f"plane0/roi{i}" for i in range(5)]
    np.testing.assert_array_equal(da["is_cell"].values, iscell[:, 0].astype(bool))
    np.testing.assert_array_equal(da["cell_probability"].values, iscell[:, 1])
    assert da["plane"].values.tolist() == ["plane0"] * 5
    assert da.attrs["source"].startswith("suite2p:plane0:F.npy sha256:")
    raw = load_calcium(tmp_path / "suite2p" / "plane0", neuropil=0.0)
    np.testing.assert_array_equal(raw.values, f.T)
    other = load_calcium(tmp_path / "suite2p" / "plane0", neuropil=0.5, frame_rate=4.0)
    np.testing.assert_allclose(other.values, (f - 0.5 * fneu).T, rtol=1e-6)
    assert other.attrs["sampling_rate"] == 4.0


def test_suite2p_parent_with_planes_and_lazy(tmp_path, rng):
    root = tmp_path / "suite2p"
    planes = [_write_suite2p(root / f"plane{i}", rng, n_rois=n) for i, n in ((0, 3), (1, 2))]
    (root / "combined").mkdir()  # suite2p writes it for multi-plane runs; not a plane
    da = check_loader(load_calcium, root, tmp_path, modality="calcium")
    expected = np.concatenate([(f - 0.7 * fn).T for f, fn, _ in planes], axis=1)
    np.testing.assert_allclose(da.values, expected, rtol=1e-6)
    assert da["unit"].values.tolist() == ["plane0/roi0", "plane0/roi1", "plane0/roi2",
                                          "plane1/roi0", "plane1/roi1"]
    assert da["plane"].values.tolist() == ["plane0"] * 3 + ["plane1"] * 2
    lazy = check_loader(load_calcium, root, tmp_path, modality="calcium",
                        chunks={"time": 32})
    assert lazy.chunks is not None and lazy.chunks[0] == (32, 32, 16)
    np.testing.assert_array_equal(lazy.values, da.values)


def test_suite2p_dff_against_explicit_loop(tmp_path, rng):
    f, fneu, _ = _write_suite2p(tmp_path / "plane0", rng, n_frames=120, fs=10.0)
    da = check_loader(load_calcium, tmp_path / "plane0", tmp_path, modality="calcium",
                      dff=True, baseline_window=2.0, percentile=20)
    corrected = f - 0.7 * fneu
    expected = _dff_loop(corrected.T, half=10, percentile=20)
    np.testing.assert_allclose(da.values, expected, rtol=1e-5, atol=1e-6)
    assert da.attrs["units"] == "dF/F"
    lazy = load_calcium(tmp_path / "plane0", dff=True, baseline_window=2.0, percentile=20,
                        chunks={"time": 15, "unit": 2})
    np.testing.assert_array_equal(lazy.values, da.values)


def test_suite2p_default_baseline_is_60_s_8th_percentile(tmp_path, rng):
    f, fneu, _ = _write_suite2p(tmp_path / "plane0", rng, n_frames=200, fs=2.0)
    da = load_calcium(tmp_path / "plane0", dff=True)
    expected = _dff_loop((f - 0.7 * fneu).T, half=60, percentile=8)
    np.testing.assert_allclose(da.values, expected, rtol=1e-5, atol=1e-6)


def test_suite2p_errors(tmp_path, rng):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'source': the folder {str(empty)!r} holds neither suite2p "
            "output (F.npy) nor plane0, plane1, ... folders; give a suite2p plane folder or "
            "its parent.")):
        load_calcium(empty)
    plane = tmp_path / "plane0"
    _write_suite2p(plane, rng, ops=False)
    (plane / "iscell.npy").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"Invalid value for 'source': the suite2p folder {str(plane)!r} lacks iscell.npy, "
            "ops.npy. Point to a complete suite2p output folder (give frame_rate if ops.npy is "
            "missing).")):
        load_calcium(plane)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'series': it picks a series in an NWB file; got 'F' for the "
            f"suite2p folder {str(plane)!r}. Pass series=None.")):
        load_calcium(plane, series="F")
    root = tmp_path / "multi"
    _write_suite2p(root / "plane0", rng, n_frames=80)
    _write_suite2p(root / "plane1", rng, n_frames=79)
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'source': the planes of {str(root)!r} differ in frame rate "
            "([10.0, 10.0] Hz) or frame count ([80, 79]); load each plane folder "
            "separately.")):
        load_calcium(root)


# --------------------------------------------------------------------------- arrays


def test_array(tmp_path, rng):
    x = rng.uniform(1, 2, size=(40, 6))
    da = check_loader(load_calcium, x, tmp_path, modality="calcium", frame_rate=15.0)
    np.testing.assert_array_equal(da.values, x)
    assert not np.shares_memory(da.values, x)
    np.testing.assert_allclose(da["time"].values, np.arange(40) / 15.0)
    assert da["unit"].values.tolist() == [f"roi{i}" for i in range(6)]
    assert da.attrs["units"] == "fluorescence (a.u.)"
    assert da.attrs["source"].startswith("array 40x6 float64 sha256:")
    lazy = check_loader(load_calcium, x, tmp_path, modality="calcium", frame_rate=15.0,
                        chunks=10)
    assert lazy.chunks == ((10, 10, 10, 10), (6,))


def test_array_dff_nan_in_f_stays_nan(tmp_path, rng):
    x = rng.uniform(1, 2, size=(30, 3))
    x[4, 2] = np.nan
    da = check_loader(load_calcium, x, tmp_path, modality="calcium", frame_rate=10.0,
                      dff=True, baseline_window=1.0, percentile=50)
    expected = _dff_loop(x, half=5, percentile=50)
    np.testing.assert_allclose(da.values, expected, rtol=1e-12)
    assert np.isnan(da.values[4, 2]) and np.isfinite(np.delete(da.values, 4, axis=0)).all()


def _f0_message(n, names):
    return (
        f"Invalid value for 'dff': the baseline F0 is <= 0 for {n} unit(s) ({names}), so "
        "dF/F = (F - F0) / F0 is undefined there (F0 = percentile baseline). Such traces are "
        "usually background- or neuropil-subtracted: add a "
        "constant offset so that F > 0 (or load with neuropil=0 for suite2p), drop those "
        "units, or pass dff=False."
    )


@pytest.mark.parametrize("chunks", [None, {"time": 10}])
def test_array_dff_baseline_not_positive_raises(rng, chunks):
    # issue 15: F0 <= 0 used to give an all-NaN unit, silently
    x = rng.uniform(1, 2, size=(30, 3))
    x[:, 1] -= 3.0  # negative fluorescence (e.g. after neuropil subtraction)
    with pytest.raises(ValueError, match=re.escape(
            _f0_message(1, "'roi1'"))):
        da = load_calcium(x, frame_rate=10.0, dff=True, baseline_window=1.0, percentile=0,
                          chunks=chunks)
        np.asarray(da.values)  # a lazy source raises when computed
    x[:, 1] += 3.0
    x[:, [0, 2]] = 0.0  # a constant-zero trace: F0 == 0
    with pytest.raises(ValueError, match=re.escape(_f0_message(2, "'roi0', 'roi2'"))):
        load_calcium(x, frame_rate=10.0, dff=True, chunks=None)


@pytest.mark.parametrize(("chunks", "name", "got"), [
    ({"time": 0}, "\"chunks['time']\"", "0"), (0, "'chunks'", "0"),
    ((10, -2), "'chunks[1]'", "-2"), ({"unit": 2.5}, "\"chunks['unit']\"", "2.5")])
def test_chunk_sizes_checked(rng, tmp_path, chunks, name, got):
    # issue 15: chunks={"time": 0} was a ZeroDivisionError
    msg = (f"Invalid value for {name}: expected an integer >= 1 (frames or ROIs per chunk); "
           f"got {got}. Give a positive number of frames or ROIs per chunk, -1 for the whole "
           'dim, or "auto".')
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_calcium(rng.uniform(1, 2, size=(30, 3)), frame_rate=10.0, chunks=chunks)
    path = tmp_path / "rec.nwb"
    _write_nwb(path, rng)
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_calcium(path, series="DfOverF/RoiResponseSeries", chunks=chunks)


def test_array_errors(rng):
    x = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'frame_rate': an array carries no time base; give frame_rate "
            "in Hz (frames per second), e.g. load_calcium(x, frame_rate=30.0).")):
        load_calcium(x)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'frame_rate': expected a finite number in (0, inf) (frames per "
            "second, Hz); got -1.")):
        load_calcium(x, frame_rate=-1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'source': expected an (n_frames, n_rois) array of numbers, a "
            "suite2p folder or an NWB file; got an array of shape (10,) and dtype float64.")):
        load_calcium(x[:, 0], frame_rate=5.0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'neuropil': it does not apply to an array (it holds one trace "
            "per ROI); got 0.7. Pass neuropil=None.")):
        load_calcium(x, frame_rate=5.0, neuropil=0.7)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'series': it picks a series in an NWB file; got 'a' for an "
            "array. Pass series=None.")):
        load_calcium(x, frame_rate=5.0, series="a")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'baseline': expected one of 'percentile'; got 'percentil'. "
            "Did you mean 'percentile'?")):
        load_calcium(x, frame_rate=5.0, baseline="percentil")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'percentile': expected a finite number in [0, 100]; got 120.")):
        load_calcium(x, frame_rate=5.0, percentile=120)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'baseline_window': expected a finite number in (0, inf) "
            "(seconds); got 0.")):
        load_calcium(x, frame_rate=5.0, baseline_window=0)


# --------------------------------------------------------------------------- damaged files (issue 15)


@pytest.mark.parametrize("chunks", [None, {"time": 16}])
def test_damaged_nwb(rng, tmp_path, chunks):
    good = tmp_path / "good"
    good.mkdir()
    path = good / "rec.nwb"
    _write_nwb(path, rng)
    plain = tmp_path / "plain.h5"  # an HDF5 file that is not NWB, renamed .nwb
    with h5py.File(plain, "w") as f:
        f["data"] = np.arange(10.0)
    errors = check_bad_files(load_calcium, path, tmp_path, other=plain.read_bytes(),
                             series="DfOverF/RoiResponseSeries", chunks=chunks)
    for kind, err in errors.items():
        damaged = tmp_path / f"damaged-{kind}" / "rec.nwb"
        assert str(err) == bad_file_message(damaged, "NWB (HDF5)", err.__cause__), kind


@pytest.mark.parametrize("target", ["F.npy", "Fneu.npy", "iscell.npy", "ops.npy"])
def test_damaged_suite2p(rng, tmp_path, target):
    good = tmp_path / "good" / "plane0"
    _write_suite2p(good, rng)
    other = b"F,Fneu\n1,2\n" * 10
    for chunks in (None, {"time": 20}):
        where = tmp_path / ("eager" if chunks is None else "lazy")
        where.mkdir()
        errors = check_bad_files(load_calcium, good, where, target=target, other=other,
                                 chunks=chunks)
        for kind, err in errors.items():
            damaged = where / f"damaged-{kind}" / "plane0" / target
            fmt = ("a NumPy .npy file holding suite2p's ops dict" if target == "ops.npy"
                   else "a NumPy .npy array")
            assert str(err) == bad_file_message(damaged, fmt, err.__cause__), (kind, chunks)


def test_lazy_dff_window_longer_than_recording(rng):
    # a 60 s window over 6 s of frames: dask's overlap was "larger than your array"
    x = rng.uniform(1, 2, size=(60, 4))
    eager = load_calcium(x, frame_rate=10.0, dff=True)
    lazy = load_calcium(x, frame_rate=10.0, dff=True, chunks={"time": 20, "unit": 1})
    np.testing.assert_array_equal(lazy.values, eager.values)


@pytest.mark.parametrize(("shape", "what"), [((0, 2), "frame"), ((5, 0), "ROI")])
def test_empty_array(shape, what):
    msg = (f"Invalid value for 'source': the array of shape {shape} holds no {what}; expected "
           "(n_frames, n_rois) with at least one of each.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_calcium(np.zeros(shape), frame_rate=1.0)


def test_inf_is_rejected_nan_kept(rng, tmp_path):
    x = rng.uniform(1, 2, size=(20, 3))
    x[4, 1] = np.nan
    da = check_loader(load_calcium, x, tmp_path, modality="calcium", frame_rate=10.0)
    assert np.isnan(da.values).sum() == 1
    x[7, 2] = np.inf
    msg = (f"Invalid value for 'source': {_array_source_label(x)} holds 1 infinite value(s), "
           "in unit(s) 'roi2'; a recording cannot measure infinity. Replace them with NaN (a "
           "missing sample) if they mark gaps, or check how the data were written.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_calcium(x, frame_rate=10.0)


def _array_source_label(x):
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    return f"array {x.shape[0]}x{x.shape[1]} {x.dtype} sha256:{digest}"
