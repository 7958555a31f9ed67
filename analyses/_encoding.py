"""Encoding-model evaluation: cross-validated per-unit scores, noise ceilings, variance partitioning.

Conventions (one place, used by every function here):

* **Held-out scores are computed on the concatenation** of the held-out predictions of all
  folds (each sample is predicted once, by the model that did not see it), not averaged over
  folds. For unit ``j`` with held-out responses ``y`` and predictions ``p`` (``n`` samples):

  - Pearson ``r_j = sum((y - ybar)(p - pbar)) / sqrt(sum((y - ybar)^2) sum((p - pbar)^2))``
  - ``R^2_j = 1 - sum((y - p)^2) / sum((y - ybar)^2)`` (sklearn's ``r2_score``; it can be
    negative, and is NaN for a constant ``y``; ``r`` is NaN when ``y`` or ``p`` is constant:
    the one policy of :mod:`brainbridge._scoring`, shared with every encoder's ``score``).

  Concatenating gives one number per unit from all ``n`` samples (stable for small folds)
  and is what ``cross_val_predict`` + a metric gives in scikit-learn.
* **Cross-validation never mixes a run between train and test.** With groups (runs, blocks,
  trials) the folds are whole groups; a time series without groups is cut into contiguous
  blocks (``KFold`` without shuffling): shuffling time points would put each test sample's
  autocorrelated neighbours (and, with lagged features, its own stimulus history) in the
  training set, inflating held-out scores (temporal leakage).
* **Noise ceiling** (where responses have a ``trial`` dim): split-half reliability with the
  Spearman-Brown correction, as Brain-Score's ``InternalConsistency``: for each of
  ``n_splits`` random halvings of the trials, correlate (Pearson, over samples) the mean of
  one half with the mean of the other per unit, correct ``rho = 2 r / (1 + r)``, and average
  ``rho`` over the splits. ``rho`` estimates the reliability of the all-trial mean that the
  model is fitted to: the fraction of its variance that is repeatable signal.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import math
import warnings
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr

from .._align import align
from .._checks import AssemblyError, _check_option, check_finite, check_random_state, check_scalar
from .._scoring import pearson_r, r2_score

logger = logging.getLogger(__name__)

#: Sample dims an encoding model can be scored along.
SAMPLE_DIMS = ("stimulus", "time")
#: Coords along the sample dim that ``groups=None`` uses as cross-validation groups, in order.
GROUP_COORDS = ("run", "block", "trial")


# ----------------------------------------------------------------------------------------
# Statistics (per-unit scores: brainbridge._scoring, float64, NaN for constant units)
# ----------------------------------------------------------------------------------------

def spearman_brown(r: Any, n: float = 2.0) -> Any:
    """Spearman-Brown prophecy: reliability of a mean of ``n`` times as many trials.

    ``rho = n r / (1 + (n - 1) r)``; with ``n = 2`` (split halves) ``rho = 2 r / (1 + r)``.

    Parameters
    ----------
    r : float or array
        Reliability (correlation) of the shorter measure, e.g. between two half-means.
    n : float, default=2.0
        Lengthening factor (> 0).

    Examples
    --------
    >>> from brainbridge.analyses import spearman_brown
    >>> round(spearman_brown(0.5), 6)
    0.666667
    """
    if not (isinstance(n, (int, float, np.integer, np.floating)) and n > 0):
        raise ValueError(f"Invalid value for 'n': expected a positive number; got {n!r}.")
    scalar = np.ndim(r) == 0
    values = check_finite("r", r, allow_nan=True, fix="Pass correlations; NaN marks an "
                          "undefined one and stays NaN.")
    rr: Any = float(values) if scalar else values
    return n * rr / (1.0 + (n - 1.0) * rr)


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------

def _sample_dim(dim: str | None, *arrays: Any) -> str:
    if dim is not None:
        return _check_option("dim", dim, SAMPLE_DIMS)
    das = [a for a in arrays if isinstance(a, xr.DataArray)]
    for candidate in SAMPLE_DIMS:
        if das and all(candidate in a.dims for a in das):
            return candidate
    if not das:
        return "stimulus"
    raise AssemblyError(
        "'features' and 'responses' share no sample dim: expected both to have 'stimulus' or "
        f"both 'time'; got {[tuple(a.dims) for a in das]}. Pass dim=... after renaming.")


def _as_da(x: Any, name: str, dim: str, allowed: tuple[str, ...],
           ids: np.ndarray | None = None) -> xr.DataArray:
    """A DataArray with ``dim`` first and ``unit`` last; arrays get ``ids`` (or 0, 1, ...)."""
    if not isinstance(x, xr.DataArray):
        values = np.asarray(x)
        if values.ndim != 2 or not np.issubdtype(values.dtype, np.number):
            raise ValueError(
                f"Invalid value for {name!r}: expected an assembly or a numeric 2-D array "
                f"(n_samples, n_units); got {type(x).__name__} with shape "
                f"{getattr(values, 'shape', None)}.")
        if ids is None or len(ids) != values.shape[0]:
            if ids is not None:
                raise ValueError(
                    f"Invalid value for {name!r}: an array must have one row per {dim!r} of "
                    f"the other input ({len(ids)}); got {values.shape[0]} rows.")
            ids = np.arange(values.shape[0]).astype(str)
        x = xr.DataArray(values, dims=(dim, "unit"),
                         coords={dim: ids, "unit": np.arange(values.shape[1]).astype(str)})
    expected = (dim, *allowed, "unit")
    if any(d not in x.dims for d in (dim, "unit")) or any(d not in expected for d in x.dims):
        optional = f" (optional {', '.join(map(repr, allowed))})" if allowed else ""
        raise AssemblyError(
            f"{name!r} must have dims {dim!r} and 'unit'{optional}; got {tuple(x.dims)}. "
            "Select or average the other dims first (e.g. da.mean('subject')).")
    if dim not in x.coords:
        x = x.assign_coords({dim: np.arange(x.sizes[dim]).astype(str)})
    return x.transpose(dim, *[a for a in allowed if a in x.dims], "unit")


class _Data(NamedTuple):
    y: np.ndarray                 # (n, u) responses, trial-averaged
    trials: np.ndarray | None     # (n, t, u) responses per trial, or None
    responses: xr.DataArray       # aligned responses (for coords)
    groups: np.ndarray | None     # (n,) group per sample
    group_name: str | None


def _resolve_groups(responses: xr.DataArray, features: list[xr.DataArray], groups: Any,
                    dim: str) -> tuple[xr.DataArray, str | None]:
    """Attach the cv groups as coord ``_cv_group`` along ``dim`` of ``responses``."""
    along = lambda da, c: c in da.coords and da[c].dims == (dim,) and c != dim  # noqa: E731
    if groups is None:
        for c in GROUP_COORDS:
            for da in (responses, *features):
                if along(da, c):
                    logger.info("encoding: cross-validating over groups from coord %r", c)
                    return _attach(responses, da, c, dim), c
        return responses, None
    if isinstance(groups, str):
        for da in (responses, *features):
            if along(da, groups):
                return _attach(responses, da, groups, dim), groups
        have = sorted({str(c) for da in (responses, *features) for c in da.coords
                       if along(da, c)})
        raise ValueError(
            f"Invalid value for 'groups': no coord {groups!r} along {dim!r} in 'responses' or "
            f"'features'; coords along {dim!r} are {have}. Add one with "
            f"da.assign_coords({groups}=({dim!r}, ids)) or pass one id per sample.")
    values = np.asarray(groups)
    if values.ndim != 1 or values.shape[0] != responses.sizes[dim]:
        raise ValueError(
            f"Invalid value for 'groups': expected one group id per {dim!r} of 'responses' "
            f"({responses.sizes[dim]} values, in the order of 'responses'); got shape "
            f"{values.shape}.")
    return responses.assign_coords(_cv_group=(dim, values)), "groups"


def _attach(responses: xr.DataArray, source: xr.DataArray, coord: str, dim: str) -> xr.DataArray:
    if source is responses:
        return responses.assign_coords(_cv_group=(dim, np.asarray(responses[coord].values)))
    ids = np.asarray(source[dim].values)
    lookup = dict(zip(ids.tolist(), np.asarray(source[coord].values).tolist()))
    vals = [lookup.get(i) for i in np.asarray(responses[dim].values).tolist()]
    return responses.assign_coords(_cv_group=(dim, np.asarray(vals, dtype=object)))


def _finite(values: xr.DataArray, name: str) -> np.ndarray:
    """float64 values; NaN, inf, complex or text raise (brainbridge._checks.check_finite)."""
    return check_finite(name, values, fix=(
        "Encoding models need complete data. Drop incomplete units (da.dropna('unit')) or "
        "fill them first."))


def _prepare(features: Mapping[str, Any], responses: Any, dim: str | None,
             groups: Any) -> tuple[dict[str, np.ndarray], _Data, str]:
    dim = _sample_dim(dim, responses, *features.values())
    ref = next((f for f in features.values() if isinstance(f, xr.DataArray)), None)
    ref_ids = None if ref is None or dim not in ref.coords else np.asarray(ref[dim].values)
    resp = _as_da(responses, "responses", dim, ("trial",), ref_ids)
    feats: dict[str, Any] = {k: _as_da(v, "features" if len(features) == 1 else f"features[{k!r}]", dim, (),
                       np.asarray(resp[dim].values))
             for k, v in features.items()}
    resp, group_name = _resolve_groups(resp, list(feats.values()), groups, dim)
    for f in feats.values():  # samples keep the order of 'responses'
        resp, _ = align(resp, f, dim=dim, names=("responses", "features"))
    feats = {k: f.sel({dim: resp[dim].values}) for k, f in feats.items()}
    for k, f in feats.items():
        label = "features" if len(feats) == 1 else f"features[{k!r}]"
        feats[k] = _finite(f.transpose(dim, "unit"), label)
    trials = None
    if "trial" in resp.dims:
        trials = _finite(resp.transpose(dim, "trial", "unit"),
                         "responses")
        y = trials.mean(axis=1)
    else:
        y = _finite(resp.transpose(dim, "unit"), "responses")
    g = None
    if group_name is not None:
        g = np.asarray(resp["_cv_group"].values)
        if any(v is None for v in g.tolist()):
            raise ValueError(
                f"Invalid value for 'groups': coord {group_name!r} of 'features' has no value "
                f"for some {dim!r} ids of 'responses'; give every sample a group.")
        resp = resp.drop_vars("_cv_group")
    return feats, _Data(y, trials, resp, g, group_name), dim


# ----------------------------------------------------------------------------------------
# Cross-validation
# ----------------------------------------------------------------------------------------

class _Splits(NamedTuple):
    folds: list[tuple[np.ndarray, np.ndarray]]
    fold_of: np.ndarray      # (n,) test fold of each sample, -1 if never tested
    description: str


def _splits(n: int, cv: Any, groups: np.ndarray | None, group_name: str | None, dim: str,
            rng: np.random.Generator) -> _Splits:
    from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut

    n_groups = 0 if groups is None else np.unique(groups.astype(str)).size
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"Invalid value for 'cv': expected an int >= 2 folds, a "
                             f"scikit-learn splitter or a list of (train, test); got {cv!r}.")
        if groups is not None:
            if n_groups < 2:
                raise ValueError(
                    f"Invalid value for 'groups': cross-validation needs at least 2 groups; "
                    f"{group_name!r} has {n_groups}. Pass groups=... with more runs or blocks.")
            if n_groups <= cv:
                splitter, desc = LeaveOneGroupOut(), "LeaveOneGroupOut()"
            else:
                splitter, desc = GroupKFold(n_splits=int(cv)), f"GroupKFold(n_splits={int(cv)})"
            desc += f" over {group_name!r} ({n_groups} groups)"
        elif dim == "time":
            splitter = KFold(n_splits=int(cv), shuffle=False)
            desc = f"KFold(n_splits={int(cv)}, shuffle=False): contiguous blocks of 'time'"
        else:
            seed = int(rng.integers(2**31 - 1))
            splitter = KFold(n_splits=int(cv), shuffle=True, random_state=seed)
            desc = f"KFold(n_splits={int(cv)}, shuffle=True, random_state={seed}) over {dim!r}"
        if int(cv) > n and groups is None:
            raise ValueError(f"Invalid value for 'cv': {int(cv)} folds but only {n} samples "
                             f"along {dim!r}; use fewer folds.")
        folds = list(splitter.split(np.zeros((n, 1)), None, groups))
    elif hasattr(cv, "split"):
        with warnings.catch_warnings():  # a non-group splitter: the leak check below decides
            warnings.filterwarnings("ignore", message="The groups parameter is ignored")
            folds = list(cv.split(np.zeros((n, 1)), None, groups))
        desc = repr(cv) + ("" if groups is None else f" over {group_name!r} ({n_groups} groups)")
    else:
        try:
            folds = [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
        except (TypeError, ValueError) as err:
            raise ValueError(
                "Invalid value for 'cv': expected an int >= 2 folds, a scikit-learn splitter "
                f"or a list of (train, test) index arrays; got {cv!r}.") from err
        desc = f"{len(folds)} user-given folds"
    fold_of = np.full(n, -1, dtype=np.int64)
    for k, (train, test) in enumerate(folds):
        train, test = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
        if train.size == 0 or test.size == 0:
            raise ValueError(f"Invalid value for 'cv': fold {k} has an empty train or test set.")
        if (fold_of[test] >= 0).any():
            raise ValueError(
                f"Invalid value for 'cv': fold {k} tests samples already tested in another "
                "fold; held-out predictions are concatenated, so test sets must be disjoint "
                "(use KFold / GroupKFold rather than ShuffleSplit).")
        if np.intersect1d(train, test).size:
            raise ValueError(f"Invalid value for 'cv': fold {k} has samples in both train and "
                             "test.")
        if groups is not None:
            shared = np.intersect1d(groups[train].astype(str), groups[test].astype(str))
            if shared.size:
                raise ValueError(
                    f"Invalid value for 'cv': fold {k} puts group(s) {shared[:5].tolist()} of "
                    f"{group_name!r} in both train and test, which leaks them. Use a group "
                    "splitter (GroupKFold, LeaveOneGroupOut) or an int.")
        fold_of[test] = k
        folds[k] = (train, test)
    if (fold_of < 0).any():
        logger.info("encoding: %d of %d samples are in no test fold and are not scored",
                    int((fold_of < 0).sum()), n)
    return _Splits(folds, fold_of, desc)


def _default_encoder() -> Any:
    try:
        encoders = importlib.import_module("brainbridge.encoders")
        return encoders.RidgeEncoder()
    except (ImportError, AttributeError) as err:
        raise ImportError(
            "encoding_score's default encoder, brainbridge.encoders.RidgeEncoder, could not be "
            f"imported ({type(err).__name__}: {err}). Pass an estimator explicitly, e.g. "
            "encoder=sklearn.linear_model.RidgeCV(alphas=np.logspace(-2, 5, 8), "
            "alpha_per_target=True).") from err


def _check_encoder(encoder: Any) -> Any:
    if encoder is None:
        return _default_encoder()
    if not (hasattr(encoder, "fit") and hasattr(encoder, "predict")):
        raise TypeError(
            "Invalid type for 'encoder': expected a scikit-learn estimator with fit and "
            f"predict (e.g. brainbridge.encoders.RidgeEncoder()); got {type(encoder).__name__}.")
    return encoder


def _held_out(encoder: Any, x: np.ndarray, y: np.ndarray, splits: _Splits) -> np.ndarray:
    """Held-out predictions ``(n, u)``: each tested sample predicted by a clone fitted without it."""
    from sklearn.base import clone

    pred = np.full(y.shape, np.nan)
    for k, (train, test) in enumerate(splits.folds):
        est = clone(encoder)
        est.fit(x[train], y[train])
        p = np.asarray(est.predict(x[test]), dtype=np.float64)
        if p.ndim == 1:
            p = p[:, None]
        if p.shape != (test.size, y.shape[1]):
            raise ValueError(
                f"'encoder' predicted shape {p.shape} in fold {k}; expected "
                f"{(test.size, y.shape[1])} (n_test, n_units). Check that it supports "
                "several targets.")
        pred[test] = p
    return pred


def _unit_coords(responses: xr.DataArray) -> dict[Hashable, Any]:
    return {c: responses.coords[c] for c in responses.coords
            if responses.coords[c].dims == ("unit",)}


# ----------------------------------------------------------------------------------------
# Noise ceiling
# ----------------------------------------------------------------------------------------

def _split_half(trials: np.ndarray, n_splits: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, t, u)`` -> ``(n_splits, u)`` Spearman-Brown corrected split-half reliabilities."""
    n_trials = trials.shape[1]
    half = n_trials // 2
    data = torch.as_tensor(trials, dtype=torch.float64)
    out = np.empty((n_splits, trials.shape[2]))
    for s in range(n_splits):
        perm = torch.as_tensor(rng.permutation(n_trials))
        a = data[:, perm[:half]].mean(dim=1)
        b = data[:, perm[half: 2 * half]].mean(dim=1)
        out[s] = spearman_brown(pearson_r(a.numpy(), b.numpy()))
    return out


def split_half_ceiling(responses: Any, *, dim: str | None = None, n_splits: int = 10,
                       random_state: Any = None) -> xr.DataArray:
    """Split-half reliability per unit, Spearman-Brown corrected (Brain-Score's ceiling).

    For each of ``n_splits`` random halvings of the trials (``n_trials // 2`` in each half; one
    trial is left out per split when ``n_trials`` is odd) the two half-means are correlated
    over samples, per unit (Pearson ``r``), corrected to the full number of trials with
    ``rho = 2 r / (1 + r)`` (:func:`spearman_brown`), and ``rho`` is averaged over the splits
    (correct, then average, as Brain-Score's ``InternalConsistency``).

    ``rho`` estimates the reliability of the trial-averaged response: with responses
    ``signal + noise``, ``rho = var(signal) / var(mean response)``. It is therefore the
    expected held-out ``R^2`` of a perfect model (one that predicts the signal exactly), whose
    Pearson ``r`` is ``sqrt(rho)``.

    Parameters
    ----------
    responses : DataArray, dims (dim, 'trial', 'unit'), or array (n_samples, n_trials, n_units)
        Repeated measurements, at least 2 trials.
    dim : {'stimulus', 'time'}, optional
        The sample dim to correlate over; default the one ``responses`` has.
    n_splits : int, default=10
        Random split halves to average over.
    random_state : int, numpy Generator or None
        Seeds the halvings.

    Returns
    -------
    DataArray, dims ('unit',)
        ``rho`` per unit, unit coords of ``responses`` kept; NaN for a unit whose half-means
        are constant. attrs: ``n_splits``, ``n_trials``.

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> from brainbridge.analyses import split_half_ceiling
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=(200, 1, 3))
    >>> data = signal + rng.normal(size=(200, 8, 3))   # 8 trials, noise variance 1
    >>> resp = bb.assembly(data, dims=("stimulus", "trial", "unit"), modality="ephys")
    >>> rho = split_half_ceiling(resp, random_state=0)
    >>> bool(np.all(np.abs(rho.values - 8 / 9) < 0.05))  # var(s) / (var(s) + 1 / 8)
    True
    """
    n_splits = check_scalar("n_splits", n_splits, int, low=1)
    if not isinstance(responses, xr.DataArray):
        values = np.asarray(responses)
        if values.ndim != 3:
            raise ValueError(
                "Invalid value for 'responses': expected an assembly with a 'trial' dim or an "
                f"array (n_samples, n_trials, n_units); got shape {values.shape}.")
        responses = xr.DataArray(values, dims=("stimulus", "trial", "unit"),
                                 coords={"unit": np.arange(values.shape[2]).astype(str)})
    if "trial" not in responses.dims:
        raise AssemblyError(
            f"'responses' has no 'trial' dim (dims {tuple(responses.dims)}); a split-half "
            "ceiling needs repeated trials. Stack repeats into a 'trial' dim or pass "
            "ceiling='none'.")
    dim = _sample_dim(dim, responses)
    resp = _as_da(responses, "responses", dim, ("trial",))
    if resp.sizes["trial"] < 2:
        raise ValueError(f"Invalid value for 'responses': a split-half ceiling needs at least "
                         f"2 trials; got {resp.sizes['trial']}. Stack repeated presentations "
                         "into the 'trial' dim, or pass ceiling='none'.")
    trials = _finite(resp.transpose(dim, "trial", "unit"),
                     "responses")
    rng = check_random_state(random_state)
    rho = _split_half(trials, int(n_splits), rng).mean(axis=0)
    return xr.DataArray(rho, dims=("unit",), coords=_unit_coords(resp), name="ceiling",
                        attrs={"n_splits": int(n_splits), "n_trials": int(resp.sizes["trial"]),
                               "method": "split-half, Spearman-Brown corrected"})


def _no_ceiling(responses: xr.DataArray, dim: str, rng: np.random.Generator) -> np.ndarray:
    return np.full(responses.sizes["unit"], np.nan)


def _split_half_method(responses: xr.DataArray, dim: str, rng: np.random.Generator) -> np.ndarray:
    return split_half_ceiling(responses, dim=dim, random_state=rng).values


#: Noise-ceiling methods by name for ``encoding_score(ceiling=...)``.
CEILINGS: dict[str, Callable[[xr.DataArray, str, np.random.Generator], np.ndarray]] = {
    "split_half": _split_half_method,
    "none": _no_ceiling,
}


def _ceiling(ceiling: Any, responses: xr.DataArray, dim: str,
             rng: np.random.Generator) -> tuple[np.ndarray, str]:
    n_units = responses.sizes["unit"]
    if ceiling is None:
        method = "split_half" if responses.sizes.get("trial", 0) >= 2 else "none"
        return CEILINGS[method](responses, dim, rng), method
    if isinstance(ceiling, str):
        method = _check_option("ceiling", ceiling, CEILINGS)
        return CEILINGS[method](responses, dim, rng), method
    if isinstance(ceiling, xr.DataArray):
        if ceiling.dims != ("unit",):
            raise ValueError(f"Invalid value for 'ceiling': a DataArray ceiling must have dims "
                             f"('unit',); got {ceiling.dims}.")
        ids = np.asarray(responses["unit"].values)
        missing = np.setdiff1d(ids, np.asarray(ceiling["unit"].values))
        if missing.size:
            raise ValueError(
                f"Invalid value for 'ceiling': no value for unit(s) {missing[:5].tolist()} "
                "of 'responses'.")
        return np.asarray(ceiling.sel(unit=ids).values, dtype=np.float64), "given"
    values = np.asarray(ceiling, dtype=np.float64)
    if values.shape != (n_units,):
        raise ValueError(
            "Invalid value for 'ceiling': expected None, one of 'split_half', 'none', or one "
            f"value per unit ({n_units}); got {ceiling!r}.")
    return values, "given"


# ----------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------

def encoding_score(features: Any, responses: Any, *, encoder: Any = None, cv: Any = 5,
                   groups: Any = None, dim: str | None = None, ceiling: Any = None,
                   random_state: Any = None) -> xr.Dataset:
    """Cross-validated per-unit encoding scores (Pearson r, R^2), normalised by a noise ceiling.

    ``features`` and ``responses`` are aligned on their shared sample ids
    (:func:`brainbridge.align`); the encoder (a scikit-learn estimator, cloned per fold) is
    fitted on the training folds and predicts the held-out fold; scores are computed per unit
    on the held-out predictions concatenated over folds:

    - ``r``: Pearson correlation; ``r2``: ``1 - SSE / SST`` (see the module docstring);
    - ``ceiling``: split-half reliability ``rho`` (Spearman-Brown corrected; Brain-Score's
      ``internal_consistency``) of the trial-averaged responses, when they have a ``trial``
      dim (the model is fitted to and scored on the mean over trials);
    - ``normalized = r / ceiling``: Brain-Score's convention (Pearson r divided by the
      corrected split-half r, both correlations);
    - ``normalized_r2 = r2 / ceiling``: ``rho`` is the expected R^2 of a perfect model (it
      estimates ``var(signal) / var(mean response)``), so this is the fraction of the
      explainable variance explained and is about 1 for a perfect model. (A perfect model's
      Pearson r is ``sqrt(rho)``; ``r / sqrt(ceiling)`` is the attenuation-corrected r, and
      ``normalized_r2`` equals its square for an unbiased model.)

    Normalised scores are NaN where the ceiling is not positive; they are not clipped.

    Parameters
    ----------
    features : DataArray, dims (dim, 'unit'), or array (n_samples, n_features)
        Model features, e.g. ANN activations or :func:`brainbridge.encoders.lagged` output.
    responses : DataArray, dims (dim, ['trial',] 'unit'), or array (n_samples, n_units)
        Recorded responses. Arrays must have the same samples, in order, as ``features``.
    encoder : estimator, optional
        scikit-learn estimator with ``fit(X, Y)`` / ``predict(X)`` for several targets;
        default ``brainbridge.encoders.RidgeEncoder()``.
    cv : int, splitter or list of (train, test), default=5
        An int gives: with groups, ``GroupKFold(cv)`` (``LeaveOneGroupOut`` when there are at
        most ``cv`` groups); along ``time`` without groups, ``KFold(cv, shuffle=False)``
        (contiguous blocks, never shuffled time points: that would leak autocorrelated
        neighbours into training); along ``stimulus`` without groups, ``KFold(cv,
        shuffle=True)`` seeded from ``random_state``. A splitter gets ``split(X, y, groups)``.
        Test sets must be disjoint; a fold that puts one group in train and test is an error.
    groups : str, array-like or None, default=None
        Cross-validation groups (runs, blocks, trials): the name of a coord along ``dim`` of
        ``responses`` or ``features``, or one id per sample of ``responses`` (in its order).
        ``None`` uses the first of the coords ``run``, ``block``, ``trial`` found along ``dim``.
    dim : {'stimulus', 'time'}, optional
        The sample dim; default the one both inputs have (``"stimulus"`` for arrays).
    ceiling : None, str, DataArray or array, default=None
        ``None``: ``"split_half"`` when ``responses`` has >= 2 trials, else ``"none"`` (NaN).
        One of :data:`CEILINGS`, or precomputed values per unit (e.g. from
        :func:`split_half_ceiling` with more splits).
    random_state : int, numpy Generator or None
        Seeds shuffled folds and the split halves.

    Returns
    -------
    Dataset
        Variables over ``unit`` (ids and every per-unit coord of ``responses``, e.g.
        ``region`` or ``x``/``y``/``z``, kept so scores map back to the brain): ``r``,
        ``r2``, ``ceiling``, ``normalized``, ``normalized_r2``; and ``fold`` over ``dim``:
        the test fold of each sample (-1: never tested, not scored). attrs: ``encoder``
        (repr), ``cv`` (description), ``n_splits``, ``ceiling_method``, ``dim``,
        ``aggregation``.

    Examples
    --------
    >>> import numpy as np
    >>> import brainbridge as bb
    >>> from sklearn.linear_model import RidgeCV
    >>> from brainbridge.analyses import encoding_score
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(120, 5))
    >>> y = x @ rng.normal(size=(5, 3)) + rng.normal(size=(120, 3))
    >>> feats = bb.assembly(x, dims=("stimulus", "unit"), modality="ann")
    >>> resp = bb.assembly(y, dims=("stimulus", "unit"), modality="fmri",
    ...                    coords={"region": ("unit", ["V1", "V1", "V4"])})
    >>> scores = encoding_score(feats, resp, encoder=RidgeCV(), random_state=0)
    >>> bool((scores["r"] > 0.8).all()), scores["region"].values.tolist()
    (True, ['V1', 'V1', 'V4'])
    """
    rng = check_random_state(random_state)
    encoder = _check_encoder(encoder)
    feats, data, dim = _prepare({"features": features}, responses, dim, groups)
    x = feats["features"]
    splits = _splits(x.shape[0], cv, data.groups, data.group_name, dim, rng)
    pred = _held_out(encoder, x, data.y, splits)
    tested = splits.fold_of >= 0
    r = pearson_r(data.y[tested], pred[tested])
    r2 = r2_score(data.y[tested], pred[tested])
    ceil, method = _ceiling(ceiling, data.responses, dim, rng)
    ok = np.isfinite(ceil) & (ceil > 0)
    safe = np.where(ok, ceil, 1.0)
    normalized = np.where(ok, r / safe, np.nan)
    normalized_r2 = np.where(ok, r2 / safe, np.nan)
    resp = data.responses
    coords = _unit_coords(resp)
    coords[dim] = resp[dim].values
    ds = xr.Dataset(
        {"r": ("unit", r), "r2": ("unit", r2), "ceiling": ("unit", ceil),
         "normalized": ("unit", normalized), "normalized_r2": ("unit", normalized_r2),
         "fold": (dim, splits.fold_of)},
        coords=coords,
        attrs={"encoder": repr(encoder), "cv": splits.description,
               "n_splits": len(splits.folds), "ceiling_method": method, "dim": dim,
               "aggregation": "held-out predictions concatenated over folds",
               "normalization": "normalized = r / ceiling (Brain-Score); "
                                "normalized_r2 = r2 / ceiling"})
    logger.info("encoding_score: %d units, %d samples, %s; median r %.3f",
                r.size, int(tested.sum()), splits.description,
                float(np.nanmedian(r)) if np.isfinite(r).any() else math.nan)
    return ds


def _partitions(names: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(label, spaces) for every region of the Venn diagram: non-empty subsets of ``names``."""
    out = []
    for k in range(1, len(names) + 1):
        for combo in itertools.combinations(names, k):
            out.append((f"{combo[0]}_only" if k == 1 else "∩".join(combo), combo))
    return out


def _exclusive(spaces: tuple[str, ...], names: list[str],
               r2: Mapping[frozenset[str], np.ndarray]) -> np.ndarray:
    """Variance explained by exactly the spaces in ``spaces`` (inclusion-exclusion).

    ``V(T) = sum_{W subset T, W != {}} (-1)^(|W|+1) R^2(W u O) - R^2(O)``, ``O`` the other
    spaces, ``R^2({}) = 0``.
    """
    others = frozenset(names) - frozenset(spaces)
    total = -r2.get(others, 0.0) if others else 0.0
    for k in range(1, len(spaces) + 1):
        for w in itertools.combinations(spaces, k):
            total = total + (-1) ** (k + 1) * r2[frozenset(w) | others]
    return np.asarray(total)


def variance_partitioning(features: Mapping[str, Any], responses: Any, *, encoder: Any = None,
                          cv: Any = 5, groups: Any = None, dim: str | None = None,
                          random_state: Any = None) -> xr.Dataset:
    """Unique and shared held-out variance of two or three feature spaces, per unit.

    One encoder is fitted on every non-empty subset of the spaces (their columns
    concatenated), on the same folds as :func:`encoding_score`, and the held-out ``R^2`` of
    each (:math:`R^2_S`) is split into the regions of a Venn diagram by inclusion-exclusion.

    Two spaces A, B:

    - ``A_only = R2_AB - R2_B``; ``B_only = R2_AB - R2_A``
    - ``A∩B = R2_A + R2_B - R2_AB``

    Three spaces A, B, C (de Heer et al. 2017, J Neurosci 37:6539):

    - ``A_only = R2_ABC - R2_BC`` (and likewise ``B_only``, ``C_only``)
    - ``A∩B = R2_AC + R2_BC - R2_C - R2_ABC`` (shared by A and B, not C; likewise the others)
    - ``A∩B∩C = R2_A + R2_B + R2_C - R2_AB - R2_AC - R2_BC + R2_ABC``

    The regions sum to the R^2 of the full model. With finite data a region can come out
    negative (the estimate is noisy, or the spaces suppress each other); values are not
    clipped.

    Parameters
    ----------
    features : mapping of str to DataArray (dim, 'unit') or array (n_samples, n_features)
        Two or three named feature spaces.
    responses, encoder, cv, groups, dim, random_state
        As in :func:`encoding_score` (a ``trial`` dim is averaged).

    Returns
    -------
    Dataset
        ``variance`` (``partition``, ``unit``): the partitions, labelled ``"A_only"``,
        ``"A∩B"``, ``"A∩B∩C"`` ... with coord ``n_spaces``; ``r2`` (``model``, ``unit``): the
        held-out R^2 of each fitted subset, labelled ``"A"``, ``"A+B"`` ...; ``fold`` over
        ``dim``. Unit coords of ``responses`` are kept.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from brainbridge.analyses import variance_partitioning
    >>> rng = np.random.default_rng(0)
    >>> shared, only_a, only_b = rng.normal(size=(3, 1000, 1))
    >>> spaces = {"A": np.hstack([shared, only_a]), "B": np.hstack([shared, only_b])}
    >>> vp = variance_partitioning(spaces, shared + only_a + only_b,
    ...                            encoder=LinearRegression(), random_state=0)
    >>> vp["partition"].values.tolist()
    ['A_only', 'B_only', 'A∩B']
    >>> vp["variance"].sel(unit="0").round(1).values.tolist()  # a third each
    [0.3, 0.3, 0.3]
    """
    if not isinstance(features, Mapping) or not 2 <= len(features) <= 3:
        got = type(features).__name__
        if isinstance(features, Mapping):
            got += f" of {len(features)}"
        raise ValueError(
            "Invalid value for 'features': expected a dict of 2 or 3 named feature spaces, "
            f"e.g. {{'vision': a, 'audio': b}}; got {got}.")
    names = [str(k) for k in features]
    bad = [k for k in names if not k or any(s in k for s in ("∩", "+", "_only"))]
    if bad:
        raise ValueError(f"Invalid value for 'features': space names may not be empty or contain "
                         f"'∩', '+' or '_only'; got {bad}.")
    rng = check_random_state(random_state)
    encoder = _check_encoder(encoder)
    feats, data, dim = _prepare({str(k): v for k, v in features.items()}, responses, dim, groups)
    n = data.y.shape[0]
    splits = _splits(n, cv, data.groups, data.group_name, dim, rng)
    tested = splits.fold_of >= 0
    r2: dict[frozenset[str], np.ndarray] = {}
    models = []
    for k in range(1, len(names) + 1):
        for combo in itertools.combinations(names, k):
            x = np.concatenate([feats[c] for c in combo], axis=1)
            pred = _held_out(encoder, x, data.y, splits)
            r2[frozenset(combo)] = r2_score(data.y[tested], pred[tested])
            models.append(combo)
    parts = _partitions(names)
    variance = np.stack([_exclusive(spaces, names, r2) for _, spaces in parts])
    resp = data.responses
    coords = _unit_coords(resp)
    coords[dim] = resp[dim].values
    coords["partition"] = [label for label, _ in parts]
    coords["n_spaces"] = ("partition", [len(s) for _, s in parts])
    coords["model"] = ["+".join(m) for m in models]
    return xr.Dataset(
        {"variance": (("partition", "unit"), variance),
         "r2": (("model", "unit"), np.stack([r2[frozenset(m)] for m in models])),
         "fold": (dim, splits.fold_of)},
        coords=coords,
        attrs={"encoder": repr(encoder), "cv": splits.description,
               "n_splits": len(splits.folds), "dim": dim, "spaces": names,
               "aggregation": "held-out predictions concatenated over folds"})
