"""Encoding scores, split-half ceilings and variance partitioning against numpy / scipy / sklearn.

Tolerances: statistics computed from the same held-out predictions agree to 1e-10
(float64 sums in a different order); estimates of known population values (reliability,
variance parts) to the stated absolute tolerance, set from the sampling error of the
synthetic problem.
"""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest
import xarray as xr
from scipy.stats import pearsonr
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, ShuffleSplit

import brainbridge as bb
from brainbridge.analyses import (
    encoding_score,
    spearman_brown,
    split_half_ceiling,
    variance_partitioning,
)
from brainbridge.encoders import lagged

RIDGE = RidgeCV(alphas=np.logspace(-2, 4, 7), alpha_per_target=True)


def _problem(rng, n=120, p=6, u=4, noise=1.0, dim="stimulus", **resp_coords):
    x = rng.normal(size=(n, p))
    y = x @ rng.normal(size=(p, u)) + noise * rng.normal(size=(n, u))
    kw = {"sampling_rate": 10.0} if dim == "time" else {}
    feats = bb.assembly(x, dims=(dim, "unit"), modality="ann", **kw)
    resp = bb.assembly(y, dims=(dim, "unit"), modality="fmri", coords=resp_coords, **kw)
    return feats, resp


def _reference_predictions(x, y, folds, encoder):
    pred = np.full(y.shape, np.nan)
    for train, test in folds:
        pred[test] = encoder.fit(x[train], y[train]).predict(x[test])
    return pred


def _folds_from(fold):
    idx = np.arange(fold.size)
    return [(idx[fold != k], idx[fold == k]) for k in np.unique(fold[fold >= 0])]


# ---------------------------------------------------------------------------------------
# Scores against scipy / sklearn
# ---------------------------------------------------------------------------------------

def test_r_and_r2_match_scipy_and_sklearn_on_concatenated_predictions(rng):
    feats, resp = _problem(rng, dim="time")
    scores = encoding_score(feats, resp, encoder=RIDGE, cv=4)
    # time without groups: contiguous, unshuffled KFold
    folds = list(KFold(4).split(feats.values))
    np.testing.assert_array_equal(scores["fold"].values, np.repeat(np.arange(4), 30))
    y = resp.values
    pred = _reference_predictions(feats.values, y, folds, RIDGE)
    ref_r = [pearsonr(y[:, j], pred[:, j])[0] for j in range(y.shape[1])]
    ref_r2 = r2_score(y, pred, multioutput="raw_values")
    np.testing.assert_allclose(scores["r"].values, ref_r, rtol=0, atol=1e-10)
    np.testing.assert_allclose(scores["r2"].values, ref_r2, rtol=0, atol=1e-10)
    assert scores.attrs["cv"] == "KFold(n_splits=4, shuffle=False): contiguous blocks of 'time'"
    assert scores.attrs["encoder"] == repr(RIDGE)
    assert scores.attrs["ceiling_method"] == "none"
    assert np.isnan(scores["ceiling"]).all() and np.isnan(scores["normalized"]).all()


def test_stimulus_folds_are_shuffled_and_reproducible(rng):
    feats, resp = _problem(rng)
    a = encoding_score(feats, resp, encoder=RIDGE, random_state=3)
    b = encoding_score(feats, resp, encoder=RIDGE, random_state=3)
    xr.testing.assert_identical(a, b)
    fold = a["fold"].values
    assert np.any(np.diff(fold) < 0)  # not contiguous blocks
    assert sorted(np.bincount(fold).tolist()) == [24] * 5
    y = resp.values
    pred = _reference_predictions(feats.values, y, _folds_from(fold), RIDGE)
    np.testing.assert_allclose(a["r2"].values, r2_score(y, pred, multioutput="raw_values"),
                               rtol=0, atol=1e-10)


def test_alignment_and_unit_coords_kept(rng):
    feats, resp = _problem(rng, region=("unit", ["V1", "V1", "V4", "IT"]),
                           x=("unit", [1.0, 2.0, 3.0, 4.0]))
    folds = [(np.arange(60, 120), np.arange(60)), (np.arange(60), np.arange(60, 120))]
    ref = encoding_score(feats, resp, encoder=RIDGE, cv=folds)
    # features in another order and with extra stimuli give the same scores
    order = rng.permutation(120)
    extra = bb.assembly(rng.normal(size=(5, 6)), dims=("stimulus", "unit"), modality="ann",
                        coords={"stimulus": [f"extra{i}" for i in range(5)]})
    shuffled = xr.concat([feats.isel(stimulus=order), extra], dim="stimulus")
    got = encoding_score(shuffled, resp, encoder=RIDGE, cv=folds)
    np.testing.assert_allclose(got["r"].values, ref["r"].values, rtol=0, atol=1e-12)
    assert got["region"].values.tolist() == ["V1", "V1", "V4", "IT"]
    assert got["x"].values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert got["unit"].values.tolist() == ["0", "1", "2", "3"]
    assert got.attrs["cv"] == "2 user-given folds"


def test_arrays_are_accepted(rng):
    feats, resp = _problem(rng)
    folds = list(KFold(3).split(feats.values))
    a = encoding_score(feats.values, resp.values, encoder=RIDGE, cv=folds)
    b = encoding_score(feats, resp, encoder=RIDGE, cv=folds)
    np.testing.assert_allclose(a["r"].values, b["r"].values, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------
# Cross-validation respects groups
# ---------------------------------------------------------------------------------------

def test_group_folds_never_split_a_run(rng):
    feats, resp = _problem(rng, n=120, dim="time")
    runs = np.repeat(np.arange(8), 15)
    resp = resp.assign_coords(run=("time", runs))
    scores = encoding_score(feats, resp, encoder=RIDGE, cv=3)  # 'run' coord found
    fold = scores["fold"].values
    assert scores.attrs["cv"] == "GroupKFold(n_splits=3) over 'run' (8 groups)"
    for k in range(3):
        train, test = set(runs[fold != k]), set(runs[fold == k])
        assert train.isdisjoint(test)
    for run in range(8):
        assert np.unique(fold[runs == run]).size == 1
    # at most cv groups: leave one group out
    few = np.repeat(["r1", "r2", "r3"], 40)
    scores = encoding_score(feats, resp.drop_vars("run"), encoder=RIDGE, cv=5, groups=few)
    assert scores.attrs["cv"] == "LeaveOneGroupOut() over 'groups' (3 groups)"
    for k in range(3):
        assert np.unique(few[scores["fold"].values == k]).size == 1


def test_groups_from_a_features_coord(rng):
    feats, resp = _problem(rng, n=60)
    blocks = np.repeat(np.arange(6), 10)
    feats = feats.assign_coords(block=("stimulus", blocks))
    scores = encoding_score(feats, resp.isel(stimulus=rng.permutation(60)), encoder=RIDGE, cv=3)
    fold = scores["fold"]
    block_of = dict(zip(feats["stimulus"].values, blocks))
    by_block: dict = {}
    for stim, k in zip(fold["stimulus"].values, fold.values):
        by_block.setdefault(block_of[stim], set()).add(int(k))
    assert all(len(v) == 1 for v in by_block.values())


def test_leaky_splitter_is_refused(rng):
    feats, resp = _problem(rng, n=40, dim="time")
    runs = np.repeat([0, 1, 2, 3], 10)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'cv': fold 0 puts group(s) ['1'] of 'groups' in both train and "
            "test, which leaks them. Use a group splitter (GroupKFold, LeaveOneGroupOut) or an "
            "int.")):
        encoding_score(feats, resp, encoder=RIDGE, cv=KFold(3), groups=runs)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'cv': fold 1 tests samples already tested in another fold; "
            "held-out predictions are concatenated, so test sets must be disjoint (use KFold "
            "/ GroupKFold rather than ShuffleSplit).")):
        encoding_score(feats, resp, encoder=RIDGE,
                       cv=ShuffleSplit(n_splits=3, test_size=0.5, random_state=0))


# ---------------------------------------------------------------------------------------
# Noise ceilings
# ---------------------------------------------------------------------------------------

def test_spearman_brown_closed_form():
    r = np.array([-0.3, 0.0, 0.2, 0.5, 0.9])
    np.testing.assert_allclose(spearman_brown(r), 2 * r / (1 + r), rtol=1e-15)
    np.testing.assert_allclose(spearman_brown(r, 4), 4 * r / (1 + 3 * r), rtol=1e-15)
    assert spearman_brown(0.5) == pytest.approx(2 / 3, rel=1e-15)


def test_split_half_matches_explicit_loop(rng):
    data = rng.normal(size=(30, 1, 3)) + rng.normal(size=(30, 7, 3))  # odd trial count
    resp = bb.assembly(data, dims=("stimulus", "trial", "unit"), modality="ephys",
                       coords={"region": ("unit", ["a", "b", "c"])})
    got = split_half_ceiling(resp, n_splits=6, random_state=11)
    ref_rng = np.random.default_rng(11)
    per_split = []
    for _ in range(6):
        perm = ref_rng.permutation(7)
        h1, h2 = data[:, perm[:3]].mean(axis=1), data[:, perm[3:6]].mean(axis=1)
        r = np.array([pearsonr(h1[:, j], h2[:, j])[0] for j in range(3)])
        per_split.append(2 * r / (1 + r))
    np.testing.assert_allclose(got.values, np.mean(per_split, axis=0), rtol=0, atol=1e-12)
    assert got["region"].values.tolist() == ["a", "b", "c"]
    assert got.attrs["n_trials"] == 7 and got.attrs["n_splits"] == 6


@pytest.mark.parametrize(("n_trials", "noise_var"), [(4, 1.0), (10, 4.0), (2, 0.5)])
def test_split_half_recovers_known_reliability(rng, n_trials, noise_var):
    """signal var 1, noise var s2 per trial: the n-trial mean has reliability 1/(1 + s2/n)."""
    n_stim, n_unit = 2000, 5
    signal = rng.normal(size=(n_stim, 1, n_unit))
    data = signal + np.sqrt(noise_var) * rng.normal(size=(n_stim, n_trials, n_unit))
    got = split_half_ceiling(data, n_splits=10, random_state=0)
    expected = 1.0 / (1.0 + noise_var / n_trials)
    np.testing.assert_allclose(got.values, expected, atol=0.03)


def test_ceiling_normalisation_conventions(rng):
    """A model that predicts the signal exactly has r2 ~ ceiling and r ~ sqrt(ceiling)."""
    n_stim, n_trials = 1500, 6
    signal = rng.normal(size=(n_stim, 3)) * np.array([1.0, 0.7, 0.4])
    data = signal[:, None, :] + rng.normal(size=(n_stim, n_trials, 3))
    resp = bb.assembly(data, dims=("stimulus", "trial", "unit"), modality="ephys")
    feats = bb.assembly(signal, dims=("stimulus", "unit"), modality="ann")
    scores = encoding_score(feats, resp, encoder=LinearRegression(), random_state=0)
    assert scores.attrs["ceiling_method"] == "split_half"
    expected_rho = signal.var(axis=0) / (signal.var(axis=0) + 1.0 / n_trials)
    np.testing.assert_allclose(scores["ceiling"].values, expected_rho, atol=0.03)
    np.testing.assert_allclose(scores["normalized_r2"].values, 1.0, atol=0.05)
    np.testing.assert_allclose(scores["r"].values, np.sqrt(scores["ceiling"].values), atol=0.03)
    np.testing.assert_allclose(scores["normalized"].values,
                               scores["r"].values / scores["ceiling"].values, rtol=1e-15)
    np.testing.assert_allclose(scores["normalized_r2"].values,
                               scores["r2"].values / scores["ceiling"].values, rtol=1e-15)
    # fitted to and scored on the trial mean
    pred = _reference_predictions(signal, data.mean(axis=1), _folds_from(scores["fold"].values),
                                  LinearRegression())
    np.testing.assert_allclose(scores["r2"].values,
                               r2_score(data.mean(axis=1), pred, multioutput="raw_values"),
                               rtol=0, atol=1e-10)
    # a precomputed ceiling (DataArray, any unit order) is used as given
    ceil = split_half_ceiling(resp, n_splits=3, random_state=1)
    given = encoding_score(feats, resp, encoder=LinearRegression(), random_state=0,
                           ceiling=ceil.isel(unit=[2, 0, 1]))
    np.testing.assert_array_equal(given["ceiling"].values, ceil.values)
    assert given.attrs["ceiling_method"] == "given"


# ---------------------------------------------------------------------------------------
# Variance partitioning
# ---------------------------------------------------------------------------------------

def _explicit_three(r2):
    A, B, C = "A", "B", "C"
    R = {frozenset(k.split("+")): v for k, v in r2.items()}
    g = lambda *s: R[frozenset(s)]  # noqa: E731
    return {
        "A_only": g(A, B, C) - g(B, C), "B_only": g(A, B, C) - g(A, C),
        "C_only": g(A, B, C) - g(A, B),
        "A∩B": g(A, C) + g(B, C) - g(C) - g(A, B, C),
        "A∩C": g(A, B) + g(B, C) - g(B) - g(A, B, C),
        "B∩C": g(A, B) + g(A, C) - g(A) - g(A, B, C),
        "A∩B∩C": g(A) + g(B) + g(C) - g(A, B) - g(A, C) - g(B, C) + g(A, B, C),
    }


def test_variance_partitioning_two_spaces_known_parts(rng):
    n = 3000
    shared, only_a, only_b, noise = rng.normal(size=(4, n, 1))
    # unit 0: 0.2 A-only, 0.3 B-only, 0.4 shared, 0.1 noise; unit 1: only A
    y = np.hstack([np.sqrt(0.2) * only_a + np.sqrt(0.3) * only_b + np.sqrt(0.4) * shared
                   + np.sqrt(0.1) * noise, only_a + np.sqrt(0.25) * noise])
    spaces = {"A": np.hstack([shared, only_a]), "B": np.hstack([shared, only_b])}
    vp = variance_partitioning(spaces, y, encoder=LinearRegression(), random_state=0)
    assert vp["partition"].values.tolist() == ["A_only", "B_only", "A∩B"]
    assert vp["model"].values.tolist() == ["A", "B", "A+B"]
    v = vp["variance"]
    np.testing.assert_allclose(v.sel(unit="0").values, [0.2, 0.3, 0.4], atol=0.03)
    np.testing.assert_allclose(v.sel(unit="1").values, [0.8, 0.0, 0.0], atol=0.03)
    r2 = vp["r2"]
    np.testing.assert_allclose(v.sel(partition="A∩B").values,
                               r2.sel(model="A") + r2.sel(model="B") - r2.sel(model="A+B"),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(v.sum("partition").values, r2.sel(model="A+B").values,
                               rtol=0, atol=1e-12)
    # each subset's R^2 is encoding_score's on the union of its columns, same folds
    folds = _folds_from(vp["fold"].values)
    ab = encoding_score(np.hstack([spaces["A"], spaces["B"]]), y, encoder=LinearRegression(),
                        cv=folds)
    np.testing.assert_allclose(ab["r2"].values, r2.sel(model="A+B").values, rtol=0,
                               atol=1e-12)


def test_variance_partitioning_three_spaces(rng):
    n = 3000
    z = {k: rng.normal(size=(n, 1)) for k in ["a", "b", "c", "ab", "abc", "e"]}
    parts = {"A_only": 0.15, "B_only": 0.1, "C_only": 0.2, "A∩B": 0.15, "A∩B∩C": 0.25}
    y = (np.sqrt(0.15) * z["a"] + np.sqrt(0.1) * z["b"] + np.sqrt(0.2) * z["c"]
         + np.sqrt(0.15) * z["ab"] + np.sqrt(0.25) * z["abc"] + np.sqrt(0.15) * z["e"])
    spaces = {"A": np.hstack([z["a"], z["ab"], z["abc"]]),
              "B": np.hstack([z["b"], z["ab"], z["abc"]]),
              "C": np.hstack([z["c"], z["abc"]])}
    groups = np.repeat(np.arange(10), n // 10)
    vp = variance_partitioning(spaces, y, encoder=LinearRegression(), cv=5, groups=groups)
    labels = vp["partition"].values.tolist()
    assert labels == ["A_only", "B_only", "C_only", "A∩B", "A∩C", "B∩C", "A∩B∩C"]
    assert vp["n_spaces"].values.tolist() == [1, 1, 1, 2, 2, 2, 3]
    r2 = {m: vp["r2"].sel(model=m).values for m in vp["model"].values}
    explicit = _explicit_three(r2)
    for label in labels:
        np.testing.assert_allclose(vp["variance"].sel(partition=label).values, explicit[label],
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(vp["variance"].sel(partition=label).values,
                                   parts.get(label, 0.0), atol=0.03)
    for run in range(10):
        assert np.unique(vp["fold"].values[groups == run]).size == 1


# ---------------------------------------------------------------------------------------
# Default encoder and errors
# ---------------------------------------------------------------------------------------

def test_default_encoder_import_error_is_explicit(rng, monkeypatch):
    encoders = importlib.import_module("brainbridge.encoders")
    if "RidgeEncoder" in vars(encoders):  # cached by an earlier import
        monkeypatch.delattr(encoders, "RidgeEncoder")

    def missing(name):
        raise ModuleNotFoundError("No module named 'brainbridge.encoders._ridge'")

    monkeypatch.setattr(encoders, "__getattr__", missing)
    feats, resp = _problem(rng)
    with pytest.raises(ImportError, match=re.escape(
            "encoding_score's default encoder, brainbridge.encoders.RidgeEncoder, could not be "
            "imported (ModuleNotFoundError: No module named 'brainbridge.encoders._ridge'). "
            "Pass an estimator explicitly, e.g. encoder=sklearn.linear_model.RidgeCV("
            "alphas=np.logspace(-2, 5, 8), alpha_per_target=True).")):
        encoding_score(feats, resp)


def test_default_encoder_runs_when_available(rng):
    pytest.importorskip("brainbridge.encoders._ridge")
    feats, resp = _problem(rng, noise=0.3)
    scores = encoding_score(feats, resp, random_state=0)
    assert "RidgeEncoder" in scores.attrs["encoder"]
    assert bool((scores["r"] > 0.8).all())


def test_errors(rng):
    feats, resp = _problem(rng, n=20)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for 'encoder': expected a scikit-learn estimator with fit and "
            "predict (e.g. brainbridge.encoders.RidgeEncoder()); got str.")):
        encoding_score(feats, resp, encoder="ridge")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'cv': expected an int >= 2 folds, a scikit-learn splitter or a "
            "list of (train, test); got 1.")):
        encoding_score(feats, resp, encoder=RIDGE, cv=1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'ceiling': expected one of 'split_half', 'none'; got 'splithalf'. "
            "Did you mean 'split_half'?")):
        encoding_score(feats, resp, encoder=RIDGE, ceiling="splithalf")
    with pytest.raises(bb.AssemblyError, match=re.escape(
            "'responses' has no 'trial' dim (dims ('stimulus', 'unit')); a split-half ceiling "
            "needs repeated trials. Stack repeats into a 'trial' dim or pass ceiling='none'.")):
        encoding_score(feats, resp, encoder=RIDGE, ceiling="split_half")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'groups': no coord 'run' along 'stimulus' in 'responses' or "
            "'features'; coords along 'stimulus' are []. Add one with "
            "da.assign_coords(run=('stimulus', ids)) or pass one id per sample.")):
        encoding_score(feats, resp, encoder=RIDGE, groups="run")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'groups': cross-validation needs at least 2 groups; 'groups' "
            "has 1. Pass groups=... with more runs or blocks.")):
        encoding_score(feats, resp, encoder=RIDGE, groups=np.zeros(20))
    bad = resp.copy(data=np.where(np.arange(20)[:, None] == 3, np.nan, resp.values))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'responses': expected finite numbers; got 4 NaN of 80 entries, "
            "the first at stimulus='3', unit='0'. Encoding models need complete data. Drop "
            "incomplete units (da.dropna('unit')) or fill them first.")):
        encoding_score(feats, bad, encoder=RIDGE)
    trials = bb.assembly(np.zeros((20, 2, 3)), dims=("stimulus", "trial", "unit"),
                         modality="ann")
    with pytest.raises(bb.AssemblyError, match=re.escape(
            "'features' must have dims 'stimulus' and 'unit'; got ('stimulus', 'trial', "
            "'unit'). Select or average the other dims first (e.g. da.mean('subject')).")):
        encoding_score(trials, resp, encoder=RIDGE)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'features': expected a dict of 2 or 3 named feature spaces, "
            "e.g. {'vision': a, 'audio': b}; got dict of 1.")):
        variance_partitioning({"A": feats}, resp, encoder=RIDGE)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'features': space names may not be empty or contain '∩', '+' "
            "or '_only'; got ['A+B'].")):
        variance_partitioning({"A+B": feats, "C": feats}, resp, encoder=RIDGE)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_splits': expected an integer >= 1; got 0.")):
        split_half_ceiling(trials, n_splits=0)


# ---------------------------------------------------------------------------------------
# Real data: the grasshopper auditory receptor (nitime)
# ---------------------------------------------------------------------------------------

GRASSHOPPER_DELAYS = range(0, 31)   # 0-30 ms at 1 ms bins
GRASSHOPPER_NULLS = 20


@pytest.mark.parametrize("condition", [1, 2])
def test_grasshopper_lagged_encoding_beats_shifted_stimulus_null(condition):
    """Stimulus envelope (1 ms bins, 0-30 ms of delays) -> spike count per 1 ms bin.

    Null: the stimulus circularly shifted by a random offset of 1-9 s (uniform in samples,
    seeded) before lagging, scored with the same encoder and folds; 20 shifts. The shift
    keeps the stimulus's own statistics and the spike train intact and only breaks their
    alignment.
    """
    from brainbridge.loaders import load_grasshopper

    spikes, stimulus = load_grasshopper(condition, bin_size=0.001)
    envelope = stimulus - stimulus.mean()
    encoder = RidgeCV(alphas=np.logspace(-1, 3, 5))
    score = encoding_score(lagged(envelope, GRASSHOPPER_DELAYS), spikes, encoder=encoder)
    r, r2 = float(score["r"][0]), float(score["r2"][0])
    null_rng = np.random.default_rng(condition)
    n = stimulus.sizes["time"]
    null = []
    for _ in range(GRASSHOPPER_NULLS):
        shift = int(null_rng.integers(n // 10, n - n // 10))
        shifted = envelope.copy(data=np.roll(envelope.values, shift, axis=0))
        null.append(float(encoding_score(lagged(shifted, GRASSHOPPER_DELAYS), spikes,
                                         encoder=encoder)["r"][0]))
    null = np.asarray(null)
    assert r > 0.3 and r2 > 0.1
    assert r > null.max() + 0.25
    assert r > null.mean() + 10 * null.std()


def test_aligned_by_id_and_non_real_features_raise(rng):
    """Issue #15, findings 4 and 11: permuted ids give the aligned score, disjoint ids and
    complex features raise."""
    feats, resp = _problem(rng, n=40)
    order = rng.permutation(40)
    ref = encoding_score(feats, resp, encoder=RIDGE, cv=4, random_state=0)
    got = encoding_score(feats.isel(stimulus=order), resp, encoder=RIDGE, cv=4, random_state=0)
    np.testing.assert_allclose(got["r"], ref["r"], rtol=1e-10)
    other = feats.assign_coords(stimulus=[f"z{i}" for i in range(40)])
    msg = "'responses' and 'features' share no 'stimulus' ids: 'responses' has ['0', '1'"
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        encoding_score(other, resp, encoder=RIDGE, cv=4)
    msg = ("Invalid type for 'features': expected real numbers; got dtype complex128. Pass the "
           "part you mean explicitly, e.g. np.abs(x) or x.real.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        encoding_score(feats.values + 1j, resp, encoder=RIDGE, cv=4)


def test_one_trial_split_half_ceiling_raises(rng):
    """Issue #15, finding 11: a 1-trial 'trial' dim is an error, never a NaN ceiling."""
    feats, _ = _problem(rng, n=30)
    resp = bb.assembly(rng.normal(size=(30, 1, 4)), dims=("stimulus", "trial", "unit"),
                       modality="fmri")
    msg = ("Invalid value for 'responses': a split-half ceiling needs at least 2 trials; got 1. "
           "Stack repeated presentations into the 'trial' dim, or pass ceiling='none'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        split_half_ceiling(resp)
    with pytest.raises(ValueError, match=re.escape(msg)):
        encoding_score(feats, resp, encoder=RIDGE, cv=3, ceiling="split_half")


def test_spearman_brown_input_rule():
    assert np.isnan(spearman_brown(np.nan))
    msg = ("Invalid value for 'r': expected finite numbers or NaN (a missing value); got 1 inf "
           "of 2 entries, the first at index 1.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        spearman_brown([0.5, np.inf])
    msg = "Invalid type for 'r': expected real numbers; got dtype <U3."
    with pytest.raises(TypeError, match=re.escape(msg)):
        spearman_brown(np.array(["0.5"]))
