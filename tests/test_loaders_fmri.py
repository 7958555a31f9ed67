"""Tests for ``brainbridge.loaders.load_fmri``: NIfTI (mask, atlas), GIFTI, MGH, ROI tables.

References: nibabel's own reads, pandas, nilearn's ``NiftiMasker`` / ``NiftiLabelsMasker`` /
``FirstLevelModel`` and the raw numbers the tests write. Real data: nitime's ROI table and
4D NIfTI crops, nilearn's MNI152 brain mask, motor map and fsaverage5 mesh.
"""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from loader_checks import bad_file_message, check_bad_files, check_loader
from nilearn import datasets, image
from nilearn.maskers import NiftiLabelsMasker, NiftiMasker

from brainbridge.loaders import load_fmri
from brainbridge.loaders._common import package_data

INSTALL = "pip install nitime==0.12.1"
ROI_TABLE = package_data("nitime", "data", "fmri_timeseries.csv", install=INSTALL)
FMRI1 = package_data("nitime", "data", "fmri1.nii.gz", install=INSTALL)
SHAPE = (10, 10, 18)  # nitime's crop
N_TIME = 40
TR_NITIME = 1.35

# float32 output of float64 arithmetic: relative agreement with nilearn to float32 precision
RTOL = 1e-5


@pytest.fixture
def fmri1() -> nib.Nifti1Image:
    return nib.load(FMRI1)


@pytest.fixture
def box_mask(fmri1: nib.Nifti1Image) -> nib.Nifti1Image:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[2:8, 1:9, 3:15] = 1
    return nib.Nifti1Image(mask, fmri1.affine)


def _mask(img: nib.Nifti1Image) -> np.ndarray:
    return np.asarray(img.dataobj).astype(bool)


def _write_nifti(path: Path, data: np.ndarray, affine: np.ndarray, *, tr: float = 2.0,
                 unit: str = "sec") -> Path:
    img = nib.Nifti1Image(data, affine)
    img.header.set_zooms((*img.header.get_zooms()[:3], tr))
    img.header.set_xyzt_units("mm", unit)
    nib.save(img, path)
    return path


# --------------------------------------------------------------------------------------------
# ROI tables (real: nitime)


def test_roi_table_nitime(tmp_path: Path) -> None:
    da = check_loader(load_fmri, ROI_TABLE, tmp_path, modality="fmri", tr=1.89)
    ref = pd.read_csv(ROI_TABLE)
    assert da.dims == ("time", "unit")
    assert da.shape == (250, 31)
    assert da["unit"].values.tolist() == list(ref.columns)
    assert da["region"].values.tolist() == list(ref.columns)
    np.testing.assert_array_equal(da.values, ref.to_numpy())
    assert da.sel(unit="LAmy").values[17] == ref["LAmy"].iloc[17]
    np.testing.assert_allclose(da["time"].values, np.arange(250) * 1.89)
    assert da.attrs["sampling_rate"] == pytest.approx(1 / 1.89)
    assert da.attrs["units"] == "BOLD (scanner units)"
    assert da.attrs["source"].startswith("fmri_timeseries.csv sha256:")


def test_roi_table_tsv_and_standardize(tmp_path: Path) -> None:
    ref = pd.read_csv(ROI_TABLE)
    path = tmp_path / "rois.tsv"
    ref.to_csv(path, sep="\t", index=False)
    da = check_loader(load_fmri, path, tmp_path, modality="fmri", tr=1.89, standardize=True,
                      units=None)
    x = ref.to_numpy()
    expected = (x - x.mean(0)) / x.std(0, ddof=1)
    np.testing.assert_allclose(da.values, expected, rtol=1e-12, atol=1e-12)
    assert da.attrs["units"] == "z-score"


def test_roi_table_needs_tr() -> None:
    msg = ("'fmri_timeseries.csv' does not give the repetition time (TR). Pass it in seconds "
           "as tr=..., e.g. load_fmri(source, tr=2.0).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(ROI_TABLE)


def test_roi_table_rejects_mask() -> None:
    msg = ("Invalid value for 'mask': it does not apply to an ROI table, whose columns are the "
           "units already; got ndarray. Leave it as None.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(ROI_TABLE, tr=1.89, mask=np.ones(3))


def test_roi_table_non_numeric(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    pd.DataFrame({"a": [1.0, 2.0], "name": ["x", "y"]}).to_csv(path, index=False)
    msg = (f"Invalid value for 'source': expected an ROI table with one numeric column per "
           f"region and one row per volume; {str(path)!r} has non-numeric column(s) 'name'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, tr=2.0)


# --------------------------------------------------------------------------------------------
# 4D NIfTI, voxel mode (real: nitime's crop)


def test_nifti_mask_nitime(tmp_path: Path, fmri1: nib.Nifti1Image,
                           box_mask: nib.Nifti1Image) -> None:
    da = check_loader(load_fmri, FMRI1, tmp_path, modality="fmri", mask=box_mask)
    mask = _mask(box_mask)
    raw = fmri1.get_fdata()  # nibabel's own read (int16 on disk, no scaling)
    assert da.shape == (N_TIME, int(mask.sum()))
    np.testing.assert_array_equal(da.values, raw[mask].T)
    # spot value, coords and time base
    assert da.sel(unit="v3_4_5").values[7] == raw[3, 4, 5, 7]
    one = da.sel(unit="v3_4_5")
    assert (int(one["i"]), int(one["j"]), int(one["k"])) == (3, 4, 5)
    np.testing.assert_allclose([float(one["x"]), float(one["y"]), float(one["z"])],
                               nib.affines.apply_affine(fmri1.affine, [3, 4, 5]))
    np.testing.assert_allclose(da["time"].values, np.arange(N_TIME) * TR_NITIME)
    assert da.attrs["sampling_rate"] == pytest.approx(1 / TR_NITIME)
    assert da.attrs["units"] == "BOLD (scanner units)"
    assert da.dtype == np.float32
    # nilearn's masker: same voxels, same order, same values
    ref = NiftiMasker(mask_img=box_mask, standardize=None).fit_transform(fmri1)
    np.testing.assert_array_equal(da.values, ref)


@pytest.mark.parametrize("chunk_size", [1, 7, 40, 1000])
def test_nifti_chunk_size_does_not_change_values(fmri1: nib.Nifti1Image,
                                                 box_mask: nib.Nifti1Image,
                                                 chunk_size: int) -> None:
    da = load_fmri(FMRI1, mask=box_mask, chunk_size=chunk_size)
    np.testing.assert_array_equal(da.values, fmri1.get_fdata()[_mask(box_mask)].T)


def test_mask_as_path_image_or_array(tmp_path: Path, box_mask: nib.Nifti1Image) -> None:
    path = tmp_path / "mask.nii.gz"
    nib.save(box_mask, path)
    array = _mask(box_mask)
    before = array.copy()
    a = load_fmri(FMRI1, mask=path)
    b = load_fmri(FMRI1, mask=box_mask)
    c = load_fmri(FMRI1, mask=array)
    np.testing.assert_array_equal(array, before)  # the mask is not modified
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, c.values)
    assert a["unit"].values.tolist() == c["unit"].values.tolist()


@pytest.mark.parametrize(
    ("standardize", "ours", "detrend", "with_confounds"),
    [
        ("zscore_sample", True, False, False),
        ("zscore_sample", "zscore", True, False),
        (None, False, False, True),
        (None, False, True, True),
        ("zscore_sample", True, True, True),
        ("psc", "psc", False, False),
    ],
)
def test_nifti_cleaning_matches_nilearn(fmri1: nib.Nifti1Image, box_mask: nib.Nifti1Image,
                                        rng: np.random.Generator, standardize: str | None,
                                        ours: bool | str, detrend: bool,
                                        with_confounds: bool) -> None:
    confounds = rng.normal(size=(N_TIME, 3)) if with_confounds else None
    masker = NiftiMasker(mask_img=box_mask, standardize=standardize, detrend=detrend)
    ref = masker.fit_transform(fmri1, confounds=confounds)
    da = load_fmri(FMRI1, mask=box_mask, standardize=ours, detrend=detrend,
                   confounds=confounds)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(da.values, ref, rtol=RTOL, atol=RTOL * scale)
    expected_units = {"zscore_sample": "z-score", "psc": "% signal change"}
    assert da.attrs["units"] == expected_units.get(standardize, "BOLD (scanner units)")
    if with_confounds:  # the confounds really were removed: residuals are orthogonal to them
        resid = da.values.astype(np.float64) - da.values.astype(np.float64).mean(0)
        c = confounds - confounds.mean(0)
        assert np.abs(c.T @ resid).max() < 1e-3 * np.abs(c.T @ (ref - ref.mean(0))).max() + 1e-2


def test_confounds_from_tsv(tmp_path: Path, box_mask: nib.Nifti1Image,
                            rng: np.random.Generator) -> None:
    table = pd.DataFrame(rng.normal(size=(N_TIME, 2)), columns=["trans_x", "rot_z"])
    path = tmp_path / "confounds.tsv"
    table.to_csv(path, sep="\t", index=False)
    a = load_fmri(FMRI1, mask=box_mask, confounds=path)
    b = load_fmri(FMRI1, mask=box_mask, confounds=table.to_numpy())
    np.testing.assert_array_equal(a.values, b.values)


def test_real_mni_mask_resampled(tmp_path: Path, rng: np.random.Generator) -> None:
    """nilearn's MNI152 brain mask at 8 mm on a 4D float32 series written by nibabel."""
    mask = image.resample_img(datasets.load_mni152_brain_mask(),
                              target_affine=np.diag([8.0, 8.0, 8.0]), interpolation="nearest")
    data = rng.normal(100.0, 5.0, size=(*mask.shape, 12)).astype(np.float32)
    path = _write_nifti(tmp_path / "mni.nii", data, mask.affine, tr=2000.0, unit="msec")
    da = check_loader(load_fmri, path, tmp_path, modality="fmri", mask=mask)
    inside = mask.get_fdata() > 0
    assert da.sizes["unit"] == int(inside.sum())
    np.testing.assert_array_equal(da.values, data[inside].T)
    assert da.attrs["sampling_rate"] == 0.5  # 2000 ms read with the header's time unit
    ref = NiftiMasker(mask_img=mask, standardize=None).fit_transform(path)
    np.testing.assert_array_equal(da.values, ref)


def test_scaled_nifti_uses_slope_and_intercept(tmp_path: Path, rng: np.random.Generator
                                               ) -> None:
    data = rng.integers(-300, 300, size=(3, 4, 5, 6)).astype(np.int16)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, 10.0)
    img.header.set_zooms((1, 1, 1, 2.0))
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / "scaled.nii.gz"
    nib.save(img, path)
    da = load_fmri(path, mask=np.ones((3, 4, 5), dtype=bool))
    np.testing.assert_allclose(da.values, (data * 0.5 + 10.0).reshape(-1, 6).T)
    np.testing.assert_array_equal(da.values, nib.load(path).get_fdata().reshape(-1, 6).T)


# --------------------------------------------------------------------------------------------
# 4D NIfTI, atlas mode


@pytest.fixture
def random_atlas(fmri1: nib.Nifti1Image, rng: np.random.Generator) -> nib.Nifti1Image:
    labels = rng.choice([0, 2, 5, 9], size=SHAPE).astype(np.int16)
    return nib.Nifti1Image(labels, fmri1.affine)


def test_atlas_matches_nilearn(tmp_path: Path, fmri1: nib.Nifti1Image,
                               random_atlas: nib.Nifti1Image) -> None:
    path = tmp_path / "atlas.nii.gz"
    nib.save(random_atlas, path)
    da = check_loader(load_fmri, FMRI1, tmp_path, modality="fmri", atlas=path,
                      labels=["two", "five", "nine"])
    ref = NiftiLabelsMasker(labels_img=random_atlas, standardize=None).fit_transform(fmri1)
    np.testing.assert_allclose(da.values, ref, rtol=1e-12)
    labels = np.asarray(random_atlas.dataobj)
    raw = fmri1.get_fdata()
    assert da["unit"].values.tolist() == ["two", "five", "nine"]
    assert da["region"].values.tolist() == ["two", "five", "nine"]
    assert da["atlas_value"].values.tolist() == [2, 5, 9]
    assert da["n_voxels"].values.tolist() == [int((labels == v).sum()) for v in (2, 5, 9)]
    assert da.sel(unit="five").values[11] == pytest.approx(raw[labels == 5][:, 11].mean(),
                                                           rel=1e-12)


def test_atlas_label_forms(random_atlas: nib.Nifti1Image) -> None:
    by_dict = load_fmri(FMRI1, atlas=random_atlas, labels={2: "a", 5: "b", 9: "c", 11: "x"})
    plain = load_fmri(FMRI1, atlas=np.asarray(random_atlas.dataobj))
    assert by_dict["unit"].values.tolist() == ["a", "b", "c"]
    assert plain["unit"].values.tolist() == ["2", "5", "9"]
    np.testing.assert_array_equal(by_dict.values, plain.values)


def test_atlas_with_real_motor_map_and_mask(tmp_path: Path, rng: np.random.Generator) -> None:
    """Regions from nilearn's motor map (NeuroVault 10426), restricted to the MNI brain mask."""
    mask = image.resample_img(datasets.load_mni152_brain_mask(),
                              target_affine=np.diag([8.0, 8.0, 8.0]), interpolation="nearest")
    motor = image.resample_to_img(datasets.load_sample_motor_activation_image(), mask,
                                  interpolation="nearest").get_fdata()
    labels = np.zeros(mask.shape, dtype=np.int16)
    labels[motor > 3] = 1
    labels[motor < -3] = 2
    atlas = nib.Nifti1Image(labels, mask.affine)
    data = rng.normal(100.0, 5.0, size=(*mask.shape, 10)).astype(np.float32)
    path = _write_nifti(tmp_path / "series.nii.gz", data, mask.affine)
    da = check_loader(load_fmri, path, tmp_path, modality="fmri", atlas=atlas, mask=mask,
                      labels={1: "positive", 2: "negative"}, detrend=True)
    masker = NiftiLabelsMasker(labels_img=atlas, mask_img=mask, standardize=None, detrend=True)
    ref = masker.fit_transform(path)
    # nilearn averages the float32 values in float32, we in float64: agreement to float32
    # resolution of the raw values (~100 * 1.2e-7)
    np.testing.assert_allclose(da.values, ref, rtol=0, atol=100 * 1e-6)
    inside = mask.get_fdata() > 0
    means = np.stack([data[(labels == v) & inside].astype(np.float64).mean(0) for v in (1, 2)],
                     axis=1)
    t = np.column_stack([np.ones(10), np.arange(10.0)])
    expected = means - t @ np.linalg.lstsq(t, means, rcond=None)[0]
    np.testing.assert_allclose(da.values, expected, rtol=1e-10, atol=1e-10)
    assert da["n_voxels"].values.tolist() == [int(((labels == v) & inside).sum()) for v in (1, 2)]


# --------------------------------------------------------------------------------------------
# TR from the header


@pytest.fixture
def small_series(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(2, 3, 4, 5)).astype(np.float32)


def test_header_tr_in_milliseconds(tmp_path: Path, small_series: np.ndarray) -> None:
    path = _write_nifti(tmp_path / "ms.nii", small_series, np.eye(4), tr=1500.0, unit="msec")
    da = load_fmri(path, mask=np.ones((2, 3, 4), dtype=bool))
    np.testing.assert_allclose(da["time"].values, np.arange(5) * 1.5)


def test_header_tr_implausible(tmp_path: Path, small_series: np.ndarray) -> None:
    path = _write_nifti(tmp_path / "bad_tr.nii", small_series, np.eye(4), tr=1000.0)
    mask = np.ones((2, 3, 4), dtype=bool)
    msg = ("The header of 'bad_tr.nii' gives a repetition time of 1000.0 s, outside the "
           "plausible range 0.01 to 100.0 s. Pass the true TR in seconds as tr=..., e.g. "
           "load_fmri(source, tr=2.0).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, mask=mask)
    warn = ("The header of 'bad_tr.nii' gives a repetition time of 1000.0 s, outside the "
            "plausible range 0.01 to 100.0 s; using tr=2.0 s as given. Fix the header to "
            "silence this warning.")
    with pytest.warns(UserWarning, match=re.escape(warn)):
        da = load_fmri(path, mask=mask, tr=2.0)
    assert da.attrs["sampling_rate"] == 0.5


def test_header_tr_missing(tmp_path: Path, small_series: np.ndarray) -> None:
    path = _write_nifti(tmp_path / "no_tr.nii", small_series, np.eye(4), tr=0.0)
    mask = np.ones((2, 3, 4), dtype=bool)
    msg = ("'no_tr.nii' does not give the repetition time (TR). Pass it in seconds as tr=..., "
           "e.g. load_fmri(source, tr=2.0).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, mask=mask)
    assert load_fmri(path, mask=mask, tr=0.8).attrs["sampling_rate"] == 1.25


def test_tr_argument_disagrees_with_header(box_mask: nib.Nifti1Image) -> None:
    msg = ("tr=2.0 s differs from the repetition time in the header of 'fmri1.nii.gz' "
           "(1.35 s); using tr=2.0 s as given. Pass tr=None to use the header's.")
    with pytest.warns(UserWarning, match=re.escape(msg)):
        da = load_fmri(FMRI1, mask=box_mask, tr=2.0)
    np.testing.assert_allclose(da["time"].values, np.arange(N_TIME) * 2.0)


@pytest.mark.parametrize("bad", [0, -1.5, float("nan")])
def test_tr_argument_invalid(bad: float) -> None:
    msg = (f"Invalid value for 'tr': expected a finite number in (0, inf) or None (the "
           f"repetition time in seconds); got {bad!r}.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(ROI_TABLE, tr=bad)


# --------------------------------------------------------------------------------------------
# surfaces: GIFTI and MGH (fsaverage5-sized, written by nibabel)


@pytest.fixture
def n_vertices() -> int:
    return int(datasets.load_fsaverage("fsaverage5")["pial"].parts["left"].n_vertices)


def _gifti(data: np.ndarray, *, time_step: str | None, one_array: bool = False
           ) -> nib.gifti.GiftiImage:
    meta = {"TimeStep": time_step} if time_step is not None else {}
    arrays = [data] if one_array else [data[:, t] for t in range(data.shape[1])]
    return nib.gifti.GiftiImage(darrays=[
        nib.gifti.GiftiDataArray(a, intent="NIFTI_INTENT_TIME_SERIES",
                                 datatype="NIFTI_TYPE_FLOAT32", meta=meta)
        for a in arrays])


@pytest.mark.parametrize("one_array", [False, True])
def test_gifti_series(tmp_path: Path, rng: np.random.Generator, n_vertices: int,
                      one_array: bool) -> None:
    assert n_vertices == 10242
    data = rng.normal(size=(n_vertices, 6)).astype(np.float32)
    path = tmp_path / "lh.func.gii"
    nib.save(_gifti(data, time_step="800", one_array=one_array), path)
    da = check_loader(load_fmri, path, tmp_path, modality="fmri")
    np.testing.assert_array_equal(da.values, nib.load(path).agg_data().T)
    np.testing.assert_array_equal(da.values, data.T)
    assert da["unit"].values[123] == "vertex123"
    assert da["vertex"].values[123] == 123
    np.testing.assert_allclose(da["time"].values, np.arange(6) * 0.8)


def test_gifti_mask_and_atlas(tmp_path: Path, rng: np.random.Generator,
                              n_vertices: int) -> None:
    data = rng.normal(size=(n_vertices, 4)).astype(np.float32)
    path = tmp_path / "lh.func.gii"
    nib.save(_gifti(data, time_step=None), path)
    keep = rng.random(n_vertices) < 0.3
    da = check_loader(load_fmri, path, tmp_path, modality="fmri", mask=keep, tr=2.0)
    np.testing.assert_array_equal(da.values, data[keep].T)
    assert da["vertex"].values.tolist() == np.flatnonzero(keep).tolist()
    parcels = rng.integers(0, 4, size=n_vertices)
    rois = load_fmri(path, atlas=parcels, tr=2.0)
    expected = np.stack([data[parcels == v].astype(np.float64).mean(0) for v in (1, 2, 3)],
                        axis=1)
    np.testing.assert_allclose(rois.values, expected, rtol=1e-12)
    assert rois.dtype == np.float64


def test_gifti_needs_tr(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "no_tr.func.gii"
    nib.save(_gifti(rng.normal(size=(20, 3)).astype(np.float32), time_step=None), path)
    msg = ("'no_tr.func.gii' does not give the repetition time (TR). Pass it in seconds as "
           "tr=..., e.g. load_fmri(source, tr=2.0).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path)


def test_gifti_mesh_is_rejected(tmp_path: Path) -> None:
    mesh = datasets.load_fsaverage("fsaverage5")["pial"].parts["left"]
    path = tmp_path / "lh.pial.gii"
    nib.save(nib.gifti.GiftiImage(darrays=[
        nib.gifti.GiftiDataArray(np.asarray(mesh.coordinates, dtype=np.float32),
                                 intent="NIFTI_INTENT_POINTSET"),
        nib.gifti.GiftiDataArray(np.asarray(mesh.faces, dtype=np.int32),
                                 intent="NIFTI_INTENT_TRIANGLE")]), path)
    msg = (f"Invalid value for 'source': {str(path)!r} holds a surface mesh (or nothing), not "
           f"a data series. Give the functional GIFTI file (e.g. *.func.gii).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, tr=2.0)


@pytest.mark.parametrize("suffix", [".mgh", ".mgz"])
def test_mgh_series(tmp_path: Path, rng: np.random.Generator, n_vertices: int,
                    suffix: str) -> None:
    data = rng.normal(size=(n_vertices, 1, 1, 5)).astype(np.float32)
    img = nib.MGHImage(data, np.eye(4))
    img.header["tr"] = 2500.0  # FreeSurfer stores the TR in ms
    path = tmp_path / f"lh.bold{suffix}"
    nib.save(img, path)
    da = check_loader(load_fmri, path, tmp_path, modality="fmri", chunk_size=2)
    with nib.openers.ImageOpener(path) as f:  # nib.load leaves an .mgh file open (nibabel 5.4)
        reference = nib.MGHImage.from_stream(f.fobj).get_fdata()
    np.testing.assert_array_equal(da.values, reference[:, 0, 0, :].T)
    assert da.shape == (5, n_vertices)
    assert da.attrs["sampling_rate"] == 0.4
    keep = np.zeros(n_vertices, dtype=bool)
    keep[[5, 77, 10000]] = True
    part = load_fmri(path, mask=keep)
    assert part["unit"].values.tolist() == ["vertex5", "vertex77", "vertex10000"]
    np.testing.assert_array_equal(part.values, data[keep, 0, 0, :].T)


# --------------------------------------------------------------------------------------------
# GLM: per-condition betas against nilearn's FirstLevelModel


@pytest.mark.filterwarnings(  # raised inside FirstLevelModel.fit (the reference), harmless
    "ignore:.*Generation of a mask has been requested:RuntimeWarning")
def test_events_glm_matches_first_level_model(tmp_path: Path, fmri1: nib.Nifti1Image,
                                              box_mask: nib.Nifti1Image,
                                              rng: np.random.Generator) -> None:
    from nilearn.glm.first_level import FirstLevelModel

    events = pd.DataFrame({"onset": [0.0, 9.0, 18.0, 27.0, 36.0, 45.0],
                           "duration": [3.0] * 6, "trial_type": ["tap", "rest"] * 3})
    confounds = pd.DataFrame(rng.normal(size=(N_TIME, 2)), columns=["c0", "c1"])
    da = check_loader(load_fmri, FMRI1, tmp_path, modality="fmri", mask=box_mask,
                      events=events, confounds=confounds)
    assert da.dims == ("stimulus", "unit")
    assert da["stimulus"].values.tolist() == ["rest", "tap"]
    model = FirstLevelModel(t_r=TR_NITIME, mask_img=box_mask, signal_scaling=False,
                            minimize_memory=True)
    model.fit(fmri1, events=events, confounds=confounds)
    mask = _mask(box_mask)
    for condition in ("rest", "tap"):
        effect = model.compute_contrast(condition, output_type="effect_size").get_fdata()[mask]
        np.testing.assert_allclose(da.sel(stimulus=condition).values, effect, rtol=1e-8,
                                   atol=1e-8 * np.abs(effect).max())
    assert da.attrs["units"] == "BOLD (scanner units) per unit regressor"


def test_events_missing_column() -> None:
    events = pd.DataFrame({"onset": [0.0], "duration": [1.0]})
    msg = ("Invalid value for 'events': expected columns 'onset', 'duration', 'trial_type'; "
           "missing 'trial_type' (it has 'onset', 'duration').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=np.ones(SHAPE, dtype=bool), events=events)


# --------------------------------------------------------------------------------------------
# bad input


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.nii.gz"
    msg = (f"Invalid value for 'source': {str(path)!r} does not exist. Give the path to an "
           f"fMRI file (NIfTI, GIFTI, MGH or an ROI table).")
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        load_fmri(path)


def test_wrong_extension(tmp_path: Path) -> None:
    path = tmp_path / "bold.img"
    path.write_bytes(b"\0" * 16)
    msg = (f"Invalid value for 'source': expected an fMRI file (NIfTI, GIFTI, MGH or an ROI "
           f"table) ending in .nii, .nii.gz, .gii, .mgh, .mgz, .csv, .tsv; got {str(path)!r}. "
           f"Rename the file if its content has one of these formats.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path)


@pytest.mark.parametrize("keep", [0.5, 0.001])
def test_truncated_nifti(tmp_path: Path, keep: float) -> None:
    raw = FMRI1.read_bytes()
    path = tmp_path / "truncated.nii.gz"
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ValueError) as info:
        load_fmri(path, mask=np.ones(SHAPE, dtype=bool))
    assert str(info.value) == bad_file_message(path, "NIfTI", info.value.__cause__,
                                               "Check the file or download it again.")


def test_mask_shape_mismatch(fmri1: nib.Nifti1Image) -> None:
    msg = ("Invalid value for 'mask': its shape (10, 10, 17) does not match the spatial shape "
           "(10, 10, 18) of 'source'. Resample it to the image grid first, e.g. "
           "nilearn.image.resample_to_img(img, source, interpolation='nearest').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=np.ones((10, 10, 17), dtype=bool))


def test_mask_affine_mismatch(fmri1: nib.Nifti1Image) -> None:
    mask = nib.Nifti1Image(np.ones(SHAPE, dtype=np.uint8), np.eye(4))
    diff = np.abs(np.eye(4) - fmri1.affine).max()
    msg = (f"Invalid value for 'mask': its affine differs from the affine of 'source' (largest "
           f"difference {diff:.3g}), so it lies on another voxel grid. Resample it to the "
           f"image grid first, e.g. nilearn.image.resample_to_img(img, source, "
           f"interpolation='nearest').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=mask)


def test_volume_needs_mask_or_atlas() -> None:
    msg = ("A 4D volume needs a brain mask or an atlas: pass mask= (a binary image on the grid "
           "of 'fmri1.nii.gz') for voxel series, or atlas= (a labels image) for region means.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1)


def test_mask_not_binary() -> None:
    mask = np.zeros(SHAPE)
    mask[0, 0, :3] = [1, 2, 3]
    msg = ("Invalid value for 'mask': expected a binary mask (0/1 or bool); got the values "
           "0.0, 1.0, 2.0, 3.0. For a labels image pass atlas=.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=mask)


def test_labels_count_mismatch(random_atlas: nib.Nifti1Image) -> None:
    msg = ("Invalid value for 'labels': expected 3 names, one per non-zero atlas value in "
           "increasing order (2, 5, 9); got 4. Leave out a background name, or pass a dict "
           "{value: name}.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, atlas=random_atlas, labels=["Background", "a", "b", "c"])


def test_labels_without_atlas(box_mask: nib.Nifti1Image) -> None:
    msg = ("Invalid value for 'labels': it names atlas regions, but no atlas= was given. Pass "
           "atlas= too, or leave labels=None.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=box_mask, labels=["a"])


def test_confounds_wrong_length(box_mask: nib.Nifti1Image) -> None:
    msg = ("Invalid value for 'confounds': it has 39 rows but the series has 40 time points. "
           "Give one row per volume.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=box_mask, confounds=np.zeros((39, 2)))


def test_confounds_with_nan(box_mask: nib.Nifti1Image) -> None:
    confounds = np.zeros((N_TIME, 2))
    confounds[0, 1] = np.nan
    msg = ("Invalid value for 'confounds': it holds NaN or infinite values (fMRIPrep's "
           "derivative columns start with NaN). Fill them, e.g. confounds.fillna(0), or drop "
           "those columns.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=box_mask, confounds=confounds)


def test_standardize_unknown(box_mask: nib.Nifti1Image) -> None:
    msg = ("Invalid value for 'standardize': expected one of False, True, 'zscore', 'psc'; got "
           "'zscores'. Did you mean 'zscore'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(FMRI1, mask=box_mask, standardize="zscores")


def test_not_4d(tmp_path: Path) -> None:
    path = tmp_path / "anat.nii"
    nib.save(nib.Nifti1Image(np.zeros((2, 3, 4), dtype=np.float32), np.eye(4)), path)
    msg = (f"Invalid value for 'source': expected a 4D image (x, y, z, time); got shape "
           f"(2, 3, 4) in {str(path)!r}.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, mask=np.ones((2, 3, 4), dtype=bool))


# --------------------------------------------------------------------------------------------
# laziness, units from the header, doctest


def test_volume_is_read_in_chunks(monkeypatch: pytest.MonkeyPatch,
                                  box_mask: nib.Nifti1Image) -> None:
    """No read asks nibabel's proxy for more than chunk_size volumes (the file stays lazy)."""
    from nibabel.arrayproxy import ArrayProxy

    sizes: list[tuple[int, ...]] = []
    original = ArrayProxy.__getitem__

    def spy(self: ArrayProxy, slicer: object) -> np.ndarray:
        out = original(self, slicer)
        sizes.append(out.shape)
        return out

    monkeypatch.setattr(ArrayProxy, "__getitem__", spy)
    da = load_fmri(FMRI1, mask=box_mask, chunk_size=8)
    assert sizes == [(*SHAPE, 8)] * 5
    assert da.sizes["time"] == N_TIME


def test_units_from_nifti_intent(tmp_path: Path, small_series: np.ndarray) -> None:
    img = nib.Nifti1Image(small_series, np.eye(4))
    img.header.set_intent("z score")
    img.header.set_zooms((1.0, 1.0, 1.0, 2.0))
    img.header.set_xyzt_units("mm", "sec")
    path = tmp_path / "zmap_series.nii"
    nib.save(img, path)
    da = load_fmri(path, mask=np.ones((2, 3, 4), dtype=bool))
    assert da.attrs["units"] == "z-score"
    assert load_fmri(path, mask=np.ones((2, 3, 4), dtype=bool), units="V").attrs["units"] == "V"


def test_docstring_example() -> None:
    import doctest
    import importlib

    module = importlib.import_module("brainbridge.loaders._fmri")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------------------------
# issue 15: damaged files of every format load_fmri reads

FMRI_FIX = "Check the file or download it again."


@pytest.mark.parametrize("fmt", ["nii", "nii.gz", "gii", "mgh", "mgz", "csv", "tsv"])
def test_damaged_files(fmt: str, tmp_path: Path, rng: np.random.Generator) -> None:
    good = tmp_path / "good"
    good.mkdir()
    path = good / f"rec.{fmt}"
    data = rng.normal(size=(4, 3, 2, 6)).astype(np.float32)
    kwargs: dict = {"tr": 2.0}
    if fmt.startswith("nii"):
        _write_nifti(path, data, np.eye(4))
        kwargs = {"mask": np.ones((4, 3, 2), dtype=bool)}
    elif fmt == "gii":
        nib.save(_gifti(rng.normal(size=(24, 6)).astype(np.float32), time_step="2000"), path)
    elif fmt.startswith("mg"):
        nib.save(nib.MGHImage(data.reshape(24, 1, 1, 6), np.eye(4)), path)
    else:
        pd.DataFrame(rng.normal(size=(30, 4)), columns=list("abcd")).to_csv(
            path, sep="\t" if fmt == "tsv" else ",", index=False)
    assert load_fmri(path, **kwargs).sizes["time"] in (6, 30)
    # "renamed": a file of another format (a CSV table) under this ending
    other = b"a,b\n1,2\n" * 10 if fmt not in ("csv", "tsv") else FMRI1.read_bytes()[:4096]
    errors = check_bad_files(load_fmri, path, tmp_path, other=other, **kwargs)
    fmt_name = {"nii": "NIfTI", "nii.gz": "NIfTI", "gii": "GIFTI", "mgh": "MGH/MGZ",
                "mgz": "MGH/MGZ"}.get(fmt)
    for kind, err in errors.items():
        damaged = tmp_path / f"damaged-{kind}" / path.name
        if fmt_name is not None:
            assert str(err) == bad_file_message(damaged, fmt_name, err.__cause__, FMRI_FIX)
        elif kind == "truncated":
            n = str(err).split("has ")[1].split(" of")[0]
            assert str(err) == (
                f"Invalid value for 'source': the last row of {str(damaged)!r} has {n} of the "
                "header's 4 fields; the file is truncated. Check the file or export it again.")
        else:
            table = "TSV" if fmt == "tsv" else "CSV"
            assert str(err) == (f"Invalid value for 'source': {str(damaged)!r} is not a "
                                f"readable {table} table (UnicodeDecodeError). Check the file.")


@pytest.mark.parametrize("option", ["standardize", "detrend", "confounds"])
def test_nan_is_not_spread_by_processing(tmp_path: Path, rng: np.random.Generator,
                                         option: str) -> None:
    # policy (issue 15): NaN stays where the file has it; processing that would turn it into
    # a NaN series raises, naming the units
    x = rng.normal(size=(30, 3))
    x[3, 1] = np.nan
    path = tmp_path / "rois.csv"
    pd.DataFrame(x, columns=list("abc")).to_csv(path, index=False)
    da = load_fmri(path, tr=2.0)
    assert np.isnan(da.values).sum() == 1 and np.isnan(da.values[3, 1])
    kwargs = {"standardize": {"standardize": True}, "detrend": {"detrend": True},
              "confounds": {"confounds": rng.normal(size=(30, 2))}}[option]
    steps = option
    msg = (f"Invalid value for {option!r}: 1 unit(s) of {str(path)!r} hold NaN "
           f"('b'); {steps} would make their whole series NaN. Load without these "
           "options and fill or drop those samples first (e.g. interpolate), or leave the "
           "units out with mask=/atlas=.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, tr=2.0, **kwargs)


def test_degenerate_tables(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    pd.DataFrame(np.ones((1, 3)), columns=list("abc")).to_csv(one, index=False)
    msg = (f"Invalid value for 'standardize': {str(one)!r} holds 1 volume(s); standardize "
           "need(s) at least 2. Load it without them.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(one, tr=2.0, standardize=True)
    empty = tmp_path / "empty.csv"
    pd.DataFrame(np.zeros((0, 3)), columns=list("abc")).to_csv(empty, index=False)
    msg = ("Invalid value for 'source': expected an ROI table with one numeric column per "
           f"region and one row per volume; {str(empty)!r} has no data.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(empty, tr=2.0)


def test_inf_is_rejected(tmp_path: Path, rng: np.random.Generator) -> None:
    # policy (issue 15): NaN is a missing sample and is kept; +-inf is never a measurement
    x = rng.normal(size=(10, 3))
    x[2, 0], x[5, 2] = np.inf, -np.inf
    path = tmp_path / "rois.csv"
    pd.DataFrame(x, columns=list("abc")).to_csv(path, index=False)
    msg = (f"Invalid value for 'source': {str(path)!r} holds 2 infinite value(s), in unit(s) "
           "'a', 'c'; a recording cannot measure infinity. Replace them with NaN (a missing "
           "sample) if they mark gaps, or check how the data were written.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_fmri(path, tr=2.0)
