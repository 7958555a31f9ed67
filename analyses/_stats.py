"""Statistics for RSA: noise ceilings, bootstrap over stimuli and subjects, permutation tests.

Conventions follow rsatoolbox's inference module, so the numbers can be checked against it:

- RDMs are pooled for a noise ceiling in the way that maximises each comparison method
  (:data:`POOLING`, rsatoolbox's ``pool_rdm``).
- Resampling stimuli with replacement repeats rows and columns of an RDM; the pairs that join
  two copies of one stimulus are set to NaN (their dissimilarity would be a trivial zero) and
  left out of every comparison (rsatoolbox's ``RDMs.subsample_pattern``). Resampled indices
  are sorted, as there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr
from scipy.stats import rankdata

from .._checks import (
    AssemblyError,
    _check_option,
    check_finite,
    check_random_state,
    check_scalar,
)
from .._config import torch_threads
from .._scoring import zscore
from ._compare import COMPARE_ALIASES, COMPARE_METHODS, _align_rdms, _as_square

logger = logging.getLogger(__name__)


def _rms_scale(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt(np.mean(v**2, axis=1, keepdims=True))


def _zscore(v: np.ndarray) -> np.ndarray:
    """Rows z-scored (population std); a constant row becomes 0 (brainbridge._scoring.zscore)."""
    return zscore(v, axis=1)


def _ranks(v: np.ndarray) -> np.ndarray:
    return rankdata(v, axis=1)


#: How complete RDM vectors (rows) are transformed before averaging into the RDM that best
#: predicts them under a comparison method (rsatoolbox ``pool_rdm``); for ``corr`` and
#: ``corr_cov`` the average is then shifted to a zero minimum.
POOLING: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "cosine": _rms_scale,
    "cosine_cov": _rms_scale,
    "corr": _zscore,
    "corr_cov": _zscore,
    "spearman": _ranks,
    "rho_a": _ranks,
    "kendall_tau_a": _ranks,
}


def _method(method: str) -> str:
    method = _check_option("method", method, [*COMPARE_METHODS, *COMPARE_ALIASES])
    return COMPARE_ALIASES.get(method, method)


def _shift(pooled: np.ndarray, method: str) -> np.ndarray:
    if method in ("corr", "corr_cov"):
        return pooled - pooled.min(axis=-1, keepdims=True)
    return pooled


def pool_rdms(vectors: np.ndarray, *, method: str = "spearman") -> np.ndarray:
    """Average RDM vectors ``(n_rdm, n_pairs)`` into the RDM that best predicts them under ``method``.

    Pairs that are NaN in any vector are left out and stay NaN (rsatoolbox ``pool_rdm``).

    Examples
    --------
    Under Spearman comparisons the pooled RDM is the mean rank of each pair:

    >>> import numpy as np
    >>> from brainbridge.analyses import pool_rdms
    >>> pool_rdms([[1.0, 2.0, 3.0], [2.0, 1.0, 3.0]])
    array([1.5, 1.5, 3. ])
    >>> pool_rdms([[1.0, np.nan, 3.0], [2.0, 1.0, 3.0]])
    array([ 1., nan,  2.])
    """
    method = _method(method)
    vectors = check_finite("vectors", vectors, allow_nan=True, fix=(
        "A dissimilarity must be a finite number (NaN marks a missing pair)."))
    keep = ~np.isnan(vectors).any(axis=0)
    pooled = np.full(vectors.shape[1], np.nan)
    pooled[keep] = _shift(POOLING[method](vectors[:, keep]).mean(axis=0), method)
    return pooled


def _stack(rdms: Any, name: str, dim: str | None, *, like: xr.DataArray | None = None,
           like_name: str = "a") -> tuple[np.ndarray, list[str], xr.DataArray]:
    """(n_rdm, n, n) float array of ``rdms``, their labels along ``dim``, and the square DataArray.

    With ``like`` (the other side's square RDMs), ``rdms`` is first matched to its stimuli
    by id (:func:`brainbridge.analyses._compare._align_rdms`; raises if they differ).
    """
    r = _as_square(rdms, name)
    if like is not None:
        r = _align_rdms(like, r, names=(like_name, name))
    batch = [str(d) for d in r.dims[:-2]]
    if not isinstance(rdms, xr.DataArray) and dim is not None:
        dim = batch[0] if batch else None  # arrays (n, k, k): the first axis
    if dim is not None and batch and dim not in batch:
        raise AssemblyError(
            f"{name!r} has no {dim!r} dim to pool over; its batch dims are {tuple(batch)}.")
    if dim is not None and batch:
        r = r.transpose(dim, ...)
        labels = [str(v) for v in (r[dim].values if dim in r.coords else range(r.sizes[dim]))]
        values = np.asarray(r.values, dtype=float).reshape(r.sizes[dim], -1, *r.shape[-2:])
        if values.shape[1] != 1:
            raise AssemblyError(
                f"{name!r} has batch dims {tuple(batch)}; pool over one ({dim!r}) and select "
                "the others first, e.g. rdms.sel(layer=...).")
        values = values[:, 0]
    else:
        values = np.asarray(r.values, dtype=float).reshape(-1, *r.shape[-2:])
        labels = [str(i) for i in range(values.shape[0])]
    return values, labels, r


def _compare_vectors(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """Many-vs-many comparison of RDM vectors (n_a, p) x (n_b, p) -> (n_a, n_b).

    Pairs that are NaN in any vector are left out. Calls the comparison kernels of
    :func:`compare_rdms` directly (no labels), which keeps bootstrap loops fast.
    """
    keep = ~(np.isnan(a).any(axis=0) | np.isnan(b).any(axis=0))
    if method in ("cosine_cov", "corr_cov") and not keep.all():
        raise ValueError(
            f"method={method!r} needs complete RDMs, but resampling stimuli leaves pairs of "
            "copies of one stimulus undefined. Use over='subject', or method='corr'.")
    n_stim = int(round((1 + np.sqrt(1 + 8 * a.shape[1])) / 2))
    ta = torch.as_tensor(a[:, keep], dtype=torch.float64)
    tb = torch.as_tensor(b[:, keep], dtype=torch.float64)
    return COMPARE_METHODS[method](ta, tb, {"n": n_stim}).numpy()


def _upper(square: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(square.shape[-1], k=1)
    return square[..., iu[0], iu[1]]


class NoiseCeiling(NamedTuple):
    """Bounds on the best score any model can reach given the spread between subjects.

    Examples
    --------
    >>> from brainbridge.analyses import NoiseCeiling
    >>> nc = NoiseCeiling(lower=0.64, upper=0.81)
    >>> nc.upper - nc.lower
    0.17...
    """

    lower: float
    upper: float


def _noise_ceiling_vectors(vectors: np.ndarray, method: str) -> NoiseCeiling:
    n = vectors.shape[0]
    if n < 2:
        raise ValueError(
            f"Invalid value for 'rdms': a noise ceiling needs at least 2 subject RDMs; got {n}. "
            "Pass one RDM per subject along the subject dim.")
    keep = ~np.isnan(vectors).any(axis=0)
    if keep.sum() < 2:
        raise ValueError(
            f"Invalid value for 'rdms': a noise ceiling needs at least 2 stimulus pairs that "
            f"are not NaN in any subject's RDM; got {int(keep.sum())} of {keep.size}. Drop the "
            "subjects or stimuli with missing pairs.")
    v = vectors[:, keep]
    t = POOLING[method](v)
    total = t.sum(axis=0)
    # rows 0..n-1: pooled without subject s (lower bound); row n: pooled over all (upper)
    pooled = _shift(np.vstack([(total - t) / (n - 1), total / n]), method)
    sim = _compare_vectors(pooled, v, method)
    return NoiseCeiling(float(np.mean(np.diag(sim[:n]))), float(np.mean(sim[n])))


def noise_ceiling(rdms: Any, *, method: str = "spearman", dim: str | None = "subject") -> NoiseCeiling:
    """Lower and upper bound of the RSA noise ceiling (Nili et al. 2014).

    With one RDM per subject ``s`` and the pooled RDM ``P(.)`` (:func:`pool_rdms`):

    - upper bound: ``mean_s compare(P(all subjects), rdm_s)`` -- the pooled RDM has seen
      subject ``s``, so no model can beat it;
    - lower bound: ``mean_s compare(P(all subjects but s), rdm_s)`` -- leave one out.

    This equals rsatoolbox's ``boot_noise_ceiling`` (which despite its name is this
    leave-one-out computation) for every comparison method.

    Parameters
    ----------
    rdms : DataArray, dims (dim, stimulus, stimulus_), rsatoolbox RDMs or array (n, k, k)
        One RDM per subject.
    method : str, default="spearman"
        The comparison method the models will be scored with.
    dim : str or None, default="subject"
        The dim holding the subjects.

    Examples
    --------
    Four subjects see one signal through independent noise:

    >>> import numpy as np
    >>> from brainbridge.analyses import noise_ceiling
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((6, 10))
    >>> rdms = np.stack([1 - np.corrcoef(signal + rng.standard_normal((6, 10))) for _ in range(4)])
    >>> nc = noise_ceiling(rdms)
    >>> round(nc.lower, 3), round(nc.upper, 3)
    (0.64, 0.808)
    """
    method = _method(method)
    values, _, _ = _stack(rdms, "rdms", dim)
    return _noise_ceiling_vectors(_upper(values), method)


def _score(models: np.ndarray, data: np.ndarray, method: str) -> np.ndarray:
    """Each model's mean similarity to the data RDMs: (m, k, k), (n, k, k) -> (m,)."""
    return _compare_vectors(_upper(models), _upper(data), method).mean(axis=1)


def _ceiling(data: np.ndarray, method: str) -> tuple[float, float]:
    lower, upper = _noise_ceiling_vectors(_upper(data), method)
    return lower, upper


def _masked_ranks(x: np.ndarray, wf: np.ndarray) -> np.ndarray:
    """Average ranks of the pairs where ``wf`` is 1, along the last axis (0 elsewhere)."""
    return rankdata(np.where(wf > 0, x, np.inf), axis=-1) * wf


def _unit_vectors(x: np.ndarray, wf: np.ndarray, method: str, ranked: bool = False) -> np.ndarray:
    """Per-vector transform ``u`` such that ``similarity(a, b) = u_a . u_b`` on the valid pairs.

    ``x`` (batch, rdm, pair) is 0 where the float mask ``wf`` (batch, 1, pair) is 0.
    Defined for :data:`_VECTORISED` methods: cosine (scale to unit norm), corr (centre, then
    unit norm), spearman (average ranks of the valid pairs, then as corr) and rho_a (ranks
    centred on ``(n + 1) / 2`` and scaled by ``sqrt(12 / (n^3 - n))``).
    """
    n = wf.sum(axis=-1, keepdims=True)
    if method in ("spearman", "rho_a") and not ranked:
        x = _masked_ranks(x, wf)
    if method == "rho_a":
        return (x - (n + 1) / 2) * wf * np.sqrt(12.0 / (n**3 - n))
    if method in ("corr", "spearman"):
        x = (x - x.sum(axis=-1, keepdims=True) / n) * wf
    norm = np.sqrt(np.einsum("brp,brp->br", x, x))[..., None]
    return x / np.where(norm == 0, 1.0, norm)


#: Methods whose bootstrap runs vectorised over samples (see :func:`_unit_vectors`).
_VECTORISED = ("cosine", "corr", "spearman", "rho_a")


def _boot_block(model_sq: np.ndarray, data_sq: np.ndarray, idx: np.ndarray, method: str,
                with_ceiling: bool) -> tuple[np.ndarray, np.ndarray]:
    """Scores (block, model) and noise-ceiling bounds (block, 2) for resamples ``idx`` (block, k).

    A pair of two copies of one stimulus reads the RDM's zero diagonal; the mask ``wf``
    leaves those pairs out of every sum.
    """
    k = idx.shape[1]
    iu = np.triu_indices(k, k=1)
    rows, cols = idx[:, iu[0]], idx[:, iu[1]]  # (block, pair): original stimuli of each pair
    wf = (rows != cols).astype(float)[:, None, :]
    m = model_sq[:, rows, cols].transpose(1, 0, 2) * wf
    d = data_sq[:, rows, cols].transpose(1, 0, 2) * wf
    ranked = method in ("spearman", "rho_a")
    if ranked:  # rank the data once: for the scores and for the pooled RDMs
        d = _masked_ranks(d, wf)
    ud = _unit_vectors(d, wf, method, ranked=ranked)
    scores = np.einsum("bmp,bsp->bms", _unit_vectors(m, wf, method), ud).mean(axis=-1)
    bounds = np.full((idx.shape[0], 2), np.nan)
    if with_ceiling:
        n = d.shape[1]
        t = d if ranked else _masked_pool_transform(d, wf, method)
        total = t.sum(axis=1, keepdims=True)
        loo = _unit_vectors((total - t) / (n - 1), wf, method)
        everyone = _unit_vectors(total / n, wf, method)
        bounds[:, 0] = np.einsum("bsp,bsp->bs", loo, ud).mean(axis=-1)
        bounds[:, 1] = np.einsum("bsp,bsp->bs", np.broadcast_to(everyone, ud.shape), ud).mean(
            axis=-1)
    return scores, bounds


def _masked_pool_transform(d: np.ndarray, wf: np.ndarray, method: str) -> np.ndarray:
    """:data:`POOLING` transforms of cosine and corr on the valid pairs only (0 elsewhere).

    The zero-minimum shift of pooled ``corr`` RDMs is left out: correlations ignore it.
    """
    n = wf.sum(axis=-1, keepdims=True)
    if method == "cosine":
        return d / np.sqrt(np.einsum("brp,brp->br", d, d)[..., None] / n)
    centred = (d - d.sum(axis=-1, keepdims=True) / n) * wf
    return centred / np.sqrt(np.einsum("brp,brp->br", centred, centred)[..., None] / n)


def _resample(square: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows and columns ``idx`` (sorted, with repeats); pairs of copies of one stimulus -> NaN."""
    out = square[..., idx[:, None], idx[None, :]].copy()
    same = idx[:, None] == idx[None, :]
    np.fill_diagonal(same, False)
    out[..., same] = np.nan
    return out


#: Fewest stimuli a bootstrap over stimuli accepts (see :func:`bootstrap`).
_MIN_BOOT_STIMULI = 4


def bootstrap(models: Any, data: Any, *, method: str = "spearman", n_boot: int = 1000,
              over: str = "stimulus", dim: str | None = "subject", ci: float = 0.95,
              noise_ceiling_samples: bool = True, random_state: Any = None,
              progress: bool | None = None) -> xr.Dataset:
    """Score model RDMs against data RDMs, with a bootstrap over stimuli or subjects.

    Each model is scored by ``mean_s compare(model, data_s)`` over the subject RDMs. The
    bootstrap redraws stimuli (``over="stimulus"``; repeated stimuli handled as described in
    the module docstring) or subjects (``over="subject"``) with replacement ``n_boot``
    times, and also recomputes the noise ceiling on every sample.

    Parameters
    ----------
    models : DataArray, dims (model_dim, stimulus, stimulus_), or array (m, k, k)
        Candidate RDMs, e.g. ``rdm(acts, by="layer")``.
    data : DataArray, dims (dim, stimulus, stimulus_), or array (n, k, k)
        Subject RDMs on the same stimuli (in the same order when arrays).
    method : str, default="spearman"
        Comparison method (see :func:`compare_rdms`).
    n_boot : int, default=1000
    over : {"stimulus", "subject"}, default="stimulus"
    dim : str or None, default="subject"
        The subject dim of ``data``.
    ci : float, default=0.95
        Coverage of the percentile confidence intervals.
    noise_ceiling_samples : bool, default=True
        Recompute the noise ceiling on every sample (as rsatoolbox does); needs 2+ subjects.
    random_state : int, Generator or None
    progress : bool or None
        Progress bar (None: on a terminal only).

    Returns
    -------
    Dataset
        ``score`` (model), ``boot`` (sample, model), ``se``, ``ci_low``, ``ci_high`` (model),
        ``p_zero`` (model; one-sided bootstrap p that the score is <= 0), ``p_pair``
        (model, model_; two-sided bootstrap p of a score difference), and
        ``noise_lower`` / ``noise_upper`` (full data) with their samples ``boot_noise``
        (sample, bound). Plot with :func:`plot_model_comparison`. ``attrs["n_valid"]``
        counts the samples behind ``se``, the intervals and the p-values: a resample of
        stimuli with fewer than 3 distinct ones defines no comparison, is NaN in ``boot``
        and is left out. With one subject the noise ceiling is undefined: ``noise_*`` are
        NaN and ``attrs["noise_ceiling"]`` says so.

    Raises
    ------
    ValueError
        ``models`` and ``data`` over different stimulus ids (they are matched by id, or
        by position for plain arrays); an inf or an all-NaN RDM; ``over="stimulus"``
        with fewer than 4 stimuli; ``over="subject"`` with one subject; fewer than 2 valid
        samples.

    Examples
    --------
    The RDM of the shared signal scores higher than that of unrelated noise:

    >>> import numpy as np
    >>> from brainbridge.analyses import bootstrap
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((6, 10))
    >>> rdms = np.stack([1 - np.corrcoef(signal + rng.standard_normal((6, 10))) for _ in range(4)])
    >>> models = np.stack([1 - np.corrcoef(signal), 1 - np.corrcoef(rng.standard_normal((6, 10)))])
    >>> res = bootstrap(models, rdms, n_boot=200, random_state=0)
    >>> res["score"].values.round(2)
    array([0.74, 0.16])
    >>> round(float(res["noise_lower"]), 2), round(float(res["noise_upper"]), 2)
    (0.64, 0.81)
    """
    from tqdm.auto import tqdm

    method = _method(method)
    _check_option("over", over, ["stimulus", "subject"])
    rng = check_random_state(random_state)
    n_boot = check_scalar("n_boot", n_boot, int, low=1)
    ci = check_scalar("ci", ci, float, low=0, high=1, closed="neither",
                      what="coverage of the confidence intervals")
    model_sq, model_labels, model_da = _stack(models, "models", None)
    if model_da.ndim == 3:  # label the models by their batch coord (e.g. layer names)
        first = str(model_da.dims[0])
        model_labels = [str(v) for v in (model_da[first].values if first in model_da.coords
                                          else range(model_da.sizes[first]))]
    data_sq, _, _ = _stack(data, "data", dim, like=model_da, like_name="models")
    n_stim, n_subj = data_sq.shape[-1], data_sq.shape[0]
    if over == "subject" and n_subj < 2:
        raise ValueError(
            f"Invalid value for 'data': a bootstrap over subjects needs at least 2 subject "
            f"RDMs; got {n_subj}. Pass one RDM per subject along {dim!r}, or use "
            "over='stimulus'.")
    if over == "stimulus" and n_stim < _MIN_BOOT_STIMULI:
        raise ValueError(
            f"Invalid value for 'data': a bootstrap over stimuli needs at least "
            f"{_MIN_BOOT_STIMULI} stimuli (a sample needs 3 distinct ones to compare RDMs, "
            f"and with 3 every valid sample is the original set); got {n_stim}. Add stimuli "
            "or use over='subject'.")
    nc_ok = noise_ceiling_samples and n_subj >= 2
    boot = np.full((n_boot, model_sq.shape[0]), np.nan)
    boot_nc = np.full((n_boot, 2), np.nan)
    with torch_threads(1):
        full = _score(model_sq, data_sq, method)
        nc_full = _ceiling(data_sq, method) if n_subj >= 2 else (np.nan, np.nan)
        if over == "stimulus" and method in _VECTORISED:
            draws = np.sort(rng.integers(0, n_stim, size=(n_boot, n_stim)), axis=1)
            block = max(1, int(2e7 // (8 * (model_sq.shape[0] + 2 * n_subj) * n_stim**2)))
            for start in tqdm(range(0, n_boot, block), desc="bootstrap",
                              disable=None if progress is None else not progress):
                idx = draws[start:start + block]
                distinct = np.array([np.unique(i).size for i in idx]) >= 3
                sc, bd = _boot_block(model_sq, data_sq, idx, method, nc_ok)
                boot[start:start + block] = np.where(distinct[:, None], sc, np.nan)
                boot_nc[start:start + block] = np.where(distinct[:, None], bd, np.nan)
            n_boot_loop = 0
        else:
            n_boot_loop = n_boot
        for b in tqdm(range(n_boot_loop), desc="bootstrap",
                      disable=None if progress is None else not progress):
            if over == "stimulus":
                idx = np.sort(rng.integers(0, n_stim, size=n_stim))
                if np.unique(idx).size < 3:
                    continue  # fewer than 3 distinct stimuli: no comparison is defined
                m, d = _resample(model_sq, idx), _resample(data_sq, idx)
            else:
                m, d = model_sq, data_sq[rng.integers(0, n_subj, size=n_subj)]
            boot[b] = _score(m, d, method)
            if nc_ok:
                boot_nc[b] = _ceiling(d, method)
    ok = np.isfinite(boot[:, 0])
    n_valid = int(ok.sum())
    if n_valid < 2:
        raise ValueError(
            f"Invalid value for 'n_boot': only {n_valid} of {n_boot} bootstrap samples drew 3 "
            "or more distinct stimuli, too few for a standard error or an interval. Raise "
            "n_boot or add stimuli.")
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(boot[ok], [alpha, 1 - alpha], axis=0)
    diff = boot[ok][:, :, None] - boot[ok][:, None, :]
    p_pair = np.minimum(1.0, 2 * np.minimum((diff <= 0).mean(0), (diff >= 0).mean(0)))
    np.fill_diagonal(p_pair, 1.0)
    model_dim = "model"
    ds = xr.Dataset(
        {
            "score": (model_dim, full),
            "boot": (("sample", model_dim), boot),
            "se": (model_dim, np.std(boot[ok], axis=0, ddof=1)),
            "ci_low": (model_dim, lo),
            "ci_high": (model_dim, hi),
            "p_zero": (model_dim, (boot[ok] <= 0).mean(axis=0)),
            "p_pair": ((model_dim, model_dim + "_"), p_pair),
            "noise_lower": nc_full[0],
            "noise_upper": nc_full[1],
            "boot_noise": (("sample", "bound"), boot_nc),
        },
        coords={model_dim: model_labels, model_dim + "_": model_labels,
                "bound": ["lower", "upper"]},
        attrs={"method": method, "over": over, "n_boot": n_boot, "n_valid": n_valid,
               "ci": ci, "n_stimuli": n_stim, "n_subjects": n_subj,
               "noise_ceiling": "computed" if n_subj >= 2 else
               "undefined: one subject (a noise ceiling needs 2 or more); noise_* are NaN"},
    )
    return ds


class PermutationResult(NamedTuple):
    """Observed statistic, its permutation p-value and the null samples.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import PermutationResult
    >>> res = PermutationResult(statistic=0.5, p_value=0.01, null=np.zeros(99))
    >>> res.p_value, res.null.size
    (0.01, 99)
    """

    statistic: float
    p_value: float
    null: np.ndarray


def permutation_test(a: Any, b: Any, *, method: str = "spearman", n_permutations: int = 1000,
                     random_state: Any = None) -> PermutationResult:
    """Test whether two RDMs are related by permuting the stimulus labels of one of them.

    The null distribution compares ``a`` with ``b`` whose rows and columns are permuted
    together (Mantel test). ``p = (1 + #{null >= observed}) / (1 + n_permutations)``
    (one-sided: similarity larger than chance).

    Parameters
    ----------
    a, b : DataArray (stimulus, stimulus_) or array (k, k)
        One RDM each, over the same stimuli: ``b`` is matched to ``a`` by stimulus id
        (by position for plain arrays) and different stimuli raise. NaN marks a missing
        pair, left out of each comparison; an inf or an all-NaN RDM raises.
    method : str, default="spearman"
        Comparison method (see :func:`compare_rdms`).
    n_permutations : int, default=1000
        Permutations in the null distribution.
    random_state : int, Generator or None
        Seeds the permutations.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import permutation_test
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.standard_normal((6, 10))
    >>> a = 1 - np.corrcoef(signal)
    >>> b = 1 - np.corrcoef(signal + rng.standard_normal((6, 10)))
    >>> res = permutation_test(a, b, random_state=0)
    >>> round(res.statistic, 2), round(res.p_value, 3), res.null.shape
    (0.69, 0.015, (1000,))
    """
    method = _method(method)
    rng = check_random_state(random_state)
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=1)
    sa, _, ra = _stack(a, "a", None)
    sb, _, _ = _stack(b, "b", None, like=ra, like_name="a")
    if sa.shape[0] != 1 or sb.shape[0] != 1:
        raise ValueError(
            f"permutation_test compares one RDM with one RDM; got {sa.shape[0]} and "
            f"{sb.shape[0]}. Select one, e.g. rdms.sel(layer=...).")
    complete = ~(np.isnan(_upper(sa)) | np.isnan(_upper(sb)))
    if complete.sum() < 2:
        raise ValueError(
            f"Invalid value for 'b': a permutation test needs at least 2 stimulus pairs that "
            f"are NaN in neither RDM; got {int(complete.sum())}. Fill the missing pairs or "
            "drop their stimuli.")
    n = sb.shape[-1]
    perms = np.stack([rng.permutation(n) for _ in range(n_permutations)])
    permuted = sb[0][perms[:, :, None], perms[:, None, :]]
    with torch_threads(1):
        observed = float(_compare_vectors(_upper(sa), _upper(sb), method)[0, 0])
        null = _compare_vectors(_upper(sa), _upper(permuted), method)[0]
    p = (1 + np.sum(null >= observed)) / (1 + n_permutations)
    return PermutationResult(observed, float(p), null)
