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
    msg = "A noise ceiling needs at least 2 subject RDMs; got 1."
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
