"""C. elegans loaders: cect connectomes, the Randi 2023 atlas, homogenized activity."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from loader_checks import bad_file_message, check_assembly, check_bad_files, check_loader

import brainbridge as bb
from brainbridge.analyses import normalize, smooth
from brainbridge.loaders import (
    CONNECTOMES,
    NEURONS,
    load_celegans_activity,
    load_celegans_connectome,
    load_celegans_funatlas,
)


def _package_dir(name: str) -> Path:
    return Path(list(importlib.util.find_spec(name).submodule_search_locations)[0])


CECT = _package_dir("cect")
ATLAS_H5 = _package_dir("wormneuroatlas") / "data" / "funatlas.h5"
CLASS_TO_TYPE = {"Generic_CS": "chemical", "Generic_GJ": "electrical", "Dopamine": "dopamine",
                 "Peptidergic": "neuropeptide", "Acetylcholine": "acetylcholine"}


def _raw(file: str) -> dict:
    with open(CECT / "cache" / file, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------- connectomes


def test_neurons_equal_cect_list():
    tree = ast.parse((CECT / "Cells.py").read_text(encoding="utf-8"))
    names = next(
        ast.literal_eval(node.value) for node in tree.body
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", None) == "PREFERRED_HERM_NEURON_NAMES" for t in node.targets)
    )
    assert NEURONS == tuple(names)
    assert len(NEURONS) == len(set(NEURONS)) == 302


def test_registry_covers_cache_files():
    for spec in CONNECTOMES.values():
        assert (CECT / "cache" / spec.file).is_file()
        assert spec.coverage in ("whole", "listed")
    assert [f"witvliet2021_{i}" for i in range(1, 9)] == [k for k in CONNECTOMES
                                                          if k.startswith("witvliet")]


def test_known_edge_white1986():
    raw = _raw("White_whole.json")
    i, j = raw["nodes"].index("AVDL"), raw["nodes"].index("AVAL")
    assert raw["connections"]["Generic_CS"][i][j] == 13  # [pre][post] in the file
    conn = load_celegans_connectome("white1986_whole")
    assert conn.sel(pre="AVDL", post="AVAL", synapse_type="chemical") == 13
    assert conn.sel(pre="AVAL", post="AVDL", synapse_type="chemical") == 1
    assert conn.sel(pre="AVDL", post="AVAL", synapse_type="electrical") == 0
    assert conn.dims == ("pre", "post", "synapse_type")
    assert conn.shape == (302, 302, 2)
    assert conn.attrs["units"] == "synapse count"
    assert conn.attrs["source"].startswith("cect==0.3.5:White_whole.json sha256:")


@pytest.mark.parametrize("name", ["white1986_whole", "cook2019_herm", "varshney2011",
                                  "witvliet2021_8", "white1986_n2u"])
def test_gap_junctions_symmetric(name):
    gj = load_celegans_connectome(name).sel(synapse_type="electrical").values
    np.testing.assert_array_equal(gj, gj.T)
    chem = load_celegans_connectome(name).sel(synapse_type="chemical").values
    assert not np.array_equal(chem, chem.T)  # chemical synapses are directed


@pytest.mark.parametrize("name", ["white1986_whole", "varshney2011", "cook2019_herm",
                                  "witvliet2021_3", "bentley2016_monoamine",
                                  "ripoll_sanchez2023_short", "wang2024_herm"])
def test_connectome_matches_raw_json(name, rng):
    spec = CONNECTOMES[name]
    raw = _raw(spec.file)
    nodes = raw["nodes"]
    conn = load_celegans_connectome(name)
    listed = [n for n in nodes if n in NEURONS]
    pre = rng.choice(listed, size=400)
    post = rng.choice(listed, size=400)
    for cls, matrix in raw["connections"].items():
        if cls not in CLASS_TO_TYPE:
            continue
        for a, b in zip(pre, post, strict=True):
            expected = matrix[nodes.index(a)][nodes.index(b)]
            got = conn.sel(pre=a, post=b, synapse_type=CLASS_TO_TYPE[cls]).item()
            assert got == expected, (name, cls, a, b)
    absent = [n for n in NEURONS if n not in nodes]
    if absent:
        row = conn.sel(pre=absent[0]).values
        if spec.coverage == "whole":
            assert np.all(row == 0) and conn.reconstructed.sel(pre=absent[0]).all()
        else:
            assert np.all(np.isnan(row)) and not conn.reconstructed.sel(pre=absent[0]).any()


def test_coverage_nan_versus_zero():
    varshney = load_celegans_connectome("varshney2011")  # pharynx not reconstructed
    assert np.isnan(varshney.sel(pre="M1")).all() and np.isnan(varshney.sel(post="M1")).all()
    assert not varshney.reconstructed.sel(pre="M1", post="AVAL")
    assert varshney.reconstructed.sel(pre="AVDL", post="AVAL")
    assert varshney.sel(pre="AVDL", post="AVAL", synapse_type="chemical") == 13
    white = load_celegans_connectome("white1986_whole")  # whole animal: CAN has no synapses
    assert (white.sel(pre="CANL") == 0).all() and white.reconstructed.sel(pre="CANL").all()


def test_connectome_shapes_and_non_neuronal():
    assert load_celegans_connectome("wang2024_herm").shape == (302, 302, 8)
    assert list(load_celegans_connectome("wang2024_herm").transmission.values) == (
        ["chemical"] * 4 + ["monoamine"] * 4)
    assert load_celegans_connectome("bentley2016_neuropeptide").shape == (302, 302, 1)
    full = load_celegans_connectome("cook2019_herm", include_non_neuronal=True)
    raw = _raw("Cook2019HermReader.json")
    assert full.shape == (473, 473, 2)
    assert tuple(full.pre.values[:302]) == NEURONS
    assert list(full.pre.values[302:]) == [n for n in raw["nodes"] if n not in NEURONS]
    i, j = raw["nodes"].index("DA1"), raw["nodes"].index("MDL08")
    assert full.sel(pre="DA1", post="MDL08", synapse_type="chemical") == (
        raw["connections"]["Generic_CS"][i][j])


def test_alias_and_default():
    default = load_celegans_connectome()
    xr.testing.assert_identical(default, load_celegans_connectome("cook2019_herm"))
    assert default.attrs["annotation"] == "cook2019_herm"


def test_connectome_roundtrip_and_no_mutation(tmp_path):
    conn = load_celegans_connectome("witvliet2021_8")
    before = conn.copy(deep=True)
    bb.save(conn, tmp_path / "conn.nc")
    xr.testing.assert_identical(bb.load(tmp_path / "conn.nc"), conn)
    xr.testing.assert_identical(conn, before)
    xr.testing.assert_identical(load_celegans_connectome("witvliet2021_8"), conn)


def _write_cect(path: Path, nodes: list[str], **classes: list[list[float]]) -> Path:
    path.write_text(json.dumps({"nodes": nodes, "connections": classes}), encoding="utf-8")
    return path


@pytest.fixture
def handmade(tmp_path):
    """Three tiny annotations in the cect layout; [i][j] = weight from nodes[i] to nodes[j]."""
    a = _write_cect(tmp_path / "a.json", ["AVAL", "AVAR", "AVDL"],
                    Generic_CS=[[0, 4, 0], [0, 0, 0], [2, 6, 0]],
                    Generic_GJ=[[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    b = _write_cect(tmp_path / "b.json", ["AVAL", "AVAR", "AVDL", "BWM"],
                    Generic_CS=[[0, 2, 0, 0], [0, 0, 0, 0], [0, 8, 0, 0], [0, 0, 0, 0]],
                    Generic_GJ=[[0, 3, 0, 0], [3, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    c = _write_cect(tmp_path / "c.json", ["AVAL", "AVDL"],
                    Generic_CS=[[0, 0], [5, 0]])
    return a, b, c


def test_user_json_orientation(handmade):
    a, _, _ = handmade
    conn = load_celegans_connectome(a)
    assert conn.sel(pre="AVDL", post="AVAR", synapse_type="chemical") == 6
    assert conn.sel(pre="AVAR", post="AVDL", synapse_type="chemical") == 0
    assert np.isnan(conn.sel(pre="ADAL", post="AVAL", synapse_type="chemical"))
    assert conn.attrs["source"] == f"a.json sha256:{hashlib.sha256(a.read_bytes()).hexdigest()}"
    assert conn.attrs["units"] == "a.u."


def test_consensus_handmade(handmade):
    a, b, c = handmade
    two = load_celegans_connectome([a, b, c], consensus=2, include_non_neuronal=True)
    assert list(two.pre.values[302:]) == ["BWM"]
    chem = two.sel(synapse_type="chemical")
    # AVAL->AVAR: a=4, b=2, c did not reconstruct AVAR -> support 2, mean 3
    assert chem.sel(pre="AVAL", post="AVAR") == 3
    assert two.support.sel(pre="AVAL", post="AVAR", synapse_type="chemical") == 2
    assert two.n_reconstructed.sel(pre="AVAL", post="AVAR", synapse_type="chemical") == 2
    # AVDL->AVAL: a=2, b=0, c=5 -> support 2, mean 3.5
    assert chem.sel(pre="AVDL", post="AVAL") == 3.5
    # AVDL->AVAR: a=6, b=8 -> 7
    assert chem.sel(pre="AVDL", post="AVAR") == 7
    # electrical AVAL-AVAR: a=1, b=3, c has no electrical layer -> mean 2, 2 covering
    elec = two.sel(synapse_type="electrical")
    assert elec.sel(pre="AVAL", post="AVAR") == elec.sel(pre="AVAR", post="AVAL") == 2
    assert two.n_reconstructed.sel(pre="AVAL", post="AVAR", synapse_type="electrical") == 2
    # covered by all, no synapse -> 0; covered by nobody -> NaN
    assert chem.sel(pre="AVAR", post="AVAL") == 0
    assert np.isnan(chem.sel(pre="ADAL", post="AVAL"))
    assert not two.reconstructed.sel(pre="ADAL", post="AVAL")
    # only b covers BWM: BWM pairs are 0 there, NaN with a cell nobody lists
    assert chem.sel(pre="BWM", post="AVAL") == 0
    three = load_celegans_connectome([a, b, c], consensus=3).sel(synapse_type="chemical")
    assert three.sel(pre="AVDL", post="AVAL") == 0  # b has no AVDL->AVAL edge
    assert three.sel(pre="AVAL", post="AVAR") == 0  # only two annotations cover it
    one = load_celegans_connectome([a, b, c], consensus=1).sel(synapse_type="chemical")
    assert one.sel(pre="AVDL", post="AVAL") == 3.5
    assert one.sel(pre="AVAL", post="AVAR") == 3


def test_consensus_real_annotations(tmp_path):
    both = load_celegans_connectome(["white1986_whole", "varshney2011"], consensus=2)
    assert both.sel(pre="AVDL", post="AVAL", synapse_type="chemical") == 13
    assert both.attrs["units"] == "synapse count"
    assert both.attrs["consensus"] == 2
    mixed = load_celegans_connectome(["cook2019_herm", "witvliet2021_8"], consensus=1)
    assert mixed.attrs["units"] == ("mixed: cook2019_herm: EM serial sections; "
                                    "witvliet2021_8: synapse count")
    bb.save(mixed, tmp_path / "mixed.nc")
    xr.testing.assert_identical(bb.load(tmp_path / "mixed.nc"), mixed)


def test_connectome_errors(tmp_path, handmade):
    a, b, _ = handmade
    options = ", ".join(repr(k) for k in [*CONNECTOMES, "cook2019", "wang2024"])
    msg = (f"Invalid value for 'name': expected one of {options}; got 'cook2019_hem'. "
           "Did you mean 'cook2019_herm'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_connectome("cook2019_hem")
    msg = ("Invalid value for 'consensus': 2 annotations were given but consensus is None. "
           "Pass consensus=k to keep the edges that at least k of them have, or give a "
           "single name.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_connectome([a, b])
    for bad in (0, 3, True, 1.5):
        msg = ("Invalid value for 'consensus': expected an integer from 1 to 2 (the number "
               f"of annotations given); got {bad!r}.")
        with pytest.raises(ValueError, match=re.escape(msg)):
            load_celegans_connectome([a, b], consensus=bad)
    msg = ("Invalid value for 'name': expected a connectome name, a path to a cect JSON file, "
           "or a list of them; got an empty list.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_connectome([], consensus=1)
    msg = ("Invalid value for 'name': 'varshney2011' is given more than once; give each "
           "annotation once.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_connectome(["varshney2011", "varshney2011"], consensus=1)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"nodes": ["AVAL"]}), encoding="utf-8")
    msg = (f"Invalid connectome file {str(broken)!r}: expected a connectome (a JSON object "
           "with 'nodes' and 'connections', the cect cache layout); got ['nodes'].")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_connectome(broken)
    ragged = _write_cect(tmp_path / "ragged.json", ["AVAL", "AVAR"], Generic_CS=[[0, 1, 2]])
    msg = (f"Invalid connectome file {str(ragged)!r}: connections['Generic_CS'] has shape "
           "(1, 3) but there are 2 nodes; expected (2, 2).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_connectome(ragged)
    missing = tmp_path / "missing.json"
    msg = (f"Invalid value for 'name': {str(missing)!r} does not exist. Give the path to a "
           "connectome JSON file in the cect cache layout.")
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        load_celegans_connectome(missing)
    msg = "Invalid type for 'include_non_neuronal': expected a bool; got str."
    with pytest.raises(TypeError, match=re.escape(msg)):
        load_celegans_connectome("varshney2011", include_non_neuronal="yes")


# --------------------------------------------------------------------------- funatlas


def _h5(strain: str) -> tuple[list[str], dict[str, np.ndarray]]:
    import h5py

    with h5py.File(ATLAS_H5, "r") as f:
        ids = [n.decode() for n in f["neuron_ids"][:]]
        raw = {k: f[strain][k][:] for k in ("dFF", "q", "q_eq", "occ1", "dFF_all")}
    return [{"AWCOF": "AWCOFF"}.get(n, n) for n in ids], raw


@pytest.mark.parametrize("strain", ["wt", "unc31"])
def test_funatlas_orientation_against_h5(strain, rng, tmp_path):
    ds = load_celegans_funatlas(strain, trials=False)
    ids, raw = _h5(strain)
    assert list(ds.unit.values) == ids == list(ds.stimulus.values)
    assert "AWCOFF" in ids and len(ids) == 300
    stim = rng.integers(0, 300, size=600)
    resp = rng.integers(0, 300, size=600)
    for s, r in zip(stim, resp, strict=True):
        a, b = ids[s], ids[r]  # a stimulated, b responding
        np.testing.assert_array_equal(ds.dff.sel(stimulus=a, unit=b), raw["dFF"][r, s])
        np.testing.assert_array_equal(ds.q.sel(stimulus=a, unit=b), raw["q"][r, s])
        np.testing.assert_array_equal(ds.q_eq.sel(stimulus=a, unit=b), raw["q_eq"][r, s])
        assert ds.n_obs.sel(stimulus=a, unit=b) == raw["occ1"][r, s]
    # never observed -> NaN
    assert np.isnan(ds.dff.values[ds.n_obs.values == 0]).all()
    for key in ("dff", "q", "q_eq", "n_obs"):
        assert ds[key].dims == ("stimulus", "unit")
        check_assembly(ds[key], tmp_path, modality="celegans")
    assert ds.dff.attrs["units"] == "dF/F" and ds.attrs["strain"] == strain


def test_funatlas_orientation_against_cect():
    """Independent reference: cect built its functional connectome as [pre][post]."""
    ds = load_celegans_funatlas("wt", trials=False)
    raw = _raw("WormNeuroAtlasFuncReader.json")
    nodes, weights = raw["nodes"], np.array(raw["connections"]["Functional"])
    pre, post = np.nonzero(weights)
    checked = 0
    for i, j in zip(pre, post, strict=True):
        a, b = nodes[i], nodes[j]
        if a.startswith("AWC") or b.startswith("AWC"):  # cect renames AWCON/OFF to R/L
            continue
        np.testing.assert_allclose(ds.dff.sel(stimulus=a, unit=b), weights[i, j], rtol=1e-12)
        checked += 1
    assert checked > 1000


def test_funatlas_trials(rng, tmp_path):
    ds = check_loader(lambda src: load_celegans_funatlas("wt", source=src).dff_trials,
                      ATLAS_H5, tmp_path, modality="celegans")
    full = load_celegans_funatlas("wt")
    ids, raw = _h5("wt")
    assert ds.dims == ("stimulus", "unit", "trial")
    for s, r in zip(rng.integers(0, 300, 300), rng.integers(0, 300, 300), strict=True):
        trials = raw["dFF_all"][r, s]
        trials = trials[np.isfinite(trials)]
        got = full.dff_trials.sel(stimulus=ids[s], unit=ids[r]).values
        np.testing.assert_array_equal(got[: len(trials)], trials)
        assert np.isnan(got[len(trials):]).all()
        assert full.n_trials.sel(stimulus=ids[s], unit=ids[r]) == len(trials)
    assert (full.n_trials <= full.n_obs).all()
    kept = full.n_trials.values > 0
    mean = np.nanmean(full.dff_trials.values[kept], axis=-1)
    np.testing.assert_allclose(mean, full.dff.values[kept], rtol=1e-12, equal_nan=True)
    check_assembly(full.n_trials, tmp_path, modality="celegans")


def test_funatlas_canonical(tmp_path):
    atlas = load_celegans_funatlas("wt", trials=False)
    canon = check_loader(lambda s, **k: load_celegans_funatlas(s, **k).dff, "wt", tmp_path,
                         modality="celegans", trials=False, neurons="canonical")
    assert tuple(canon.unit.values) == NEURONS == tuple(canon.stimulus.values)
    for name in ("AWCL", "AWCR", "CANL", "CANR"):
        assert np.isnan(canon.sel(unit=name)).all() and np.isnan(canon.sel(stimulus=name)).all()
    shared = [n for n in NEURONS if n not in ("AWCL", "AWCR", "CANL", "CANR")]
    xr.testing.assert_equal(canon.sel(stimulus=shared, unit=shared).drop_attrs(),
                            atlas.dff.sel(stimulus=shared, unit=shared).drop_attrs())


def test_funatlas_errors(tmp_path):
    msg = "Invalid value for 'strain': expected one of 'wt', 'unc31'; got 'wild'."
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_funatlas("wild")
    msg = ("Invalid value for 'neurons': expected one of 'atlas', 'canonical'; got 'all'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_funatlas("wt", neurons="all")
    missing = tmp_path / "funatlas.h5"
    msg = (f"Invalid value for 'source': {str(missing)!r} does not exist. Give the path to "
           "the signal-propagation atlas funatlas.h5.")
    with pytest.raises(FileNotFoundError, match=re.escape(msg)):
        load_celegans_funatlas("wt", source=missing)


# --------------------------------------------------------------------------- activity


def _worms(rng) -> list[dict]:
    """Small homogenized-layout records: uneven sampling, different lengths, NaN gaps."""
    records = []
    for dataset, worm in [("Kato2015", "worm0"), ("Kato2015", "worm1"), ("Yemini2021", "worm0")]:
        n = int(rng.integers(30, 60))
        dt = rng.uniform(0.25, 0.6)
        time = 3.0 + np.cumsum(dt * rng.uniform(0.8, 1.2, size=n))  # not starting at 0
        neurons = [str(n) for n in rng.choice(NEURONS, size=5, replace=False)]
        for neuron in neurons:
            values = np.cumsum(rng.normal(size=n))
            records.append(dict(source_dataset=dataset, worm=worm, neuron=neuron,
                                is_labeled_neuron=True, time_in_seconds=time,
                                calcium_data=values))
        records.append(dict(source_dataset=dataset, worm=worm, neuron="17",
                            is_labeled_neuron=False, time_in_seconds=time,
                            calcium_data=rng.normal(size=n)))
    return records


def _write_parquet(records: list[dict], path: Path, rename: dict | None = None) -> Path:
    frame = pd.DataFrame(records)
    if rename:
        frame = frame.rename(columns=rename)
    frame.to_parquet(path, engine="pyarrow", index=False)
    return path


def _write_pickles(records: list[dict], folder: Path, rng, *, as_torch: bool = False) -> Path:
    """The preprocessing pipeline's layout: one pickle per dataset, worm -> dict."""
    folder.mkdir()
    for dataset in dict.fromkeys(r["source_dataset"] for r in records):
        content = {}
        for worm in dict.fromkeys(r["worm"] for r in records if r["source_dataset"] == dataset):
            rows = [r for r in records if r["source_dataset"] == dataset and r["worm"] == worm]
            time = rows[0]["time_in_seconds"]
            slots = rng.permutation(302)
            matrix = np.zeros((time.size, 302))
            labeled, unlabeled = {}, {}
            for k, row in enumerate(rows):
                matrix[:, slots[k]] = row["calcium_data"]
                (labeled if row["is_labeled_neuron"] else unlabeled)[row["neuron"]] = (
                    int(slots[k]))
            if as_torch:
                import torch

                matrix, time = torch.from_numpy(matrix), torch.from_numpy(time[:, None])
            content[worm] = {
                "source_dataset": dataset, "calcium_data": matrix, "time_in_seconds": time,
                "neuron_to_slot": {**labeled, **unlabeled},
                "unlabeled_neuron_to_slot": unlabeled, "max_timesteps": len(time),
            }
        with open(folder / f"{dataset}.pickle", "wb") as f:
            pickle.dump(content, f)
    return folder


def _expected(records: list[dict], step: float, transform=None) -> dict:
    """Reference: np.interp of each labelled series onto k * step from the worm's start."""
    labelled = [r for r in records if r["is_labeled_neuron"]]
    t_max = max(r["time_in_seconds"][-1] - r["time_in_seconds"][0] for r in labelled)
    grid = np.arange(0.0, t_max + step / 2, step)
    grid = grid[grid <= t_max + 1e-9]
    out = {}
    for r in labelled:
        t = r["time_in_seconds"] - r["time_in_seconds"][0]
        inside = grid <= t[-1]
        y = np.full(grid.size, np.nan)
        y[inside] = np.interp(grid[inside], t, r["calcium_data"])
        if transform is not None:
            y[inside] = transform(y[inside])
        out[(f"{r['source_dataset']}/{r['worm']}", r["neuron"])] = y
    return {"grid": grid, "series": out}


def _compare(da: xr.DataArray, expected: dict) -> None:
    np.testing.assert_allclose(da.time.values, expected["grid"], rtol=0, atol=1e-9)
    assert da.dims == ("subject", "time", "unit")
    assert tuple(da.unit.values) == NEURONS
    recorded = np.zeros(da.recorded.shape, dtype=bool)
    subjects = list(da.subject.values)
    for (subject, neuron), y in expected["series"].items():
        got = da.sel(subject=subject, unit=neuron).values
        np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-5, equal_nan=True)
        recorded[subjects.index(subject), NEURONS.index(neuron)] = True
    np.testing.assert_array_equal(da.recorded.values, recorded)
    assert np.isnan(da.values[~np.broadcast_to(recorded[:, None, :], da.shape)]).all()


def test_activity_parquet(tmp_path, rng):
    records = _worms(rng)
    path = _write_parquet(records, tmp_path / "worms.parquet")
    da = check_loader(load_celegans_activity, path, tmp_path, modality="celegans")
    _compare(da, _expected(records, 0.333))
    assert list(da.subject.values) == ["Kato2015/worm0", "Kato2015/worm1", "Yemini2021/worm0"]
    assert list(da.dataset.values) == ["Kato2015", "Kato2015", "Yemini2021"]
    assert da.attrs["sampling_rate"] == pytest.approx(1 / 0.333)
    assert da.attrs["units"] == "a.u." and da.dtype == np.float32
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert da.attrs["source"] == f"worms.parquet sha256:{digest}"
    assert "17" not in da.unit.values
    first = records[0]
    assert da.duration.sel(subject="Kato2015/worm0") == pytest.approx(
        first["time_in_seconds"][-1] - first["time_in_seconds"][0])


@pytest.mark.parametrize("as_torch", [False, True])
def test_activity_pickles(tmp_path, rng, as_torch):
    records = _worms(rng)
    folder = _write_pickles(records, tmp_path / "neural", rng, as_torch=as_torch)
    da = check_loader(load_celegans_activity, folder, tmp_path, modality="celegans", step=0.5)
    _compare(da, _expected(records, 0.5))
    one = load_celegans_activity(folder / "Yemini2021.pickle", step=0.5)
    assert list(one.subject.values) == ["Yemini2021/worm0"]


def test_activity_pickle_mapping_variants(tmp_path, rng):
    records = [r for r in _worms(rng) if r["is_labeled_neuron"]]
    folder = _write_pickles(records, tmp_path / "neural", rng)
    for file in folder.iterdir():
        content = pickle.loads(file.read_bytes())
        for worm in content.values():
            worm["named_neuron_to_slot"] = worm.pop("neuron_to_slot")
            worm["signal"] = worm.pop("calcium_data")
            del worm["unlabeled_neuron_to_slot"], worm["source_dataset"]
        file.write_bytes(pickle.dumps(content))
    da = load_celegans_activity(folder, columns={"calcium_data": "signal"})
    _compare(da, _expected(records, 0.333))


def _zscore(y):
    return (y - y.mean()) / y.std()


def _causal(y):
    out = np.zeros_like(y)
    for t in range(y.size):
        seg = y[: t + 1]
        s = seg.std()
        out[t] = (y[t] - seg.mean()) / s if s > 0 else 0.0
    return out


def _ema(width, step):
    def smooth(y):
        a = 1 - np.exp(-step / width)
        out = np.empty_like(y)
        out[0] = y[0]
        for n in range(1, y.size):
            out[n] = a * y[n] + (1 - a) * out[n - 1]
        return out
    return smooth


def _gauss(width, step):
    def smooth(y):
        out = np.empty_like(y)
        for n in range(y.size):
            lags = (np.arange(y.size) - n) * step
            w = np.exp(-0.5 * (lags / width) ** 2) * (np.abs(lags) <= 4 * width + 1e-9)
            out[n] = np.sum(w * y) / np.sum(w)
        return out
    return smooth


def _steps(smoothing=None, width=None, normalizing=None):
    """Loading, then the explicit preprocessing steps (brainbridge.analyses.smooth / normalize)."""
    def run(da):
        if smoothing is not None:
            da = smooth(da, kind=smoothing, **({} if width is None else {"width": width}))
        if normalizing is not None:
            da = normalize(da, method=normalizing)
        return da
    return run


@pytest.mark.parametrize("steps, transform, units", [
    (_steps(normalizing="zscore"), _zscore, "z-score"),
    (_steps(normalizing="causal"), _causal, "z-score"),
    (_steps("exponential", 0.8), _ema(0.8, 0.333), "a.u."),
    (_steps("exponential"), _ema(1.0, 0.333), "a.u."),
    (_steps("gaussian", 0.5), _gauss(0.5, 0.333), "a.u."),
    (_steps("gaussian", 8.0), _gauss(8.0, 0.333), "a.u."),  # > series
    (_steps("exponential", 2.0, "causal"), lambda y: _causal(_ema(2.0, 0.333)(y)), "z-score"),
])
def test_activity_processing(tmp_path, rng, steps, transform, units):
    """The numbers the loader's smooth= / normalize= gave, now from the separate analyses steps."""
    records = _worms(rng)
    path = _write_parquet(records, tmp_path / "worms.parquet")
    raw = check_loader(load_celegans_activity, path, tmp_path, modality="celegans")
    before = raw.copy(deep=True)
    da = steps(raw)
    _compare(da, _expected(records, 0.333, transform))
    assert da.attrs["units"] == units and da.dtype == np.float32
    xr.testing.assert_identical(raw, before)  # the steps return new objects
    check_assembly(da, tmp_path, modality="celegans")


def test_activity_constant_series_normalises_to_zero(tmp_path):
    time = np.arange(10) * 0.333
    records = [dict(source_dataset="D", worm="w", neuron="AVAL", is_labeled_neuron=True,
                    time_in_seconds=time, calcium_data=np.full(10, 2.5))]
    path = _write_parquet(records, tmp_path / "flat.parquet")
    for method in ("zscore", "causal"):
        da = normalize(load_celegans_activity(path), method=method)
        np.testing.assert_array_equal(da.sel(unit="AVAL").values, 0)


def test_activity_nan_samples_are_bridged(tmp_path):
    time = np.arange(8) * 1.0
    values = np.array([np.nan, 1.0, 2.0, np.nan, 4.0, 5.0, np.nan, np.nan])
    records = [dict(source_dataset="D", worm="w", neuron="AVAL", is_labeled_neuron=True,
                    time_in_seconds=time, calcium_data=values)]
    da = load_celegans_activity(_write_parquet(records, tmp_path / "gaps.parquet"), step=1.0)
    expected = [np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, np.nan, np.nan]
    np.testing.assert_array_equal(da.sel(unit="AVAL").values[0], expected)


def test_activity_datasets_and_columns(tmp_path, rng):
    records = _worms(rng)
    rename = {"calcium_data": "original_calcium_data", "neuron": "label"}
    path = _write_parquet(records, tmp_path / "worms.parquet", rename)
    da = load_celegans_activity(path, datasets=["Yemini2021"], columns=rename)
    kept = [r for r in records if r["source_dataset"] == "Yemini2021"]
    _compare(da, _expected(kept, 0.333))
    parts = tmp_path / "parts"
    parts.mkdir()
    for dataset in ("Kato2015", "Yemini2021"):
        _write_parquet([r for r in records if r["source_dataset"] == dataset],
                       parts / f"{dataset}.parquet")
    _compare(check_loader(load_celegans_activity, parts, tmp_path, modality="celegans",
                          datasets=["Yemini2021", "Kato2015"]), _expected(records, 0.333))
    _compare(load_celegans_activity(parts, datasets="Yemini2021"), _expected(kept, 0.333))
    folder = _write_pickles(records, tmp_path / "neural", rng)
    from_pickle = load_celegans_activity(folder, datasets=["Yemini2021"])
    _compare(from_pickle, _expected(kept, 0.333))
    msg = (f"Invalid value for 'datasets': 'Flavell2023' not found in {str(folder)!r}; it "
           "holds 'Kato2015', 'Yemini2021'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(folder, datasets=["Flavell2023"])
    msg = (f"Invalid value for 'datasets': 'Flavell2023' not found in {str(path)!r}; it "
           "holds 'Kato2015', 'Yemini2021'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(path, datasets=["Flavell2023"], columns={"neuron": "label",
                               "calcium_data": "original_calcium_data"})


def test_activity_unknown_neurons(tmp_path, rng):
    records = _worms(rng)
    records.append(dict(records[0], neuron="AVAX"))
    records.append(dict(records[0], neuron="FOO"))
    path = _write_parquet(records, tmp_path / "worms.parquet")
    msg = (f"Unknown neuron name(s) in {str(path)!r}: 'AVAX' (did you mean 'AVAR'?), 'FOO'. "
           "Names must be among the 302 canonical neurons (brainbridge.loaders.NEURONS); "
           "pass unknown='drop' to skip them.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(path)
    da = load_celegans_activity(path, unknown="drop")
    _compare(da, _expected(records[:-2], 0.333))


def test_activity_errors(tmp_path, rng):
    records = _worms(rng)
    path = _write_parquet(records, tmp_path / "worms.parquet")
    cases = [
        ({"step": 0}, "Invalid value for 'step': expected a positive number of seconds; "
                      "got 0."),
        ({"unknown": "ignore"}, "Invalid value for 'unknown': expected one of 'raise', 'drop'; "
                                "got 'ignore'."),
        ({"columns": {"trace": "x"}}, "Invalid value for 'columns': expected one of "
                                      "'source_dataset', 'worm', 'neuron', "
                                      "'is_labeled_neuron', 'time_in_seconds', "
                                      "'calcium_data'; got 'trace'."),
    ]
    for kwargs, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            load_celegans_activity(path, **kwargs)
    renamed = _write_parquet(records, tmp_path / "renamed.parquet", {"worm": "animal"})
    msg = (f"The parquet file {str(renamed)!r} has no column 'worm'; its columns are "
           "'source_dataset', 'animal', 'neuron', 'is_labeled_neuron', 'time_in_seconds', "
           "'calcium_data'. Map the names with columns={'worm': '<column>'}.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(renamed)
    duplicated = _write_parquet(records + [records[0]], tmp_path / "dup.parquet")
    msg = (f"Invalid source: neuron {records[0]['neuron']!r} appears more than once for worm "
           "'Kato2015/worm0'; each dataset x worm x neuron must be one series.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(duplicated)
    backwards = dict(records[0], time_in_seconds=records[0]["time_in_seconds"][::-1].copy())
    bad_time = _write_parquet([backwards], tmp_path / "backwards.parquet")
    msg = (f"Invalid series Kato2015/worm0 {records[0]['neuron']}: time_in_seconds is not "
           "finite and strictly increasing; resampling needs increasing sample times.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(bad_time)
    short = dict(records[0], calcium_data=records[0]["calcium_data"][:-1])
    bad_len = _write_parquet([short], tmp_path / "short.parquet")
    n = records[0]["time_in_seconds"].size
    msg = (f"Invalid series Kato2015/worm0 {records[0]['neuron']}: {n - 1} values but {n} "
           "time points; they must have the same length.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(bad_len)
    text = tmp_path / "worms.csv"
    text.write_text("x", encoding="utf-8")
    msg = (f"Invalid value for 'source': expected a homogenized activity file ending in "
           f".parquet, .pickle, .pkl; got {str(text)!r}. Rename the file if its content has "
           "one of these formats.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    msg = (f"Invalid value for 'source': the folder {str(empty)!r} holds no .parquet, "
           ".pickle or .pkl file.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(empty)
    unlabeled = _write_parquet([r for r in records if not r["is_labeled_neuron"]],
                               tmp_path / "unlabeled.parquet")
    msg = (f"Invalid value for 'source': found no labelled neuron series in "
           f"{str(unlabeled)!r}.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(unlabeled)
    not_dict = tmp_path / "list.pickle"
    not_dict.write_bytes(pickle.dumps([1, 2]))
    msg = (f"Invalid pickle {str(not_dict)!r}: expected a dict of worm id -> dict with "
           "'calcium_data', 'time_in_seconds' and a neuron -> slot mapping (the preprocessing "
           "pipeline's per-dataset layout); got list.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(not_dict)
    no_map = tmp_path / "nomap.pickle"
    no_map.write_bytes(pickle.dumps({"worm0": {"calcium_data": np.zeros((3, 2)),
                                               "time_in_seconds": np.arange(3.0)}}))
    msg = (f"Invalid pickle {str(no_map)!r}, worm 'worm0': missing a neuron -> slot mapping "
           "(labeled_neuron_to_slot, named_neuron_to_slot, neuron_to_slot); it has keys "
           "'calcium_data', 'time_in_seconds'. Map the names with columns={...}.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        load_celegans_activity(no_map)


# --------------------------------------------------------------------------- damaged files (issue 15)


def _write_small_atlas(path: Path, rng) -> Path:
    """A funatlas.h5 in the atlas layout (h5py), three neurons, no per-trial amplitudes."""
    import h5py

    with h5py.File(path, "w") as f:
        f["neuron_ids"] = np.array([b"AVAL", b"AVAR", b"AVDL"])
        group = f.create_group("wt")
        for key in ("dFF", "q", "q_eq", "occ1"):
            group[key] = rng.uniform(size=(3, 3))
    return path


@pytest.mark.parametrize("fmt", ["parquet", "pickle", "json", "h5"])
def test_damaged_files(fmt, tmp_path, rng):
    good = tmp_path / "good"
    good.mkdir()
    if fmt == "parquet":
        path, load, kwargs = good / "worms.parquet", load_celegans_activity, {}
        _write_parquet(_worms(rng), path)
        name = "Parquet"
    elif fmt == "pickle":
        folder = _write_pickles(_worms(rng), good / "pickles", rng)
        path, load, kwargs = folder / "Kato2015.pickle", load_celegans_activity, {}
        name = "a pickle"
    elif fmt == "json":
        path, load, kwargs = good / "conn.json", load_celegans_connectome, {}
        _write_cect(path, ["AVAL", "AVAR"], Generic_CS=[[0, 1], [2, 0]])
        name = "JSON"
    else:
        path = _write_small_atlas(good / "funatlas.h5", rng)
        kwargs = {"trials": False}

        def load(source, **kw):
            return load_celegans_funatlas("wt", source=source, **kw)

        name = "HDF5 (the funatlas.h5 layout)"
    assert load(path, **kwargs) is not None
    other = b'{"nodes": []}' if fmt != "json" else pickle.dumps({"nodes": []})
    errors = check_bad_files(load, path, tmp_path, other=other, **kwargs)
    for kind, err in errors.items():
        damaged = tmp_path / f"damaged-{kind}" / path.name
        assert str(err) == bad_file_message(damaged, name, err.__cause__), kind
