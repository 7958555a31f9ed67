import re

import numpy as np
import pytest
import xarray as xr

from brainbridge.analyses import bootstrap, compare_rdms, noise_ceiling, permutation_test, rdm
from brainbridge.analyses._stats import _resample, pool_rdms

rsatoolbox = pytest.importorskip("rsatoolbox")
METHODS = ["cosine", "corr", "spearman", "rho_a", "kendall_tau_a", "cosine_cov", "corr_cov"]
RSA_NAMES = {"rho_a": "rho-a", "kendall_tau_a": "tau-a"}


def _subject_rdms(rng, n_subj=5, n_stim=12, n_units=30):
    shared = rng.normal(size=(n_stim, n_units))
    x = np.stack([shared + rng.normal(scale=1.5, size=shared.shape) for _ in range(n_subj)])
    da = xr.DataArray(x, dims=("subject", "stimulus", "unit"),
                      coords={"subject": [f"s{i}" for i in range(n_subj)],
                              "stimulus": [f"c{i}" for i in range(n_stim)],
                              "unit": [f"u{i}" for i in range(n_units)]})
    return rdm(da, method="correlation", device="cpu")


@pytest.mark.parametrize("method", METHODS)
def test_noise_ceiling_equals_rsatoolbox(rng, method):
    import warnings

    from rsatoolbox.inference import boot_noise_ceiling
    from rsatoolbox.rdm import RDMs

    r = _subject_rdms(rng)
    iu = np.triu_indices(r.sizes["stimulus"], k=1)
    vectors = r.values[:, iu[0], iu[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rsatoolbox warns that tau ceilings use mean ranks
        lower, upper = boot_noise_ceiling(RDMs(vectors), method=RSA_NAMES.get(method, method))
    nc = noise_ceiling(r, method=method)
    np.testing.assert_allclose([nc.lower, nc.upper], [lower, upper], rtol=1e-10)
    assert nc.lower <= nc.upper


def test_pool_corr_shifts_to_zero_minimum(rng):
    v = rng.normal(size=(3, 10))
    z = (v - v.mean(1, keepdims=True)) / v.std(1, keepdims=True)
    expected = z.mean(0) - z.mean(0).min()
    np.testing.assert_allclose(pool_rdms(v, method="corr"), expected)


@pytest.mark.parametrize("method", ["corr", "spearman", "cosine"])
def test_one_bootstrap_sample_equals_rsatoolbox(rng, method):
    from rsatoolbox.rdm import RDMs, compare

    r = _subject_rdms(rng, n_subj=3, n_stim=10)
    model = _subject_rdms(rng, n_subj=1, n_stim=10).isel(subject=0)
    idx = np.sort(rng.integers(0, 10, size=10))
    ours = compare_rdms(_resample(model.values[None], idx), _resample(r.values, idx),
                        method=method, device="cpu").values.mean()
    iu = np.triu_indices(10, k=1)
    data_r = RDMs(r.values[:, iu[0], iu[1]])
    model_r = RDMs(model.values[iu][None])
    theirs = np.mean(compare(model_r.subsample_pattern("index", idx),
                             data_r.subsample_pattern("index", idx), method))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_bootstrap_result(rng):
    data = _subject_rdms(rng, n_subj=4, n_stim=14)
    models = data.mean("subject").expand_dims(model=["truth"]).copy()
    noise = xr.DataArray(rng.permutation(models.values.ravel()).reshape(models.shape),
                         dims=models.dims, coords=models.coords)
    noise = (noise + noise.transpose(*noise.dims[:-2], "stimulus_", "stimulus").values) / 2
    for i in range(14):
        noise[0, i, i] = 0
    both = xr.concat([models, noise.assign_coords(model=["noise"])], dim="model")
    ds = bootstrap(both, data, method="corr", n_boot=60, random_state=0, progress=False)
    expected = compare_rdms(both, data, method="corr", device="cpu").mean("subject")
    np.testing.assert_allclose(ds["score"].values, expected.values)
    assert ds["score"].sel(model="truth") > ds["score"].sel(model="noise")
    assert ds["ci_low"].sel(model="truth") < ds["score"].sel(model="truth") < \
        ds["ci_high"].sel(model="truth")
    assert ds["p_pair"].sel(model="truth", model_="noise") < 0.05
    assert ds["boot"].shape == (60, 2) and np.isfinite(ds["boot"]).all()
    nc = noise_ceiling(data, method="corr")
    assert float(ds["noise_lower"]) == pytest.approx(nc.lower)
    np.testing.assert_allclose(ds["se"].values, ds["boot"].std("sample", ddof=1).values)
    again = bootstrap(both, data, method="corr", n_boot=60, random_state=0, progress=False)
    xr.testing.assert_identical(ds, again)
    subj = bootstrap(both, data, method="corr", n_boot=20, over="subject", random_state=1,
                     progress=False)
    assert subj.attrs["over"] == "subject" and np.isfinite(subj["boot"]).all()


def test_permutation_test(rng):
    data = _subject_rdms(rng, n_subj=2, n_stim=15)
    a, b = data.isel(subject=0), data.isel(subject=1)
    res = permutation_test(a, b, method="spearman", n_permutations=200, random_state=0)
    assert res.statistic == pytest.approx(float(compare_rdms(a, b, device="cpu")))
    assert res.p_value == (1 + np.sum(res.null >= res.statistic)) / 201
    assert res.p_value < 0.05
    unrelated = _subject_rdms(np.random.default_rng(99), n_subj=1, n_stim=15).isel(subject=0)
    unrelated = unrelated.assign_coords(stimulus=a["stimulus"].values,
                                        stimulus_=a["stimulus_"].values)
    assert permutation_test(a, unrelated, n_permutations=200, random_state=0).p_value > 0.05


def test_errors(rng):
    data = _subject_rdms(rng, n_subj=3, n_stim=8)
    msg = ("Invalid value for 'rdms': a noise ceiling needs at least 2 subject RDMs; got 1. "
           "Pass one RDM per subject along the subject dim.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        noise_ceiling(data.isel(subject=[0]))
    msg = "Invalid value for 'over': expected one of 'stimulus', 'subject'; got 'unit'."
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(data.isel(subject=[0]), data, over="unit")
    msg = ("Invalid type for 'random_state': expected an int, a numpy Generator or None; got "
           "str.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        permutation_test(data.isel(subject=0), data.isel(subject=1), random_state="x")
    msg = "Invalid value for 'n_permutations': expected an integer >= 1; got 0."
    with pytest.raises(ValueError, match=re.escape(msg)):
        permutation_test(data.isel(subject=0), data.isel(subject=1), n_permutations=0)
    msg = "Invalid value for 'n_boot': expected an integer >= 1; got 2.5."
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(data.isel(subject=[0]), data, n_boot=2.5)
    msg = ("Invalid value for 'ci': expected a finite number in (0, 1) (coverage of the "
           "confidence intervals); got 1.5.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(data.isel(subject=[0]), data, ci=1.5)


@pytest.mark.parametrize("method", ["cosine", "corr", "spearman", "rho_a"])
def test_vectorised_bootstrap_equals_per_sample_loop(rng, method):
    from brainbridge.analyses._stats import _boot_block, _ceiling, _score

    data = _subject_rdms(rng, n_subj=4, n_stim=11).values
    models = _subject_rdms(rng, n_subj=2, n_stim=11).values
    idx = np.sort(rng.integers(0, 11, size=(6, 11)), axis=1)
    scores, bounds = _boot_block(models, data, idx, method, True)
    for b, i in enumerate(idx):
        m, d = _resample(models, i), _resample(data, i)
        np.testing.assert_allclose(scores[b], _score(m, d, method), rtol=1e-10)
        np.testing.assert_allclose(bounds[b], _ceiling(d, method), rtol=1e-10)


# --- issue #15: alignment by id, NaN / inf / degenerate inputs ------------------------------

def _permuted(r, order):
    return r.isel(stimulus=order, stimulus_=order)


def test_bootstrap_aligns_data_to_models_by_id(rng):
    """Finding 4: RDMs over a permuted stimulus order give the aligned result."""
    data = _subject_rdms(rng, n_subj=3, n_stim=10)
    models = _subject_rdms(rng, n_subj=2, n_stim=10).rename(subject="model")
    order = rng.permutation(10)
    ref = bootstrap(models, data, n_boot=20, random_state=0)
    got = bootstrap(models, _permuted(data, order), n_boot=20, random_state=0)
    np.testing.assert_allclose(got["score"], ref["score"], rtol=1e-12)
    np.testing.assert_allclose(got["noise_lower"], ref["noise_lower"], rtol=1e-12)
    np.testing.assert_allclose(got["boot"], ref["boot"], rtol=1e-12)
    assert float(got["score"][0]) == pytest.approx(
        float(compare_rdms(models.isel(model=0), data).mean()), rel=1e-12)


def test_permutation_test_aligns_b_to_a_by_id(rng):
    data = _subject_rdms(rng, n_subj=2, n_stim=10)
    a, b = data.isel(subject=0), data.isel(subject=1)
    ref = permutation_test(a, b, n_permutations=50, random_state=0)
    got = permutation_test(a, _permuted(b, rng.permutation(10)), n_permutations=50,
                           random_state=0)
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert got.statistic == pytest.approx(float(compare_rdms(a, b)), rel=1e-12)


def test_disjoint_or_different_stimuli_raise(rng):
    data = _subject_rdms(rng, n_subj=2, n_stim=6)
    other = data.assign_coords(stimulus=[f"z{i}" for i in range(6)],
                               stimulus_=[f"z{i}" for i in range(6)])
    msg = ("The stimuli of 'models' and 'data' differ: 'models' has 6, 'data' has 6, 0 shared; "
           "only in 'models': ['c0', 'c1', 'c2', 'c3', 'c4']; only in 'data': ['z0', 'z1', "
           "'z2', 'z3', 'z4']. Compute both RDMs on the same stimuli, e.g. x, y = "
           "brainbridge.align(x, y) before rdm().")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(data.rename(subject="model"), other, n_boot=5)
    msg = ("The stimuli of 'a' and 'b' differ: 'a' has 6, 'b' has 6, 0 shared; only in 'a': "
           "['c0', 'c1', 'c2', 'c3', 'c4']; only in 'b': ['z0', 'z1', 'z2', 'z3', 'z4'].")
    with pytest.raises(ValueError, match=re.escape(msg)):
        permutation_test(data.isel(subject=0), other.isel(subject=1), n_permutations=5)
    # different sizes: a clear message, not a numpy broadcast error
    msg = ("The stimuli of 'a' and 'b' differ: 'a' has 6, 'b' has 4, 4 shared; only in 'a': "
           "['c4', 'c5']; only in 'b': [].")
    small = data.isel(subject=1, stimulus=slice(0, 4), stimulus_=slice(0, 4))
    with pytest.raises(ValueError, match=re.escape(msg)):
        permutation_test(data.isel(subject=0), small, n_permutations=5)
    msg = ("Invalid value for 'b': expected RDMs over the 6 stimuli of 'a'; got 4. Compute "
           "both on the same stimuli")
    with pytest.raises(ValueError, match=re.escape(msg)):
        permutation_test(data.isel(subject=0).values, small.values, n_permutations=5)


def test_all_nan_rdms_raise(rng):
    """Finding 8: an all-NaN RDM is an error, never a score of 0."""
    data = _subject_rdms(rng, n_subj=3, n_stim=8)
    bad = data.copy()
    bad[1] = np.nan
    msg = ("Invalid value for 'rdms': 1 of 3 RDMs are all NaN (no stimulus pair to compare), "
           "the first at subject='s1'. Drop them first, e.g. rdms.dropna('subject', how='all').")
    with pytest.raises(ValueError, match=re.escape(msg)):
        noise_ceiling(bad)
    msg = ("Invalid value for 'b': the RDM is all NaN (no stimulus pair to compare). Recompute "
           "it from complete data.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        permutation_test(data.isel(subject=0), bad.isel(subject=1), n_permutations=5)
    # NaN pairs that leave fewer than 2 complete pairs over all subjects
    sparse = data.copy(deep=True)
    iu = np.triu_indices(8, k=1)
    for s in range(3):  # subject s keeps pairs s*9 .. s*9 + 8 only: no pair is shared
        v = np.full(iu[0].size, np.nan)
        v[s * 9:(s + 1) * 9] = 1.0 + np.arange(9)
        m = np.zeros((8, 8))
        m[iu] = v
        sparse[s] = m + m.T
    msg = ("Invalid value for 'rdms': a noise ceiling needs at least 2 stimulus pairs that are "
           "not NaN in any subject's RDM; got 0 of 28.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        noise_ceiling(sparse)


def test_inf_rdm_raises(rng):
    data = _subject_rdms(rng, n_subj=2, n_stim=6)
    bad = data.copy(deep=True)
    bad[0, 1, 2] = bad[0, 2, 1] = np.inf
    msg = ("Invalid value for 'data': expected finite numbers or NaN (a missing value); got 2 "
           "inf of 72 entries, the first at subject='s0', stimulus='c1', stimulus_='c2'. A "
           "dissimilarity must be a finite number (NaN marks a missing pair); recompute the "
           "RDM from finite data.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(data.rename(subject="model"), bad, n_boot=5)


def test_bootstrap_degenerate_inputs(rng):
    """Finding 11: one subject, too few stimuli; finding 6: bad n_boot."""
    data = _subject_rdms(rng, n_subj=3, n_stim=8)
    models = data.rename(subject="model")
    msg = ("Invalid value for 'data': a bootstrap over subjects needs at least 2 subject RDMs; "
           "got 1. Pass one RDM per subject along 'subject', or use over='stimulus'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(models, data.isel(subject=[0]), over="subject", n_boot=5)
    one = bootstrap(models, data.isel(subject=[0]), n_boot=20, random_state=0)
    assert np.isnan(float(one["noise_lower"])) and np.isnan(float(one["noise_upper"]))
    assert one.attrs["noise_ceiling"] == ("undefined: one subject (a noise ceiling needs 2 or "
                                          "more); noise_* are NaN")
    assert bootstrap(models, data, n_boot=5, random_state=0).attrs["noise_ceiling"] == "computed"
    three = data.isel(stimulus=slice(0, 3), stimulus_=slice(0, 3))
    msg = ("Invalid value for 'data': a bootstrap over stimuli needs at least 4 stimuli (a "
           "sample needs 3 distinct ones to compare RDMs, and with 3 every valid sample is the "
           "original set); got 3. Add stimuli or use over='subject'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        bootstrap(three.rename(subject="model"), three, n_boot=50, random_state=0)
    four = data.isel(stimulus=slice(0, 4), stimulus_=slice(0, 4))
    res = bootstrap(four.rename(subject="model"), four, n_boot=50, random_state=0)
    n_valid = int(np.isfinite(res["boot"][:, 0]).sum())
    assert res.attrs["n_valid"] == n_valid and 0 < n_valid < 50
    for n_boot, msg in [(0, "Invalid value for 'n_boot': expected an integer >= 1; got 0."),
                        (-1, "Invalid value for 'n_boot': expected an integer >= 1; got -1.")]:
        with pytest.raises(ValueError, match=re.escape(msg)):
            bootstrap(models, data, n_boot=n_boot)


def test_pool_rdms_rejects_inf():
    msg = ("Invalid value for 'vectors': expected finite numbers or NaN (a missing value); got 1 "
           "inf of 3 entries, the first at index (0, 1).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        pool_rdms([[1.0, np.inf, 2.0]])
