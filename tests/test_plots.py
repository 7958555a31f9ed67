"""The figure helper (brainbridge._figures) and the plots of brainbridge.analyses, under Agg.

Each plot is checked for what it draws (bar heights against numpy's histogram, line data
against the input), for returning its Axes, and its figure is closed.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest
import xarray as xr

from brainbridge._figures import new_figure, save_figure
from brainbridge.analyses import (
    curvature_alignment,
    curvature_communities,
    plot_comparison,
    plot_curvature_summary,
    plot_encoding_scores,
    plot_rate_prediction,
    plot_score_map,
    plot_selective_fraction,
    plot_structure_function,
    plot_training,
    selective_fraction,
)


def _heights(ax):
    return np.array([p.get_height() for p in ax.patches])


def _closed(fig):
    plt.close(fig)
    assert not plt.fignum_exists(fig.number)


# ----------------------------------------------------------------------------- figure helper
def test_new_figure_grid_and_size():
    fig, ax = new_figure(size=(4, 3))
    assert isinstance(ax, matplotlib.axes.Axes)
    assert fig.get_size_inches().tolist() == [4.0, 3.0]
    _closed(fig)
    fig, axes = new_figure(2, 3, squeeze=False)
    assert axes.shape == (2, 3) and all(ax.figure is fig for ax in axes.flat)
    _closed(fig)


def _backend_after_new_figure(env_extra, setup=""):
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(env_extra)
    code = (f"{setup}\nfrom brainbridge._figures import new_figure; new_figure(); "
            "import matplotlib; print(matplotlib.get_backend().lower())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    return out.stdout.strip()


def test_new_figure_selects_agg_only_when_nothing_else_is_chosen():
    # headless, no choice made: Agg
    assert _backend_after_new_figure({}) == "agg"
    # an explicit choice (environment, or matplotlib.use before pyplot) is kept
    assert _backend_after_new_figure({"MPLBACKEND": "svg"}) == "svg"
    assert _backend_after_new_figure({}, "import matplotlib; matplotlib.use('pdf')") == "pdf"
    # pyplot already in use with its backend: kept
    assert _backend_after_new_figure({}, "import matplotlib; matplotlib.use('svg'); "
                                         "import matplotlib.pyplot") == "svg"


@pytest.mark.parametrize(("name", "magic"), [("f.png", b"\x89PNG"), ("f.svg", b"<?xml"),
                                             ("f.pdf", b"%PDF"), ("noext", b"\x89PNG")])
def test_save_figure_format_from_suffix_and_closes(tmp_path, name, magic):
    fig, ax = new_figure(size=(2, 2))
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / name)
    assert path == str(tmp_path / name)
    assert (tmp_path / name).read_bytes()[:len(magic)] == magic
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def test_save_figure_failure_keeps_the_old_file_and_closes(tmp_path):
    target = tmp_path / "f.xyz"
    target.write_text("old")
    fig, _ = new_figure()
    with pytest.raises(ValueError, match="xyz"):
        save_figure(fig, target)
    assert target.read_text() == "old"
    assert not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.xyz"]


# ----------------------------------------------------------------------------- encoding scores
def test_plot_encoding_scores_counts_finite_units(rng):
    r = rng.normal(0.2, 0.2, size=50)
    r[[3, 7]] = np.nan
    scores = xr.Dataset({"r": ("unit", r), "r2": ("unit", r**2)})
    ax = plot_encoding_scores(scores, bins=10)
    counts, _ = np.histogram(r[np.isfinite(r)], bins=10)
    np.testing.assert_array_equal(_heights(ax), counts)
    assert ax.get_xlabel() == "held-out Pearson r" and ax.get_lines()[0].get_xdata()[0] == 0
    ax2 = plot_encoding_scores(scores["r2"], bins=5)
    np.testing.assert_array_equal(_heights(ax2), np.histogram(r[np.isfinite(r)] ** 2, bins=5)[0])
    assert ax2.get_xlabel() == "held-out R^2"
    _closed(ax.figure)
    _closed(ax2.figure)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'score': expected a variable of 'scores' (one of r, r2); got 'rho'.")):
        plot_encoding_scores(scores, score="rho")


# ----------------------------------------------------------------------------- score maps
def _positions(values):
    return xr.DataArray(values, dims="unit", name="r",
                        coords={"x": ("unit", [-40, 40, 0, 10, -10, 30.0]),
                                "y": ("unit", [-80, -80, 20, 0, -20, 10.0]),
                                "z": ("unit", [0, 0, 30, 10, 5, -10.0])})


@pytest.mark.parametrize("modality", ["fmri", "calcium"])
def test_score_maps_for_positions(tmp_path, modality):
    r = _positions(np.linspace(0, 1, 6))
    fig, ax = new_figure()
    assert plot_score_map(r, modality=modality, ax=ax) is ax
    fig.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 1000
    if modality == "calcium":  # plain top view: one point per unit, coloured by r, best on top
        points = ax.collections[0]
        np.testing.assert_array_equal(points.get_array(), np.sort(r.values))
        np.testing.assert_array_equal(points.get_offsets()[:, 0], r["x"].values[np.argsort(r.values)])
        assert ax.get_title() == "scores by position (top view)"
    _closed(fig)


def test_score_map_modality_from_attrs_and_eeg_topomap():
    pytest.importorskip("mne")
    angle = np.linspace(0, 2 * np.pi, 4, endpoint=False)
    r = xr.DataArray(np.linspace(0.1, 0.6, 5), dims="unit", name="r", attrs={"modality": "eeg"},
                     coords={"x": ("unit", np.r_[0.0, 0.07 * np.cos(angle)]),
                             "y": ("unit", np.r_[0.01, 0.06 * np.sin(angle)])})
    ax = plot_score_map(r)
    assert ax.get_title() == "scores on the scalp" and ax.images  # the interpolated map
    assert ax.figure.axes[-1].get_ylabel() == "r"  # the colorbar
    _closed(ax.figure)


def test_score_map_degenerate_topomap_falls_back_to_points(caplog):
    pytest.importorskip("mne")
    angle = np.linspace(0, 2 * np.pi, 6, endpoint=False)  # on one circle: Delaunay fails
    r = xr.DataArray(np.linspace(0.1, 0.6, 6), dims="unit",
                     coords={"x": ("unit", 0.07 * np.cos(angle)), "y": ("unit", 0.07 * np.sin(angle))})
    with caplog.at_level(logging.WARNING, logger="brainbridge.analyses._plots"):
        ax = plot_score_map(r, modality="eeg")
    assert "no topomap" in caplog.text
    assert ax.get_title() == "scores by position (top view)"
    np.testing.assert_array_equal(ax.collections[0].get_array(), r.values)
    _closed(ax.figure)


def test_score_map_errors():
    r = xr.DataArray(np.zeros(3), dims="unit", coords={"x": ("unit", [0.0, 1.0, 2.0])})
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'scores': expected one score per unit (dims ('unit',)) with position "
            "coords 'x' and 'y'; got dims ('unit',), without 'y'.")):
        plot_score_map(r)


# ----------------------------------------------------------------------------- comparisons
def test_plot_comparison_by_content(rng):
    table = xr.DataArray([[1.0, 0.3], [0.2, 0.9]], dims=("layer_x", "region_y"), name="similarity",
                         coords={"layer_x": ["a", "b"], "region_y": ["V1", "IT"]})
    ax = plot_comparison(xr.Dataset({"similarity": table}))
    np.testing.assert_array_equal(ax.images[0].get_array(), table.values)  # plot_matrix
    _closed(ax.figure)
    line = xr.DataArray([0.4, 0.1, 0.7], dims="layer_x", coords={"layer_x": ["a", "b", "c"]})
    ax = plot_comparison(xr.Dataset({"cka": line}))
    np.testing.assert_allclose(_heights(ax), line.values)  # one bar per layer
    _closed(ax.figure)
    ax = plot_comparison(xr.Dataset({"cka": 0.4567}))
    assert [t.get_text() for t in ax.texts] == ["0.457"]
    _closed(ax.figure)
    boot = xr.Dataset({"score": ("model", [0.3, 0.5]), "ci_low": ("model", [0.2, 0.4]),
                       "ci_high": ("model", [0.4, 0.6]), "p_zero": ("model", [0.01, 0.2]),
                       "similarity": ("model", [0.3, 0.5]), "noise_lower": 0.6, "noise_upper": 0.8},
                      coords={"model": ["m1", "m2"]})
    ax = plot_comparison(boot)  # bootstrapped: bars with intervals and the noise ceiling
    np.testing.assert_allclose(_heights(ax)[:2], [0.3, 0.5])
    assert [t.get_text() for t in ax.texts] == ["*"]
    _closed(ax.figure)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'result': expected the Dataset returned by rsa (with 'similarity') or "
            "one with a 'cka' variable; got variables ['x'].")):
        plot_comparison(xr.Dataset({"x": 1}))


# ----------------------------------------------------------------------------- training
def _metrics():
    return xr.Dataset({"train_loss": ("epoch", [1.0, 0.6, 0.4]), "test_loss": ("epoch", [1.1, 0.8, 0.7]),
                       "train_mse": ("epoch", [0.5, 0.3, 0.2]), "test_mse": ("epoch", [0.6, 0.4, 0.35])},
                      coords={"epoch": [1, 2, 3]}, attrs={"metric": "mse", "chance": 1.0})


def test_plot_training_lines():
    m = _metrics()
    fig, axes = new_figure(1, 2)
    out = plot_training(m, axes=axes)
    assert list(out) == list(axes)
    for ax, key in zip(axes, ("loss", "mse")):
        lines = ax.get_lines()
        np.testing.assert_array_equal(lines[0].get_ydata(), m[f"train_{key}"].values)
        np.testing.assert_array_equal(lines[1].get_ydata(), m[f"test_{key}"].values)
        np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
        assert ax.get_ylabel() == key
    assert axes[1].get_lines()[-1].get_ydata()[0] == 1.0  # chance
    _closed(fig)
    new = plot_training(m)  # a new figure of its own
    assert len(new) == 2 and new[0].figure is new[1].figure
    _closed(new[0].figure)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'axes': expected 2 Axes (loss, metric); got 1. Pass axes=None for a new "
            "figure.")):
        plot_training(m, axes=[axes[0]])
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'metrics': expected the Dataset returned by brainbridge.snn.train "
            "(train_/test_ loss and metric over 'epoch', attrs 'metric' and 'chance'); got variables "
            "['test_loss', 'test_mse', 'train_loss', 'train_mse'] and attrs ['metric'].")):
        plot_training(xr.Dataset(m.data_vars, attrs={"metric": "mse"}))


# ----------------------------------------------------------------------------- curvature
def test_plot_curvature_summary_single_graph_with_communities():
    ds = curvature_communities(nx.karate_club_graph(), flow_iterations=10, progress=False)
    axes = plot_curvature_summary(ds)
    assert len(axes) == 2
    kappa = ds.edge_curvature.values
    counts, _ = np.histogram(kappa, bins=30)
    np.testing.assert_array_equal(_heights(axes[0]), counts)
    lines = axes[1].collections[0]
    np.testing.assert_array_equal(lines.get_array(), kappa)  # edges coloured by curvature
    nodes = axes[1].collections[1].get_facecolors()
    com = ds.community.values
    assert len({tuple(c) for c in nodes}) == len(np.unique(com))  # one colour per community
    _closed(axes[0].figure)


def test_plot_curvature_summary_alignment(rng):
    x = rng.normal(size=(30, 4))
    res = curvature_alignment(x, x + rng.normal(size=(30, 4)) * 0.1, k=5, flow_iterations=0,
                              n_permutations=0)
    fig, axes = new_figure(1, 3)
    assert list(plot_curvature_summary(res, axes=axes)) == list(axes)
    assert axes[1].get_xlabel() == "node Ollivier-Ricci curvature"
    assert len(axes[0].containers) == 2  # systems a and b
    assert axes[2].collections  # no communities: the graph of system a
    _closed(fig)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'axes': expected 3 Axes (edge and node histograms, communities or graph); "
            "got 2.")):
        plot_curvature_summary(res, axes=axes[:2])


# ----------------------------------------------------------------------------- structure vs function
def test_plot_structure_function(rng):
    null = rng.normal(size=(40, 3))
    null[5, 1] = np.nan
    res = xr.Dataset({"value": ("score", [2.0, 0.1, -0.3]), "p_value": ("score", [0.0244, 0.4, 0.8]),
                      "null": (("shuffle", "score"), null)},
                     coords={"score": ["rsa", "node_spearman", "edge_spearman"]})
    fig, axes = new_figure(1, 4)
    out = plot_structure_function(res, bins=8, axes=axes[:3])
    assert list(out) == list(axes[:3]) and not axes[3].has_data()
    for j, ax in enumerate(out):
        column = null[:, j][np.isfinite(null[:, j])]
        np.testing.assert_array_equal(_heights(ax), np.histogram(column, bins=8)[0])
        assert ax.get_lines()[0].get_xdata()[0] == res.value.values[j]
    assert [ax.get_title() for ax in out] == ["rsa (p = 0.0244)", "node_spearman (p = 0.4)",
                                              "edge_spearman (p = 0.8)"]
    _closed(fig)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'result': expected a structure-function result (value and p_value over "
            "'score', null over (permutation, 'score')); got variables ['null', 'value'].")):
        plot_structure_function(res.drop_vars("p_value"))


def test_plot_structure_function_pairs(rng):
    res = xr.Dataset({"value": ("score", [2.0]), "p_value": ("score", [0.1]),
                      "null": (("shuffle", "score"), rng.normal(size=(20, 1))),
                      "simulated": (("a", "b"), rng.normal(size=(4, 5))),
                      "measured": (("a", "b"), rng.normal(size=(4, 5))),
                      "observed": (("a", "b"), rng.random((4, 5)) < 0.5)}, coords={"score": ["rsa"]})
    axes = plot_structure_function(res, pairs=True)
    assert len(axes) == 2 and axes[1].get_title() == "observed pairs"
    obs = res.observed.values
    np.testing.assert_array_equal(axes[1].collections[0].get_offsets(),
                                  np.column_stack([res.simulated.values[obs], res.measured.values[obs]]))
    _closed(axes[0].figure)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'pairs': the scatter needs the variables 'simulated', 'measured' and "
            "'observed' of a structure_function result; got ['null', 'p_value', 'value']. "
            "Leave pairs=False.")):
        plot_structure_function(res[["value", "p_value", "null"]], pairs=True)


def test_plot_selective_fraction(rng):
    data = rng.normal(size=(30, 12))
    data[:15, :3] += 2.5
    x = xr.DataArray(data, dims=("stimulus", "unit"),
                     coords={"unit": [f"u{i}" for i in range(12)],
                             "layer": ("unit", ["l1"] * 4 + ["l2"] * 8)})
    res = selective_fraction(x, np.arange(30) < 15, threshold=np.r_[[0.8] * 4, [1.0] * 8], family="layer",
                             n_permutations=40, random_state=0)
    fig, axes = new_figure(1, 2)
    out = plot_selective_fraction(res, labels=["first", "second"], axes=axes)
    assert list(out) == list(axes)
    np.testing.assert_allclose(_heights(out[0]), res.fraction.values)  # one bar per family
    np.testing.assert_allclose([ln.get_ydata()[0] for ln in out[0].get_lines()],  # a null-mean tick each
                               res.null.values.mean(0))
    assert [t.get_text() for t in out[0].get_xticklabels()] == ["first", "second"]
    # the d' panel: a box per family whose median is the family's median d', the bars at +/- threshold
    medians = [line.get_ydata()[0] for line in out[1].lines if line.get_label() == "_nolegend_"
               and len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]]
    for m in (np.median(res.score.values[:4]), np.median(res.score.values[4:])):
        assert any(np.isclose(m, v) for v in medians)
    np.testing.assert_allclose(out[1].collections[0].get_offsets()[:, 1], [0.8, 1.0])
    _closed(fig)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'labels': expected one per family (2); got 1.")):
        plot_selective_fraction(res, labels=["x"])


def test_plot_rate_prediction(rng):
    dt, n = 1e-3, 800
    rate = 0.05 + 0.04 * np.sin(np.arange(n) / 30.0)
    observed = (rng.random(n) < rate).astype(float)
    draw = rng.random(300) < rate[:300]
    axes = plot_rate_prediction(observed, {"LNP": rate}, dt=dt, trains={"LNP": {"Poisson": draw}},
                                smoothing=0, duration=0.5)
    lines = axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), observed[:500] / dt)  # no smoothing: counts / dt
    np.testing.assert_allclose(lines[1].get_ydata(), rate[:500] / dt)
    np.testing.assert_allclose(lines[1].get_xdata(), np.arange(500) * dt)
    raster = axes[1].collections
    np.testing.assert_allclose(raster[0].get_positions(), np.flatnonzero(observed[:500]) * dt)
    np.testing.assert_allclose(raster[1].get_positions(), np.flatnonzero(draw) * dt)
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["recorded", "LNP: Poisson"]
    np.testing.assert_allclose(matplotlib.colors.to_rgba(lines[1].get_color()),
                               raster[1].get_colors()[0])  # C1 both
    _closed(axes[0].figure)
    from scipy.ndimage import gaussian_filter1d

    smooth = plot_rate_prediction(observed, xr.DataArray(rate[None], dims=("model", "time"),
                                                         coords={"model": ["LNP"]}), dt=dt)
    np.testing.assert_allclose(smooth[0].get_lines()[1].get_ydata(), gaussian_filter1d(rate, 2.0)[:500] / dt)
    _closed(smooth[0].figure)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for 'rates': 'LNP' has shape (10,); expected (800,), the shape of 'observed'.")):
        plot_rate_prediction(observed, {"LNP": rate[:10]}, dt=dt)


def test_save_figure_with_a_glass_brain_needs_no_warning(tmp_path):
    pytest.importorskip("nilearn")
    fig, axes = new_figure(1, 2, size=(8, 3))
    plot_encoding_scores(xr.Dataset({"r": ("unit", np.linspace(0, 1, 6))}), ax=axes[0])
    plot_score_map(_positions(np.linspace(0, 1, 6)), modality="fmri", ax=axes[1])
    save_figure(fig, tmp_path / "map.png")  # pytest turns a tight_layout warning into an error
    assert (tmp_path / "map.png").stat().st_size > 1000
