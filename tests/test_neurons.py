"""Tests for neuron_correlation and match_units against numpy / scipy references."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import xarray as xr

from brainbridge.analyses._neurons import match_units, neuron_correlation


def _ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = x.shape[1]
    return np.corrcoef(x.T.astype(np.float64), y.T.astype(np.float64))[:p, p:]


def _da(x: np.ndarray, stim: list[str], prefix: str) -> xr.DataArray:
    return xr.DataArray(x, dims=("stimulus", "unit"),
                        coords={"stimulus": stim, "unit": [f"{prefix}{i}" for i in range(x.shape[1])]})


@pytest.mark.parametrize("chunk_size", [1, 7, 60])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_streaming_equals_corrcoef(rng, chunk_size, dtype, tol):
    x = (rng.normal(size=(60, 5)) + 100.0).astype(dtype)  # large mean: tests the shift
    y = (x[:, :4] @ rng.normal(size=(4, 4)) + rng.normal(size=(60, 4))).astype(dtype)
    ds = neuron_correlation(x, y, chunk_size=chunk_size, device="cpu")
    np.testing.assert_allclose(ds.r.values, _ref(x, y), atol=tol)
    assert ds.r.dims == ("unit_a", "unit_b") and ds.attrs["n_samples"] == 60


def test_xarray_aligned_and_tokens_flattened(rng):
    x = rng.normal(size=(6, 3, 4))  # stimulus x token x unit
    y = rng.normal(size=(6, 3, 2))
    stim = [f"s{i}" for i in range(6)]
    a = xr.DataArray(x, dims=("stimulus", "token", "unit"),
                     coords={"stimulus": stim, "unit": list("abcd")})
    order = [5, 3, 1, 0, 2, 4]
    b = xr.DataArray(y[order].transpose(1, 0, 2), dims=("token", "stimulus", "unit"),
                     coords={"stimulus": [stim[i] for i in order], "unit": ["u", "v"]})
    ds = neuron_correlation(a, b, chunk_size=5, device="cpu")
    np.testing.assert_allclose(ds.r.values, _ref(x.reshape(-1, 4), y.reshape(-1, 2)), atol=1e-12)
    assert ds.unit_a.values.tolist() == list("abcd") and ds.unit_b.values.tolist() == ["u", "v"]
    a2 = a.assign_coords(layer=("unit", ["l1", "l1", "l2", "l2"]))
    ds2 = neuron_correlation(a2, b.assign_coords(region=("unit", ["V1", "IT"])), device="cpu")
    assert ds2.layer.dims == ("unit_a",) and ds2.layer.values.tolist() == ["l1", "l1", "l2", "l2"]
    assert ds2.region.dims == ("unit_b",) and ds2.region.values.tolist() == ["V1", "IT"]
    ds3 = neuron_correlation(a2, b.assign_coords(layer=("unit", ["x", "y"])), device="cpu")
    assert ds3.layer_a.values.tolist() == ["l1", "l1", "l2", "l2"]
    assert ds3.layer_b.dims == ("unit_b",) and "layer" not in ds3.coords


def test_top_k_equals_argsort(rng):
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 9))
    ds = neuron_correlation(x, y, top_k=3, chunk_size=11, device="cpu")
    full = _ref(x, y)
    order = np.argsort(-full, axis=1)[:, :3]
    assert ds.partner.values.tolist() == [[str(j) for j in row] for row in order]
    np.testing.assert_allclose(ds.r.values, np.take_along_axis(full, order, 1), atol=1e-12)
    assert ds.r.dims == ("unit_a", "rank")


def test_dask_input(rng):
    da = pytest.importorskip("dask.array")
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    a = xr.DataArray(da.from_array(x, chunks=(13, 4)), dims=("stimulus", "unit"))
    b = xr.DataArray(da.from_array(y, chunks=(9, 3)), dims=("stimulus", "unit"))
    ds = neuron_correlation(a, b, chunk_size=8, device="cpu")
    np.testing.assert_allclose(ds.r.values, _ref(x, y), atol=1e-12)


def test_iterable_of_chunks(rng):
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    pairs = ((x[i:i + 12], y[i:i + 12]) for i in range(0, 50, 12))
    ds = neuron_correlation(pairs, device="cpu")
    np.testing.assert_allclose(ds.r.values, _ref(x, y), atol=1e-12)


def test_iterable_permutation_baseline_permutes_within_chunks(rng):
    x = rng.normal(size=(3000, 2))
    pairs = [(x[i:i + 500], x[i:i + 500]) for i in range(0, 3000, 500)]
    ds = neuron_correlation(pairs, baseline="permutation", random_state=0, device="cpu")
    np.testing.assert_allclose(np.diag(ds.r.values), 1.0)
    assert np.abs(ds.baseline_r.values).max() < 0.1


def test_rotation_baseline_preserves_spectrum(rng):
    x, y = rng.normal(size=(80, 3)), rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5))
    ds = neuron_correlation(x, y, baseline="rotation", random_state=0, device="cpu")
    # Reference: the same rotation, drawn from the same seed, applied to y.
    from scipy.stats import ortho_group

    q = ortho_group.rvs(5, random_state=np.random.default_rng(0))
    yr = y @ q
    np.testing.assert_allclose(np.linalg.eigvalsh(np.cov(yr.T)), np.linalg.eigvalsh(np.cov(y.T)),
                               rtol=1e-10)
    np.testing.assert_allclose(ds.baseline_r.values, _ref(x, yr), atol=1e-12)


def test_permutation_and_gaussian_baselines_near_zero(rng):
    x = rng.normal(size=(2000, 4))
    y = x + 0.1 * rng.normal(size=(2000, 4))
    for name in ("permutation", "gaussian"):
        ds = neuron_correlation(x, y, baseline=name, random_state=1, device="cpu")
        assert np.all(np.diag(ds.r.values) > 0.95)
        base = ds.baseline_r.values
        assert abs(base.mean()) < 0.02 and np.abs(base).max() < 0.1  # ~ N(0, 1/n), n=2000


def test_zero_variance_unit_gives_nan(rng):
    x = rng.normal(size=(20, 3))
    x[:, 1] = 4.2
    ds = neuron_correlation(x, rng.normal(size=(20, 2)), device="cpu")
    assert np.all(np.isnan(ds.r.values[1])) and not np.any(np.isnan(ds.r.values[[0, 2]]))
    top = neuron_correlation(x, rng.normal(size=(20, 2)), top_k=1, device="cpu")
    assert np.isnan(top.r.values[1, 0])


def test_errors():
    x = np.zeros((10, 2))
    msg = ("Invalid value for 'a'/'b': expected the same number of samples in a and b; got 10 "
           "and 9. Align a and b on their samples first (brainbridge.align), or give both "
           "DataArrays stimulus ids so they are aligned.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        neuron_correlation(x, np.zeros((9, 2)), device="cpu")
    msg = ("Invalid value for 'a'/'b': expected (n_samples, n_units) chunks with the same number "
           "of samples in a and b; got shapes (10, 2) and (9, 2). Align a and b on their "
           "samples first (brainbridge.align).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        neuron_correlation([(x, np.zeros((9, 2)))], device="cpu")
    msg = ("Invalid value for 'baseline': expected one of 'permutation', 'rotation', "
           "'gaussian'; got 'rotate'. Did you mean 'rotation'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        neuron_correlation(x, x, baseline="rotate")
    msg = ("Invalid value for 'method': expected one of 'best', 'mutual', 'hungarian'; got "
           "'mutal'. Did you mean 'mutual'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        match_units(x, x, method="mutal")
    msg = "Invalid value for 'chunk_size': expected an integer >= 1; got 0."
    with pytest.raises(ValueError, match=re.escape(msg)):
        neuron_correlation(x, x, chunk_size=0)


@pytest.mark.gpu
def test_cuda_matches_cpu(rng):
    x, y = rng.normal(size=(100, 5)).astype(np.float32), rng.normal(size=(100, 4)).astype(np.float32)
    cpu = neuron_correlation(x, y, chunk_size=16, device="cpu")
    gpu = neuron_correlation(x, y, chunk_size=16, device="cuda")
    np.testing.assert_allclose(gpu.r.values, cpu.r.values, atol=1e-5)
    np.testing.assert_allclose(gpu.r.values, _ref(x, y), atol=1e-5)


@pytest.fixture
def planted(rng):
    n, p, q = 300, 6, 8
    x = rng.normal(size=(n, p))
    y = rng.normal(size=(n, q))
    perm = rng.permutation(q)[:p]
    y[:, perm] = x + 0.5 * rng.normal(size=(n, p))
    return x, y, perm


@pytest.mark.parametrize("method", ["best", "mutual", "hungarian"])
def test_planted_pairs_recovered(planted, method):
    x, y, perm = planted
    ds = match_units(x, y, method=method, n_permutations=19, random_state=0, device="cpu")
    assert ds.partner.values.tolist() == [str(j) for j in perm]
    np.testing.assert_allclose(ds.r.values, _ref(x, y)[np.arange(6), perm], atol=1e-12)
    np.testing.assert_allclose(ds.p.values, 1 / 20)


def test_hungarian_equals_brute_force(rng):
    r = rng.uniform(-1, 1, size=(4, 5))
    da = xr.DataArray(r, dims=("unit_a", "unit_b"),
                      coords={"unit_a": list("abcd"), "unit_b": list("vwxyz")})
    ds = match_units(da, method="hungarian", n_permutations=0)
    best = max(itertools.permutations(range(5), 4), key=lambda c: sum(r[i, j] for i, j in enumerate(c)))
    assert ds.partner.values.tolist() == ["vwxyz"[j] for j in best]
    assert np.all(np.isnan(ds.p.values))


def test_mutual_is_symmetric(rng):
    r = rng.uniform(-1, 1, size=(6, 6))
    da = xr.DataArray(r, dims=("unit_a", "unit_b"),
                      coords={"unit_a": [f"a{i}" for i in range(6)], "unit_b": [f"b{i}" for i in range(6)]})
    fwd = match_units(da, method="mutual", n_permutations=0)
    back = match_units(da.T.rename(unit_a="unit_b", unit_b="unit_a"), method="mutual", n_permutations=0)
    pairs = {(a, b) for a, b in zip(fwd.unit_a.values, fwd.partner.values) if b}
    pairs_back = {(b, a) for a, b in zip(back.unit_a.values, back.partner.values) if b}
    assert pairs == pairs_back and pairs


def test_null_p_values_large_for_noise(rng):
    x, y = rng.normal(size=(100, 4)), rng.normal(size=(100, 5))
    ds = match_units(x, y, n_permutations=19, random_state=0, device="cpu")
    assert np.median(ds.p.values) > 0.1


def test_precomputed_with_null_errors():
    da = xr.DataArray(np.eye(2), dims=("unit_a", "unit_b"))
    msg = ("Invalid value for 'n_permutations': a precomputed correlation matrix has no samples "
           "to permute; got n_permutations=5. Pass n_permutations=0, or pass both assemblies.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        match_units(da, n_permutations=5)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.mark.parametrize("lazy", [False, True])
def test_distributed_equals_local(rng, client, lazy):
    x = (rng.normal(size=(103, 6)) + 50.0).astype(np.float32)
    y = (x[:, :4] @ rng.normal(size=(4, 5)) + rng.normal(size=(103, 5))).astype(np.float32)
    if lazy:
        da = pytest.importorskip("dask.array")
        x, y = da.from_array(x, chunks=(17, 6)), da.from_array(y, chunks=(29, 5))
    ds = neuron_correlation(x, y, chunk_size=10, client=client, device="cpu")
    np.testing.assert_allclose(ds.r.values, _ref(np.asarray(x), np.asarray(y)), atol=1e-5)
    assert ds.attrs["n_samples"] == 103
    if lazy:  # dask-backed blocks computed on the workers; the baselines are checked on numpy
        return
    for baseline in ("permutation", "rotation"):  # the same draws as the local path
        local = neuron_correlation(x, y, chunk_size=10, baseline=baseline, random_state=3, device="cpu")
        dist = neuron_correlation(x, y, chunk_size=10, baseline=baseline, random_state=3, client=client,
                                  device="cpu")
        np.testing.assert_allclose(dist.baseline_r.values, local.baseline_r.values, atol=1e-5)
    g = neuron_correlation(x, y, chunk_size=10, baseline="gaussian", random_state=3, client=client)
    assert np.abs(g.baseline_r.values).max() < 0.45  # independent noise: |r| ~ 1/sqrt(103)
    m = match_units(x, y, n_permutations=5, chunk_size=10, client=client, random_state=0, device="cpu")
    m_local = match_units(x, y, n_permutations=5, chunk_size=10, random_state=0, device="cpu")
    assert m.partner.values.tolist() == m_local.partner.values.tolist()
    np.testing.assert_allclose(m.p.values, m_local.p.values)


def test_distributed_errors(rng, client):
    x = rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'client': a dask.distributed client needs array inputs (numpy, "
            "dask or DataArrays); got an iterable of chunk pairs. Pass a and b as (dask) arrays.")):
        neuron_correlation([(x, x)], client=client)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'client': expected a distributed.Client (or None); got str. "
            "Create one with distributed.Client(...) or leave it None.")):
        neuron_correlation(x, x, client="tcp://localhost:8786")


@pytest.mark.parametrize("top_k", [None, 2])
def test_plot_correlation_partners(rng, top_k):
    plt = pytest.importorskip("matplotlib.pyplot")
    from brainbridge.analyses import plot_correlation_partners

    x = rng.normal(size=(80, 6))
    y = np.hstack([x[:, :3] + 0.3 * rng.normal(size=(80, 3)), rng.normal(size=(80, 4))])
    ds = neuron_correlation(x, y, top_k=top_k, baseline="permutation", random_state=0, device="cpu")
    ax = plot_correlation_partners(ds)
    best = _ref(x, y).max(1)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == f"r: median {np.median(best):.3f}"
    assert texts[1].startswith("baseline (permutation): median ") and texts[2].startswith("median excess ")
    base = ds.baseline_r.max("unit_b") if top_k is None else ds.baseline_r.isel(rank=0)
    edges = np.histogram_bin_edges(np.concatenate([best, base.values]), bins=40)
    counts = np.histogram(best, bins=edges)[0]  # the step outline of r reaches each bin's count
    assert ax.patches[0].get_path().vertices[:, 1].max() == counts.max() and len(ax.patches) == 2
    plt.close(ax.figure)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'result': expected the Dataset returned by neuron_correlation (with an "
            "'r' over 'unit_a'); got Dataset with variables ['score'].")):
        plot_correlation_partners(xr.Dataset({"score": ("unit", [1.0])}))


def test_aligned_by_id_and_non_finite_input_raises(rng):
    """Issue #15, findings 4 and 10: permuted ids give the aligned result, disjoint ids and
    a unit with a NaN raise (as cka and encoding_score do) instead of a NaN row."""
    stim = [f"s{i}" for i in range(30)]
    x = _da(rng.standard_normal((30, 4)), stim, "a")
    y = _da(rng.standard_normal((30, 5)), stim, "b")
    order = rng.permutation(30)
    np.testing.assert_allclose(neuron_correlation(x, y.isel(stimulus=order))["r"],
                               neuron_correlation(x, y)["r"], rtol=1e-12)
    np.testing.assert_allclose(match_units(x, y.isel(stimulus=order))["r"],
                               match_units(x, y)["r"], rtol=1e-12)
    other = y.assign_coords(stimulus=[f"z{i}" for i in range(30)])
    msg = "'a' and 'b' share no 'stimulus' ids"
    for fn in (neuron_correlation, match_units):
        with pytest.raises(ValueError, match=re.escape(msg)):
            fn(x, other)
    bad = x.copy(deep=True)
    bad[5, 2] = np.nan
    msg = ("Invalid value for 'a': expected finite numbers; got 1 NaN of 120 entries, the first "
           "at stimulus='s5', unit='a2'. Correlations need complete data; drop the units or "
           "samples with missing values first, e.g. a.dropna('unit').")
    for fn in (neuron_correlation, match_units):
        with pytest.raises(ValueError, match=re.escape(msg)):
            fn(bad, y)
    arr = y.values.copy()
    arr[0, 0] = np.inf
    msg = ("Invalid value for 'b': expected finite numbers; got 1 inf of 150 entries, the first "
           "at index (0, 0).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        neuron_correlation(x.values, arr)
    msg = "Invalid type for 'a': expected real numbers; got dtype complex128."
    with pytest.raises(TypeError, match=re.escape(msg)):
        neuron_correlation(x.values.astype(complex), y.values)
