"""CKA against closed forms written here (numpy float64), Brain-Score's formulas, invariances,
streaming, batching and error messages."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist

import brainbridge as bb
from brainbridge.analyses import cka

# ---------------------------------------------------------------- references (float64 numpy)


def ref_linear(x, y):
    """Kornblith et al. 2019, feature-space form."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def centering(k):
    n = k.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    return h @ k @ h


def ref_kernel_cka(k, m):
    """Biased CKA from two kernels: <HKH, HLH> / (||HKH|| ||HLH||)."""
    kc, lc = centering(k), centering(m)
    return np.sum(kc * lc) / np.sqrt(np.sum(kc * kc) * np.sum(lc * lc))


def song_hsic(k, m):
    """Unbiased HSIC, Song et al. 2012 (eq. 5), as Brain-Score's unbiased_linear_HSIC."""
    n = k.shape[0]
    k = k.copy()
    m = m.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(m, 0.0)
    one = np.ones(n)
    return (np.sum(k * m) + (one @ k @ one) * (one @ m @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ k @ m @ one)) / (n * (n - 3))


def ref_debiased(k, m):
    return song_hsic(k, m) / np.sqrt(song_hsic(k, k) * song_hsic(m, m))


def brainscore_unbiased_linear_cka(x, y):
    """Brain-Score's default CKA: Song's HSIC on raw (uncentred) linear Gram matrices."""
    return ref_debiased(x @ x.T, y @ y.T)


def brainscore_rbf(x, sigma=None):
    """Brain-Score's rbf(): sigma = sqrt(median of the nonzero squared distances)."""
    g = x @ x.T
    kx = np.diag(g) - g + (np.diag(g) - g).T
    if sigma is None:
        sigma = np.sqrt(np.median(kx[kx != 0]))
    return np.exp(-0.5 * kx / sigma**2)


def kornblith_center_gram_unbiased(k):
    """Kornblith's U-centring (center_gram(unbiased=True)); <U(K), U(L)> ~ HSIC_1."""
    n = k.shape[0]
    k = k.copy()
    np.fill_diagonal(k, 0)
    means = k.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    k -= means[:, None]
    k -= means[None, :]
    np.fill_diagonal(k, 0)
    return k


def data(rng, n=40, p=7, q=5, offset=3.0):
    x = rng.normal(size=(n, p)) + offset
    y = x[:, :3] @ rng.normal(size=(3, q)) + rng.normal(size=(n, q)) - offset
    return x, y


def orthogonal(rng, p):
    q, r = np.linalg.qr(rng.normal(size=(p, p)))
    return q * np.sign(np.diag(r))


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("form", ["auto", "feature", "gram"])
def test_linear_equals_closed_form(rng, form):
    x, y = data(rng)
    expected = ref_linear(x, y)
    got = cka(x, y, form=form)
    assert got.dims == () and got.name == "cka"
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)
    # and equals the Gram-matrix definition <HKH, HLH> / (||HKH|| ||HLH||)
    np.testing.assert_allclose(float(got), ref_kernel_cka(x @ x.T, y @ y.T), rtol=1e-10)


@pytest.mark.parametrize("form", ["feature", "gram"])
def test_blocked_symmetric_products_equal_closed_form(rng, monkeypatch, form):
    # small blocks, so that the upper-block-only products run on small data
    import brainbridge.analyses._cka as module

    monkeypatch.setattr(module, "_MIN_BLOCK", 3)
    x, y = data(rng, n=50, p=23, q=17)
    np.testing.assert_allclose(float(cka(x, y, form=form)), ref_linear(x, y), rtol=1e-12)
    np.testing.assert_allclose(float(cka(x, y, form=form, debiased=True)),
                               ref_debiased(x @ x.T, y @ y.T), rtol=1e-9)
    a, _ = _assemblies(rng, n=50, p=23)
    got = cka(a, a, by_x="layer", by_y="layer", form=form)
    for i, li in enumerate(["c1", "c2", "fc"]):
        for j, lj in enumerate(["c1", "c2", "fc"]):
            expected = ref_linear(a.sel(unit=a["layer"] == li).values,
                                  a.sel(unit=a["layer"] == lj).values)
            np.testing.assert_allclose(float(got[i, j]), expected, rtol=1e-12)


def test_auto_form_picks_the_cheaper_one(rng):
    x, y = data(rng, n=60, p=10, q=8)
    assert cka(x, y).attrs["form"] == "feature"  # p + q <= n
    wide_x, wide_y = data(rng, n=20, p=50, q=40)
    got = cka(wide_x, wide_y)
    assert got.attrs["form"] == "gram"
    np.testing.assert_allclose(float(got), ref_linear(wide_x, wide_y), rtol=1e-12)


@pytest.mark.parametrize("form", ["feature", "gram"])
def test_linear_float32_matches_float64_reference(rng, form):
    # products in float32, norms and sums in float64: within 1e-5 of float64 on the same data
    x = (rng.normal(size=(700, 600)) + 50.0).astype(np.float32)
    y = (x[:, :100] @ rng.normal(size=(100, 300)) + 5 * rng.normal(size=(700, 300)))
    y = y.astype(np.float32)
    expected = ref_linear(x.astype(np.float64), y.astype(np.float64))
    got = cka(x, y, form=form)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


@pytest.mark.parametrize("form", ["feature", "gram"])
def test_debiased_equals_song_and_brainscore(rng, form):
    x, y = data(rng, n=30)
    got = float(cka(x, y, debiased=True, form=form))
    np.testing.assert_allclose(got, ref_debiased(x @ x.T, y @ y.T), rtol=1e-9)
    # Brain-Score's unbiased_linear_CKA works on the raw (uncentred) features
    np.testing.assert_allclose(got, brainscore_unbiased_linear_cka(x, y), rtol=1e-9)
    # Kornblith's U-centred Gram matrices give the same estimator
    ux = kornblith_center_gram_unbiased(x @ x.T)
    uy = kornblith_center_gram_unbiased(y @ y.T)
    np.testing.assert_allclose(got, np.sum(ux * uy) / np.sqrt(np.sum(ux * ux) * np.sum(uy * uy)),
                               rtol=1e-9)
    assert not np.isclose(got, ref_linear(x, y), rtol=1e-3)  # the bias correction matters


def test_rbf_median_heuristic_equals_brainscore(rng):
    x, y = data(rng, n=31)  # 465 pairs: odd, so the median distance is one of the distances
    got = cka(x, y, kernel="rbf")
    expected = ref_kernel_cka(brainscore_rbf(x), brainscore_rbf(y))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    np.testing.assert_allclose(float(got["sigma_x"]), np.median(pdist(x)), rtol=1e-12)
    np.testing.assert_allclose(float(got["sigma_y"]), np.median(pdist(y)), rtol=1e-12)


def test_rbf_sigma_factor_and_given_sigma(rng):
    x, y = data(rng, n=30)  # 435 pairs
    sx = 0.4 * np.sqrt(np.median(pdist(x, "sqeuclidean")))
    sy = 0.4 * np.sqrt(np.median(pdist(y, "sqeuclidean")))
    got = cka(x, y, kernel="rbf", sigma_factor=0.4)
    expected = ref_kernel_cka(brainscore_rbf(x, sx), brainscore_rbf(y, sy))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    got = cka(x, y, kernel="rbf", sigma=2.5)
    expected = ref_kernel_cka(brainscore_rbf(x, 2.5), brainscore_rbf(y, 2.5))
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    assert float(got["sigma_x"]) == float(got["sigma_y"]) == 2.5


def test_rbf_median_with_even_pair_count(rng):
    x, y = data(rng, n=32)  # 496 pairs: the median averages the two middle squared distances
    got = cka(x, y, kernel="rbf")
    np.testing.assert_allclose(float(got["sigma_x"]),
                               np.sqrt(np.median(pdist(x, "sqeuclidean"))), rtol=1e-12)


def test_rbf_debiased_equals_song(rng):
    x, y = data(rng, n=25)
    got = cka(x, y, kernel="rbf", debiased=True, sigma_factor=0.8)
    kx = brainscore_rbf(x, float(got["sigma_x"]))
    ky = brainscore_rbf(y, float(got["sigma_y"]))
    np.testing.assert_allclose(float(got), ref_debiased(kx, ky), rtol=1e-10)


def test_mixed_dtypes_compute_in_float64(rng):
    x, y = data(rng, n=80, p=20, q=10)
    x32 = x.astype(np.float32)
    for form in ("feature", "gram"):
        got = float(cka(x32, y, form=form))
        np.testing.assert_allclose(got, ref_linear(x32.astype(np.float64), y), rtol=1e-12)
    np.testing.assert_allclose(float(cka(y, x32, chunk_size=9)),
                               ref_linear(x32.astype(np.float64), y), rtol=1e-10)


def test_torch_input_and_inputs_not_mutated(rng):
    torch = pytest.importorskip("torch")
    x, y = data(rng)
    x0, y0 = x.copy(), y.copy()
    got = cka(torch.from_numpy(x), y, debiased=True)
    np.testing.assert_allclose(float(got), ref_debiased(x @ x.T, y @ y.T), rtol=1e-9)
    cka(x, y, kernel="rbf")
    cka(x, y, chunk_size=7)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


# ---------------------------------------------------------------- invariances (hypothesis)


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(6, 30))
    p = draw(st.integers(2, 8))
    q = draw(st.integers(1, 8))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, size=p)
    y = x[:, :1] @ rng.normal(size=(1, q)) + rng.normal(size=(n, q))
    return rng, x, y


@settings(max_examples=25, deadline=None)
@given(problems(), st.sampled_from([("linear", False), ("linear", True), ("rbf", False),
                                     ("rbf", True)]))
def test_invariant_to_orthogonal_transforms(problem, setup):
    rng, x, y = problem
    kernel, debiased = setup
    before = float(cka(x, y, kernel=kernel, debiased=debiased))
    q = orthogonal(rng, x.shape[1])
    shift = rng.normal(size=x.shape[1]) * 10  # and to translation
    after = float(cka(x @ q + shift, y, kernel=kernel, debiased=debiased))
    np.testing.assert_allclose(after, before, rtol=1e-8, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(problems(), st.floats(1e-3, 1e3), st.sampled_from([("linear", False), ("linear", True),
                                                          ("rbf", False), ("rbf", True)]))
def test_invariant_to_isotropic_scaling(problem, scale, setup):
    _, x, y = problem
    kernel, debiased = setup
    before = float(cka(x, y, kernel=kernel, debiased=debiased))
    after = float(cka(scale * x, y, kernel=kernel, debiased=debiased))  # RBF: sigma scales too
    np.testing.assert_allclose(after, before, rtol=1e-8, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(8, 40))
def test_not_invariant_to_general_linear_maps(seed, n):
    # x has two orthonormal centred columns and y is the first one: CKA = 1/sqrt(2).
    # The invertible map A = diag(1, 1000) makes the unrelated column dominate: CKA < 1e-5.
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x, _ = np.linalg.qr(z - z.mean(0))
    y = x[:, :1]
    a = np.diag([1.0, 1000.0])
    assert np.linalg.det(a) != 0
    before = float(cka(x, y))
    after = float(cka(x @ a, y))
    np.testing.assert_allclose(before, 1 / np.sqrt(2), rtol=1e-10)
    assert after < 1e-5
    assert before - after > 0.7
    q = orthogonal(rng, 2)  # an orthogonal map of the same x does not move it
    np.testing.assert_allclose(float(cka(x @ q, y)), before, rtol=1e-10)


# ---------------------------------------------------------------- streaming


def _assemblies(rng, n=45, p=9, q=6, offset=100.0):
    x, y = data(rng, n=n, p=p, q=q, offset=offset)
    a = bb.assembly(x, dims=("stimulus", "unit"), modality="ann",
                    coords={"layer": ("unit", ["c1"] * 4 + ["c2"] * 3 + ["fc"] * (p - 7))})
    b = bb.assembly(y, dims=("stimulus", "unit"), modality="fmri",
                    coords={"region": ("unit", ["V1", "IT"] * (q // 2) + ["V1"] * (q % 2))})
    return a, b


@pytest.mark.parametrize("chunk", [1, 4, 10, 44, 45])
@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_dask_equals_in_memory(rng, chunk, debiased):
    pytest.importorskip("dask")
    a, b = _assemblies(rng)
    expected = float(cka(a, b, debiased=debiased))
    got = cka(a.chunk({"stimulus": chunk}), b.chunk({"stimulus": chunk}), debiased=debiased)
    assert got.attrs["form"] == "stream"
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)


@pytest.mark.parametrize("chunk", [3, 16, 100])
def test_streaming_chunk_size_equals_in_memory(rng, chunk):
    x, y = data(rng, n=50, offset=1e4)  # large means: centring through the sums must hold
    for debiased in (False, True):
        np.testing.assert_allclose(float(cka(x, y, chunk_size=chunk, debiased=debiased)),
                                   float(cka(x, y, debiased=debiased)), rtol=1e-9)
    np.testing.assert_allclose(float(cka(x, y, chunk_size=chunk)), ref_linear(x, y), rtol=1e-9)


def test_streaming_float32_close_to_float64(rng):
    x, y = data(rng, n=300, p=50, q=40, offset=20.0)
    got = float(cka(x.astype(np.float32), y.astype(np.float32), chunk_size=64, debiased=True))
    expected = ref_debiased(*(v.astype(np.float32).astype(np.float64) @
                              v.astype(np.float32).astype(np.float64).T for v in (x, y)))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_streaming_batched_equals_in_memory(rng):
    pytest.importorskip("dask")
    a, b = _assemblies(rng)
    for debiased in (False, True):
        expected = cka(a, b, by_x="layer", by_y="region", debiased=debiased)
        got = cka(a.chunk({"stimulus": 8}), b, by_x="layer", by_y="region", debiased=debiased)
        xr.testing.assert_allclose(got.drop_attrs(), expected.drop_attrs(), rtol=1e-10)
        expected = cka(a, a, by_x="layer", by_y="layer", debiased=debiased)
        got = cka(a, a, by_x="layer", by_y="layer", debiased=debiased, chunk_size=8)
        xr.testing.assert_allclose(got.drop_attrs(), expected.drop_attrs(), rtol=1e-10)


# ---------------------------------------------------------------- batching


@pytest.mark.parametrize("setup", [("linear", False, "feature"), ("linear", False, "gram"),
                                   ("linear", True, "auto"), ("rbf", False, "auto"),
                                   ("rbf", True, "auto")])
def test_layer_by_layer_equals_pairwise_calls(rng, setup):
    kernel, debiased, form = setup
    a, _ = _assemblies(rng)
    got = cka(a, a, by_x="layer", by_y="layer", kernel=kernel, debiased=debiased, form=form)
    layers = ["c1", "c2", "fc"]
    assert got.dims == ("layer", "layer_")
    assert got["layer"].values.tolist() == layers == got["layer_"].values.tolist()
    for i, li in enumerate(layers):
        for j, lj in enumerate(layers):
            xi = a.sel(unit=a["layer"] == li)
            xj = a.sel(unit=a["layer"] == lj)
            single = float(cka(xi, xj, kernel=kernel, debiased=debiased))
            np.testing.assert_allclose(float(got[i, j]), single, rtol=1e-10)
    np.testing.assert_allclose(np.diag(got.values), 1.0, rtol=1e-12)
    # a copy of the same assembly (no shared triangle) gives the same matrix
    other = cka(a, a.copy(), by_x="layer", by_y="layer", kernel=kernel, debiased=debiased,
                form=form)
    np.testing.assert_allclose(other.values, got.values, rtol=1e-12)


def test_layer_by_region_and_one_sided_grouping(rng):
    a, b = _assemblies(rng)
    got = cka(a, b, by_x="layer", by_y="region")
    assert got.dims == ("layer", "region")
    assert got["region"].values.tolist() == ["V1", "IT"]
    for layer in ["c1", "fc"]:
        for region in ["V1", "IT"]:
            single = ref_linear(a.sel(unit=a["layer"] == layer).values,
                                b.sel(unit=b["region"] == region).values)
            np.testing.assert_allclose(float(got.sel(layer=layer, region=region)), single,
                                       rtol=1e-10)
    per_layer = cka(a, b, by_x="layer")
    assert per_layer.dims == ("layer",)
    np.testing.assert_allclose(float(per_layer.sel(layer="c2")),
                               ref_linear(a.sel(unit=a["layer"] == "c2").values, b.values),
                               rtol=1e-10)
    per_region = cka(a, b, by_y="region", kernel="rbf")
    assert per_region.dims == ("region",) and per_region["sigma_y"].dims == ("region",)


def test_assemblies_are_aligned_on_stimulus_ids(rng):
    a, b = _assemblies(rng)
    shuffled = b.isel(stimulus=rng.permutation(b.sizes["stimulus"]))[:40]
    got = float(cka(a, shuffled))
    a2, b2 = bb.align(a, shuffled)
    np.testing.assert_allclose(got, ref_linear(a2.values, b2.values), rtol=1e-12)
    # (unit, stimulus) order is fine too
    np.testing.assert_allclose(float(cka(a.T, b)), float(cka(a, b)), rtol=1e-12)


# ---------------------------------------------------------------- degenerate input


def test_constant_representation_gives_nan_and_logs(rng, caplog):
    x, _ = data(rng)
    const = np.ones((x.shape[0], 3))
    with caplog.at_level(logging.WARNING, logger="brainbridge.analyses._cka"):
        got = cka(x, const)
    assert np.isnan(float(got))
    assert "self-HSIC" in caplog.text


# ---------------------------------------------------------------- errors (full messages)


def test_error_unknown_kernel(rng):
    x, y = data(rng)
    msg = ("Invalid value for 'kernel': expected one of 'linear', 'rbf'; got 'lin'. "
           "Did you mean 'linear'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, kernel="lin")


def test_error_mismatched_n(rng):
    x, y = data(rng)
    msg = ("'x' and 'y' must hold the same stimuli: 'x' has 40 along 'stimulus' (axis 0) and "
           "'y' has 39. Pass assemblies with 'stimulus' ids so that they are aligned, or "
           "select the same rows of both.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y[:39])


def test_error_debiased_needs_four_stimuli(rng):
    x, y = data(rng, n=3)
    msg = ("debiased=True needs at least 4 stimuli along 'stimulus' (the unbiased HSIC "
           "estimator divides by n (n - 3)); got 3. Use debiased=False or more stimuli.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, debiased=True)


def test_error_no_shared_stimuli(rng):
    a, b = _assemblies(rng)
    b = b.assign_coords(stimulus=[f"s{i}" for i in range(b.sizes["stimulus"])])
    with pytest.raises(bb.AssemblyError, match=re.escape("'x' and 'y' share no 'stimulus' ids")):
        cka(a, b)


def test_error_options(rng):
    x, y = data(rng)
    msg = ("'sigma' applies to kernel='rbf' only; got sigma=1.0 with kernel='linear'. "
           "Drop sigma or use kernel='rbf'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, sigma=1.0)
    msg = "Invalid value for 'sigma': expected a finite number in (0, inf); got -1.0."
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, kernel="rbf", sigma=-1.0)
    msg = "Invalid value for 'chunk_size': expected an integer >= 1 or None; got 0."
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, chunk_size=0)
    msg = ("kernel='rbf' needs every n x n kernel matrix in memory and cannot stream; "
           "streaming (chunk_size=... or dask-backed inputs) works with kernel='linear'. "
           "Load the data first (x.compute()) or use kernel='linear'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, kernel="rbf", chunk_size=10)
    msg = ("form='gram' cannot stream: streaming (chunk_size=... or dask-backed inputs) "
           "accumulates the feature-space form. Use form='auto' or load the data first.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, form="gram", chunk_size=10)
    msg = ("Invalid value for 'form': expected one of 'auto', 'feature', 'gram'; got 'features'. "
           "Did you mean 'feature'?")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y, form="features")
    msg = ("Invalid value for 'x': expected finite numbers; got 1 NaN of 280 entries, the first "
           "at index (0, 0). CKA needs finite values. Drop the units or stimuli with missing "
           "values first, e.g. x.dropna('unit').")
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y)


def test_error_grouping(rng):
    a, b = _assemblies(rng)
    x, y = data(rng)
    msg = ("Invalid value for 'by_x': grouping by 'layer' needs 'x' to be an xarray.DataArray "
           "with a 'layer' coordinate on its unit dim; got ndarray. Pass an assembly or leave "
           "by_x=None.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        cka(x, y, by_x="layer")
    msg = ("Invalid value for 'by_y': 'y' has no 'layer' coordinate; its coordinates on "
           "'unit' are ['region']. Add one with y.assign_coords(layer=('unit', [...])) or pick "
           "one of these.")
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        cka(a, b, by_y="layer")
    three = a.expand_dims(trial=[0, 1]).transpose("stimulus", "unit", "trial")
    msg = ("'x' must have exactly two dims, 'stimulus' and one unit dim; it has dims "
           "('stimulus', 'unit', 'trial'). Reduce the extra ones first, e.g. x.mean('trial') "
           "or x.stack(unit_=('unit', 'trial')).")
    with pytest.raises(bb.AssemblyError, match=re.escape(msg)):
        cka(three, b)


# ---------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_cuda_equals_cpu(rng, kernel):
    a, b = _assemblies(rng, n=200, p=30, q=20)
    for debiased in (False, True):
        cpu = cka(a, b, by_x="layer", kernel=kernel, debiased=debiased, device="cpu")
        gpu = cka(a, b, by_x="layer", kernel=kernel, debiased=debiased, device="cuda")
        np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-9)
    a32 = a.astype(np.float32)
    np.testing.assert_allclose(float(cka(a32, b, device="cuda")), float(cka(a, b)), rtol=1e-4)
    np.testing.assert_allclose(float(cka(a, b, device="cuda", chunk_size=32)),
                               float(cka(a, b)), rtol=1e-9)


def test_aligns_by_id_and_rejects_non_real_input(rng):
    """Issue #15, findings 4 and 11: permuted ids give the aligned result; complex or text
    input is a TypeError, never a silently dropped imaginary part or parsed strings."""
    a, b = _assemblies(rng)
    b = b.assign_coords(stimulus=a["stimulus"].values)
    order = rng.permutation(a.sizes["stimulus"])
    assert float(cka(a, b.isel(stimulus=order))) == pytest.approx(float(cka(a, b)), rel=1e-10)
    x, y = a.values, b.values
    msg = ("Invalid type for 'x': expected real numbers; got dtype complex128. Pass the part you "
           "mean explicitly, e.g. np.abs(x) or x.real.")
    with pytest.raises(TypeError, match=re.escape(msg)):
        cka(x.astype(complex), y)
    msg = ("Invalid type for 'y': expected real numbers; got dtype <U32. Convert text "
           "explicitly first, e.g. x.astype(float).")
    with pytest.raises(TypeError, match=re.escape(msg)):
        cka(x, y.astype(str))
    y2 = y.copy()
    y2[4, 2] = np.inf
    msg = ("Invalid value for 'y': expected finite numbers; got 1 inf of 270 entries, the first "
           "at index (4, 2).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y2)


def test_one_stimulus_and_empty_inputs_raise(rng):
    x, y = data(rng, n=10)
    msg = ("Invalid value for 'x': CKA needs at least 2 stimuli along 'stimulus'; got 1. Pass "
           "two or more stimuli.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x[:1], y[:1])
    msg = ("Invalid value for 'y': expected at least one entry along every dim; got shape "
           "(10, 0).")
    with pytest.raises(ValueError, match=re.escape(msg)):
        cka(x, y[:, :0])
