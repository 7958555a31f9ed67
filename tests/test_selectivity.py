"""Per-unit selectivity, top stimuli, domain-specific, dead and positional units.

References are numpy / scipy computed in the tests; tolerances rtol=1e-10 unless stated.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from brainbridge.analyses import (
    SELECTIVITY_METHODS,
    dead_neurons,
    domain_neurons,
    positional_neurons,
    selective_fraction,
    selectivity,
    top_stimuli,
)

N_STIM, N_UNIT, PLANTED = 60, 40, (3, 17)


def _make(rng, *, nonneg=False):
    data = rng.normal(size=(N_STIM, N_UNIT))
    face = np.arange(N_STIM) % 3 == 0  # 20 faces
    for u in PLANTED:
        data[face, u] += 3.0
    if nonneg:
        data = np.abs(data)
    x = xr.DataArray(
        data,
        dims=("stimulus", "unit"),
        coords={
            "stimulus": [f"s{i}" for i in range(N_STIM)],
            "unit": [f"u{i}" for i in range(N_UNIT)],
            "layer": ("unit", np.repeat(["a", "b"], N_UNIT // 2)),
            "face": ("stimulus", face),
            "cat": ("stimulus", np.array(["face", "body", "car"])[np.arange(N_STIM) % 3]),
        },
    )
    return x, data, face


def _bh_reference(p):
    """Benjamini-Hochberg by explicit loop: q_i = min_{j: p_j >= p_i} p_j * m / rank_j."""
    m = p.size
    q = np.empty(m)
    for i in range(m):
        cands = [p[j] * m / (np.sum(p <= p[j])) for j in range(m) if p[j] >= p[i]]
        q[i] = min(1.0, min(cands))
    return q


def test_dprime_matches_numpy(rng):
    x, data, face = _make(rng)
    s = selectivity(x, "face")
    a, b = data[face], data[~face]
    ref = (a.mean(0) - b.mean(0)) / np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / 2)
    np.testing.assert_allclose(s.score.values, ref, rtol=1e-10)
    assert set(np.argsort(-s.score.values)[:2]) == set(PLANTED)
    assert s.score.dims == ("unit",)
    assert list(s.layer.values) == list(x.layer.values)
    # labels as a sequence and a string target give the same numbers
    s2 = selectivity(x, list(x.cat.values), target="face")
    np.testing.assert_allclose(s2.score.values, ref, rtol=1e-10)


def test_csi_matches_numpy(rng):
    x, data, face = _make(rng, nonneg=True)
    s = selectivity(x, "face", method="csi")
    m1, m0 = data[face].mean(0), data[~face].mean(0)
    np.testing.assert_allclose(s.score.values, (m1 - m0) / (m1 + m0), rtol=1e-10)
    assert set(np.argsort(-s.score.values)[:2]) == set(PLANTED)


def test_welch_t_matches_scipy(rng):
    x, data, face = _make(rng)
    s = selectivity(x, "face", method="t")
    ref = stats.ttest_ind(data[face], data[~face], equal_var=False)
    np.testing.assert_allclose(s.score.values, ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(s.p.values, ref.pvalue, rtol=1e-8)
    np.testing.assert_allclose(s.q.values, stats.false_discovery_control(ref.pvalue), rtol=1e-10)
    np.testing.assert_allclose(s.q.values, _bh_reference(ref.pvalue), rtol=1e-10)
    assert set(np.flatnonzero(s.q.values < 0.05)) == set(PLANTED)


def test_anova_matches_scipy(rng):
    x, data, _ = _make(rng)
    s = selectivity(x, "cat", method="anova")
    cat = x.cat.values
    ref = stats.f_oneway(*(data[cat == c] for c in np.unique(cat)))
    np.testing.assert_allclose(s.score.values, ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(s.p.values, ref.pvalue, rtol=1e-8)
    np.testing.assert_allclose(s.q.values, stats.false_discovery_control(ref.pvalue), rtol=1e-10)
    assert set(np.flatnonzero(s.q.values < 0.05)) == set(PLANTED)


def _sparseness_loop(r):
    n = r.size
    return (1 - (r.sum() / n) ** 2 / (np.sum(r**2) / n)) / (1 - 1 / n)


def test_sparseness_matches_loop(rng):
    data = rng.exponential(size=(N_STIM, N_UNIT))
    data[0, 5] = 50.0  # one stimulus dominates unit 5: near 1
    x = xr.DataArray(data, dims=("stimulus", "unit"), coords={"unit": [f"u{i}" for i in range(N_UNIT)]})
    life = selectivity(x, method="lifetime_sparseness")
    np.testing.assert_allclose(
        life.score.values, [_sparseness_loop(data[:, u]) for u in range(N_UNIT)], rtol=1e-10
    )
    assert int(np.argmax(life.score.values)) == 5
    pop = selectivity(x, method="population_sparseness")
    assert pop.score.dims == ("stimulus",)
    np.testing.assert_allclose(
        pop.score.values, [_sparseness_loop(data[s]) for s in range(N_STIM)], rtol=1e-10
    )
    # closed forms: equal responses -> 0, a single response -> 1
    flat = xr.DataArray(np.ones((4, 1)), dims=("stimulus", "unit"))
    one = xr.DataArray(np.array([[2.0], [0.0], [0.0], [0.0]]), dims=("stimulus", "unit"))
    assert selectivity(flat, method="lifetime_sparseness").score.item() == pytest.approx(0.0)
    assert selectivity(one, method="lifetime_sparseness").score.item() == pytest.approx(1.0)


def test_does_not_mutate_input(rng):
    x, data, _ = _make(rng)
    before = x.copy(deep=True)
    for method in SELECTIVITY_METHODS:
        if method in ("lifetime_sparseness", "population_sparseness"):
            selectivity(abs(x), method=method)
        elif method == "anova":
            selectivity(x, "cat", method=method)
        else:
            selectivity(abs(x), "face", method=method)
    xr.testing.assert_identical(x, before)


def test_top_stimuli_matches_argsort(rng):
    x, data, _ = _make(rng)
    out = top_stimuli(x, k=4)
    assert out.stimulus.dims == ("unit", "rank")
    order = np.argsort(-data, axis=0)[:4].T
    np.testing.assert_array_equal(out.stimulus.values, x.stimulus.values[order])
    np.testing.assert_array_equal(out.value.values, np.take_along_axis(data.T, order, axis=1))
    assert list(out.layer.values) == list(x.layer.values)


def test_selectivity_errors(rng):
    x, _, _ = _make(rng)
    msg = (
        "Invalid value for 'labels': expected the name of a coord on 'stimulus' "
        "(one of 'stimulus', 'face', 'cat') or one label per stimulus; got 'fase'. "
        "Add it with x.assign_coords(fase=('stimulus', values))."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, "fase")
    msg = (
        "Invalid value for 'labels': expected at least two classes; got only ['a']. "
        "Selectivity compares stimuli of different labels; include stimuli of another class."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, ["a"] * N_STIM, target="a")
    msg = (
        "Invalid value for 'method': expected one of 'dprime', 'csi', 't', 'anova', "
        "'lifetime_sparseness', 'population_sparseness'; got 'dprim'. Did you mean 'dprime'?"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, "face", method="dprim")
    msg = (
        "Invalid value for 'target': method 'dprime' needs the preferred class; got None "
        "with labels ['body', 'car', 'face']. Pass target=<one of the labels>."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, "cat")
    msg = "Invalid value for 'target': expected one of the labels ['body', 'car', 'face']; got 'dog'."
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, "cat", target="dog")
    msg = (
        "Invalid value for 'labels': expected one label per stimulus (60); got shape (3,). "
        "Pass a 1-D sequence of length 60 or a coord name."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, [0, 1, 0])
    msg = (
        "Invalid value for 'target': method 'anova' compares all classes and takes no "
        "target; got 'face'. Leave target=None."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, "cat", method="anova", target="face")
    msg = (
        "Invalid value for 'labels': method 'lifetime_sparseness' does not use it; got 'face'. "
        "Leave labels=None."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(x, "face", method="lifetime_sparseness")
    neg = x.copy(data=np.r_[[[-1.0] * N_UNIT], np.ones((N_STIM - 1, N_UNIT))])
    msg = (
        "Invalid value for 'x': method 'csi' needs non-negative responses; got a minimum of -1. "
        "Rectify or shift them first (e.g. x.clip(min=0)), or use method='dprime'."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(neg, "face", method="csi")
    msg = "Invalid value for 'k': expected an integer in [1, 60] (at most the size of 'stimulus'); got 61."
    with pytest.raises(ValueError, match=re.escape(msg)):
        top_stimuli(x, k=61)


def _domain_problem(rng, n_unit=400, token=None):
    """Two domains; units 0-3 fire for 'code' only, 4-7 for 'prose' only, the rest for both."""
    n_stim = 40
    shape = (n_stim, n_unit) if token is None else (n_stim, token, n_unit)
    data = rng.normal(size=shape)
    dom = np.repeat(["code", "prose"], n_stim // 2)
    code = dom == "code"
    data[code, ..., 0:4] = np.abs(data[code, ..., 0:4]) + 0.1
    data[~code, ..., 0:4] = -np.abs(data[~code, ..., 0:4]) - 0.1
    data[~code, ..., 4:8] = np.abs(data[~code, ..., 4:8]) + 0.1
    data[code, ..., 4:8] = -np.abs(data[code, ..., 4:8]) - 0.1
    dims = ("stimulus", "unit") if token is None else ("stimulus", "token", "unit")
    x = xr.DataArray(
        data, dims=dims, coords={"unit": [f"u{i}" for i in range(n_unit)], "domain": ("stimulus", dom)}
    )
    return x, data, dom


def _lape_reference(data, dom, top=0.95, rate=0.01):
    """LAPE rule written out from the published description, per unit in loops."""
    names = np.unique(dom)
    flat = data.reshape(data.shape[0], -1, data.shape[-1])
    prob = np.array([[np.mean(flat[dom == d][..., u] > 0) for d in names] for u in range(data.shape[-1])])
    entropy = []
    for row in prob:
        p = row / row.sum()
        entropy.append(-sum(v * np.log(v) for v in p if v > 0))
    entropy = np.array(entropy)
    bar = np.sort(prob.ravel())[round(prob.size * top) - 1]
    eligible = (prob > bar).any(axis=1)
    k = round(prob.shape[0] * rate)
    ranked = sorted(np.flatnonzero(eligible), key=lambda u: (entropy[u], u))[:k]
    return prob, entropy, bar, set(ranked)


@pytest.mark.parametrize("token", [None, 5])
def test_domain_neurons_planted(rng, token):
    x, data, dom = _domain_problem(rng, token=token)
    out = domain_neurons(x, "domain", token_dim=None if token is None else "token")
    prob, entropy, bar, chosen = _lape_reference(data, dom)
    np.testing.assert_allclose(out.prob.values, prob, rtol=1e-12)
    np.testing.assert_allclose(out.entropy.values, entropy, rtol=1e-10, atol=1e-12)
    assert out.attrs["bar"] == pytest.approx(bar)
    assert set(np.flatnonzero(out.selected.values)) == chosen == set(range(4))  # 1 % of 400
    assert out.domains.sel(unit="u0", domain="code").item()
    assert not out.domains.sel(unit="u0", domain="prose").item()
    assert not out.domains.sel(unit="u20").any()
    # with 2 % all eight planted units, each in its own domain
    out2 = domain_neurons(x, "domain", entropy_percentile=2, token_dim=None if token is None else "token")
    assert set(np.flatnonzero(out2.selected.values)) == set(range(8))
    np.testing.assert_array_equal(out2.domains.values[:8, 1], [False] * 4 + [True] * 4)


def test_domain_neurons_masks_nan(rng):
    x, data, dom = _domain_problem(rng, n_unit=100, token=6)
    masked = data.copy()
    masked[:, 4:, :] = np.nan  # padding
    out = domain_neurons(x.copy(data=masked), "domain", token_dim="token")
    ref = domain_neurons(x.isel(token=slice(0, 4)), "domain", token_dim="token")
    xr.testing.assert_allclose(out.prob, ref.prob)


def test_domain_neurons_errors(rng):
    x, _, _ = _domain_problem(rng, n_unit=20)
    msg = (
        "Invalid value for 'domains': expected at least two classes; got only ['code']. "
        "Selectivity compares stimuli of different labels; include stimuli of another class."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        domain_neurons(x, ["code"] * 40)
    msg = "Invalid value for 'top_percentile': expected a percentage in (0, 100]; got 120."
    with pytest.raises(ValueError, match=re.escape(msg)):
        domain_neurons(x, "domain", top_percentile=120)


def test_dead_neurons(rng):
    data = rng.normal(size=(30, 4, 6))
    data[..., 2] = -np.abs(data[..., 2])
    data[..., 5] = np.nan
    data[0, 0, 3] = np.nan
    x = xr.DataArray(data, dims=("stimulus", "token", "unit"), coords={"unit": list("abcdef")})
    out = dead_neurons(x, token_dim="token")
    valid = ~np.isnan(data)
    freq = [
        np.sum(data[..., u][valid[..., u]] > 0) / valid[..., u].sum() if valid[..., u].any() else np.nan
        for u in range(6)
    ]
    np.testing.assert_allclose(out.frequency.values, freq, rtol=1e-12)
    assert out.dead.values.tolist() == [False, False, True, False, False, True]
    np.testing.assert_allclose(out["max"].values[:5], np.nanmax(data[..., :5], axis=(0, 1)))
    assert np.isnan(out["max"].values[5])
    msg = (
        "'x' has extra dim(s) 'token'; expected only ('stimulus', 'unit'). "
        "Select or average them first, e.g. x.mean('token')."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        dead_neurons(x)


def test_positional_neurons_match_eta_squared(rng):
    data = rng.normal(size=(25, 10, 3))
    data[:, :, 0] += 2 * np.sin(np.arange(10))  # positional
    data[3, 7:, :] = np.nan  # padding
    x = xr.DataArray(data, dims=("stimulus", "token", "unit"), coords={"unit": ["p", "n", "m"]})
    out = positional_neurons(x)
    ref = []
    for u in range(3):
        groups = [data[:, t, u][~np.isnan(data[:, t, u])] for t in range(10)]
        allv = np.concatenate(groups)
        ss_between = sum(g.size * (g.mean() - allv.mean()) ** 2 for g in groups)
        ref.append(ss_between / np.sum((allv - allv.mean()) ** 2))
        # eta^2 = F (k-1) / (F (k-1) + N - k): cross-check with scipy's one-way ANOVA
        f = stats.f_oneway(*groups).statistic
        np.testing.assert_allclose(ref[-1], f * 9 / (f * 9 + allv.size - 10), rtol=1e-10)
    np.testing.assert_allclose(out.score.values, ref, rtol=1e-10)
    assert out.positional.values.tolist() == [True, False, False]


def test_welch_t_leaves_out_nan(rng):
    x, data, face = _make(rng)
    data = data.copy()
    data[[0, 4, 7], 3] = np.nan
    s = selectivity(x.copy(data=data), "face", method="t")
    ref = stats.ttest_ind(data[face], data[~face], equal_var=False, nan_policy="omit")
    np.testing.assert_allclose(s.score.values, np.asarray(ref.statistic), rtol=1e-10)
    np.testing.assert_allclose(s.p.values, np.asarray(ref.pvalue), rtol=1e-8)


def test_permutation_threshold_matches_loop(rng):
    x, data, face = _make(rng)
    s = selectivity(x, "face", n_permutations=50, family="layer", random_state=7, progress=False)
    gen = np.random.default_rng(7)
    fam = np.repeat([0, 1], N_UNIT // 2)
    obs = np.abs(s.score.values)
    exceed, maxima = np.zeros(N_UNIT), np.empty((50, 2))
    for i in range(50):
        lab = gen.permutation(face)
        a, b = data[lab], data[~lab]
        null = np.abs((a.mean(0) - b.mean(0)) / np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / 2))
        exceed += null >= obs
        maxima[i] = [null[fam == f].max() for f in (0, 1)]
    bar = np.array([np.quantile(maxima[:, f], 0.95) for f in fam])
    np.testing.assert_allclose(s.p_perm.values, (1 + exceed) / 51)
    np.testing.assert_allclose(s.threshold.values, bar)
    fwe = [(1 + np.sum(maxima[:, f] >= o)) / 51 for f, o in zip(fam, obs)]
    np.testing.assert_allclose(s.p_fwe.values, fwe)
    assert s.significant.values.tolist() == (obs > bar).tolist()
    assert np.flatnonzero(s.significant.values).tolist() == list(PLANTED)
    assert s.attrs["n_permutations"] == 50 and s.attrs["family"] == "layer"
    # one family (no coord): a single bar for all units; F is tested one-sided by nature
    f = selectivity(x, "cat", method="anova", n_permutations=20, random_state=0, progress=False)
    assert np.unique(f.threshold.values).size == 1 and f.p_perm.min() == 1 / 21


def test_permutation_errors(rng):
    x, _, _ = _make(rng)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_permutations': method 'lifetime_sparseness' has no labels to "
            "shuffle; got 10. Leave n_permutations=0, or use a label-based method.")):
        selectivity(x, method="lifetime_sparseness", n_permutations=10)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_permutations': expected an integer >= 0; got -1.")):
        selectivity(x, "face", n_permutations=-1)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'family': expected the name of a coord on 'unit' (one of 'layer'); "
            "got 'block'. Add it with x.assign_coords(block=('unit', values)), or leave family=None.")):
        selectivity(x, "face", n_permutations=5, family="block")
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'alpha': expected a number in (0, 1); got 5.")):
        selectivity(x, "face", n_permutations=5, alpha=5)


def _dprime_loop(data, hit):
    """d' by plain numpy (NaN left out), one unit per column."""
    a, b = data[hit], data[~hit]
    pooled = (np.nanvar(a, 0, ddof=1) + np.nanvar(b, 0, ddof=1)) / 2
    return (np.nanmean(a, 0) - np.nanmean(b, 0)) / np.sqrt(pooled)


def test_selective_fraction_matches_a_loop(rng):
    """The shuffled-label fraction per family, with a given bar, against a loop over shuffles."""
    data = rng.normal(size=(30, 6))
    data[:12, 1] += 2.0
    x = xr.DataArray(data, dims=("stimulus", "unit"),
                     coords={"unit": [f"u{i}" for i in range(6)], "layer": ("unit", list("bbbaaa"))})
    labels = np.arange(30) < 12
    bar = np.array([0.3] * 3 + [0.5] * 3)
    res = selective_fraction(x, labels, threshold=bar, family="layer", n_permutations=4,
                             random_state=np.random.default_rng([5, 7]))
    assert res["family"].values.tolist() == ["b", "a"]  # order of first appearance
    d = _dprime_loop(data, labels)
    np.testing.assert_allclose(res.score.values, d, rtol=1e-10)
    assert res.selective.values.tolist() == ((d > 0) & (np.abs(d) > bar)).tolist()
    np.testing.assert_allclose(res.fraction.values, [((d > 0) & (np.abs(d) > bar))[:3].mean(),
                                                     ((d > 0) & (np.abs(d) > bar))[3:].mean()])
    assert res.n_units.values.tolist() == [3, 3] and res.null.dims == ("permutation", "family")
    perm_rng = np.random.default_rng([5, 7])
    for k in range(4):
        lab = perm_rng.permutation(labels)
        a, b = data[lab], data[~lab]
        d = (a.mean(0) - b.mean(0)) / np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / 2)
        sel = (d > 0) & (np.abs(d) > bar)
        np.testing.assert_allclose(res.null.values[k], [sel[:3].mean(), sel[3:].mean()])
    # the per-permutation blocks give the same null as one block
    from brainbridge.analyses import _selectivity

    one = selective_fraction(x, labels, threshold=bar, family="layer", n_permutations=50, random_state=3)
    try:
        _selectivity._NULL_BLOCK, keep = 12, _selectivity._NULL_BLOCK  # 2 shuffles per block
        blocks = selective_fraction(x, labels, threshold=bar, family="layer", n_permutations=50,
                                    random_state=3)
    finally:
        _selectivity._NULL_BLOCK = keep
    np.testing.assert_array_equal(blocks.null.values, one.null.values)


def test_selective_fraction_default_bar_is_selectivitys(rng):
    """Without a threshold: selectivity's family-wise bar, then the null on the same stream."""
    x, data, face = _make(rng)
    res = selective_fraction(x, "face", family="layer", n_permutations=30, random_state=4, progress=False)
    gen = np.random.default_rng(4)
    s = selectivity(x, "face", family="layer", n_permutations=30, random_state=gen, progress=False)
    np.testing.assert_allclose(res.threshold.values, s.threshold.values)
    assert res.selective.values.tolist() == (s.significant.values & (s.score.values > 0)).tolist()
    assert np.flatnonzero(res.selective.values).tolist() == list(PLANTED)
    fam = np.repeat([0, 1], N_UNIT // 2)
    for k in range(30):
        d = _dprime_loop(data, gen.permutation(face))
        sel = (d > 0) & (np.abs(d) > s.threshold.values)
        np.testing.assert_allclose(res.null.values[k], [sel[fam == f].mean() for f in (0, 1)])
    assert res.attrs == {"target": "True", "family": "layer", "n_permutations": 30}


def test_selective_fraction_nan_labels_and_one_family(rng):
    """NaN responses are left out (as in selectivity); string labels with a target; family=None."""
    x, data, _ = _make(rng)
    data = data.copy()
    data[rng.random(data.shape) < 0.1] = np.nan
    x = x.copy(data=data)
    res = selective_fraction(x, "cat", target="body", threshold=0.4, n_permutations=5, random_state=2)
    body = np.asarray(x["cat"].values) == "body"
    d = _dprime_loop(data, body)
    np.testing.assert_allclose(res.score.values, d, rtol=1e-10)
    assert res["family"].values.tolist() == ["all"] and res.attrs["family"] == ""
    gen = np.random.default_rng(2)
    for k in range(5):
        dk = _dprime_loop(data, gen.permutation(body))
        np.testing.assert_allclose(res.null.values[k, 0], np.mean((dk > 0) & (np.abs(dk) > 0.4)))


def test_selective_fraction_errors(rng):
    x, _, _ = _make(rng)
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for 'threshold': expected a number or one bar per unit ({N_UNIT}); "
            "got shape (3,).")):
        selective_fraction(x, "face", threshold=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'n_permutations': expected an integer >= 1 (label shuffles); got 0.")):
        selective_fraction(x, "face", threshold=0.5, n_permutations=0)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'x': a unit coord named 'family' would clash with the result's 'family' dim; "
            "rename it first, e.g. x.rename(family='group'), and pass that name.")):
        selective_fraction(x.assign_coords(family=x["layer"]), "face", threshold=0.5, family="family")
    with pytest.raises(ValueError, match=re.escape("Invalid value for 'target': expected one of the labels")):
        selective_fraction(x, "cat", target="tree", threshold=0.5)
    reordered = x["unit"].values[::-1]
    bar = xr.DataArray(np.zeros(N_UNIT), dims="unit", coords={"unit": reordered})
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'threshold': a DataArray must be over 'unit'")):
        selective_fraction(x, "face", threshold=bar)


def test_invalid_parameters_and_degenerate_inputs(rng):
    """Issue #15, findings 9 and 11."""
    x, _, _ = _make(rng)
    msg = ("Invalid value for 'threshold': expected a finite number (activation level); got "
           "nan.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        dead_neurons(x, threshold=float("nan"))
    for method in ("csi", "lifetime_sparseness", "population_sparseness"):
        msg = (f"Invalid value for 'x': method {method!r} needs non-negative responses; got a "
               f"minimum of {float(x.min()):.6g}. Rectify or shift them first (e.g. "
               "x.clip(min=0)), or use method='dprime'.")
        kw = {"labels": "face"} if method == "csi" else {}
        with pytest.raises(ValueError, match=re.escape(msg)):
            selectivity(x, method=method, **kw)
    one = np.zeros(x.sizes["stimulus"], dtype=bool)
    one[0] = True
    for method in ("dprime", "t"):
        msg = (f"Invalid value for 'target': method {method!r} needs at least 2 stimuli with the "
               f"target label and 2 without (a variance per group); got 1 with True and "
               f"{one.size - 1} without. Add stimuli, or use method='csi'.")
        with pytest.raises(ValueError, match=re.escape(msg)):
            selectivity(x, one, method=method)
    bad = x.copy(deep=True)
    bad[1, 0] = np.inf
    msg = ("Invalid value for 'x': expected finite numbers or NaN (a missing value); got 1 inf "
           "of 2400 entries, the first at stimulus='s1', unit='u0'.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        selectivity(bad, "face")


def test_positional_cutoff_is_checked(rng):
    x = xr.DataArray(rng.normal(size=(4, 3, 2)), dims=("stimulus", "token", "unit"))
    msg = ("Invalid value for 'cutoff': expected a finite number in [0, 1] (fraction of variance "
           "explained by position); got nan.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        positional_neurons(x, cutoff=float("nan"))
