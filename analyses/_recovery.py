"""Model recovery: would a metric pick the right model if the brain *were* one of the candidates?

Han, Poggio & Cheung (2023), "System identification of neural systems: if we got it right,
would we know?" (ICML). One candidate plays the brain: its responses, with units subsampled
and gaussian noise added, are scored against every candidate with each metric, and we count
how often the true candidate ranks first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .._checks import _check_dims, _check_option, check_random_state, check_scalar
from .._scoring import pearson_r

logger = logging.getLogger(__name__)

#: Default ridge penalties of the encoding metric, for components scaled to unit mean variance.
ENCODING_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-2, 6, 9))

_CITATION = ("Han, Poggio & Cheung (2023), System identification of neural systems: if we got "
             "it right, would we know? ICML, PMLR 202:12430-12444.")


class _Context(NamedTuple):
    stimuli: np.ndarray        # stimulus ids, (n,)
    brains: np.ndarray         # (n_noise, n_repeats, n, m)
    fold: np.ndarray           # test fold of each stimulus, (n,)
    rdm_method: str
    compare_method: str
    cka_kernel: str
    alphas: np.ndarray
    n_components: int | None
    device: Any
    cache: dict  # per-brain work shared by every candidate


# --------------------------------------------------------------------------- brains


def _seed(random_state: Any) -> int:
    """One integer seed from ``random_state`` (int, Generator or None)."""
    return int(check_random_state(random_state).integers(2**63))


def _brain_parts(truth: np.ndarray, pool: np.ndarray, n_units: int, seed: int,
                 repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Units and standard-normal draws of one repeat (shared by every noise level)."""
    rng = np.random.default_rng([seed, 1, repeat])
    units = rng.choice(pool, size=n_units, replace=False)
    z = rng.standard_normal((truth.shape[0], n_units))
    return units, z


def _folds(n: int, n_splits: int, seed: int) -> np.ndarray:
    """Test fold of each stimulus: a seeded permutation dealt round-robin into ``n_splits``."""
    perm = np.random.default_rng([seed, 0]).permutation(n)
    fold = np.empty(n, dtype=np.int64)
    fold[perm] = np.arange(n) % n_splits
    return fold


# --------------------------------------------------------------------------- metrics


def _score_rsa(cand: np.ndarray, ctx: _Context) -> np.ndarray:
    from ._compare import compare_rdms
    from ._rdm import rdm

    brains = xr.DataArray(ctx.brains, dims=("noise", "repeat", "stimulus", "unit"),
                          coords={"stimulus": ctx.stimuli})
    if "rdm" not in ctx.cache:
        ctx.cache["rdm"] = rdm(brains, method=ctx.rdm_method, device=ctx.device)
    rb = ctx.cache["rdm"]
    rc = rdm(xr.DataArray(cand, dims=("stimulus", "unit"), coords={"stimulus": ctx.stimuli}),
             method=ctx.rdm_method, device=ctx.device)
    sim = compare_rdms(rc, rb, method=ctx.compare_method, device=ctx.device)
    return np.asarray(sim.transpose("noise", "repeat").values, dtype=np.float64)


def _score_cka(cand: np.ndarray, ctx: _Context) -> np.ndarray:
    from ._cka import cka

    n_noise, n_rep, n, m = ctx.brains.shape
    flat = ctx.brains.transpose(2, 0, 1, 3).reshape(n, n_noise * n_rep * m)
    brain_id = np.repeat(np.arange(n_noise * n_rep), m)
    y = xr.DataArray(flat, dims=("stimulus", "unit"),
                     coords={"stimulus": ctx.stimuli, "brain": ("unit", brain_id)})
    x = xr.DataArray(cand, dims=("stimulus", "unit"), coords={"stimulus": ctx.stimuli})
    out = cka(x, y, kernel=ctx.cka_kernel, by_y="brain", device=ctx.device)
    values = np.asarray(out.sel(brain=np.arange(n_noise * n_rep)).values, dtype=np.float64)
    return values.reshape(n_noise, n_rep)


def _components(x: np.ndarray, n_components: int | None) -> np.ndarray:
    """Leading principal components of ``x`` (all stimuli), scaled to unit mean variance."""
    xc = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    k = s.size if n_components is None else min(n_components, s.size)
    z = u[:, :k] * s[:k]
    scale = np.sqrt(np.sum(s[:k] ** 2) / (x.shape[0] * k))
    return z / scale if scale > 0 else z


def _ridge_gcv_predict(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray,
                       alphas: np.ndarray) -> np.ndarray:
    """Ridge with an unpenalised intercept and one penalty per target picked by GCV.

    With ``X_c = U S V^T`` the centred training features and ``d_k = s_k^2 / (s_k^2 + alpha)``,
    the hat matrix is ``H = 11^T / n + U diag(d) U^T`` (trace ``1 + sum_k d_k``) and the
    generalised cross-validation criterion of target ``t`` (Golub, Heath & Wahba 1979) is
    ``GCV(alpha) = ||y_t - H y_t||^2 / n / (1 - tr(H) / n)^2``, where
    ``||y_t - H y_t||^2 = ||y_c||^2 - sum_k (2 d_k - d_k^2) g_k^2`` and ``g = U^T y_c``, so each
    penalty costs ``O(k)`` per target. The smallest GCV wins (the first on ties) and the
    coefficients ``V diag(s / (s^2 + alpha)) g`` predict ``xte``.
    """
    n = xtr.shape[0]
    mu, ym = xtr.mean(axis=0), ytr.mean(axis=0)
    u, s, vt = np.linalg.svd(xtr - mu, full_matrices=False)
    yc = ytr - ym
    g = u.T @ yc
    g2 = g**2
    total = np.sum(yc**2, axis=0)
    s2 = s**2
    crit = np.empty((alphas.size, ytr.shape[1]))
    for i, a in enumerate(alphas):
        d = s2 / (s2 + a)
        rss = np.maximum(total - (2 * d - d**2) @ g2, 0.0)
        den = 1.0 - (1.0 + d.sum()) / n  # <= 0 only when the fit interpolates: never chosen
        crit[i] = rss / n / den**2 if den > 0 else np.inf
    best = np.argmin(crit, axis=0)
    coef = (s[:, None] / (s2[:, None] + alphas[best][None, :])) * g
    return ((xte - mu) @ vt.T) @ coef + ym


def _pearson_mean(y: np.ndarray, p: np.ndarray) -> float:
    """Mean over columns of the Pearson r between ``y`` and ``p``; NaN if any column is constant."""
    return float(np.mean(pearson_r(y, p)))


def _score_encoding(cand: np.ndarray, ctx: _Context) -> np.ndarray:
    n_noise, n_rep, n, m = ctx.brains.shape
    z = _components(cand, ctx.n_components)
    ys = ctx.brains.transpose(2, 0, 1, 3).reshape(n, n_noise * n_rep * m)
    pred = np.empty_like(ys)
    for k in range(int(ctx.fold.max()) + 1):
        test = ctx.fold == k
        pred[test] = _ridge_gcv_predict(z[~test], ys[~test], z[test], ctx.alphas)
    out = np.empty(n_noise * n_rep)
    for b in range(n_noise * n_rep):
        cols = slice(b * m, (b + 1) * m)
        out[b] = _pearson_mean(ys[:, cols], pred[:, cols])
    return out.reshape(n_noise, n_rep)


#: Metric name -> scorer ``(candidate (n, u), context) -> scores (noise, repeat)``.
RECOVERY_METRICS: dict[str, Callable[[np.ndarray, _Context], np.ndarray]] = {
    "rsa": _score_rsa,
    "cka": _score_cka,
    "encoding": _score_encoding,
}


# --------------------------------------------------------------------------- inputs


def _as_matrix(value: Any, name: str, dim: str) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(value, xr.DataArray):
        _check_dims(value, [dim, "unit"], name)
        if value.ndim != 2:
            raise ValueError(
                f"{name!r} must have exactly the dims ({dim!r}, 'unit'); got {tuple(value.dims)}. "
                "Average or select the other dims first, e.g. da.mean('trial').")
        ids = np.asarray(value[dim].values) if dim in value.coords else None
        return np.asarray(value.transpose(dim, "unit").values, dtype=np.float64), ids
    arr = np.asarray(value, dtype=np.float64) if isinstance(value, np.ndarray) else None
    if arr is None or arr.ndim != 2:
        raise TypeError(
            f"Invalid type for {name!r}: expected a DataArray with dims ({dim!r}, 'unit') or a "
            f"2-d array (n_stimuli, n_units); got {type(value).__name__}"
            f"{'' if arr is None else f' with {arr.ndim} dims'}.")
    return arr, None


def _candidates(candidates: Any, by: str, dim: str) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """Names, ``(n, u)`` matrices in one stimulus order, and the stimulus ids."""
    if isinstance(candidates, xr.DataArray):
        values, ids = _as_matrix(candidates, "candidates", dim)
        if by not in candidates.coords or candidates[by].dims != ("unit",):
            raise ValueError(
                f"'candidates' has no unit coord {by!r} to split it into candidates (its coords: "
                f"{sorted(map(str, candidates.coords))}). Pass by='<coord>' naming a unit coord "
                "such as 'layer', or a dict {name: assembly}.")
        labels = np.asarray(candidates[by].values)
        names = [str(v) for v in dict.fromkeys(labels.tolist())]
        mats = [values[:, labels.astype(str) == nm] for nm in names]
        ids = ids if ids is not None else np.arange(values.shape[0])
    elif isinstance(candidates, Mapping):
        names, mats, ids = [], [], None
        for key, value in candidates.items():
            mat, own = _as_matrix(value, f"candidates[{key!r}]", dim)
            if ids is None:
                ids = own if own is not None else np.arange(mat.shape[0])
            elif own is not None and not np.array_equal(own, ids):
                if len(own) != len(ids) or set(own.tolist()) != set(ids.tolist()):
                    raise ValueError(
                        f"candidates[{key!r}] does not hold the same stimuli as "
                        f"candidates[{names[0]!r}]. Align them first (brainbridge.align) so every "
                        "candidate has the same stimulus ids.")
                where = {v: i for i, v in enumerate(own.tolist())}
                mat = mat[[where[v] for v in ids.tolist()]]
            elif mat.shape[0] != len(ids):
                raise ValueError(
                    f"candidates[{key!r}] has {mat.shape[0]} stimuli; candidates[{names[0]!r}] has "
                    f"{len(ids)}. Every candidate needs the same stimuli, in the same order.")
            names.append(str(key))
            mats.append(mat)
        if ids is None:
            ids = np.arange(0)
    else:
        raise TypeError(
            "Invalid type for 'candidates': expected a DataArray with a unit coord naming the "
            f"candidate (e.g. 'layer') or a dict {{name: assembly}}; got {type(candidates).__name__}.")
    if len(names) < 2:
        raise ValueError(
            f"model_recovery needs at least 2 candidates; got {len(names)} ({names}). Add "
            "candidates (e.g. every layer of a network) to rank the true one among.")
    for name, mat in zip(names, mats):
        if not np.all(np.isfinite(mat)):
            raise ValueError(
                f"Candidate {name!r} holds NaN or inf values. Remove or impute them first (e.g. "
                "drop units with da.dropna('unit')).")
    return names, mats, np.asarray(ids)


def _check_levels(noise_levels: Any) -> np.ndarray:
    try:
        levels = np.atleast_1d(np.asarray(noise_levels, dtype=np.float64))
    except (TypeError, ValueError):
        levels = np.array([np.nan])
    if (levels.ndim != 1 or levels.size == 0 or not np.all(np.isfinite(levels)) or np.any(levels < 0)
            or np.unique(levels).size != levels.size):
        raise ValueError(
            "Invalid value for 'noise_levels': expected distinct finite numbers >= 0 (noise std in "
            f"units of each unit's std); got {noise_levels!r}. E.g. (0.0, 0.5, 1.0, 2.0).")
    return levels


def _check_metrics(metrics: Any) -> list[str]:
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics or len(set(metrics)) != len(metrics):
        raise ValueError(
            "Invalid value for 'metrics': expected distinct names from "
            f"{', '.join(map(repr, RECOVERY_METRICS))}; got {metrics}.")
    for m in metrics:
        _check_option("metrics", m, RECOVERY_METRICS)
    return metrics


# --------------------------------------------------------------------------- main


def model_recovery(candidates: Any, truth: str, *, metrics: Sequence[str] = ("rsa", "cka", "encoding"),
                   noise_levels: Sequence[float] = (0.0, 0.5, 1.0, 2.0), n_units: int | None = None,
                   n_repeats: int = 10, by: str = "layer", dim: str = "stimulus",
                   rdm_method: str = "correlation", compare_method: str = "corr",
                   cka_kernel: str = "linear", encoding_cv: int = 5, encoding_components: int | None = 100,
                   alphas: Sequence[float] = ENCODING_ALPHAS, random_state: Any = None,
                   progress: bool | None = None, device: Any = "auto") -> xr.Dataset:
    r"""How often does each metric rank the true model first? (Han, Poggio & Cheung 2023.)

    One candidate, ``truth``, plays the brain. For each repeat ``r`` and noise level ``s``,
    the synthetic brain is

    ``B = T[:, units_r] + s * sd[units_r] * Z_r``

    where ``T`` (stimuli x units) are the truth's responses, ``sd`` their per-unit standard
    deviation over stimuli (population, ``ddof=0``), ``units_r`` ``n_units`` units drawn
    without replacement, and ``Z_r`` standard-normal noise. Units with ``sd = 0`` (dead
    units) are never drawn. ``units_r`` and ``Z_r`` are shared by all noise levels of a
    repeat (common random numbers: differences between noise levels come from the noise
    level alone). Seeds: ``seed = default_rng(random_state).integers(2**63)`` (stored in
    ``attrs["seed"]``); repeat ``r`` uses ``default_rng([seed, 1, r])`` to draw
    ``units_r = rng.choice(pool, n_units, replace=False)`` and then
    ``Z_r = rng.standard_normal((n_stimuli, n_units))``.

    Every candidate is scored against every brain with each metric in :data:`RECOVERY_METRICS`:

    - ``rsa``: :func:`compare_rdms` (``compare_method``) of the :func:`rdm`\ s
      (``rdm_method``) of candidate and brain, i.e. :func:`rsa`'s ``similarity``;
    - ``cka``: :func:`cka` with ``cka_kernel`` (biased HSIC);
    - ``encoding``: mean over brain units of the cross-validated Pearson r of a ridge
      encoding model from the candidate. The candidate is first reduced to its
      ``encoding_components`` leading principal components (PCA over all stimuli; it uses
      no brain data), scaled so that the mean component variance is 1, so one penalty grid
      ``alphas`` suits every candidate. Folds: a permutation from
      ``default_rng([seed, 0])`` dealt round-robin into ``encoding_cv`` folds (returned
      as ``fold``), shared by all candidates and brains. In each training fold the penalty
      is chosen per unit by generalised cross-validation (GCV, Golub, Heath & Wahba 1979;
      ``O(k)`` per penalty and unit once the training SVD is known); held-out predictions
      are concatenated over folds, as in :func:`encoding_score`.

    ``rank_of_truth`` is ``1 +`` the number of other candidates scoring at least as high as
    the truth (a tie counts against recovery; a NaN score counts as the lowest). Cost: the
    encoding metric dominates, ``O(n_stimuli k)`` per fold for each of the
    ``len(noise_levels) * n_repeats * n_units`` brain units and each candidate (``k`` the
    components kept); pass ``n_units`` to keep it small.

    Parameters
    ----------
    candidates : DataArray, dims (``dim``, 'unit'), or dict of str -> DataArray or array
        One assembly whose unit coord ``by`` names the candidate of each unit (e.g. all
        blocks of a network from :func:`brainbridge.extract`), or a dict of candidates
        (DataArrays with the same stimulus ids, reordered to the first one's order; or
        arrays ``(n_stimuli, n_units)`` in one stimulus order). At least 2.
    truth : str
        The candidate that plays the brain.
    metrics : sequence of str, default=("rsa", "cka", "encoding")
    noise_levels : sequence of float, default=(0.0, 0.5, 1.0, 2.0)
        Noise std as a multiple of each unit's std (0 = noiseless; 1 = SNR of 1).
    n_units : int or None, default=None
        Units drawn from the truth per repeat; None keeps all live units (in a random order).
    n_repeats : int, default=10
    by : str, default="layer"
        The unit coord that splits a DataArray ``candidates``.
    dim : str, default="stimulus"
    rdm_method, compare_method : str, default="correlation", "corr"
        RSA's RDM and comparison methods (see :func:`rdm`, :func:`compare_rdms`).
    cka_kernel : str, default="linear"
    encoding_cv : int, default=5
        Cross-validation folds of the encoding metric.
    encoding_components : int or None, default=100
        Principal components kept per candidate for the encoding metric (None: all).
    alphas : sequence of float, default=ENCODING_ALPHAS (``logspace(-2, 6, 9)``)
        Ridge penalties of the encoding metric.
    random_state : int, Generator or None
    progress : bool or None
        A progress bar over candidates (None: only on a terminal).
    device : "auto", str or torch.device
        For :func:`rdm`, :func:`compare_rdms` and :func:`cka`.

    Returns
    -------
    Dataset
        ``score`` (metric, noise, repeat, candidate); ``rank_of_truth`` (metric, noise,
        repeat), 1 = the truth scored best; ``recovery`` (metric, noise): the fraction of
        repeats with ``rank_of_truth == 1``; ``margin`` (metric, noise, repeat): the truth's
        score minus the best other candidate's; ``units`` (repeat, brain_unit): the truth's
        unit indices drawn; ``fold`` (``dim``): the encoding test fold. attrs: ``truth``,
        ``chance`` (``1 / n_candidates``), ``seed``, ``n_units``, ``n_dead_units``, the
        metric settings and the protocol in words. Plot with :func:`plot_recovery`.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import model_recovery
    >>> rng = np.random.default_rng(0)
    >>> cands = {f"m{i}": rng.normal(size=(40, 20)) for i in range(3)}
    >>> res = model_recovery(cands, "m1", noise_levels=(0.0, 1.0), n_repeats=3,
    ...                      random_state=0, progress=False, device="cpu")
    >>> res["recovery"].sel(noise=0.0).values.tolist()
    [1.0, 1.0, 1.0]
    >>> res["score"].dims
    ('metric', 'noise', 'repeat', 'candidate')
    """
    from tqdm.auto import tqdm

    metrics = _check_metrics(metrics)
    levels = _check_levels(noise_levels)
    names, mats, stimuli = _candidates(candidates, by, dim)
    _check_option("truth", truth, names)
    n = stimuli.size
    n_repeats = check_scalar("n_repeats", n_repeats, int, low=1, fix="E.g. n_repeats=10.")
    if "encoding" in metrics:
        encoding_cv = check_scalar("encoding_cv", encoding_cv, int, low=2, high=n,
                                   fix=f"Use at most one fold per stimulus ({n} stimuli).")
        if encoding_components is not None:
            encoding_components = check_scalar("encoding_components", encoding_components, int,
                                               low=1, fix="Or None to keep every component.")
        grid = np.asarray(alphas, dtype=np.float64)
        if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
            raise ValueError(
                "Invalid value for 'alphas': expected a non-empty sequence of finite numbers > 0; "
                f"got {alphas!r}.")
    else:
        grid = np.asarray(alphas, dtype=np.float64)
    truth_values = mats[names.index(truth)]
    sd = truth_values.std(axis=0)
    pool = np.flatnonzero(sd > 0)
    if pool.size == 0:
        raise ValueError(
            f"The truth {truth!r} has no unit that varies over stimuli (all {sd.size} are constant); "
            "pick another truth.")
    if n_units is not None:
        n_units = check_scalar("n_units", n_units, int, low=1, high=pool.size,
                               fix=f"The truth {truth!r} has {pool.size} units that vary over "
                               f"stimuli ({sd.size - pool.size} constant ones are never drawn); "
                               "or None for all.")
    m = pool.size if n_units is None else n_units
    seed = _seed(random_state)
    units = np.empty((n_repeats, m), dtype=np.int64)
    brains = np.empty((levels.size, n_repeats, n, m))
    for r in range(n_repeats):
        units[r], z = _brain_parts(truth_values, pool, m, seed, r)
        base, noise = truth_values[:, units[r]], sd[units[r]] * z
        for i, s in enumerate(levels):
            brains[i, r] = base + s * noise
    fold = _folds(n, encoding_cv, seed) if "encoding" in metrics else np.full(n, -1)
    ctx = _Context(stimuli, brains, fold, rdm_method, compare_method, cka_kernel, grid,
                   encoding_components, device, {})
    score = np.empty((len(metrics), levels.size, n_repeats, len(names)))
    bar = tqdm(list(zip(names, mats)), desc="model recovery", unit="candidate",
               disable=None if progress is None else not progress)
    for c, (_name, mat) in enumerate(bar):
        for k, metric in enumerate(metrics):
            score[k, :, :, c] = RECOVERY_METRICS[metric](mat, ctx)
    t = names.index(truth)
    filled = np.where(np.isnan(score), -np.inf, score)
    others = np.delete(filled, t, axis=-1)
    truth_score = filled[..., t]
    rank = 1 + np.sum(others >= truth_score[..., None], axis=-1)
    margin = score[..., t] - np.max(np.delete(score, t, axis=-1), axis=-1)
    coords = {"metric": metrics, "noise": levels, "repeat": np.arange(n_repeats),
              "candidate": names, dim: stimuli}
    protocol = (
        f"brain = truth[:, units] + noise * sd[units] * Z; sd = per-unit std over {dim} (ddof=0); "
        f"units: {m} drawn without replacement from the {pool.size} non-constant units; units and "
        "Z shared by all noise levels of a repeat; repeat r seeded with default_rng([seed, 1, r]). "
        "rank_of_truth = 1 + number of other candidates scoring >= the truth (NaN = lowest); "
        "recovery = fraction of repeats with rank 1.")
    out = xr.Dataset(
        {"score": (("metric", "noise", "repeat", "candidate"), score),
         "rank_of_truth": (("metric", "noise", "repeat"), rank.astype(np.int64)),
         "recovery": (("metric", "noise"), np.mean(rank == 1, axis=-1)),
         "margin": (("metric", "noise", "repeat"), margin),
         "units": (("repeat", "brain_unit"), units),
         "fold": (dim, fold)},
        coords=coords,
        attrs={"truth": truth, "n_candidates": len(names), "chance": 1.0 / len(names),
               "seed": seed, "n_units": m, "n_dead_units": int(sd.size - pool.size),
               "n_stimuli": n, "rdm_method": rdm_method, "compare_method": compare_method,
               "cka_kernel": cka_kernel, "encoding_cv": encoding_cv if "encoding" in metrics else 0,
               "encoding_components": -1 if encoding_components is None else encoding_components,
               "alphas": grid.tolist(),
               "encoding": "mean over brain units of cross-validated Pearson r; ridge on the "
                           "candidate's leading principal components (unit mean variance), "
                           "penalty per unit by GCV within each training fold",
               "protocol": protocol, "reference": _CITATION})
    out["score"].attrs["description"] = "similarity of each candidate to the synthetic brain"
    logger.info("model_recovery: truth %r among %d candidates; recovery at noise %s: %s", truth,
                len(names), levels.tolist(), {k: out["recovery"].sel(metric=k).values.round(2).tolist()
                                              for k in metrics})
    return out
