"""AttentionReadout: content-addressed readout, attention maps, determinism, early stopping."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from scipy.special import erf
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.utils import estimator_checks

import brainbridge as bb
from brainbridge.encoders import AttentionReadout

REGIONS = ["V1", "V4", "IT"]


def _content_problem(rng, n, *, n_tokens=8, n_key=4, n_value=4, per_group=4, noise=0.1,
                     truth=None):
    """Each group's units read the one token whose key matches the group's template.

    Every stimulus holds every group's template at its own random position (the other
    tokens have random keys); unit u of group g responds ``W[g, u] . value(token p_g)``.
    """
    n_groups = len(REGIONS)
    if truth is None:
        q, _ = np.linalg.qr(rng.normal(size=(n_key, n_key)))
        truth = (2.5 * q[:n_groups], rng.normal(size=(n_groups, per_group, n_value)))
    templates, weights = truth
    keys = rng.normal(size=(n, n_tokens, n_key))
    values = rng.normal(size=(n, n_tokens, n_value))
    where = np.array([rng.permutation(n_tokens)[:n_groups] for _ in range(n)])  # (n, groups)
    rows = np.arange(n)
    for g in range(n_groups):
        keys[rows, where[:, g]] = templates[g] + 0.1 * rng.normal(size=(n, n_key))
    X = np.concatenate([keys, values], axis=-1)
    Y = np.concatenate([values[rows, where[:, g]] @ weights[g].T for g in range(n_groups)], 1)
    Y = Y + noise * rng.normal(size=Y.shape)
    return X, Y, where, truth


def _responses(Y, stimulus=None):
    n, n_units = Y.shape
    per = n_units // len(REGIONS)
    coords = {"region": ("unit", np.repeat(REGIONS, per))}
    if stimulus is not None:
        coords["stimulus"] = stimulus
    return bb.assembly(Y, dims=("stimulus", "unit"), coords=coords, modality="fmri",
                       units="%", source="synthetic")


def _small(**kw):
    base = dict(d_model=16, max_epochs=5, batch_size=32, random_state=0, progress=False)
    return AttentionReadout(**{**base, **kw})


# --------------------------------------------------------------------------------------
# The "done when" criterion
# --------------------------------------------------------------------------------------


def test_beats_linear_readout_and_finds_the_token(rng):
    X, Y, _, truth = _content_problem(rng, 900)
    X_test, Y_test, where_test, _ = _content_problem(rng, 300, truth=truth)
    model = AttentionReadout(groups="region", d_model=32, lr=3e-3, max_epochs=60, patience=10,
                             random_state=0, progress=False).fit(X, _responses(Y))

    r2_attention = model.score(X_test, Y_test)
    flat = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(X.reshape(len(X), -1), Y)
    r2_linear = r2_score(Y_test, flat.predict(X_test.reshape(len(X_test), -1)))
    # Noise variance 0.01 against signal variance ~4: the ceiling is R^2 ~ 0.997. A linear
    # map of the flattened tokens cannot follow a token that moves: R^2 ~ 0.
    assert r2_attention > 0.85
    assert r2_linear < 0.25
    assert r2_attention - r2_linear > 0.6

    maps = model.attention_maps(X_test)
    assert maps["query"].values.tolist() == REGIONS
    rows = np.arange(len(X_test))
    for g, region in enumerate(REGIONS):
        a = maps.sel(query=region).values
        assert a[rows, where_test[:, g]].mean() > 0.5
        assert (a.argmax(axis=1) == where_test[:, g]).mean() > 0.8


# --------------------------------------------------------------------------------------
# Equations, shapes and labels
# --------------------------------------------------------------------------------------


def _layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _reference_forward(model, X):
    """The module docstring's equations in float64 numpy, from the fitted weights."""
    p = {k: v.detach().cpu().double().numpy() for k, v in model.module_.state_dict().items()}
    h = model.n_heads
    d = model.d_model
    dh = d // h
    xs = (X - model.x_mean_) / model.x_scale_
    m = _layer_norm(xs @ p["embed.weight"].T + p["embed.bias"] + p["position"],
                    p["token_norm.weight"], p["token_norm.bias"])
    q = (p["queries"] @ p["q_proj.weight"].T + p["q_proj.bias"]).reshape(-1, h, dh)
    k = (m @ p["k_proj.weight"].T + p["k_proj.bias"]).reshape(len(X), -1, h, dh)
    v = (m @ p["v_proj.weight"].T + p["v_proj.bias"]).reshape(len(X), -1, h, dh)
    s = np.einsum("ghe,nthe->nhgt", q, k) / np.sqrt(dh)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    c = np.einsum("nhgt,nthe->nghe", a, v).reshape(len(X), -1, d)
    z = _layer_norm(p["queries"] + c @ p["out_proj.weight"].T + p["out_proj.bias"],
                    p["norm1.weight"], p["norm1.bias"])
    hidden = z @ p["mlp.0.weight"].T + p["mlp.0.bias"]
    hidden = 0.5 * hidden * (1 + erf(hidden / np.sqrt(2)))  # exact GELU
    z = _layer_norm(z + hidden @ p["mlp.2.weight"].T + p["mlp.2.bias"],
                    p["norm2.weight"], p["norm2.bias"])
    if model.unit_query_ is None:
        pred = z.reshape(len(X), -1) @ p["head.weight"].T + p["head.bias"]
    else:
        pred = (z[:, model.unit_query_, :] * p["head_weight"]).sum(-1) + p["head_bias"]
    return pred * model.y_scale_ + model.y_mean_, a.mean(axis=1)


@pytest.mark.parametrize("kw", [dict(groups="region", n_heads=2), dict(n_queries=2),
                                dict()])
def test_matches_reference_equations(rng, kw):
    X, Y, _, _ = _content_problem(rng, 120, n_tokens=5)
    model = _small(**kw).fit(X, _responses(Y))
    pred, attn = _reference_forward(model, X)
    np.testing.assert_allclose(model.predict(X), pred, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.attention_maps(X).values, attn, rtol=1e-4, atol=1e-6)


def test_query_assignment(rng):
    X, Y, _, _ = _content_problem(rng, 60, n_tokens=5)
    y = _responses(Y)
    by_unit = _small().fit(X, y)  # one query per unit
    assert by_unit.query_names_.tolist() == y["unit"].values.tolist()
    assert by_unit.unit_query_.tolist() == list(range(12))
    shared = _small(n_queries=3).fit(X, y)
    assert shared.query_names_.tolist() == ["q0", "q1", "q2"] and shared.unit_query_ is None
    labels = np.repeat(["a", "b"], 6)
    grouped = _small(groups=labels).fit(X, Y)  # labels for a plain array
    assert grouped.query_names_.tolist() == ["a", "b"]
    assert grouped.unit_query_.tolist() == [0] * 6 + [1] * 6
    by_region = _small(groups="region", n_queries=3).fit(X, y)
    assert by_region.attention_maps(X).sizes == {"stimulus": 60, "query": 3, "token": 5}


def test_attention_maps_and_predictions_are_labelled(rng):
    X, Y, _, _ = _content_problem(rng, 80, n_tokens=6)
    stim = np.array([f"img{i:03d}" for i in range(80)])
    positions = np.array([f"y{i // 3}x{i % 3}" for i in range(6)])
    channels = np.array([f"c{j}" for j in range(X.shape[2])])
    Xda = xr.DataArray(X, dims=("stimulus", "position", "channel"),
                       coords={"stimulus": stim, "position": positions, "channel": channels,
                               "row": ("position", np.arange(6) // 3)})
    # y in another stimulus order: it is put in X's order by id.
    order = rng.permutation(80)
    model = _small(groups="region").fit(Xda, _responses(Y[order], stimulus=stim[order]))

    maps = model.attention_maps(Xda)
    assert maps.dims == ("stimulus", "query", "token")
    assert maps["stimulus"].values.tolist() == stim.tolist()
    assert maps["query"].values.tolist() == REGIONS
    assert maps["token"].values.tolist() == positions.tolist()
    assert maps["row"].values.tolist() == [0, 0, 0, 1, 1, 1]
    assert maps.attrs["token_dim"] == "position"
    np.testing.assert_allclose(maps.sum("token").values, 1.0, atol=1e-6)
    assert float(maps.min()) >= 0.0

    pred = model.predict(Xda)
    assert pred.dims == ("stimulus", "unit")
    assert pred["region"].values.tolist() == np.repeat(REGIONS, 4).tolist()
    assert pred.attrs["modality"] == "fmri" and pred.attrs["units"] == "%"
    np.testing.assert_array_equal(pred.values, model.predict(X))

    # Tokens and features are matched by label at predict time, whatever their order.
    shuffled = Xda.isel(position=rng.permutation(6), channel=rng.permutation(X.shape[2]))
    shuffled = shuffled.transpose("stimulus", "channel", "position")
    np.testing.assert_allclose(model.predict(shuffled).values, pred.values, rtol=1e-6)

    # Plain arrays: numpy out, default ids.
    maps_np = model.attention_maps(X)
    assert maps_np["stimulus"].values[:2].tolist() == ["0", "1"]
    assert maps_np["token"].values.tolist() == positions.tolist()  # fitted labels


def test_extract_style_assembly_is_unstacked(rng):
    X, Y, _, _ = _content_problem(rng, 50, n_tokens=4)
    n, t, f = X.shape
    channel = np.repeat([f"c{j}" for j in range(f)], t)  # channel-major, like extract
    position = np.tile([f"t{i}" for i in range(t)], f)
    flat = bb.assembly(
        X.transpose(0, 2, 1).reshape(n, f * t), dims=("stimulus", "unit"), modality="ann",
        coords={"unit": np.char.add(np.char.add("L:", channel), np.char.add(":", position)),
                "layer": ("unit", ["L"] * (f * t)), "channel": ("unit", channel),
                "position": ("unit", position)},
    )
    a = _small().fit(flat, Y)
    b = _small().fit(X, Y)
    assert a.tokens_.tolist() == [f"t{i}" for i in range(t)]
    np.testing.assert_array_equal(a.predict(flat).values, b.predict(X))


def test_score_matches_sklearn(rng):
    X, Y, _, _ = _content_problem(rng, 100, n_tokens=5)
    model = _small(groups="region").fit(X, _responses(Y))
    X2, Y2, _, _ = _content_problem(rng, 40, n_tokens=5)
    pred = model.predict(X2)
    per = model.score_per_target(X2, Y2)
    assert per.dims == ("unit",) and per["region"].values.tolist() == np.repeat(REGIONS, 4).tolist()
    np.testing.assert_allclose(per.values, r2_score(Y2, pred, multioutput="raw_values"), rtol=1e-10)
    assert model.score(X2, Y2) == pytest.approx(r2_score(Y2, pred), rel=1e-10)
    # Units are matched by id; a constant unit has no R^2 and is left out of the mean.
    y2 = _responses(Y2.copy())
    y2[:, 0] = 1.0
    per2 = model.score_per_target(X2, y2.isel(unit=slice(None, None, -1)))
    assert np.isnan(per2.values[0])
    np.testing.assert_allclose(per2.values[1:], per.values[1:], rtol=1e-10)
    assert model.score(X2, y2) == pytest.approx(np.mean(per.values[1:]), rel=1e-10)


# --------------------------------------------------------------------------------------
# Training: determinism and early stopping
# --------------------------------------------------------------------------------------


def test_fixed_seed_gives_identical_fits(rng):
    X, Y, _, _ = _content_problem(rng, 100, n_tokens=5)
    a = _small(random_state=3).fit(X, Y)
    b = _small(random_state=3).fit(X, Y)
    c = _small(random_state=4).fit(X, Y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.history_.train_loss.values, b.history_.train_loss.values)
    np.testing.assert_array_equal(a.validation_indices_, b.validation_indices_)
    assert not np.array_equal(a.predict(X), c.predict(X))
    # A refit of the same estimator gives the same model again.
    np.testing.assert_array_equal(a.fit(X, Y).predict(X), b.predict(X))


def test_numpy_integer_parameters_are_accepted(rng):
    # one check_scalar for every int parameter: numpy integers count as integers (issue #14)
    X, Y, _, _ = _content_problem(rng, 60, n_tokens=5)
    a = _small(d_model=np.int64(16), max_epochs=np.int32(5), batch_size=np.int64(32),
               random_state=np.int64(3)).fit(X, Y)
    b = _small(random_state=3).fit(X, Y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_early_stopping_restores_the_best_epoch(rng):
    # Pure-noise targets and a large learning rate: the model overfits fast, the validation
    # loss turns up, and training stops `patience` epochs after its minimum.
    X = rng.normal(size=(120, 4, 6))
    Y = rng.normal(size=(120, 3))
    model = AttentionReadout(d_model=32, lr=1e-2, max_epochs=200, patience=3, batch_size=16,
                             validation_fraction=0.25, random_state=0, progress=False).fit(X, Y)
    hist = model.history_
    val = hist.val_loss.values
    assert model.n_epochs_ < 200 and hist.sizes["epoch"] == model.n_epochs_
    assert hist.epoch.values.tolist() == list(range(1, model.n_epochs_ + 1))
    assert model.best_epoch_ == int(np.argmin(val)) + 1
    assert model.n_epochs_ == model.best_epoch_ + 3
    assert np.all(val[model.best_epoch_:] >= val[model.best_epoch_ - 1])
    # The restored weights give the best epoch's validation loss (standardised MSE).
    idx = model.validation_indices_
    assert len(idx) == 30
    z = (model.predict(X[idx]) - Y[idx]) / model.y_scale_
    assert np.mean(z**2) == pytest.approx(val[model.best_epoch_ - 1], rel=1e-5)
    assert np.mean(z**2) < val[-1]


def test_no_validation_split_runs_every_epoch(rng):
    X, Y, _, _ = _content_problem(rng, 50, n_tokens=4)
    model = _small(max_epochs=4, validation_fraction=0.0).fit(X, Y)
    assert model.n_epochs_ == 4 and model.best_epoch_ == 4
    assert np.isnan(model.history_.val_loss.values).all()
    assert len(model.validation_indices_) == 0


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_errors(rng):
    X, Y, _, _ = _content_problem(rng, 30, n_tokens=4)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'X': expected a 3-D array of tokens (n_stimuli, n_tokens, "
        "n_features); got 2-D with shape (30, 32). For one token per stimulus use X[:, None, :]."
    )):
        _small().fit(X.reshape(30, -1), Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'y': it has 29 stimuli (rows) but 'X' has 30; give one row of "
        "responses per stimulus of X."
    )):
        _small().fit(X, Y[:29])
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'groups': 'y' has no 'regoin' coordinate along 'unit'; its unit "
        "coordinates are ['region']. Did you mean 'region'? Add one with "
        "y.assign_coords(regoin=('unit', [...])) or pass one label per unit."
    )):
        _small(groups="regoin").fit(X, _responses(Y))
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'groups': 'region' names a unit coordinate, but 'y' is an array "
        "without coordinates. Pass y as a ('stimulus', 'unit') DataArray, or groups as one "
        "label per unit."
    )):
        _small(groups="region").fit(X, Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'groups': expected a coordinate name or one label per unit (12); "
        "got an array of shape (3,)."
    )):
        _small(groups=["a", "b", "c"]).fit(X, Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'n_queries': groups give 3 queries (one per group) but "
        "n_queries=2. Leave n_queries=None when giving groups."
    )):
        _small(groups="region", n_queries=2).fit(X, _responses(Y))
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'n_heads': d_model=16 must be divisible by n_heads; got "
        "n_heads=3. Pick a divisor of d_model."
    )):
        _small(n_heads=3).fit(X, Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'validation_fraction': expected a finite number in [0, 1); got 1.0."
    )):
        _small(validation_fraction=1.0).fit(X, Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'max_epochs': expected an integer >= 1; got 0."
    )):
        _small(max_epochs=0).fit(X, Y)
    with pytest.raises(TypeError, match=re.escape(
        "Invalid type for 'random_state': expected an int, a numpy Generator or None; "
        "got str."
    )):
        _small(random_state="0").fit(X, Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'device': expected 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'."
    )):
        _small(device="tpu").fit(X, Y)
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'X': it contains NaN or infinite values. Drop or impute them "
        "before fitting (e.g. X.dropna('stimulus'))."
    )):
        _small().fit(bad, Y)


def test_dataarray_errors(rng):
    X, Y, _, _ = _content_problem(rng, 30, n_tokens=4)
    stim = np.array([f"s{i}" for i in range(30)])
    Xda = xr.DataArray(X, dims=("stimulus", "token", "feature"), coords={"stimulus": stim})
    other = stim.copy()
    other[0] = "s99"
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'y': its 30 stimulus ids differ from the 30 of 'X' (only in X: "
        "['s0']; only in y: ['s99']). Align them first with brainbridge.align(X, y, "
        "dim='stimulus')."
    )):
        _small().fit(Xda, _responses(Y, stimulus=other))
    with pytest.raises(bb.AssemblyError, match=re.escape(
        "Invalid value for 'X': none of its dims ('stimulus', 'patch', 'feature') is a token "
        "dim; expected one of 'token', 'position', 'unit' beside 'stimulus'. Rename it, e.g. "
        "X.rename({'patch': 'token'})."
    )):
        _small().fit(Xda.rename(token="patch"), Y)
    with pytest.raises(bb.AssemblyError, match=re.escape(
        "Invalid value for 'X': a DataArray of tokens needs a 'stimulus' dim; it has dims "
        "('image', 'token', 'feature'). Rename the stimulus dim, e.g. X.rename({'image': "
        "'stimulus'})."
    )):
        _small().fit(Xda.rename(stimulus="image"), Y)

    Xda = Xda.assign_coords(token=["t0", "t1", "t2", "t3"])
    model = _small().fit(Xda, Y)
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'X': the model was fitted on 4 tokens x 8 features per stimulus; "
        "got 3 x 8 (shape (30, 3, 8))."
    )):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match=re.escape(
        "Invalid value for 'X': its token labels differ from the 4 tokens the model was "
        "fitted on (missing: ['t3']; got 3 tokens). Give X the same tokens as at fit time."
    )):
        model.predict(Xda.isel(token=slice(0, 3)))


def test_not_fitted_error():
    with pytest.raises(NotFittedError, match="This AttentionReadout instance is not fitted yet"):
        AttentionReadout().predict(np.zeros((2, 3, 4)))


# --------------------------------------------------------------------------------------
# scikit-learn contract (the common checks need 2-D X; these are the ones that do not)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [
    "check_estimator_cloneable", "check_estimator_repr", "check_no_attributes_set_in_init",
    "check_parameters_default_constructible", "check_get_params_invariance",
    "check_set_params", "check_do_not_raise_errors_in_init_or_set_params",
    "check_mixin_order", "check_valid_tag_types", "check_estimator_tags_renamed",
])
def test_sklearn_api_checks(check):
    getattr(estimator_checks, check)("AttentionReadout", AttentionReadout())


def test_clone_and_fit_returns_self(rng):
    X, Y, _, _ = _content_problem(rng, 40, n_tokens=4)
    model = _small(groups=np.arange(12) % 2, lr=2e-3)
    fitted = model.fit(X, Y)
    assert fitted is model
    twin = clone(model)
    assert twin.get_params()["lr"] == 2e-3 and not hasattr(twin, "module_")
    assert model.n_features_in_ == 8 and model.n_tokens_in_ == 4 and model.n_units_ == 12


@pytest.mark.gpu
def test_gpu_fit(rng):
    X, Y, where, truth = _content_problem(rng, 400)
    model = AttentionReadout(groups="region", d_model=32, lr=3e-3, max_epochs=30,
                             random_state=0, device="cuda", progress=False).fit(X, _responses(Y))
    assert next(model.module_.parameters()).device.type == "cuda"
    maps = model.attention_maps(X)
    np.testing.assert_allclose(maps.sum("token").values, 1.0, atol=1e-5)
    pred, attn = _reference_forward(model, X)
    np.testing.assert_allclose(model.predict(X), pred, rtol=1e-3, atol=1e-3)
