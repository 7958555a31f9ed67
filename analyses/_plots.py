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


def graph_layout(curvature: xr.Dataset, *, layout: str = "auto", seed: int = 0) -> np.ndarray:
    """2-D node positions, shape (n_nodes, 2), for a curvature Dataset's graph.

    'mds': classical MDS (:func:`classical_mds`) of the shortest-path lengths over the
    ``weight`` of the edges (undirected); pairs in different components are put at 1.5 times
    the largest finite distance. 'spring': ``networkx.spring_layout`` of the unweighted graph
    with ``seed``. 'auto': 'mds' for a connected graph, else 'spring' (MDS would squash each
    component to make room for the gaps between them).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import shortest_path

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
        pos = nx.spring_layout(g, seed=seed)
        return np.array([pos[i] for i in range(n)], dtype=float)
    d = shortest_path(adj, directed=False)
    finite = d[np.isfinite(d)]
    d[~np.isfinite(d)] = 1.5 * (finite.max() if finite.size and finite.max() > 0 else 1.0)
    return classical_mds(d)


def plot_curvature_graph(curvature: xr.Dataset, *, system: str | None = None, layout: str = "auto",
                         pos: Any = None, nodes: str = "curvature", cmap: str = "RdBu",
                         vmax: float | None = None, node_size: float = 12.0, seed: int = 0,
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
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    from .._checks import _check_option

    _check_option("nodes", nodes, ("curvature", "community", "none"))
    ds = _as_curvature(curvature, system)
    names = [str(v) for v in ds["node"].values]
    index = {v: i for i, v in enumerate(names)}
    if pos is None:
        xy = graph_layout(ds, layout=layout, seed=seed)
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
    lines = LineCollection(np.stack([xy[src], xy[dst]], axis=1) if src.size else np.zeros((0, 2, 2)),
                           cmap=cmap, norm=norm, linewidths=1.2, zorder=1)
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
