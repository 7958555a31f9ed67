"""model_recovery and plot_recovery: scores equal direct rsa / cka / encoding calls on rebuilt brains."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge

import brainbridge as bb
from brainbridge.analyses import cka, encoding_score, plot_recovery, rsa
from brainbridge.analyses._recovery import ENCODING_ALPHAS, model_recovery


def _assembly(values, stimuli, prefix):
    return bb.assembly(values, dims=("stimulus", "unit"), modality="ann",
                       coords={"stimulus": stimuli,
                               "unit": [f"{prefix}{i}" for i in range(values.shape[1])]})


def _chain(rng, n=40, width=16, n_candidates=5):
    """Candidates that resemble their neighbours: a random ReLU network's layers."""
    out, x = {}, rng.normal(size=(n, width))
    for i in range(n_candidates):
        x = np.maximum(x @ rng.normal(size=(x.shape[1], width)) / np.sqrt(x.shape[1]), 0) + 0.3 * x
        out[f"L{i}"] = x
    return out


class _LiteralGCVRidge(RegressorMixin, BaseEstimator):
    """Reference: sklearn Ridge per penalty; GCV from the explicit hat matrix; best per target."""

    def __init__(self, alphas=ENCODING_ALPHAS):
        self.alphas = alphas

    def fit(self, x, y):
        n = x.shape[0]
        xc = x - x.mean(axis=0)
        self.models_, crit = [], []
        for a in self.alphas:
            model = Ridge(alpha=a).fit(x, y)
            hat = np.ones((n, n)) / n + xc @ np.linalg.solve(xc.T @ xc + a * np.eye(x.shape[1]), xc.T)
            rss = np.sum((y - model.predict(x)) ** 2, axis=0)
            crit.append(rss / n / (1 - np.trace(hat) / n) ** 2)
            self.models_.append(model)
        self.best_ = np.argmin(np.array(crit), axis=0)
        return self

    def predict(self, x):
        preds = np.stack([m.predict(x) for m in self.models_])  # (alpha, n, unit)
        return preds[self.best_, :, np.arange(self.best_.size)].T


def _rebuild_brain(truth, seed, repeat, n_units, level):
    """The brain of one repeat, from the documented seed logic, written out again."""
    sd = truth.std(axis=0)
    pool = np.flatnonzero(sd > 0)
    rng = np.random.default_rng([seed, 1, repeat])
    units = rng.choice(pool, size=n_units, replace=False)
    z = rng.standard_normal((truth.shape[0], n_units))
    return units, truth[:, units] + level * sd[units] * z


def test_scores_equal_direct_calls(rng):
    n = 36
    stimuli = [f"s{i}" for i in range(n)]
    raw = _chain(rng, n=n, width=12, n_candidates=3)
    raw["L1"][:, 3] = 2.0  # a dead (constant) unit: never drawn
    cands = {k: _assembly(v, stimuli, k) for k, v in raw.items()}
    res = model_recovery(cands, "L1", noise_levels=(0.0, 0.7), n_units=6, n_repeats=2,
                         encoding_components=5, random_state=3, progress=False, device="cpu")
    seed = int(np.random.default_rng(3).integers(2**63))
    assert res.attrs["seed"] == seed
    assert res.attrs["n_dead_units"] == 1
    fold = res["fold"].values
    folds = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]
    checked = 0
    for repeat in (0, 1):
        for level in (0.0, 0.7):
            units, values = _rebuild_brain(raw["L1"], seed, repeat, 6, level)
            assert 3 not in units
            np.testing.assert_array_equal(res["units"].sel(repeat=repeat).values, units)
            brain = _assembly(values, stimuli, "b")
            for name, cand in cands.items():
                got = res["score"].sel(noise=level, repeat=repeat, candidate=name)
                want_rsa = float(rsa(cand, brain, method="correlation", compare="corr",
                                     device="cpu")["similarity"])
                want_cka = float(cka(cand, brain, device="cpu"))
                pcs = PCA(n_components=5).fit_transform(raw[name])
                pcs = pcs / np.sqrt(pcs.var(axis=0).mean())
                enc = encoding_score(_assembly(pcs, stimuli, "pc"), brain, cv=folds,
                                     encoder=_LiteralGCVRidge())
                np.testing.assert_allclose(got.sel(metric="rsa"), want_rsa, rtol=1e-10)
                np.testing.assert_allclose(got.sel(metric="cka"), want_cka, rtol=1e-10)
                np.testing.assert_allclose(got.sel(metric="encoding"), float(enc["r"].mean()),
                                           rtol=1e-7)
                checked += 1
    assert checked == 12


def test_rank_and_recovery_follow_scores(rng):
    res = model_recovery(_chain(rng), "L2", noise_levels=(0.0, 1.0, 3.0), n_units=5, n_repeats=4,
                         random_state=1, progress=False, device="cpu")
    score = res["score"].values
    t = res["candidate"].values.tolist().index("L2")
    for idx in np.ndindex(score.shape[:3]):
        others = np.delete(score[idx], t)
        assert res["rank_of_truth"].values[idx] == 1 + sum(o >= score[idx][t] for o in others)
        np.testing.assert_allclose(res["margin"].values[idx], score[idx][t] - others.max())
    np.testing.assert_allclose(res["recovery"], (res["rank_of_truth"] == 1).mean("repeat"))
    assert res.attrs["chance"] == pytest.approx(1 / 5)


def test_perfect_recovery_without_noise(rng):
    cands = {f"m{i}": rng.normal(size=(50, 20)) for i in range(6)}
    res = model_recovery(cands, "m4", noise_levels=(0.0,), n_repeats=3, random_state=0,
                         progress=False, device="cpu")
    np.testing.assert_array_equal(res["recovery"].values, 1.0)
    np.testing.assert_allclose(res["score"].sel(candidate="m4", metric=["rsa", "cka"]), 1.0)


def test_recovery_falls_with_noise(rng):
    res = model_recovery(_chain(rng, n=40, width=16, n_candidates=6), "L3",
                         noise_levels=(0.0, 1.0, 4.0, 16.0), n_units=12, n_repeats=8, random_state=0,
                         progress=False, device="cpu")
    rec = res["recovery"]
    mean = rec.mean("metric").values
    assert mean[0] >= 0.9
    assert mean[-1] <= mean[0] - 0.4
    assert np.all(np.diff(mean) <= 0.15)  # loosely non-increasing


def test_tied_candidate_is_not_recovered(rng):
    x = rng.normal(size=(30, 10))
    res = model_recovery({"a": x, "b": x.copy(), "c": rng.normal(size=(30, 10))}, "a",
                         metrics=("rsa", "cka"), noise_levels=(0.0,), n_repeats=2, random_state=0,
                         progress=False, device="cpu")
    np.testing.assert_array_equal(res["rank_of_truth"].values, 2)
    np.testing.assert_array_equal(res["recovery"].values, 0.0)


def test_layer_coord_equals_dict_and_is_reproducible(rng):
    raw = _chain(rng, n=30, width=8, n_candidates=3)
    stimuli = [f"s{i}" for i in range(30)]
    joined = bb.assembly(np.concatenate(list(raw.values()), axis=1), dims=("stimulus", "unit"),
                         modality="ann",
                         coords={"stimulus": stimuli, "layer": ("unit", np.repeat(list(raw), 8))})
    kw = dict(noise_levels=(0.0, 1.0), n_units=4, n_repeats=2, progress=False, device="cpu")
    a = model_recovery(joined, "L1", random_state=5, **kw)
    # dict of assemblies with the stimuli shuffled: reordered to the first one's order
    perm = rng.permutation(30)
    cands = {k: _assembly(v, stimuli, k) for k, v in raw.items()}
    cands["L2"] = cands["L2"].isel(stimulus=perm)
    b = model_recovery(cands, "L1", random_state=5, **kw)
    xr.testing.assert_allclose(a["score"], b["score"])
    c = model_recovery(joined, "L1", random_state=np.random.default_rng(5), **kw)
    xr.testing.assert_identical(a["score"], model_recovery(joined, "L1", random_state=5, **kw)["score"])
    assert c.attrs["seed"] == a.attrs["seed"]


def _raises(exc, msg, *args, **kwargs):
    kwargs.setdefault("progress", False)
    with pytest.raises(exc, match=re.escape(msg) + "$"):
        model_recovery(*args, **kwargs)


def test_errors(rng):
    x = {"a": rng.normal(size=(10, 4)), "b": rng.normal(size=(10, 4))}
    _raises(ValueError, "Invalid value for 'truth': expected one of 'a', 'b'; got 'A'.", x, "A")
    _raises(ValueError, "model_recovery needs at least 2 candidates; got 1 (['a']). Add candidates "
            "(e.g. every layer of a network) to rank the true one among.", {"a": x["a"]}, "a")
    _raises(TypeError, "Invalid type for 'candidates': expected a DataArray with a unit coord naming "
            "the candidate (e.g. 'layer') or a dict {name: assembly}; got list.", [1, 2], "a")
    _raises(TypeError, "Invalid type for \"candidates['a']\": expected a DataArray with dims "
            "('stimulus', 'unit') or a 2-d array (n_stimuli, n_units); got ndarray with 1 dims.",
            {"a": np.zeros(3), "b": np.zeros(3)}, "a")
    _raises(ValueError, "Invalid value for 'noise_levels': expected distinct finite numbers >= 0 "
            "(noise std in units of each unit's std); got (-1.0,). E.g. (0.0, 0.5, 1.0, 2.0).",
            x, "a", noise_levels=(-1.0,))
    _raises(ValueError, "Invalid value for 'metrics': expected one of 'rsa', 'cka', 'encoding'; got "
            "'rsa2'. Did you mean 'rsa'?", x, "a", metrics=("rsa2",))
    _raises(ValueError, "Invalid value for 'metrics': expected distinct names from 'rsa', 'cka', "
            "'encoding'; got ['rsa', 'rsa'].", x, "a", metrics=("rsa", "rsa"))
    _raises(ValueError, "Invalid value for 'n_units': expected an integer in [1, 4]; got 5. The truth 'a' "
            "has 4 units that vary over stimuli (0 constant ones are never drawn); or None for all.",
            x, "a", n_units=5)
    _raises(ValueError, "Invalid value for 'n_repeats': expected an integer >= 1; got 0. E.g. "
            "n_repeats=10.", x, "a", n_repeats=0)
    _raises(ValueError, "Invalid value for 'encoding_cv': expected an integer in [2, 10]; got 11. Use "
            "at most one fold per stimulus (10 stimuli).", x, "a", encoding_cv=11)
    _raises(ValueError, "Invalid value for 'alphas': expected a non-empty sequence of finite numbers "
            "> 0; got (0.0,).", x, "a", alphas=(0.0,))
    _raises(ValueError, "candidates['b'] has 9 stimuli; candidates['a'] has 10. Every candidate "
            "needs the same stimuli, in the same order.", {"a": x["a"], "b": x["b"][:9]}, "a")
    _raises(ValueError, "Candidate 'b' holds NaN or inf values. Remove or impute them first (e.g. "
            "drop units with da.dropna('unit')).", {"a": x["a"], "b": np.full((10, 4), np.nan)}, "a")
    _raises(ValueError, "The truth 'a' has no unit that varies over stimuli (all 4 are constant); "
            "pick another truth.", {"a": np.ones((10, 4)), "b": x["b"]}, "a")
    da = bb.assembly(x["a"], dims=("stimulus", "unit"), modality="ann")
    _raises(ValueError, "'candidates' has no unit coord 'layer' to split it into candidates (its "
            "coords: ['stimulus', 'unit']). Pass by='<coord>' naming a unit coord such as 'layer', or "
            "a dict {name: assembly}.", da, "a")
    a = _assembly(x["a"], [f"s{i}" for i in range(10)], "a")
    b = _assembly(x["b"], [f"t{i}" for i in range(10)], "b")
    _raises(ValueError, "candidates['b'] does not hold the same stimuli as candidates['a']. Align "
            "them first (brainbridge.align) so every candidate has the same stimulus ids.",
            {"a": a, "b": b}, "a")


def test_plot_recovery(rng):
    res = model_recovery({f"m{i}": rng.normal(size=(20, 6)) for i in range(4)}, "m0",
                         noise_levels=(0.0, 1.0, 5.0), n_repeats=2, random_state=0, progress=False,
                         device="cpu")
    ax = plot_recovery(res)
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["rsa", "cka", "encoding", "chance (1/4)"]
    np.testing.assert_allclose(lines[1].get_ydata(), res["recovery"].sel(metric="cka"))
    np.testing.assert_allclose(lines[1].get_xdata(), [0.0, 1.0, 5.0])
    np.testing.assert_allclose(lines[-1].get_ydata(), 0.25)
    assert lines[-1].get_linestyle() == "--"
    with pytest.raises(ValueError, match=re.escape(
            "'result' is not a model_recovery result: it needs a 'recovery' variable and a 'chance' "
            "attr; got variables ['x'].")):
        plot_recovery(xr.Dataset({"x": 1}))
