"""Figures for representational comparisons. Each draws into the axes it is given (or a new one)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._checks import _soft_import


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    plt = _soft_import("matplotlib.pyplot", "plotting", "plot")
    return plt.subplots(figsize=(5, 4))[1]


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
    """Heatmap of one RDM with stimulus labels (shown when there are at most 40 stimuli)."""
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
    """Heatmap of a 2-D score matrix, e.g. layer x layer CKA or layer x region RSA."""
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
                label=None if group is None else str(group))
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


def plot_top_stimuli(top: xr.Dataset, images: Any, *, units: Any = None, fig: Any = None) -> Any:
    """Grid of each unit's top stimuli: one row per unit, ``rank`` columns.

    ``top`` is what :func:`top_stimuli` returns; ``images`` maps stimulus ids to arrays
    (a dict, or any mapping). ``units`` picks rows (default: every unit in ``top``, at most 10).
    """
    plt = _soft_import("matplotlib.pyplot", "plotting", "plot")
    chosen = list(top["unit"].values[:10]) if units is None else list(units)
    k = top.sizes["rank"]
    fig = fig or plt.figure(figsize=(1.4 * k, 1.4 * len(chosen)))
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
