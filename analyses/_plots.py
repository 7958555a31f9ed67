"""Figures of the analyses. Each draws into the axes it is given (or a new figure's) and
returns them; none calls ``plt.show()``. New figures come from :func:`brainbridge._figures.new_figure`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.sparse.csgraph import shortest_path

from .._checks import _soft_import, _validate_type, check_random_state, check_scalar

logger = logging.getLogger(__name__)


def _new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None,
                **kw: Any) -> tuple[Any, Any]:
    _soft_import("matplotlib", "plotting", "plot")
    from .._figures import new_figure

    return new_figure(nrows, ncols, size=size, **kw)


def _axes(ax: Any, size: tuple[float, float] = (5, 4)) -> Any:
    """``ax``, or the axes of a new figure of ``size`` inches."""
    if ax is not None:
        return ax
    return _new_figure(size=size)[1]


def _axes_row(axes: Any, n: int, size: tuple[float, float], what: str) -> np.ndarray:
    """``n`` axes as a 1-D object array: ``axes`` (any shape, ``n`` in all) or a new row."""
    if axes is None:
        return _new_figure(1, n, size=size, squeeze=False)[1][0]
    flat = np.asarray(axes, dtype=object).ravel()
    if flat.size != n:
        raise ValueError(
            f"Invalid value for 'axes': expected {n} Axes ({what}); got {flat.size}. Pass axes=None "
            "for a new figure.")
    return flat


def _square(r: xr.DataArray, name: str) -> tuple[np.ndarray, list[str]]:
    if r.ndim != 2 or r.dims[1] != f"{r.dims[0]}_":
        raise ValueError(
            f"{name!r} must be one RDM with dims (d, d + '_'), e.g. ('stimulus', 'stimulus_'); got "
            f"dims {tuple(r.dims)}. Select one first, e.g. r.sel(layer=...).")
    d = r.dims[0]
    labels = [str(v) for v in r[d].values] if d in r.coords else [str(i) for i in range(r.shape[0])]
    return np.asarray(r.values, dtype=float), labels


def plot_rdm(r: xr.DataArray, *, ax: Any = None, labels: bool | None = None,
             cmap: str = "viridis") -> Any:
    """Heatmap of one RDM with stimulus labels (shown when there are at most 40 stimuli).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge import assembly
    >>> from brainbridge.analyses import plot_rdm, rdm
    >>> x = assembly(np.random.default_rng(0).normal(size=(5, 8)), dims=("stimulus", "unit"),
    ...              modality="ann")
    >>> ax = plot_rdm(rdm(x))
    >>> ax.images[0].get_array().shape
    (5, 5)
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    values, names = _square(r, "r")
    ax = _axes(ax)
    image = ax.imshow(values, cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                       label=f"dissimilarity ({r.attrs.get('method', '?')})")
    if labels if labels is not None else len(names) <= 40:
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(str(r.name or "RDM"))
    return ax


def classical_mds(d: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS: coordinates whose distances best match ``d``.

    ``B = -1/2 J D**2 J`` with ``J`` the centring matrix; the coordinates are the top
    eigenvectors of ``B`` scaled by the square roots of their (non-negative) eigenvalues.
    Exact when ``d`` is a Euclidean distance matrix of points in ``n_components`` dims.

    Examples
    --------
    The distances of a 3-4-5 triangle are recovered exactly:

    >>> import numpy as np
    >>> from brainbridge.analyses._plots import classical_mds
    >>> pts = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    >>> y = classical_mds(np.linalg.norm(pts[:, None] - pts[None], axis=-1))
    >>> np.linalg.norm(y[:, None] - y[None], axis=-1).round(6)
    array([[0., 3., 4.],
           [3., 0., 5.],
           [4., 5., 0.]])
    """
    d = np.asarray(d, dtype=float)
    n = d.shape[0]
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (d**2) @ j
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    top = np.argsort(vals)[::-1][:n_components]
    return vecs[:, top] * np.sqrt(np.clip(vals[top], 0, None))


def plot_mds(r: xr.DataArray, *, ax: Any = None, labels: bool | None = None) -> Any:
    """Two-dimensional classical MDS of one RDM (see :func:`classical_mds`).

    RDMs of squared distances (``sqeuclidean``, ``mahalanobis``, ``crossnobis``) are
    square-rooted first (negative crossnobis estimates are clipped at zero).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge import assembly
    >>> from brainbridge.analyses import plot_mds, rdm
    >>> x = assembly(np.random.default_rng(0).normal(size=(5, 8)), dims=("stimulus", "unit"),
    ...              modality="ann")
    >>> ax = plot_mds(rdm(x, method="euclidean"))
    >>> ax.collections[0].get_offsets().shape  # one point per stimulus
    (5, 2)
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    values, names = _square(r, "r")
    values = np.nan_to_num((values + values.T) / 2)
    if r.attrs.get("method") in ("sqeuclidean", "mahalanobis", "crossnobis"):
        values = np.sqrt(np.clip(values, 0, None))
    points = classical_mds(values)
    ax = _axes(ax)
    ax.scatter(points[:, 0], points[:, 1], s=18)
    if labels if labels is not None else len(names) <= 40:
        for (px, py), name in zip(points, names):
            ax.annotate(name, (px, py), fontsize=7, xytext=(2, 2), textcoords="offset points")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("MDS")
    return ax


def plot_model_comparison(result: xr.Dataset, *, ax: Any = None, alpha: float = 0.05) -> Any:
    """Bars of model scores with confidence intervals, the noise-ceiling band and marks.

    ``result`` is what :func:`bootstrap` (or :func:`rsa` with ``n_boot``) returns. A star
    above a bar marks a score above zero at level ``alpha`` (one-sided bootstrap p); the grey
    band spans the noise ceiling's lower and upper bounds.

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import plot_model_comparison
    >>> res = xr.Dataset({"score": ("model", [0.3, 0.5]), "ci_low": ("model", [0.2, 0.4]),
    ...                   "ci_high": ("model", [0.4, 0.6]), "p_zero": ("model", [0.01, 0.2]),
    ...                   "noise_lower": 0.6, "noise_upper": 0.8}, coords={"model": ["m1", "m2"]})
    >>> ax = plot_model_comparison(res)
    >>> [float(p.get_height()) for p in ax.patches[:2]], [t.get_text() for t in ax.texts]
    ([0.3, 0.5], ['*'])
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    missing = [k for k in ("score", "ci_low", "ci_high", "p_zero") if k not in result]
    if missing:
        raise ValueError(
            f"'result' lacks {', '.join(missing)}; pass the Dataset returned by bootstrap() or "
            "rsa(..., n_boot=1000).")
    ax = _axes(ax)
    names = [str(v) for v in result["model"].values]
    score = result["score"].values
    x = np.arange(len(names))
    err = np.stack([score - result["ci_low"].values, result["ci_high"].values - score])
    ax.bar(x, score, color="#4C72B0", yerr=err, capsize=3)
    low, high = float(result["noise_lower"]), float(result["noise_upper"])
    if np.isfinite(low) and np.isfinite(high):
        ax.axhspan(low, high, color="0.8", alpha=0.7, zorder=0, label="noise ceiling")
        ax.legend(loc="upper right", fontsize=8)
    top = np.nanmax(np.r_[result["ci_high"].values, high if np.isfinite(high) else -np.inf])
    for xi, p in zip(x, result["p_zero"].values):
        if p < alpha:
            ax.text(xi, top * 1.02 if top > 0 else 0.02, "*", ha="center", fontsize=12)
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_ylabel(f"RDM similarity ({result.attrs.get('method', '')})")
    ax.axhline(0, color="k", lw=0.8)
    return ax


def plot_matrix(m: xr.DataArray, *, ax: Any = None, cmap: str = "magma", vmin: float | None = 0.0,
                vmax: float | None = 1.0, annotate: bool | None = None) -> Any:
    """Heatmap of a 2-D score matrix, e.g. layer x layer CKA or layer x region RSA.

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import plot_matrix
    >>> m = xr.DataArray([[1.0, 0.2], [0.2, 1.0]], dims=("layer_x", "layer_y"), name="cka")
    >>> ax = plot_matrix(m)
    >>> ax.images[0].get_array().tolist(), ax.get_xlabel()
    ([[1.0, 0.2], [0.2, 1.0]], 'layer_y')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    if m.ndim != 2:
        raise ValueError(f"'m' must be 2-D; got dims {tuple(m.dims)}. Select or average first.")
    ax = _axes(ax)
    values = np.asarray(m.values, dtype=float)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=str(m.name or "score"))
    rows = [str(v) for v in (m[m.dims[0]].values if m.dims[0] in m.coords else range(m.shape[0]))]
    cols = [str(v) for v in (m[m.dims[1]].values if m.dims[1] in m.coords else range(m.shape[1]))]
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
    ax.set_ylabel(str(m.dims[0]))
    ax.set_xlabel(str(m.dims[1]))
    if annotate if annotate is not None else values.size <= 64:
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="w" if v < 0.5 * (vmax or 1) else "k")
    return ax


def plot_selectivity(scores: xr.Dataset | xr.DataArray, *, by: str = "layer", ax: Any = None,
                     bins: int = 30) -> Any:
    """Histograms of per-unit selectivity, one outline per value of the unit coord ``by``.

    ``scores`` is what :func:`selectivity` returns (its ``score`` is used) or a per-unit
    DataArray.

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import plot_selectivity
    >>> d = xr.DataArray([0.1, 1.2, -0.3, 0.8], dims="unit",
    ...                  coords={"layer": ("unit", ["a", "a", "b", "b"])})
    >>> ax = plot_selectivity(d, bins=4)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['a', 'b']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    score = scores["score"] if isinstance(scores, xr.Dataset) else scores
    if "unit" not in score.dims:
        raise ValueError(f"'scores' must be per unit; got dims {tuple(score.dims)}.")
    ax = _axes(ax)
    values = np.asarray(score.values, dtype=float)
    finite = values[np.isfinite(values)]
    edges = np.histogram_bin_edges(finite if finite.size else [0.0, 1.0], bins=bins)
    groups = (list(dict.fromkeys(np.asarray(score[by].values).tolist())) if by in score.coords
              else [None])
    for group in groups:
        part = values if group is None else values[np.asarray(score[by].values) == group]
        ax.hist(part[np.isfinite(part)], bins=edges, histtype="step", lw=1.5,
                label=None if group is None else str(group).lstrip("_"))  # "_x" hides a label
    if isinstance(scores, xr.Dataset) and "threshold" in scores:
        bars = np.unique(np.asarray(scores["threshold"].values, dtype=float))
        if bars.size == 1:  # one family: the permutation bar, both signs
            for sign in (-1, 1):
                ax.axvline(sign * bars[0], color="k", ls="--", lw=1)
    if groups != [None]:
        ax.legend(fontsize=7, ncol=2 if len(groups) > 8 else 1)
    ax.set_xlabel(f"selectivity ({score.attrs.get('method', scores.attrs.get('method', ''))})")
    ax.set_ylabel("units")
    return ax


def plot_selective_fraction(result: xr.Dataset, *, labels: Any = None, axes: Any = None) -> np.ndarray:
    """The fraction of selective units per family against its null, and d' per family.

    Left: one bar per family, the observed fraction of selective units, over the label-shuffle
    null (grey box over each bar: its 2.5-97.5 percentiles; black tick: its mean). Right: the d' of the units
    of each family (box: quartiles, whiskers: 5-95 percentiles, no fliers) with the family's bar
    (red ticks at +/- the median ``threshold`` of its units: one value per family for
    :func:`selectivity`'s family-wise bar).

    Parameters
    ----------
    result : Dataset
        What :func:`selective_fraction` returns.
    labels : list of str, optional
        Tick labels, one per family (default: the family names).
    axes : two matplotlib Axes, optional
        Default: a new figure, one row.

    Returns
    -------
    ndarray of 2 Axes

    Examples
    --------
    >>> import numpy as np, brainbridge
    >>> from brainbridge.analyses import plot_selective_fraction, selective_fraction
    >>> rng = np.random.default_rng(0)
    >>> data = rng.normal(size=(40, 20)); data[:20, :5] += 2
    >>> x = brainbridge.assembly(data, dims=("stimulus", "unit"), modality="ann",
    ...                          coords={"layer": ("unit", ["a"] * 10 + ["b"] * 10)})
    >>> res = selective_fraction(x, np.arange(40) < 20, family="layer", n_permutations=50,
    ...                          random_state=0, progress=False)
    >>> axes = plot_selective_fraction(res)
    >>> [float(p.get_height()) for p in axes[0].patches]
    [0.5, 0.0]
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    _validate_type("result", result, xr.Dataset, "the Dataset returned by selective_fraction")
    missing = [v for v in ("fraction", "null", "score", "threshold") if v not in result]
    if missing or "family" not in result.dims:
        raise ValueError(
            "Invalid value for 'result': expected the Dataset returned by selective_fraction (fraction "
            "and null over 'family', score and threshold over 'unit'); got variables "
            f"{sorted(map(str, result.data_vars))}.")
    names = [str(v) for v in result["family"].values]
    ticks = names if labels is None else [str(v) for v in labels]
    if len(ticks) != len(names):
        raise ValueError(f"Invalid value for 'labels': expected one per family ({len(names)}); got "
                         f"{len(ticks)}.")
    axes = _axes_row(axes, 2, (12, 4), "fraction, d'")
    ax_frac, ax_d = axes
    fraction = np.asarray(result["fraction"].values, dtype=float)
    null = np.asarray(result["null"].transpose(..., "family").values, dtype=float).reshape(-1, len(names))
    pos = np.arange(len(names))
    lo, hi = np.percentile(null, [2.5, 97.5], axis=0)
    ax_frac.bar(pos, fraction, color="C0", width=0.7, label="observed")
    # the null per family, drawn over its own bar: a grey 2.5-97.5 % box and a tick at its mean
    for k, (x0, a, b, m) in enumerate(zip(pos, lo, hi, null.mean(0))):
        ax_frac.fill_between([x0 - 0.35, x0 + 0.35], a, max(b, a + 1e-3), color="0.35", alpha=0.7, lw=0,
                             zorder=3, label="label-shuffle null (95%)" if k == 0 else None)
        ax_frac.plot([x0 - 0.35, x0 + 0.35], [m, m], color="k", lw=1.2, zorder=4,
                     label="null mean" if k == 0 else None)
    ax_frac.set_xticks(pos, ticks, rotation=90, fontsize=7)
    ax_frac.set_ylabel("fraction of units selective")
    ax_frac.set_ylim(0, max(0.05, float(np.nanmax(fraction)) * 1.15, float(hi.max()) * 1.15))
    ax_frac.legend(fontsize=7, loc="upper left")
    coord = str(result.attrs.get("family", ""))
    group = (np.asarray(result[coord].values).astype(str) if coord and coord in result.coords
             else np.full(result.sizes["unit"], names[0]))
    score = np.asarray(result["score"].values, dtype=float)
    bar = np.asarray(result["threshold"].values, dtype=float)
    d = [score[group == n] for n in names]
    ax_d.boxplot([v[np.isfinite(v)] for v in d], positions=pos, widths=0.6, whis=(5, 95),
                 showfliers=False)
    bars = np.array([np.median(bar[group == n]) if np.any(group == n) else np.nan for n in names])
    for sign in (1, -1):
        ax_d.scatter(pos, sign * bars, marker="_", s=120, color="C3", zorder=3,
                     label="bar" if sign == 1 else None)
    ax_d.axhline(0, color="0.7", lw=0.8)
    ax_d.set_xticks(pos, ticks, rotation=90, fontsize=7)
    ax_d.set_ylabel("d'")
    ax_d.legend(fontsize=7, loc="upper left")
    return axes


def plot_top_stimuli(top: xr.Dataset, images: Any, *, units: Any = None, fig: Any = None) -> Any:
    """Grid of each unit's top stimuli: one row per unit, ``rank`` columns.

    ``top`` is what :func:`top_stimuli` returns; ``images`` maps stimulus ids to arrays
    (a dict, or any mapping). ``units`` picks rows (default: every unit in ``top``, at most 10).

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge import assembly
    >>> from brainbridge.analyses import plot_top_stimuli, top_stimuli
    >>> rng = np.random.default_rng(0)
    >>> ids = [f"s{i}" for i in range(6)]
    >>> acts = assembly(rng.normal(size=(6, 2)), dims=("stimulus", "unit"), modality="ann",
    ...                 coords={"stimulus": ids})
    >>> fig = plot_top_stimuli(top_stimuli(acts, k=3), {s: rng.random((4, 4)) for s in ids})
    >>> len(fig.axes)  # 2 units x 3 ranks
    6
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    chosen = list(top["unit"].values[:10]) if units is None else list(units)
    k = top.sizes["rank"]
    if fig is None:
        fig, axes = _new_figure(len(chosen), k, size=(1.4 * k, 1.4 * len(chosen)), squeeze=False)
    else:
        axes = fig.subplots(len(chosen), k, squeeze=False)
    for row, unit in enumerate(chosen):
        for col in range(k):
            ax = axes[row, col]
            sid = str(top["stimulus"].sel(unit=unit, rank=col).item())
            ax.imshow(np.asarray(images[sid]), cmap="gray")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{top['value'].sel(unit=unit, rank=col).item():.2f}", fontsize=6)
            if col == 0:
                ax.set_ylabel(str(unit), fontsize=6)
    return fig


def _best_partner(r: xr.DataArray) -> np.ndarray:
    if "rank" in r.dims:
        return np.asarray(r.isel(rank=0).values, dtype=float)
    return np.asarray(r.max("unit_b", skipna=True).values, dtype=float)


def plot_correlation_partners(result: xr.Dataset, *, ax: Any = None, bins: int = 40) -> Any:
    """Distribution over units of ``a`` of the best-partner correlation ``max_j r_ij``.

    ``result`` is what :func:`neuron_correlation` returns (full matrix or ``top_k``); its
    ``baseline_r``, when present, is drawn as a second histogram, and the legend gives both
    medians and the median excess (Gurnee et al. 2024's "excess correlation").

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import plot_correlation_partners
    >>> res = xr.Dataset({"r": (("unit_a", "unit_b"), [[0.1, 0.5], [0.3, 0.2]])})
    >>> ax = plot_correlation_partners(res)  # best partners 0.5 and 0.3
    >>> ax.get_legend().get_texts()[0].get_text()
    'r: median 0.400'
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    if not isinstance(result, xr.Dataset) or "r" not in result or "unit_a" not in result["r"].dims:
        raise ValueError(
            "Invalid value for 'result': expected the Dataset returned by neuron_correlation "
            f"(with an 'r' over 'unit_a'); got {type(result).__name__}"
            f"{' with variables ' + str(list(result.data_vars)) if isinstance(result, xr.Dataset) else ''}."
        )
    ax = _axes(ax)
    best = _best_partner(result["r"])
    series = [("r", best)]
    if "baseline_r" in result:
        base = _best_partner(result["baseline_r"])
        series.append((f"baseline ({result.attrs.get('baseline', '')})", base))
    finite = np.concatenate([v[np.isfinite(v)] for _, v in series])
    edges = np.histogram_bin_edges(finite if finite.size else [0.0, 1.0], bins=bins)
    for label, values in series:
        ax.hist(values[np.isfinite(values)], bins=edges, histtype="step", lw=1.5,
                label=f"{label}: median {np.nanmedian(values):.3f}")
    if len(series) == 2:
        ax.plot([], [], " ", label=f"median excess {np.nanmedian(best - series[1][1]):.3f}")
    ax.legend(fontsize=7)
    ax.set_xlabel("best-partner correlation per unit of a")
    ax.set_ylabel("units")
    return ax


def _curvature_series(results: tuple[Any, ...], kind: str,
                      labels: Any) -> list[tuple[str, np.ndarray]]:
    """``(label, finite values)`` per system: a :func:`ricci_curvature` / :func:`ricci_flow`
    Dataset gives one, a :func:`curvature_alignment` Dataset two (a and b)."""
    var = f"{kind}_curvature"
    series = []
    for i, res in enumerate(results):
        if isinstance(res, xr.Dataset) and f"{var}_a" in res:
            for s in ("a", "b"):
                series.append((s, np.asarray(res[f"{var}_{s}"].values, dtype=float)))
        elif isinstance(res, xr.Dataset) and var in res:
            series.append((str(i) if len(results) > 1 else "", np.asarray(res[var].values, dtype=float)))
        else:
            raise ValueError(
                "Invalid value for 'results': expected Datasets returned by ricci_curvature, ricci_flow "
                f"or curvature_alignment (with {var!r}); got "
                f"{type(res).__name__ if not isinstance(res, xr.Dataset) else list(res.data_vars)}."
            )
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(series):
            raise ValueError(
                f"Invalid value for 'labels': expected {len(series)} labels (one per system); got "
                f"{len(labels)}."
            )
        series = [(str(lab), v) for lab, (_, v) in zip(labels, series)]
    return [(lab, v[np.isfinite(v)]) for lab, v in series]


def plot_curvature_histogram(*results: xr.Dataset, kind: str = "edge", labels: Any = None,
                             bins: int = 30, ax: Any = None) -> Any:
    """Histograms of edge or node Ollivier-Ricci curvature, systems overlaid on shared bins.

    Parameters
    ----------
    *results : Dataset
        One or more :func:`ricci_curvature` / :func:`ricci_flow` results (one system each) or
        a :func:`curvature_alignment` result (systems a and b).
    kind : {'edge', 'node'}, default='edge'
    labels : list of str, optional
        One per system (default: 'a'/'b' for an alignment result, the position otherwise).
    bins : int, default=30
        Bins over the range of all systems' values (``numpy.histogram_bin_edges``).

    Returns
    -------
    Axes
        One ``BarContainer`` per system in ``ax.containers`` (counts per bin), legend with
        each system's mean.

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import plot_curvature_histogram, ricci_curvature
    >>> ax = plot_curvature_histogram(ricci_curvature(nx.karate_club_graph()))
    >>> len(ax.containers), ax.get_legend().get_texts()[0].get_text()
    (1, 'mean 0.071')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    from .._checks import _check_option

    _check_option("kind", kind, ("edge", "node"))
    series = _curvature_series(results, kind, labels)
    ax = _axes(ax)
    finite = np.concatenate([v for _, v in series]) if series else np.zeros(0)
    edges = np.histogram_bin_edges(finite if finite.size else [-1.0, 1.0], bins=bins)
    alpha = 1.0 if len(series) == 1 else 0.5
    for label, values in series:
        mean = f"mean {values.mean():.3f}" if values.size else "empty"
        ax.hist(values, bins=edges, alpha=alpha, label=f"{label}: {mean}".lstrip(": "))
    ax.axvline(0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    ax.set_xlabel(f"{kind} Ollivier-Ricci curvature")
    ax.set_ylabel(f"{kind}s")
    return ax


def _as_curvature(result: xr.Dataset, system: str | None) -> xr.Dataset:
    if isinstance(result, xr.Dataset) and "edge_curvature_a" in result:
        from ._curvature_align import system_curvature

        return system_curvature(result, system or "a")
    if not isinstance(result, xr.Dataset) or not {"edge_curvature", "source", "target", "node"} <= (
            set(result.variables)):
        raise ValueError(
            "Invalid value for 'curvature': expected the Dataset returned by ricci_curvature, ricci_flow "
            f"or curvature_alignment; got {type(result).__name__}."
        )
    return result


def _nx_seed(random_state: Any) -> int | None:
    """``random_state`` as networkx takes it: an int or None (a Generator gives one draw)."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31))
    check_random_state(random_state)  # the type and range checks
    return None if random_state is None else int(random_state)


def graph_layout(curvature: xr.Dataset, *, layout: str = "auto", random_state: Any = 0) -> np.ndarray:
    """2-D node positions, shape (n_nodes, 2), for a curvature Dataset's graph.

    'mds': classical MDS (:func:`classical_mds`) of the shortest-path lengths over the
    ``weight`` of the edges (undirected); pairs in different components are put at 1.5 times
    the largest finite distance. 'spring': ``networkx.spring_layout`` of the unweighted graph
    seeded by ``random_state`` (an int or None is passed as networkx's ``seed``; a Generator
    gives one integer draw). 'auto': 'mds' for a connected graph, else 'spring' (MDS would
    squash each component to make room for the gaps between them).

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import graph_layout, ricci_curvature
    >>> graph_layout(ricci_curvature(nx.karate_club_graph())).shape
    (34, 2)
    """
    from .._checks import _check_option

    _check_option("layout", layout, ("auto", "mds", "spring"))
    nodes = [str(v) for v in curvature["node"].values]
    index = {v: i for i, v in enumerate(nodes)}
    src = np.array([index[str(v)] for v in curvature["source"].values], dtype=np.int32)
    dst = np.array([index[str(v)] for v in curvature["target"].values], dtype=np.int32)
    n = len(nodes)
    w = np.asarray(curvature["weight"].values, dtype=float) if "weight" in curvature.coords else (
        np.ones(src.size))
    adj = sp.csr_array((w, (src, dst)), shape=(n, n))
    if layout == "auto":
        from scipy.sparse.csgraph import connected_components

        layout = "mds" if connected_components(adj, directed=False)[0] <= 1 else "spring"
    if layout == "spring":
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(zip(src.tolist(), dst.tolist()))
        pos = nx.spring_layout(g, seed=_nx_seed(random_state))
        return np.array([pos[i] for i in range(n)], dtype=float)
    d = shortest_path(adj, directed=False)
    finite = d[np.isfinite(d)]
    d[~np.isfinite(d)] = 1.5 * (finite.max() if finite.size and finite.max() > 0 else 1.0)
    return classical_mds(d)


def plot_curvature_graph(curvature: xr.Dataset, *, system: str | None = None, layout: str = "auto",
                         pos: Any = None, nodes: str = "curvature", cmap: str = "RdBu",
                         vmax: float | None = None, node_size: float = 12.0, random_state: Any = 0,
                         ax: Any = None) -> Any:
    """The graph with each edge coloured by its Ollivier-Ricci curvature, and a colorbar.

    Parameters
    ----------
    curvature : Dataset
        From :func:`ricci_curvature` or :func:`ricci_flow` (a ``community`` variable over
        'node' may be merged in), or a :func:`curvature_alignment` result with ``system``.
    system : {'a', 'b'}, optional
        Which system of an alignment result (default 'a').
    layout : {'auto', 'mds', 'spring'}, default='auto'
        Node positions when ``pos`` is not given (:func:`graph_layout`).
    pos : array (n_nodes, 2) or dict node -> (x, y), optional
    random_state : int, Generator or None, default=0
        Seeds the 'spring' layout (:func:`graph_layout`).
    nodes : {'curvature', 'community', 'none'}, default='curvature'
        Node colour: node curvature (same colour scale as the edges), community (-1 grey),
        or grey.
    cmap : str, default='RdBu'
        Diverging map, centred on 0 over ``[-vmax, vmax]`` (default: the largest |curvature|).

    Returns
    -------
    Axes
        The edges are one ``LineCollection`` (``get_array()`` = edge curvature, one segment
        per edge from source to target; directed edges drawn without arrows).

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import plot_curvature_graph, ricci_curvature
    >>> ds = ricci_curvature(nx.karate_club_graph())
    >>> ax = plot_curvature_graph(ds)
    >>> ax.collections[0].get_array().size, ax.get_title()
    (78, '34 nodes, 78 edges')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    from .._checks import _check_option

    _check_option("nodes", nodes, ("curvature", "community", "none"))
    ds = _as_curvature(curvature, system)
    names = [str(v) for v in ds["node"].values]
    index = {v: i for i, v in enumerate(names)}
    if pos is None:
        xy = graph_layout(ds, layout=layout, random_state=random_state)
    elif isinstance(pos, dict):
        xy = np.array([pos[v] for v in names], dtype=float)
    else:
        xy = np.asarray(pos, dtype=float)
        if xy.shape != (len(names), 2):
            raise ValueError(
                f"Invalid value for 'pos': expected shape ({len(names)}, 2) (one row per node); got "
                f"{xy.shape}."
            )
    src = np.array([index[str(v)] for v in ds["source"].values], dtype=np.int64)
    dst = np.array([index[str(v)] for v in ds["target"].values], dtype=np.int64)
    kappa = np.asarray(ds["edge_curvature"].values, dtype=float)
    if vmax is None:
        finite = np.abs(kappa[np.isfinite(kappa)])
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    norm = Normalize(-vmax, vmax)
    ax = _axes(ax)
    segments: Any = np.stack([xy[src], xy[dst]], axis=1) if src.size else np.zeros((0, 2, 2))
    lines = LineCollection(segments, cmap=cmap, norm=norm, linewidths=1.2, zorder=1)
    lines.set_array(kappa)
    ax.add_collection(lines)
    ax.figure.colorbar(lines, ax=ax, fraction=0.046, pad=0.04, label="Ollivier-Ricci curvature")
    if nodes == "curvature":
        ax.scatter(xy[:, 0], xy[:, 1], c=np.asarray(ds["node_curvature"].values, dtype=float),
                   cmap=cmap, norm=norm, s=node_size, edgecolors="k", linewidths=0.3, zorder=2)
    elif nodes == "community":
        if "community" not in ds:
            raise ValueError(
                "Invalid value for 'nodes': 'community' needs a 'community' variable over 'node' (merge "
                "ricci_community(flow) into the Dataset, or pass a curvature_alignment result); use "
                "nodes='curvature'."
            )
        com = np.asarray(ds["community"].values)
        colours = np.where(com[:, None] >= 0, _community_colours(com), [0.7, 0.7, 0.7, 1.0])
        ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=node_size, edgecolors="k", linewidths=0.3, zorder=2)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], c="0.4", s=node_size, zorder=2)
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{len(names)} nodes, {src.size} edges")
    return ax


def _community_colours(com: np.ndarray) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return cmap(np.mod(np.maximum(com, 0), 20))


def _community_pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    if b is None:
        if not isinstance(a, xr.Dataset) or "community_a" not in a:
            raise ValueError(
                "Invalid value for 'a': expected a curvature_alignment result, or two ricci_community "
                f"results as a and b; got {type(a).__name__} and b=None."
            )
        ids_a = np.asarray(a["node_a"].values).astype(str)
        ids_b = np.asarray(a["node_b"].values).astype(str)
        ca = dict(zip(ids_a.tolist(), np.asarray(a["community_a"].values).tolist()))
        cb = dict(zip(ids_b.tolist(), np.asarray(a["community_b"].values).tolist()))
    else:
        pairs = []
        for name, x in (("a", a), ("b", b)):
            com = x["community"] if isinstance(x, xr.Dataset) and "community" in x else x
            if not isinstance(com, xr.DataArray) or "node" not in com.dims:
                raise ValueError(
                    f"Invalid value for {name!r}: expected a ricci_community result (a 'community' "
                    f"over 'node'); got {type(x).__name__}."
                )
            pairs.append(dict(zip(np.asarray(com["node"].values).astype(str).tolist(),
                                  np.asarray(com.values).tolist())))
        ca, cb = pairs
    shared = [v for v in ca if v in cb and ca[v] >= 0 and cb[v] >= 0]
    if not shared:
        raise ValueError(
            "Invalid value for 'a': no node has a community in both systems (community -1 means none; "
            "see the result's 'community_note' attr)."
        )
    return np.array([ca[v] for v in shared]), np.array([cb[v] for v in shared])


def plot_communities(a: Any, b: Any = None, *, ax: Any = None, cmap: str = "Blues",
                     annotate: bool | None = None) -> Any:
    """Contingency matrix of Ricci-flow communities: nodes in community i of a and j of b.

    Parameters
    ----------
    a : Dataset
        A :func:`curvature_alignment` result, or (with ``b``) a :func:`ricci_community`
        result (or its ``community`` DataArray).
    b : Dataset, optional
        The second :func:`ricci_community` result; nodes are matched by id.
    annotate : bool, optional
        Write the counts in the cells (default: at most 400 cells).

    Returns
    -------
    Axes
        The image holds the counts ``n_ij`` over nodes with a community in both; the title
        gives the adjusted Rand index and NMI of the two partitions.

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import plot_communities
    >>> a = xr.DataArray([0, 0, 1, 1], dims="node", coords={"node": ["p", "q", "r", "s"]})
    >>> b = xr.DataArray([1, 1, 0, 0], dims="node", coords={"node": ["s", "r", "q", "p"]})
    >>> ax = plot_communities(a, b)
    >>> ax.images[0].get_array().tolist(), ax.get_title()
    ([[2, 0], [0, 2]], 'ARI 1.000, NMI 1.000 (4 nodes)')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    from ._curvature_align import _community_agreement

    ca, cb = _community_pair(a, b)
    ra = np.unique(ca)
    rb = np.unique(cb)
    table = np.zeros((ra.size, rb.size), dtype=np.int64)
    np.add.at(table, (np.searchsorted(ra, ca), np.searchsorted(rb, cb)), 1)
    ax = _axes(ax)
    image = ax.imshow(table, cmap=cmap, interpolation="nearest", aspect="auto")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="nodes")
    ax.set_yticks(range(ra.size), [str(v) for v in ra], fontsize=7)
    ax.set_xticks(range(rb.size), [str(v) for v in rb], fontsize=7)
    ax.set_ylabel("community in a")
    ax.set_xlabel("community in b")
    if annotate if annotate is not None else table.size <= 400:
        top = table.max()
        for (i, j), v in np.ndenumerate(table):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=6,
                    color="w" if v > 0.5 * top else "k")
    ari, nmi = _community_agreement(ca, cb)
    ax.set_title(f"ARI {ari:.3f}, NMI {nmi:.3f} ({ca.size} nodes)")
    return ax


# ----------------------------------------------------------------------------- encoding scores
_SCORE_LABELS = {"r": "held-out Pearson r", "r2": "held-out R^2", "ceiling": "noise ceiling"}


def plot_encoding_scores(scores: xr.Dataset | xr.DataArray, *, score: str = "r", bins: int = 30,
                         ax: Any = None) -> Any:
    """Histogram of per-unit encoding scores, with a line at 0.

    Parameters
    ----------
    scores : Dataset or DataArray
        What :func:`encoding_score` returns (its variable ``score`` is drawn), or a per-unit
        DataArray. Non-finite scores (constant units) are left out.
    score : str, default='r'
        The variable of a Dataset: 'r', 'r2' or 'ceiling'.
    bins : int, default=30
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        One bar per bin in ``ax.patches``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from brainbridge.analyses import plot_encoding_scores
    >>> scores = xr.Dataset({"r": ("unit", [0.1, 0.4, np.nan, 0.3])})
    >>> ax = plot_encoding_scores(scores, bins=3)
    >>> float(sum(p.get_height() for p in ax.patches))  # the three finite units
    3.0
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    if isinstance(scores, xr.Dataset):
        if score not in scores:
            raise ValueError(
                f"Invalid value for 'score': expected a variable of 'scores' (one of "
                f"{', '.join(map(str, scores.data_vars))}); got {score!r}.")
        da = scores[score]
    else:
        _validate_type("scores", scores, xr.DataArray,
                       "the Dataset returned by encoding_score or a per-unit DataArray")
        da = scores
    if "unit" not in da.dims:
        raise ValueError(f"Invalid value for 'scores': expected scores over 'unit'; got dims "
                         f"{tuple(da.dims)}.")
    values = np.asarray(da.values, dtype=float).ravel()
    ax = _axes(ax)
    ax.hist(values[np.isfinite(values)], bins=bins, color="#4C72B0")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(_SCORE_LABELS.get(str(da.name) if da.name is not None else score, str(da.name)))
    ax.set_ylabel("units")
    ax.set_title("encoding scores")
    return ax


def plot_score_map(scores: xr.DataArray, *, modality: str | None = None, ax: Any = None) -> Any:
    """Per-unit scores at the units' positions (coords ``x``, ``y`` and optionally ``z``).

    * ``modality`` 'eeg' or 'meg' with at least 4 finite units: an mne topomap over
      (x, y) (:func:`mne.viz.plot_topomap`); a layout mne cannot draw (e.g. collinear
      sensors) falls back to the scatter below, with a logged warning.
    * 'fmri' with x, y, z (mm): glass-brain markers (:func:`nilearn.plotting.plot_markers`,
      top view), drawn inside ``ax``.
    * otherwise: a top-view scatter of (x, y) coloured by score, highest scores on top.

    Parameters
    ----------
    scores : DataArray, dims ('unit',)
        E.g. ``encoding_score(...)["r"]`` of responses with positions.
    modality : str, optional
        Default: ``scores.attrs['modality']`` (or none).
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        With a colorbar labelled by ``scores.name``. For the scatter, ``ax.collections[0]``
        holds one point per unit, in increasing order of score (NaN scores are drawn blank).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from brainbridge.analyses import plot_score_map
    >>> r = xr.DataArray([0.2, 0.5, 0.1], dims="unit", name="r",
    ...                  coords={"x": ("unit", [0.0, 1.0, 2.0]), "y": ("unit", [0.0, 1.0, 0.0])})
    >>> ax = plot_score_map(r, modality="calcium")
    >>> ax.collections[0].get_array().tolist()  # sorted: the best unit is drawn last
    [0.1, 0.2, 0.5]
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    _validate_type("scores", scores, xr.DataArray,
                   "a per-unit DataArray with coords 'x' and 'y', e.g. encoding_score(...)['r']")
    missing = [c for c in ("x", "y") if c not in scores.coords]
    if scores.dims != ("unit",) or missing:
        raise ValueError(
            "Invalid value for 'scores': expected one score per unit (dims ('unit',)) with position "
            f"coords 'x' and 'y'; got dims {tuple(scores.dims)}"
            f"{', without ' + ' and '.join(repr(c) for c in missing) if missing else ''}.")
    modality = str(scores.attrs.get("modality", "")) if modality is None else modality
    label = str(scores.name) if scores.name is not None else "score"
    ax = _axes(ax)
    fig = ax.figure
    values = np.asarray(scores.values, dtype=float)
    xyz = np.stack([np.asarray(scores[c].values, dtype=float) for c in ("x", "y", "z")
                    if c in scores.coords], axis=1)
    ok = np.isfinite(values) & np.isfinite(xyz).all(axis=1)
    if modality in ("eeg", "meg") and ok.sum() >= 4:
        mne = _soft_import("mne", "topomaps of EEG / MEG scores", "eeg")
        try:
            image, _ = mne.viz.plot_topomap(values[ok], xyz[ok, :2], axes=ax, show=False,
                                            cmap="viridis", sphere=None)
        except (RuntimeError, ValueError) as err:  # degenerate layouts (e.g. collinear sensors)
            logger.warning("no topomap (%s); drawing the sensors as points instead", err)
            ax.clear()
        else:
            fig.colorbar(image, ax=ax, label=label)
            ax.set_title("scores on the scalp")
            return ax
    if modality == "fmri" and xyz.shape[1] == 3 and ok.any():
        plotting = _soft_import("nilearn.plotting", "glass-brain maps of fMRI scores", "fmri")
        plotting.plot_markers(values[ok], xyz[ok], axes=ax, display_mode="z", node_cmap="viridis",
                              title="scores (glass brain)", colorbar=True)
        return ax
    order = np.argsort(values)
    points = ax.scatter(xyz[order, 0], xyz[order, 1], c=values[order], cmap="viridis", s=25)
    fig.colorbar(points, ax=ax, label=label)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title("scores by position (top view)")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# ----------------------------------------------------------------------------- comparisons
def plot_comparison(result: xr.Dataset, *, ax: Any = None) -> Any:
    """The figure of a comparison result, by what it holds.

    ``result`` is what :func:`rsa` returns (its ``similarity``) or a Dataset with a ``cka``
    variable (:func:`cka`'s table). Drawn as: bars with confidence intervals and the noise
    ceiling when bootstrapped (a ``score``; :func:`plot_model_comparison`); a heatmap of a
    2-D table (:func:`plot_matrix`); bars of a 1-D table; the first RDM of a single
    comparison (:func:`plot_rdm`); else the single number, written large.

    Parameters
    ----------
    result : Dataset
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xarray as xr
    >>> from brainbridge.analyses import plot_comparison
    >>> table = xr.DataArray([[1.0, 0.4], [0.4, 1.0]], dims=("layer_x", "layer_y"), name="cka",
    ...                      coords={"layer_x": ["a", "b"], "layer_y": ["a", "b"]})
    >>> ax = plot_comparison(xr.Dataset({"cka": table}))
    >>> ax.images[0].get_array().tolist()
    [[1.0, 0.4], [0.4, 1.0]]
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    _validate_type("result", result, xr.Dataset, "the Dataset returned by rsa, or one with a 'cka'")
    name = next((v for v in ("similarity", "cka") if v in result), None)
    if name is None:
        raise ValueError(
            "Invalid value for 'result': expected the Dataset returned by rsa (with 'similarity') or "
            f"one with a 'cka' variable; got variables {sorted(map(str, result.data_vars))}.")
    table = result[name]
    ax = _axes(ax, (6, 5))
    if "score" in result:
        plot_model_comparison(result, ax=ax)
    elif table.ndim == 2:
        plot_matrix(table, ax=ax)
    elif table.ndim == 1:
        table.to_pandas().plot.bar(ax=ax)  # type: ignore[union-attr]
    elif "rdm_x" in result and result["rdm_x"].ndim == 2:
        plot_rdm(result["rdm_x"], ax=ax)
    else:
        ax.text(0.5, 0.5, f"{float(table):.3f}", ha="center", va="center", fontsize=30)
        ax.set_axis_off()
    return ax


# ----------------------------------------------------------------------------- training
def plot_training(metrics: xr.Dataset, *, axes: Any = None) -> np.ndarray:
    """Loss and task metric per epoch, train and test, with the metric's chance level dashed.

    Parameters
    ----------
    metrics : Dataset
        What :func:`brainbridge.snn.train` returns: ``train_loss``, ``test_loss``,
        ``train_{metric}``, ``test_{metric}`` over 'epoch', attrs ``metric`` and ``chance``.
    axes : two matplotlib Axes, optional
        Loss, then metric (default: a new figure, one row).

    Returns
    -------
    ndarray of Axes, shape (2,)

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from brainbridge.analyses import plot_training
    >>> m = xr.Dataset({k: ("epoch", v) for k, v in {
    ...     "train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7],
    ...     "train_accuracy": [0.6, 0.9], "test_accuracy": [0.5, 0.8]}.items()},
    ...     coords={"epoch": [1, 2]}, attrs={"metric": "accuracy", "chance": 0.5})
    >>> axes = plot_training(m)
    >>> axes[1].get_lines()[1].get_ydata().tolist()  # test accuracy
    [0.5, 0.8]
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    _validate_type("metrics", metrics, xr.Dataset, "the Dataset returned by brainbridge.snn.train")
    metric = metrics.attrs.get("metric")
    needed = ["train_loss", "test_loss", f"train_{metric}", f"test_{metric}"]
    missing = [v for v in needed if v not in metrics]
    if metric is None or "chance" not in metrics.attrs or missing:
        raise ValueError(
            "Invalid value for 'metrics': expected the Dataset returned by brainbridge.snn.train "
            "(train_/test_ loss and metric over 'epoch', attrs 'metric' and 'chance'); got variables "
            f"{sorted(map(str, metrics.data_vars))} and attrs {sorted(metrics.attrs)}.")
    axes = _axes_row(axes, 2, (9, 3.5), "loss, metric")
    epoch = metrics["epoch"].values
    for ax, key in zip(axes, ("loss", metric)):
        for split in ("train", "test"):
            ax.plot(epoch, metrics[f"{split}_{key}"].values, marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
    axes[1].axhline(metrics.attrs["chance"], color="k", lw=0.8, ls="--")
    return axes


# ----------------------------------------------------------------------------- curvature
def plot_curvature_summary(result: xr.Dataset, *, axes: Any = None) -> np.ndarray:
    """Overview of a curvature result in one row of panels.

    * One graph (:func:`ricci_curvature`, :func:`curvature_communities`): edge-curvature
      histogram, and the graph with edges coloured by curvature and nodes by community
      (when there are communities) or by node curvature (two panels).
    * An alignment (:func:`curvature_alignment`): edge- and node-curvature histograms of both
      systems, and the community contingency matrix when both systems have communities,
      else system a's graph (three panels).

    Parameters
    ----------
    result : Dataset
    axes : matplotlib Axes (2 or 3 as above), optional
        Default: a new figure, one row.

    Returns
    -------
    ndarray of Axes

    Examples
    --------
    >>> import networkx as nx
    >>> from brainbridge.analyses import curvature_communities, plot_curvature_summary
    >>> ds = curvature_communities(nx.karate_club_graph(), flow_iterations=0)
    >>> axes = plot_curvature_summary(ds)
    >>> len(axes), axes[0].get_xlabel()
    (2, 'edge Ollivier-Ricci curvature')
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    if isinstance(result, xr.Dataset) and "edge_curvature_a" in result:
        axes = _axes_row(axes, 3, (15, 4.5), "edge and node histograms, communities or graph")
        plot_curvature_histogram(result, kind="edge", ax=axes[0])
        plot_curvature_histogram(result, kind="node", ax=axes[1])
        if result.attrs.get("n_communities_a") and result.attrs.get("n_communities_b"):
            plot_communities(result, ax=axes[2])
        else:
            plot_curvature_graph(result, system="a", ax=axes[2])
        return axes
    ds = _as_curvature(result, None)
    axes = _axes_row(axes, 2, (11, 4.5), "edge histogram, graph")
    plot_curvature_histogram(ds, kind="edge", ax=axes[0])
    has_com = "community" in ds and ds.sizes["node"] > 0 and int(ds["community"].max()) >= 0
    plot_curvature_graph(ds, nodes="community" if has_com else "curvature", ax=axes[1])
    return axes


# ----------------------------------------------------------------------------- model recovery
def plot_recovery(result: xr.Dataset, *, ax: Any = None) -> Any:
    """Recovery (fraction of repeats where the truth ranks first) vs noise, one line per metric.

    The chance level ``1 / n_candidates`` is drawn dashed.

    Parameters
    ----------
    result : Dataset
        The output of :func:`model_recovery`.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import model_recovery, plot_recovery
    >>> rng = np.random.default_rng(0)
    >>> res = model_recovery({f"m{i}": rng.normal(size=(20, 6)) for i in range(3)}, "m0",
    ...                      metrics=("cka",), noise_levels=(0.0, 1.0), n_repeats=2,
    ...                      random_state=0, progress=False, device="cpu")
    >>> ax = plot_recovery(res)
    >>> [line.get_label() for line in ax.get_lines()]
    ['cka', 'chance (1/3)']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    _validate_type("result", result, xr.Dataset, "the Dataset returned by model_recovery")
    if "recovery" not in result or "chance" not in result.attrs:
        raise ValueError(
            "'result' is not a model_recovery result: it needs a 'recovery' variable and a "
            f"'chance' attr; got variables {sorted(map(str, result.data_vars))}.")
    ax = _axes(ax)
    rec = result["recovery"]
    levels = rec["noise"].values
    for metric in rec["metric"].values:
        ax.plot(levels, rec.sel(metric=metric).values, marker="o", label=str(metric))
    ax.axhline(float(result.attrs["chance"]), color="gray", linestyle="--",
               label=f"chance (1/{int(result.attrs.get('n_candidates', 0)) or '?'})")
    ax.set_xlabel("noise (std, in units of each unit's std)")
    ax.set_ylabel("recovery (truth ranked first)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(f"Model recovery: truth {result.attrs.get('truth', '?')!s}")
    ax.legend(frameon=False)
    return ax


# ----------------------------------------------------------------------------- structure vs function
def plot_structure_function(result: xr.Dataset, *, bins: int = 20, pairs: bool = False,
                            axes: Any = None) -> np.ndarray:
    """One panel per score: histogram of the null (grey) with the observed value (red line).

    With ``pairs=True`` a last panel plots the measured against the simulated response of
    every observed (stimulated, responding) pair.

    Parameters
    ----------
    result : Dataset
        A structure-function result: ``value`` and ``p_value`` over 'score', ``null`` over
        (permutation dim, 'score') (e.g. the scores of degree-preserving shuffles of a
        connectome). Non-finite null values are left out.
    bins : int, default=20
    pairs : bool, default=False
        Add the scatter of ``measured`` against ``simulated`` where ``observed`` is True (the
        variables of :func:`structure_function`'s result).
    axes : matplotlib Axes, one per score (and one more with ``pairs``), optional
        Default: a new figure, one row.

    Returns
    -------
    ndarray of Axes, one per score in ``result['score']`` order (then the pairs panel); each
    score's title gives the score and its p-value.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from brainbridge.analyses import plot_structure_function
    >>> null = np.random.default_rng(0).normal(size=(50, 2))
    >>> res = xr.Dataset({"value": ("score", [2.5, 0.1]), "p_value": ("score", [0.02, 0.45]),
    ...                   "null": (("shuffle", "score"), null)}, coords={"score": ["rsa", "ari"]})
    >>> axes = plot_structure_function(res)
    >>> [ax.get_title() for ax in axes], list(axes[0].get_lines()[0].get_xdata())
    (['rsa (p = 0.02)', 'ari (p = 0.45)'], [2.5, 2.5])
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    _validate_type("result", result, xr.Dataset, "a structure-function result Dataset")
    missing = [v for v in ("value", "p_value", "null") if v not in result]
    if missing or "score" not in result.dims or "score" not in result["null"].dims:
        raise ValueError(
            "Invalid value for 'result': expected a structure-function result (value and p_value over "
            "'score', null over (permutation, 'score')); got variables "
            f"{sorted(map(str, result.data_vars))}.")
    if pairs and not {"simulated", "measured", "observed"} <= set(map(str, result.data_vars)):
        raise ValueError(
            "Invalid value for 'pairs': the scatter needs the variables 'simulated', 'measured' and "
            f"'observed' of a structure_function result; got {sorted(map(str, result.data_vars))}. "
            "Leave pairs=False.")
    scores = [str(v) for v in result["score"].values]
    n = len(scores) + bool(pairs)
    axes = _axes_row(axes, n, (3.4 * n, 3.2), "one per score" + (", then the pairs" if pairs else ""))
    for ax, name in zip(axes, scores):
        null = np.asarray(result["null"].sel(score=name).values, dtype=float).ravel()
        ax.hist(null[np.isfinite(null)], bins=bins, color="0.7")
        ax.axvline(float(result["value"].sel(score=name)), color="C3", lw=2)
        ax.set_title(f"{name} (p = {float(result['p_value'].sel(score=name)):.3g})", fontsize=9)
        ax.set_xlabel("shuffled connectomes (grey) vs real (red)", fontsize=7)
    if pairs:
        obs = np.asarray(result["observed"].values, dtype=bool)
        sim, meas = (np.asarray(result[k].values)[obs] for k in ("simulated", "measured"))
        axes[-1].scatter(sim, meas, s=2, alpha=0.3)
        axes[-1].set_xlabel("simulated response")
        axes[-1].set_ylabel("measured dF/F")
        axes[-1].set_title("observed pairs", fontsize=9)
    return axes


# ----------------------------------------------------------------------------- rates and spike trains
def plot_rate_prediction(observed: Any, rates: Any, *, dt: float, trains: Any = None,
                         smoothing: float = 2e-3, duration: float = 0.5, axes: Any = None) -> np.ndarray:
    """Recorded and predicted firing rates over time, and the spike trains beneath them.

    Top: the recorded spikes and each predicted rate, smoothed by a Gaussian of standard
    deviation ``smoothing`` and shown in Hz (count per bin / ``dt``), over the first
    ``duration`` seconds; the y axis ends at 1.6 times the recorded peak. Bottom: a raster of
    the recorded spikes and of each train in ``trains``, coloured like its model's rate.

    Parameters
    ----------
    observed : array or DataArray, (time,)
        Recorded spike counts per bin.
    rates : dict of str -> array (time,), or DataArray, dims ('model', 'time')
        Predicted spike counts per bin, by model name.
    dt : float
        Bin width in seconds.
    trains : dict of str -> dict of str -> array, optional
        Binned spike trains to draw under the recorded ones, ``{model: {kind: train}}``, e.g.
        ``{"LNP": {"Poisson": draw, "threshold": placed}}``; rows read ``"model: kind"``. A
        train may be shorter than the recording.
    smoothing : float, default=2e-3
        Standard deviation in seconds of the Gaussian that smooths every rate (0: none).
    duration : float, default=0.5
        Seconds shown from the start.
    axes : two matplotlib Axes (rates, raster), optional
        Default: a new figure, two rows sharing the time axis.

    Returns
    -------
    ndarray of 2 Axes

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import plot_rate_prediction
    >>> rng = np.random.default_rng(0)
    >>> rate = 0.05 + 0.05 * np.sin(np.arange(1000) / 20) ** 2
    >>> spikes = (rng.random(1000) < rate).astype(float)
    >>> axes = plot_rate_prediction(spikes, {"model": rate}, dt=1e-3,
    ...                             trains={"model": {"Poisson": rng.random(1000) < rate}})
    >>> [t.get_text() for t in axes[1].get_yticklabels()]
    ['recorded', 'model: Poisson']
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    from scipy.ndimage import gaussian_filter1d

    dt = check_scalar("dt", dt, float, low=0, closed="neither", what="bin width in seconds")
    smoothing = check_scalar("smoothing", smoothing, float, low=0, what="seconds")
    duration = check_scalar("duration", duration, float, low=0, closed="neither", what="seconds")
    obs = np.asarray(observed, dtype=np.float64)
    if obs.ndim != 1:
        raise ValueError("Invalid value for 'observed': expected one binned train (time,); got shape "
                         f"{obs.shape}.")
    if isinstance(rates, xr.DataArray):
        rates = {str(m): rates.sel(model=m).values for m in rates["model"].values}
    _validate_type("rates", rates, dict, "a dict of model name -> predicted rate, or a DataArray")
    series = {str(k): np.asarray(v, dtype=np.float64) for k, v in rates.items()}
    for name, rate in series.items():
        if rate.shape != obs.shape:
            raise ValueError(f"Invalid value for 'rates': {name!r} has shape {rate.shape}; expected "
                             f"{obs.shape}, the shape of 'observed'.")
    sigma = smoothing / dt

    def smooth(a: np.ndarray) -> np.ndarray:
        return gaussian_filter1d(a, sigma) if sigma > 0 else a

    if axes is None:
        axes = np.asarray(_new_figure(2, 1, size=(9, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1.4]})[1], dtype=object).ravel()
    else:
        axes = _axes_row(axes, 2, (9, 6), "rates, raster")
    ax_rate, ax_spk = axes
    n = min(obs.size, int(round(duration / dt)))
    t = np.arange(n) * dt
    ax_rate.plot(t, smooth(obs)[:n] / dt, color="k", lw=1.5, label="recorded")
    colour = {}
    for i, (name, rate) in enumerate(series.items(), start=1):
        colour[name] = f"C{i}"
        ax_rate.plot(t, smooth(rate)[:n] / dt, color=f"C{i}", lw=1, label=name)
    ax_rate.set_ylim(0, 1.6 * float(smooth(obs).max()) / dt)
    ax_rate.set_ylabel("rate (Hz, smoothed)" if sigma > 0 else "rate (Hz)")
    ax_rate.legend(fontsize=7, ncol=len(series) + 1, loc="upper right")
    rows, labels, colors = [t[obs[:n] > 0]], ["recorded"], ["k"]
    for name, kinds in (trains or {}).items():
        c = colour.setdefault(str(name), f"C{len(colour) + 1}")
        for kind, train in kinds.items():
            rows.append(np.flatnonzero(np.asarray(train)[:n] > 0) * dt)
            labels.append(f"{name}: {kind}")
            colors.append(c)
    ax_spk.eventplot(rows, lineoffsets=np.arange(len(rows)), colors=colors, linelengths=0.8)
    ax_spk.set_yticks(range(len(rows)), labels, fontsize=7)
    ax_spk.invert_yaxis()
    ax_spk.set_xlabel("time (s)")
    return axes
