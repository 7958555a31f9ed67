"""Per-unit statistics: selectivity, top stimuli, domain-specific, dead and positional units.

Every function takes an assembly with dims ``(stimulus, unit)`` (or ``(stimulus, token,
unit)`` where stated) and returns an :class:`xarray.Dataset` whose ``unit`` dim keeps the
unit coords of the input (``layer``, ``region``, ...). Sums are accumulated in float64.
NaN responses (e.g. padded token positions) are left out of every count and moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats as _st

from .._checks import (
    AssemblyError,
    _check_dims,
    _check_option,
    check_finite,
    check_random_state,
    check_scalar,
)

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- helpers
def _as_array(x: Any, name: str, dims: tuple[str, ...]) -> np.ndarray:
    """Check ``x`` holds exactly ``dims`` and return float64 values in that order."""
    _check_dims(x, dims, name)
    extra = [d for d in x.dims if d not in dims]
    if extra:
        raise AssemblyError(
            f"{name!r} has extra dim(s) {', '.join(map(repr, extra))}; expected only "
            f"{dims}. Select or average them first, e.g. x.mean({extra[0]!r})."
        )
    return check_finite(name, x.transpose(*dims), allow_nan=True, fix=(
        "Responses must be finite; NaN marks a missing sample (padding) and is left out."))


def _non_negative(r: np.ndarray, method: str) -> None:
    """The rule of every method defined for non-negative responses only (:data:`_NON_NEGATIVE`)."""
    low = np.nanmin(r) if np.isfinite(r).any() else 0.0
    if low < 0:
        raise ValueError(
            f"Invalid value for 'x': method {method!r} needs non-negative responses; got a "
            f"minimum of {low:.6g}. Rectify or shift them first (e.g. x.clip(min=0)), or use "
            "method='dprime'."
        )


def _unit_coords(x: xr.DataArray) -> dict[Hashable, Any]:
    return {k: v for k, v in x.coords.items() if v.dims == ("unit",)}


def _dim_coords(x: xr.DataArray, dim: str) -> dict[Hashable, Any]:
    return {k: v for k, v in x.coords.items() if v.dims == (dim,)}


def _labels(x: xr.DataArray, labels: Any, dim: str, name: str = "labels") -> np.ndarray:
    """Resolve a coord name or one label per entry of ``dim``."""
    if isinstance(labels, str):
        if labels not in x.coords or x.coords[labels].dims != (dim,):
            have = [str(k) for k, v in x.coords.items() if v.dims == (dim,)]
            raise ValueError(
                f"Invalid value for {name!r}: expected the name of a coord on {dim!r} "
                f"(one of {', '.join(map(repr, have))}) or one label per {dim}; "
                f"got {labels!r}. Add it with x.assign_coords({labels}=({dim!r}, values))."
            )
        return np.asarray(x.coords[labels].values)
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != x.sizes[dim]:
        raise ValueError(
            f"Invalid value for {name!r}: expected one label per {dim} ({x.sizes[dim]}); "
            f"got shape {arr.shape}. Pass a 1-D sequence of length {x.sizes[dim]} or a coord name."
        )
    return arr


def _classes(lab: np.ndarray, name: str = "labels") -> np.ndarray:
    classes = np.unique(lab)
    if classes.size < 2:
        raise ValueError(
            f"Invalid value for {name!r}: expected at least two classes; got only "
            f"{[c.item() if hasattr(c, 'item') else c for c in classes]}. Selectivity compares "
            "stimuli of different labels; include stimuli of another class."
        )
    return classes


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values over the finite entries of ``p`` (NaN stays NaN)."""
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    pv = p[ok]
    m = pv.size
    if m == 0:
        return q
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(ranked, 0, 1)
    q[ok] = out
    return q


def _moments(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample variance (ddof=1) and count over axis 0, ignoring NaN, in float64."""
    if not np.isnan(r).any():  # fast path, same numbers
        n = np.full(r.shape[1:], float(r.shape[0]))
        with np.errstate(divide="ignore", invalid="ignore"):
            return r.mean(axis=0), r.var(axis=0, ddof=1), n
    n = np.sum(~np.isnan(r), axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.nansum(r, axis=0) / n
        v = np.nansum((r - m) ** 2, axis=0) / (n - 1)
    return m, v, n


# ----------------------------------------------------------------------------- methods
def _split(r: np.ndarray, lab: np.ndarray, target: Any) -> tuple[np.ndarray, np.ndarray]:
    hit = lab == target
    return r[hit], r[~hit]


def _dprime(r: np.ndarray, lab: np.ndarray, target: Any) -> dict[str, np.ndarray]:
    (m1, v1, _), (m0, v0, _) = (_moments(a) for a in _split(r, lab, target))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"score": (m1 - m0) / np.sqrt((v1 + v0) / 2)}


def _csi(r: np.ndarray, lab: np.ndarray, target: Any) -> dict[str, np.ndarray]:
    _non_negative(r, "csi")
    (m1, _, _), (m0, _, _) = (_moments(a) for a in _split(r, lab, target))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"score": (m1 - m0) / (m1 + m0)}


def _welch(r: np.ndarray, lab: np.ndarray, target: Any) -> dict[str, np.ndarray]:
    (m1, v1, n1), (m0, v0, n0) = (_moments(a) for a in _split(r, lab, target))
    with np.errstate(divide="ignore", invalid="ignore"):
        s1, s0 = v1 / n1, v0 / n0
        t = (m1 - m0) / np.sqrt(s1 + s0)
        df = (s1 + s0) ** 2 / (s1**2 / (n1 - 1) + s0**2 / (n0 - 1))
        p = 2 * _st.t.sf(np.abs(t), df)
    return {"score": t, "df": df, "p": p, "q": _bh(p)}


def _anova(r: np.ndarray, lab: np.ndarray, target: Any) -> dict[str, np.ndarray]:
    classes = np.unique(lab)
    k = classes.size
    grand, _, n = _moments(r)
    ssb = np.zeros(r.shape[1:])
    ssw = np.zeros(r.shape[1:])
    for c in classes:
        mc, vc, nc = _moments(r[lab == c])
        ssb += nc * (mc - grand) ** 2
        ssw += np.where(nc > 1, vc * (nc - 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ssb / (k - 1)) / (ssw / (n - k))
        p = _st.f.sf(f, k - 1, n - k)
    return {"score": f, "p": p, "q": _bh(p)}


def _sparseness(r: np.ndarray, axis: int) -> np.ndarray:
    n = np.sum(~np.isnan(r), axis=axis).astype(np.float64)
    a = (np.nansum(r, axis=axis) / n) ** 2
    b = np.nansum(r**2, axis=axis) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1 - a / b) / (1 - 1 / n)


def _lifetime(r: np.ndarray, lab: np.ndarray, target: Any) -> dict[str, np.ndarray]:
    _non_negative(r, "lifetime_sparseness")
    return {"score": _sparseness(r, 0)}


def _population(r: np.ndarray, lab: np.ndarray, target: Any) -> dict[str, np.ndarray]:
    _non_negative(r, "population_sparseness")
    return {"score": _sparseness(r, 1)}


#: Selectivity methods: name -> (function, needs labels, needs target, result over).
SELECTIVITY_METHODS: dict[str, tuple[Callable[..., dict[str, np.ndarray]], bool, bool, str]] = {
    "dprime": (_dprime, True, True, "unit"),
    "csi": (_csi, True, True, "unit"),
    "t": (_welch, True, True, "unit"),
    "anova": (_anova, True, False, "unit"),
    "lifetime_sparseness": (_lifetime, False, False, "unit"),
    "population_sparseness": (_population, False, False, "stimulus"),
}


def selectivity(
    x: xr.DataArray,
    labels: Any = None,
    *,
    method: str = "dprime",
    target: Any = None,
    dim: str = "stimulus",
    n_permutations: int = 0,
    family: str | None = None,
    alpha: float = 0.05,
    random_state: Any = None,
    progress: bool | None = None,
) -> xr.Dataset:
    r"""Per-unit selectivity scores, optionally with a label-permutation threshold.

    Parameters
    ----------
    x : DataArray, dims (``dim``, 'unit')
        Responses. NaN entries are left out.
    labels : str or array-like, optional
        Name of a coord on ``dim`` or one label per stimulus. Required by ``'dprime'``,
        ``'csi'``, ``'t'`` and ``'anova'``; must be None for the sparseness methods.
    method : str, default='dprime'
        One of :data:`SELECTIVITY_METHODS`, with 1 = stimuli whose label equals ``target``,
        0 = all others, means :math:`m`, sample variances :math:`v` (ddof=1), counts :math:`n`:

        - ``'dprime'``: :math:`(m_1 - m_0) / \sqrt{(v_1 + v_0) / 2}`.
        - ``'csi'``: category selectivity index :math:`(m_1 - m_0) / (m_1 + m_0)`, in
          [-1, 1]; defined for non-negative responses only (raises otherwise).
        - ``'t'``: Welch's t :math:`(m_1 - m_0) / \sqrt{v_1/n_1 + v_0/n_0}` with
          Welch-Satterthwaite ``df``, two-sided ``p`` and Benjamini-Hochberg ``q`` across units.
        - ``'anova'``: one-way F over all label classes (between / within mean squares),
          ``p`` and Benjamini-Hochberg ``q`` across units.
        - ``'lifetime_sparseness'``: per unit over the n stimuli,
          :math:`S = (1 - (\sum r/n)^2 / (\sum r^2/n)) / (1 - 1/n)` (Vinje & Gallant 2000;
          Rolls & Tovee 1995); 0 = equal responses, 1 = one stimulus only; in [0, 1] for
          non-negative responses only (raises otherwise, as ``'csi'``).
        - ``'population_sparseness'``: the same formula across units, per stimulus (also
          non-negative responses only).

        ``'dprime'`` and ``'t'`` need at least 2 stimuli with the target label and 2
        without (a variance per group); fewer raise. ``x`` may hold NaN (a missing sample,
        left out); inf raises.
    target : label, optional
        The preferred class for ``'dprime'``, ``'csi'`` and ``'t'``. Defaults to True when
        the labels are boolean; required otherwise.
    dim : str, default='stimulus'
        The sample dim.
    n_permutations : int, default=0
        Label-based methods only: shuffle the labels this many times and recompute the scores
        (the null). Adds per unit ``p_perm = (1 + #{|s*| >= |s|}) / (1 + P)`` (two-sided;
        F is non-negative), the family-wise bar ``threshold``, the ``1 - alpha`` quantile of
        the per-permutation maximum ``|s*|`` over the unit's family (max-statistic correction),
        ``p_fwe = (1 + #{max |s*| >= |s|}) / (1 + P)`` and ``significant = |s| > threshold``.
    family : str, optional
        Unit coord grouping units into families for the maximum (e.g. ``'layer'``: one bar
        per layer); None: all units are one family.
    alpha : float, default=0.05
        Family-wise error rate for ``threshold``.
    random_state : int, Generator or None
        Seeds the permutations.
    progress : bool or None, default=None
        Progress bar over permutations; None shows it on a terminal only.

    Returns
    -------
    Dataset
        ``score`` over 'unit' (over ``dim`` for ``'population_sparseness'``), plus ``p``,
        ``q`` (and ``df`` for ``'t'``) where defined, and the permutation outputs above;
        coords of that dim are kept. Constant units give NaN. ``attrs``: ``method``,
        ``target`` (and ``n_permutations``, ``family``, ``alpha``).

    Examples
    --------
    >>> import numpy as np, brainbridge
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(40, 3)); data[:20, 0] += 3
    >>> x = brainbridge.assembly(data, dims=("stimulus", "unit"), modality="ann",
    ...                          coords={"face": ("stimulus", np.arange(40) < 20)})
    >>> s = selectivity(x, "face", method="dprime")
    >>> bool(s.score[0] > 2), s.score.dims
    (True, ('unit',))
    """
    fn, needs_labels, needs_target, over = SELECTIVITY_METHODS[
        _check_option("method", method, SELECTIVITY_METHODS)
    ]
    r = _as_array(x, "x", (dim, "unit"))
    lab = None
    if needs_labels:
        if labels is None:
            raise ValueError(
                f"Invalid value for 'labels': method {method!r} needs one label per {dim}; "
                "got None. Pass a coord name or a sequence of labels."
            )
        lab = _labels(x, labels, dim)
        classes = _classes(lab)
        if needs_target:
            target = _target(lab, classes, target, method)
        elif target is not None:
            raise ValueError(
                f"Invalid value for 'target': method {method!r} compares all classes and takes "
                f"no target; got {target!r}. Leave target=None."
            )
    else:
        for name, value in (("labels", labels), ("target", target)):
            if value is not None:
                raise ValueError(
                    f"Invalid value for {name!r}: method {method!r} does not use it; got "
                    f"{value!r}. Leave {name}=None."
                )
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=0)
    if n_permutations and not needs_labels:
        raise ValueError(
            f"Invalid value for 'n_permutations': method {method!r} has no labels to shuffle; "
            f"got {n_permutations}. Leave n_permutations=0, or use a label-based method."
        )
    if not 0 < alpha < 1:
        raise ValueError(f"Invalid value for 'alpha': expected a number in (0, 1); got {alpha!r}.")
    out = fn(r, lab, target)
    if n_permutations:
        assert lab is not None  # n_permutations needs labels (checked above)
        out.update(_permutation_null(fn, r, lab, target, out["score"], _family(x, family),
                                     n_permutations, alpha, random_state, progress))
    coords = _unit_coords(x) if over == "unit" else _dim_coords(x, dim)
    odim = "unit" if over == "unit" else dim
    ds = xr.Dataset({k: ((odim,), v) for k, v in out.items()}, coords=coords)
    ds.attrs.update(method=method, target=str(target) if target is not None else "")
    if n_permutations:
        ds.attrs.update(n_permutations=int(n_permutations), family=family or "", alpha=float(alpha))
    return ds


def _target(lab: np.ndarray, classes: np.ndarray, target: Any, method: str) -> Any:
    """The preferred class: ``target``, or True for boolean labels; it must be one of them."""
    if target is None:
        if lab.dtype != bool:
            raise ValueError(
                f"Invalid value for 'target': method {method!r} needs the preferred "
                f"class; got None with labels {[c.item() for c in classes][:10]}. "
                "Pass target=<one of the labels>."
            )
        target = True
    if not np.any(lab == target):
        raise ValueError(
            f"Invalid value for 'target': expected one of the labels "
            f"{[c.item() for c in classes][:10]}; got {target!r}."
        )
    n_hit = int(np.sum(lab == target))
    if method in _NEEDS_VARIANCE and min(n_hit, lab.size - n_hit) < 2:
        raise ValueError(
            f"Invalid value for 'target': method {method!r} needs at least 2 stimuli with the "
            f"target label and 2 without (a variance per group); got {n_hit} with "
            f"{target!r} and {lab.size - n_hit} without. Add stimuli, or use method='csi'."
        )
    return target


#: Methods that need a variance in the target and the non-target group.
_NEEDS_VARIANCE = ("dprime", "t")


def _family(x: xr.DataArray, family: str | None) -> np.ndarray:
    """One family label per unit (all zeros when ``family`` is None)."""
    if family is None:
        return np.zeros(x.sizes["unit"], dtype=np.int64)
    if family not in x.coords or x.coords[family].dims != ("unit",):
        have = [str(k) for k, v in x.coords.items() if v.dims == ("unit",) and k != "unit"]
        raise ValueError(
            f"Invalid value for 'family': expected the name of a coord on 'unit' (one of "
            f"{', '.join(map(repr, have)) or 'none'}); got {family!r}. Add it with "
            f"x.assign_coords({family}=('unit', values)), or leave family=None."
        )
    return np.unique(np.asarray(x.coords[family].values), return_inverse=True)[1].reshape(-1)


def _permutation_null(fn: Callable[..., dict[str, np.ndarray]], r: np.ndarray, lab: np.ndarray,
                      target: Any, score: np.ndarray, fam: np.ndarray, n_permutations: int,
                      alpha: float, random_state: Any, progress: bool | None
                      ) -> dict[str, np.ndarray]:
    """Per-unit and family-wise (max-statistic) permutation p-values and bars."""
    from tqdm.auto import tqdm

    rng = check_random_state(random_state)
    obs = np.abs(score)
    n_fam = int(fam.max()) + 1
    exceed = np.zeros(obs.shape)
    null_max = np.empty((n_permutations, n_fam))
    for i in tqdm(range(n_permutations), desc="permutations",
                  disable=None if progress is None else not progress):
        null = np.abs(fn(r, rng.permutation(lab), target)["score"])
        with np.errstate(invalid="ignore"):
            exceed += null >= obs
        filled = np.where(np.isnan(null), -np.inf, null)
        null_max[i] = np.full(n_fam, -np.inf)
        np.maximum.at(null_max[i], fam, filled)
    threshold = np.quantile(null_max, 1 - alpha, axis=0)[fam]
    ordered = np.sort(null_max, axis=0)
    fwe = np.empty(obs.shape)
    for f in range(n_fam):  # #{max |s*| >= |s|} per unit, by binary search in its family's maxima
        m = fam == f
        fwe[m] = n_permutations - np.searchsorted(ordered[:, f], obs[m], side="left")
    with np.errstate(invalid="ignore"):
        nan = np.isnan(obs)
        return {
            "p_perm": np.where(nan, np.nan, (1 + exceed) / (1 + n_permutations)),
            "p_fwe": np.where(nan, np.nan, (1 + fwe) / (1 + n_permutations)),
            "threshold": threshold,
            "significant": obs > threshold,
        }


#: Permutations x units held at once by the vectorised null of :func:`selective_fraction`:
#: its working memory is a few float64 arrays of this many elements.
_NULL_BLOCK = 2**24


def selective_fraction(
    x: xr.DataArray,
    labels: Any,
    *,
    target: Any = None,
    threshold: Any = None,
    family: str | None = None,
    dim: str = "stimulus",
    n_permutations: int = 200,
    alpha: float = 0.05,
    random_state: Any = None,
    progress: bool | None = None,
) -> xr.Dataset:
    r"""Fraction of units selective for a class, per family, against a label-shuffle null.

    A unit is *selective* for the class (stimuli whose label equals ``target``) when its d'
    (:func:`selectivity`, method ``'dprime'``: :math:`d' = (m_1 - m_0) / \sqrt{(v_1 + v_0) / 2}`)
    is positive and passes the unit's bar: :math:`d' > 0` and :math:`|d'| > \mathrm{threshold}`.
    The fraction of selective units in each family (e.g. each layer) is returned with its null:
    the same fraction with the labels shuffled, ``n_permutations`` times, each unit keeping its
    bar. With the default bar (:func:`selectivity`'s family-wise bar) a shuffle makes any unit
    of a family pass in about a fraction ``alpha`` of shuffles only, so the null stays near 0 and
    an observed fraction above its band is not chance.

    Shuffled d' comes from sums and sums of squares, for a block of permutations at once (equal
    to :func:`selectivity`'s d' up to rounding); with NaN responses each shuffle calls the NaN
    aware d' of :func:`selectivity` instead.

    Parameters
    ----------
    x : DataArray, dims (``dim``, 'unit')
        Responses.
    labels : str or array-like
        Name of a coord on ``dim`` or one label per stimulus.
    target : label, optional
        The class. Defaults to True when the labels are boolean; required otherwise.
    threshold : float, array (n_units,) or DataArray over 'unit', optional
        The bar on ``|d'|``, one for all units or one per unit (e.g. ``selectivity(...).threshold``).
        Default: :func:`selectivity`'s family-wise permutation bar, computed here with the same
        ``family``, ``n_permutations``, ``alpha`` and random stream (the null's shuffles follow).
    family : str, optional
        Unit coord grouping units into families (e.g. ``'layer'``), in order of first appearance;
        None: all units are one family, ``'all'``.
    dim : str, default='stimulus'
        The sample dim.
    n_permutations : int, default=200
        Label shuffles of the null (and of the default bar).
    alpha : float, default=0.05
        Family-wise error rate of the default bar (unused when ``threshold`` is given).
    random_state : int, Generator or None
        Seeds the shuffles.
    progress : bool or None, default=None
        Progress bar over the shuffles of the default bar; None shows it on a terminal only.

    Returns
    -------
    Dataset
        Over 'unit' (the unit coords of ``x``): ``score`` (d'), ``threshold`` and ``selective``
        (bool). Over 'family' (coord: the family names): ``fraction`` of selective units and
        ``n_units``. Over ('permutation', 'family'): ``null``, the fraction under each shuffle.
        ``attrs``: ``target``, ``family`` (the coord name, or ``''``), ``n_permutations``.

    Examples
    --------
    >>> import numpy as np, brainbridge
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(40, 20)); data[:20, :5] += 2  # 5 of 10 units in layer a
    >>> x = brainbridge.assembly(data, dims=("stimulus", "unit"), modality="ann",
    ...                          coords={"layer": ("unit", ["a"] * 10 + ["b"] * 10)})
    >>> res = selective_fraction(x, np.arange(40) < 20, family="layer", n_permutations=100,
    ...                          random_state=0, progress=False)
    >>> res.fraction.values.tolist(), res.null.dims
    ([0.5, 0.0], ('permutation', 'family'))
    >>> bool(res.null.sel(family="a").max() < 0.5)
    True
    """
    r = _as_array(x, "x", (dim, "unit"))
    lab = _labels(x, labels, dim)
    target = _target(lab, _classes(lab), target, "dprime")
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=1, what="label shuffles")
    alpha = check_scalar("alpha", alpha, float, low=0, high=1, closed="neither")
    _family(x, family)  # checks the coord
    if family == "family" or "family" in _unit_coords(x):
        raise ValueError(
            "Invalid value for 'x': a unit coord named 'family' would clash with the result's "
            "'family' dim; rename it first, e.g. x.rename(family='group'), and pass that name."
        )
    values = np.asarray(x.coords[family].values).tolist() if family is not None else ["all"] * r.shape[1]
    names = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(names)}
    fam = np.array([index[v] for v in values], dtype=np.int64)
    rng = check_random_state(random_state)
    if threshold is None:
        bars = selectivity(x, lab, method="dprime", target=target, dim=dim, n_permutations=n_permutations,
                           family=family, alpha=alpha, random_state=rng, progress=progress)["threshold"]
        bar = np.asarray(bars.values, dtype=np.float64)
    else:
        bar = _unit_threshold(x, threshold)
    hit = np.asarray(lab == target)
    score = _dprime(r, hit, True)["score"]
    with np.errstate(invalid="ignore"):
        selective = (score > 0) & (np.abs(score) > bar)
    n_fam = len(names)
    null = _null_fraction(r, hit, bar, fam, n_fam, n_permutations, rng)
    return xr.Dataset(
        {
            "score": (("unit",), score),
            "threshold": (("unit",), bar),
            "selective": (("unit",), selective),
            "fraction": (("family",), _family_mean(selective[None], fam, n_fam)[0]),
            "n_units": (("family",), np.bincount(fam, minlength=n_fam)),
            "null": (("permutation", "family"), null),
        },
        coords={**_unit_coords(x), "family": [str(v) for v in names]},
        attrs={"target": str(target), "family": family or "", "n_permutations": n_permutations},
    )


def _unit_threshold(x: xr.DataArray, threshold: Any) -> np.ndarray:
    """``threshold`` as one float64 bar per unit of ``x``."""
    if isinstance(threshold, xr.DataArray) and "unit" in threshold.coords and "unit" in x.coords:
        if threshold.dims != ("unit",) or not np.array_equal(threshold["unit"].values, x["unit"].values):
            raise ValueError(
                "Invalid value for 'threshold': a DataArray must be over 'unit' with the units of x, in "
                f"order; got dims {threshold.dims} and {threshold.sizes.get('unit', 0)} units for "
                f"{x.sizes['unit']}. Pass threshold.sel(unit=x.unit) or a plain array."
            )
    bar = np.asarray(threshold, dtype=np.float64)
    if bar.ndim > 1 or (bar.ndim == 1 and bar.size != x.sizes["unit"]):
        raise ValueError(
            f"Invalid value for 'threshold': expected a number or one bar per unit ({x.sizes['unit']}); "
            f"got shape {bar.shape}."
        )
    return np.broadcast_to(bar, (x.sizes["unit"],)).copy()


def _family_mean(selective: np.ndarray, fam: np.ndarray, n_fam: int) -> np.ndarray:
    """(rows, units) booleans -> (rows, families): the fraction True in each family."""
    return np.stack([selective[:, fam == f].mean(1) for f in range(n_fam)], axis=1)


def _null_fraction(r: np.ndarray, hit: np.ndarray, bar: np.ndarray, fam: np.ndarray, n_fam: int,
                   n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Fraction selective per family under ``n_permutations`` shuffles of ``hit``: (P, families)."""
    n = hit.size
    out = np.empty((n_permutations, n_fam))
    if np.isnan(r).any():  # NaN-aware d', one shuffle at a time
        for i in range(n_permutations):
            d = _dprime(r, rng.permutation(hit), True)["score"]
            with np.errstate(invalid="ignore"):
                out[i] = _family_mean(((d > 0) & (np.abs(d) > bar))[None], fam, n_fam)[0]
        return out
    sq = r * r
    sa, qa = r.sum(0), sq.sum(0)
    step = max(1, _NULL_BLOCK // max(r.shape[1], 1))
    for lo in range(0, n_permutations, step):
        perms = np.stack([rng.permutation(hit) for _ in range(min(step, n_permutations - lo))]
                         ).astype(np.float64)
        n1 = perms.sum(1, keepdims=True)
        n0 = n - n1
        s1, q1 = perms @ r, perms @ sq
        m1, m0 = s1 / n1, (sa - s1) / n0
        v1 = (q1 - n1 * m1**2) / (n1 - 1)
        v0 = ((qa - q1) - n0 * m0**2) / (n0 - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = (m1 - m0) / np.sqrt((v1 + v0) / 2)
            out[lo:lo + perms.shape[0]] = _family_mean((d > 0) & (np.abs(d) > bar), fam, n_fam)
    return out


def top_stimuli(x: xr.DataArray, k: int = 5, *, dim: str = "stimulus") -> xr.Dataset:
    """The ``k`` stimuli with the largest response of each unit, best first.

    Parameters
    ----------
    x : DataArray, dims (``dim``, 'unit')
    k : int, default=5
        Number of stimuli per unit, ``1 <= k <= x.sizes[dim]``. NaN responses rank last.
    dim : str, default='stimulus'

    Returns
    -------
    Dataset, dims ('unit', 'rank')
        ``stimulus`` (the ids, from ``x[dim]``) and ``value`` (the responses); ``rank`` 0 is
        the largest. Ties keep stimulus order.

    Examples
    --------
    >>> import numpy as np, brainbridge
    >>> x = brainbridge.assembly(np.array([[1., 5.], [3., 4.], [2., 6.]]),
    ...                          dims=("stimulus", "unit"), modality="ann")
    >>> top_stimuli(x, k=2).stimulus.values.tolist()
    [['1', '2'], ['2', '0']]
    """
    r = _as_array(x, "x", (dim, "unit"))
    n = r.shape[0]
    k = check_scalar("k", k, int, low=1, high=n, what=f"at most the size of {dim!r}")
    key = np.where(np.isnan(r), -np.inf, r)
    order = np.argsort(-key, axis=0, kind="stable")[:k].T  # (unit, k)
    ids = np.asarray(x[dim].values)[order]
    vals = np.take_along_axis(r.T, order, axis=1)
    return xr.Dataset(
        {"stimulus": (("unit", "rank"), ids), "value": (("unit", "rank"), vals)},
        coords={**_unit_coords(x), "rank": np.arange(k)},
    )


# ----------------------------------------------------------------------------- corpus stats
def _samples(x: xr.DataArray, dim: str, token_dim: str | None) -> np.ndarray:
    """Values as (dim, token, unit); token axis of length 1 without ``token_dim``."""
    if token_dim is None:
        return _as_array(x, "x", (dim, "unit"))[:, None, :]
    return _as_array(x, "x", (dim, token_dim, "unit"))


def domain_neurons(
    x: xr.DataArray,
    domains: Any,
    *,
    threshold: float = 0.0,
    top_percentile: float = 95,
    entropy_percentile: float = 1,
    token_dim: str | None = None,
    dim: str = "stimulus",
) -> xr.Dataset:
    r"""Domain-specific units by activation-probability entropy (MMNeuron; LAPE).

    The rule of Huo et al. (2024, MMNeuron), which follows the released code of Tang et al.
    (2024, language activation probability entropy):

    1. :math:`p(u, d)` = fraction of samples of domain :math:`d` (stimuli, or stimulus x
       token positions with ``token_dim``; NaN entries left out) where unit :math:`u`'s
       activation is ``> threshold``.
    2. :math:`\tilde p(u, d) = p(u, d) / \sum_d p(u, d)`; entropy
       :math:`H(u) = -\sum_d \tilde p \ln \tilde p` in nats (:math:`0 \ln 0 = 0`). Units that
       never activate have NaN ``norm_prob`` and ``entropy`` and are never selected.
    3. ``bar`` = the k-th smallest of all raw :math:`p(u, d)` values, with
       ``k = round(n_unit * n_domain * top_percentile / 100)`` (``torch.kthvalue`` in the
       reference code; at least 1).
    4. Eligible units have :math:`p(u, d) > bar` for some domain. Of them, the
       ``round(n_unit * entropy_percentile / 100)`` units (at least 1) of lowest entropy are
       ``selected`` (ties broken by unit order).
    5. ``domains[u, d]`` is True for a selected unit and each domain with
       :math:`p(u, d) > bar`. A selected unit can belong to several domains.

    Note the bar is on the raw probability, not on :math:`\tilde p`, as in the reference code.

    Parameters
    ----------
    x : DataArray, dims (``dim``, 'unit') or (``dim``, ``token_dim``, 'unit')
    domains : str or array-like
        A coord name on ``dim`` or one domain label per stimulus; at least two domains.
    threshold : float, default=0.0
        A unit is active where its activation is strictly above this.
    top_percentile : float, default=95
        Percentile, in (0, 100], of all :math:`p(u, d)` that sets ``bar``.
    entropy_percentile : float, default=1
        Percent of all units, in (0, 100], kept by lowest entropy.
    token_dim : str, optional
        The token-position dim of language-model activations.
    dim : str, default='stimulus'

    Returns
    -------
    Dataset
        ``prob`` and ``norm_prob`` ('unit', 'domain'), ``entropy`` ('unit'), ``selected``
        ('unit', bool), ``domains`` ('unit', 'domain', bool); ``attrs['bar']``.

    Examples
    --------
    >>> import numpy as np, brainbridge
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(60, 200)); data[:30, 0] = 5; data[30:, 0] = -5
    >>> x = brainbridge.assembly(data, dims=("stimulus", "unit"), modality="ann")
    >>> out = domain_neurons(x, ["code"] * 30 + ["prose"] * 30)
    >>> bool(out.selected.sel(unit="0")), out.domains.sel(unit="0").values.tolist()
    (True, [True, False])
    >>> int(out.selected.sum())  # round(200 units * 1 %)
    2
    """
    r = _samples(x, dim, token_dim)
    lab = _labels(x, domains, dim, name="domains")
    names = _classes(lab, name="domains")
    for name, value in (("top_percentile", top_percentile), ("entropy_percentile", entropy_percentile)):
        if not 0 < value <= 100:
            raise ValueError(f"Invalid value for {name!r}: expected a percentage in (0, 100]; got {value!r}.")
    valid = ~np.isnan(r)
    active = np.where(valid, r, -np.inf) > threshold
    prob = np.empty((r.shape[2], names.size))
    for j, d in enumerate(names):
        hit = lab == d
        n = valid[hit].sum(axis=(0, 1)).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            prob[:, j] = active[hit].sum(axis=(0, 1)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = prob / prob.sum(axis=1, keepdims=True)
        logs = np.where(norm > 0, np.log(np.where(norm > 0, norm, 1.0)), 0.0)
        entropy = -np.sum(norm * logs, axis=1)
    flat = np.sort(prob[np.isfinite(prob)])
    kth = max(int(round(flat.size * top_percentile / 100)), 1)
    bar = float(flat[kth - 1])
    above = prob > bar
    eligible = above.any(axis=1) & np.isfinite(entropy)
    n_keep = max(int(round(r.shape[2] * entropy_percentile / 100)), 1)
    key = np.where(eligible, entropy, np.inf)
    order = np.argsort(key, kind="stable")[:n_keep]
    selected = np.zeros(r.shape[2], dtype=bool)
    selected[order[eligible[order]]] = True
    logger.info("domain_neurons: bar=%.4g, %d eligible, %d selected", bar, eligible.sum(), selected.sum())
    domain_ids = [d.item() if hasattr(d, "item") else d for d in names]
    ds = xr.Dataset(
        {
            "prob": (("unit", "domain"), prob),
            "norm_prob": (("unit", "domain"), norm),
            "entropy": (("unit",), entropy),
            "selected": (("unit",), selected),
            "domains": (("unit", "domain"), above & selected[:, None]),
        },
        coords={**_unit_coords(x), "domain": domain_ids},
    )
    ds.attrs.update(
        bar=bar, threshold=threshold, top_percentile=top_percentile, entropy_percentile=entropy_percentile
    )
    return ds


def dead_neurons(
    x: xr.DataArray,
    *,
    threshold: float = 0.0,
    token_dim: str | None = None,
    dim: str = "stimulus",
) -> xr.Dataset:
    """Units that never activate above ``threshold`` over all samples (Voita et al. 2023).

    Parameters
    ----------
    x : DataArray, dims (``dim``, 'unit') or (``dim``, ``token_dim``, 'unit')
        NaN entries (padding) are left out.
    threshold : float, default=0.0
    token_dim : str, optional
    dim : str, default='stimulus'

    Returns
    -------
    Dataset over 'unit'
        ``dead`` (bool: no valid sample ``> threshold``), ``frequency`` (fraction of valid
        samples ``> threshold``), ``max`` (largest activation; NaN if no valid sample).

    Examples
    --------
    >>> import numpy as np, brainbridge
    >>> x = brainbridge.assembly(np.array([[0., 1.], [-1., 0.]]),
    ...                          dims=("stimulus", "unit"), modality="ann")
    >>> dead_neurons(x).dead.values.tolist()
    [True, False]
    """
    threshold = check_scalar("threshold", threshold, float, what="activation level")
    r = _samples(x, dim, token_dim)
    valid = ~np.isnan(r)
    n = valid.sum(axis=(0, 1)).astype(np.float64)
    hits = (np.where(valid, r, -np.inf) > threshold).sum(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        freq = hits / n
    mx = np.where(n > 0, np.max(np.where(valid, r, -np.inf), axis=(0, 1)), np.nan)
    return xr.Dataset(
        {"dead": (("unit",), hits == 0), "frequency": (("unit",), freq), "max": (("unit",), mx)},
        coords=_unit_coords(x),
        attrs={"threshold": threshold},
    )


def positional_neurons(
    x: xr.DataArray,
    *,
    token_dim: str = "token",
    cutoff: float = 0.5,
    dim: str = "stimulus",
) -> xr.Dataset:
    r"""Units whose activation depends mostly on token position (after Voita et al. 2023).

    The score is the fraction of activation variance explained by position (eta squared)
    over all valid (stimulus, position) samples:
    :math:`\eta^2 = \sum_t n_t (\bar r_t - \bar r)^2 / \sum_{s,t} (r_{st} - \bar r)^2`,
    with :math:`\bar r_t` the mean over stimuli at position :math:`t` and :math:`n_t` its
    count (NaN padding left out). Constant units give NaN and are not flagged.

    Parameters
    ----------
    x : DataArray, dims (``dim``, ``token_dim``, 'unit')
    token_dim : str, default='token'
    cutoff : float, default=0.5
        ``positional`` is ``score > cutoff``: position explains more than half the variance.
    dim : str, default='stimulus'

    Returns
    -------
    Dataset over 'unit'
        ``score`` (in [0, 1]) and ``positional`` (bool).

    Examples
    --------
    >>> import numpy as np, brainbridge, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(20, 8, 2)); data[:, :, 0] += 3 * np.arange(8)
    >>> x = xr.DataArray(data, dims=("stimulus", "token", "unit"),
    ...                  coords={"unit": ["a", "b"]})
    >>> positional_neurons(x).positional.values.tolist()
    [True, False]
    """
    cutoff = check_scalar("cutoff", cutoff, float, low=0, high=1,
                          what="fraction of variance explained by position")
    r = _as_array(x, "x", (dim, token_dim, "unit"))
    valid = ~np.isnan(r)
    z = np.where(valid, r, 0.0)
    n_t = valid.sum(axis=0).astype(np.float64)  # (token, unit)
    n = n_t.sum(axis=0)
    grand = z.sum(axis=(0, 1)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_t = z.sum(axis=0) / n_t
        between = np.nansum(n_t * (mean_t - grand) ** 2, axis=0)
        total = np.sum(np.where(valid, (r - grand) ** 2, 0.0), axis=(0, 1))
        score = np.where(total > 0, between / total, np.nan)
    return xr.Dataset(
        {"score": (("unit",), score), "positional": (("unit",), np.nan_to_num(score) > cutoff)},
        coords=_unit_coords(x),
        attrs={"cutoff": cutoff},
    )
