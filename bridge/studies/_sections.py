"""The analyses a study file can name. Each takes the run context and its YAML entry and
returns one report :class:`~brainbridge.studies.Section` (numbers, tables, figures, data)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from ._report import Section
from ._context import Context, StudyError


def _figure(width: float = 6.0, height: float = 4.0, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height))


def _layers(acts: xr.DataArray) -> list[str]:
    return list(dict.fromkeys(np.asarray(acts["layer"].values).tolist()))


def _short(layer: str) -> str:
    return layer.replace("_blocks.", "b")


# ----------------------------------------------------------------------------- vision
def selectivity_section(ctx: Context, spec: dict[str, Any], where: str) -> Section:
    """Units whose d' (class vs rest) passes a family-wise permutation bar, per layer."""
    from brainbridge.analyses import plot_selectivity, selectivity

    src = ctx.source(spec["source"], "activations", where)
    acts = src["acts"]
    pattern = spec["positive"]
    labels = np.array([bool(re.search(pattern, str(s))) for s in acts["stimulus"].values])
    if labels.all() or not labels.any():
        raise StudyError(f"{where}: 'positive' {pattern!r} marks {int(labels.sum())} of {labels.size} "
                         "stimuli; it must mark some but not all.")
    scores = selectivity(acts, labels, method="dprime", target=True,
                         n_permutations=int(spec.get("n_permutations", 200)), family="layer",
                         random_state=ctx.seed, progress=ctx.progress)
    rows, numbers = [], {}
    layer = np.asarray(scores["layer"].values)
    for name in _layers(acts):
        m = layer == name
        d = scores.score.values[m]
        sel = (scores.significant.values[m]) & (d > 0)
        best = int(np.nanargmax(d))
        rows.append([name, int(m.sum()), round(float(scores.threshold.values[m][0]), 3), int(sel.sum()),
                     round(float(sel.mean()), 3), f"{scores.unit.values[m][best]} ({d[best]:.2f})"])
        numbers[f"fraction selective {_short(name)}"] = round(float(sel.mean()), 4)
    fig, ax = _figure()
    plot_selectivity(scores, ax=ax)
    ax.set_title(f"d' per unit ({pattern!r} vs rest)")
    ctx.results["selectivity_scores"] = scores
    return Section(
        title="Selectivity",
        text=(f"d' of every unit for stimuli matching {pattern!r} against the rest. A unit counts as "
              f"selective when d' > 0 and |d'| exceeds its layer's family-wise bar: the 95th "
              f"percentile of the largest |d'| in the layer over {scores.attrs['n_permutations']} "
              "label shuffles."),
        numbers=numbers,
        tables=[("Selective units per layer",
                 ["layer", "units", "bar |d'|", "selective", "fraction", "top unit (d')"], rows)],
        figures={"selectivity": fig},
        dataset=scores.drop_vars([c for c in scores.coords if c not in ("unit", "layer")]),
    )


def cka_section(ctx: Context, spec: dict[str, Any], where: str) -> Section:
    """Layer x layer linear CKA and RSA (correlation RDMs compared by Pearson r)."""
    from brainbridge.analyses import cka, compare_rdms, plot_matrix, rdm

    acts = ctx.source(spec["source"], "activations", where)["acts"]
    layers = _layers(acts)
    c = cka(acts, acts, by_x="layer", by_y="layer")
    r = rdm(acts, method="correlation", by="layer")
    sim = compare_rdms(r, r, method="corr")
    figs = {}
    for name, m, title in (("cka", c, "linear CKA"), ("rsa", sim, "RSA (Pearson r of RDMs)")):
        fig, ax = _figure(6, 5)
        plot_matrix(m, ax=ax)
        ax.set_title(title)
        figs[name] = fig
    cv, sv = np.asarray(c.values), np.asarray(sim.values)
    adjacent_cka = [float(cv[i, i + 1]) for i in range(len(layers) - 1)]
    adjacent_rsa = [float(sv[i, i + 1]) for i in range(len(layers) - 1)]
    return Section(
        title="Layer x layer CKA and RSA",
        text=("Linear CKA between the mean-pooled activations of every pair of layers, and RSA: "
              "Pearson correlation between their correlation-distance RDMs."),
        numbers={"mean CKA of adjacent layers": round(float(np.mean(adjacent_cka)), 4),
                 "CKA first vs last layer": round(float(cv[0, -1]), 4),
                 "mean RSA of adjacent layers": round(float(np.mean(adjacent_rsa)), 4),
                 "RSA first vs last layer": round(float(sv[0, -1]), 4)},
        tables=[("Adjacent layers", ["layers", "CKA", "RSA"],
                 [[f"{_short(layers[i])}-{_short(layers[i + 1])}", round(adjacent_cka[i], 4),
                   round(adjacent_rsa[i], 4)] for i in range(len(layers) - 1)])],
        figures=figs,
        dataset=xr.Dataset({"cka": (("layer_x", "layer_y"), cv), "rsa": (("layer_x", "layer_y"), sv)},
                           coords={"layer_x": layers, "layer_y": layers}),
    )


def top_stimuli_section(ctx: Context, spec: dict[str, Any], where: str) -> Section:
    """Top-activating stimuli of the most selective units of one layer."""
    from brainbridge.analyses import plot_top_stimuli, top_stimuli

    src = ctx.source(spec["source"], "activations", where)
    acts = src["acts"]
    layer = spec.get("layer") or _layers(acts)[-1]
    part = acts.sel(unit=acts["layer"] == layer)
    if part.sizes["unit"] == 0:
        raise StudyError(f"{where}: layer {layer!r} is not in source {spec['source']!r}; layers: "
                         f"{', '.join(_layers(acts))}.")
    n_units = int(spec.get("n_units", 4))
    scores = ctx.results.get("selectivity_scores")
    if scores is not None:
        d = scores.score.sel(unit=part.unit.values).values
        units = part.unit.values[np.argsort(-np.nan_to_num(d, nan=-np.inf))[:n_units]]
    else:
        units = part.unit.values[:n_units]
    top = top_stimuli(part.sel(unit=units), k=int(spec.get("k", 6)))
    fig = plot_top_stimuli(top, src["images"])
    rows = [[str(u), ", ".join(str(s) for s in top["stimulus"].sel(unit=u).values)] for u in units]
    prefix = spec.get("count_prefix", "face_")
    share = float(np.mean([str(s).startswith(prefix)
                           for s in top["stimulus"].values.ravel()]))
    return Section(
        title=f"Top stimuli of {layer}",
        text="The stimuli that drive the chosen units most, best first (the units with the largest d' "
             "when a selectivity analysis ran before).",
        numbers={f"share of top stimuli starting with {prefix!r}": round(share, 4)},
        tables=[("Top stimuli per unit", ["unit", "stimuli"], rows)],
        figures={"top_stimuli": fig},
        dataset=top,
    )


# ----------------------------------------------------------------------------- model recovery
def recovery_section(ctx: Context, spec: dict[str, Any], where: str) -> Section:
    from brainbridge.analyses import model_recovery, plot_recovery

    acts = ctx.source(spec["source"], "activations", where)["acts"]
    truth = spec["truth"]
    if truth not in _layers(acts):
        raise StudyError(f"{where}: truth {truth!r} is not a layer of {spec['source']!r}; layers: "
                         f"{', '.join(_layers(acts))}.")
    res = model_recovery(acts, truth, metrics=tuple(spec.get("metrics", ("rsa", "cka", "encoding"))),
                         noise_levels=tuple(spec.get("noise_levels", (0.0, 1.0, 2.0, 4.0))),
                         n_units=spec.get("n_units"), n_repeats=int(spec.get("n_repeats", 10)),
                         random_state=ctx.seed, progress=ctx.progress)
    fig, ax = _figure()
    plot_recovery(res, ax=ax)
    rec = res["recovery"]
    noise = [float(v) for v in rec["noise"].values]
    rows = [[str(m)] + [round(float(v), 3) for v in rec.sel(metric=m).values] for m in rec["metric"].values]
    numbers = {f"recovery {m} at noise {noise[-1]:g}": round(float(rec.sel(metric=m).values[-1]), 3)
               for m in rec["metric"].values}
    return Section(
        title="Model recovery",
        text=(f"The responses of {truth} (plus gaussian noise, units subsampled) play the brain; every "
              "layer is scored against them with each metric, and recovery is the fraction of repeats "
              "in which the true layer scores best (Han, Poggio & Cheung 2023)."),
        numbers=numbers,
        tables=[("Recovery (fraction of repeats ranking the true layer first)",
                 ["metric"] + [f"noise {v:g}" for v in noise], rows)],
        figures={"recovery": fig},
        dataset=res,
    )


# ----------------------------------------------------------------------------- C. elegans
def structure_function_section(ctx: Context, spec: dict[str, Any], where: str) -> Section:
    from brainbridge.snn._connectome import structure_function

    con = ctx.source(spec["connectome"], "celegans_connectome", where)["data"]
    atlas = ctx.source(spec["funatlas"], "celegans_funatlas", where)["data"]
    res = structure_function(con, atlas, n_shuffles=int(spec.get("n_shuffles", 100)),
                             random_state=ctx.seed, progress=ctx.progress)
    scores = [str(v) for v in res["score"].values]
    rows, numbers = [], {}
    for name in scores:
        value = float(res.value.sel(score=name))
        null = res.null.sel(score=name).values
        p = float(res.p_value.sel(score=name))
        rows.append([name, round(value, 4), f"{np.nanmean(null):.4f} +/- {np.nanstd(null):.4f}", round(p, 4)])
        numbers[name] = round(value, 4)
        numbers[f"p {name}"] = round(p, 4)
    fig, axes = _figure(3.4 * (len(scores) + 1), 3.2, ncols=len(scores) + 1)
    for ax, name in zip(axes, scores):
        ax.hist(res.null.sel(score=name).values, bins=20, color="0.7")
        ax.axvline(float(res.value.sel(score=name)), color="C3", lw=2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("shuffled connectomes (grey) vs real (red)", fontsize=7)
    sim, meas, obs = (np.asarray(res[k].values) for k in ("simulated", "measured", "observed"))
    axes[-1].scatter(sim[obs], meas[obs], s=2, alpha=0.3)
    axes[-1].set_xlabel("simulated response")
    axes[-1].set_ylabel("measured dF/F")
    axes[-1].set_title("observed pairs", fontsize=9)
    fig.tight_layout()
    n_pairs = int(res.attrs.get("n_pairs", int(obs.sum())))
    return Section(
        title="C. elegans: structure vs function",
        text=("A graded network wired by the Cook et al. 2019 connectome (chemical synapses and gap "
              "junctions) is stimulated neuron by neuron, as in the optogenetic atlas of Randi et al. "
              f"2023, and its responses are compared with the measured ones over {n_pairs} observed "
              f"pairs, by RSA over stimulated neurons and by Ricci-curvature alignment, against "
              f"{res.sizes['shuffle']} networks wired by degree-preserving shuffles of the connectome; "
              "p = (1 + #{shuffle >= real}) / (1 + shuffles)."),
        numbers=numbers,
        tables=[("Real connectome vs degree-preserving shuffles", ["score", "real", "shuffles (mean +/- sd)",
                                                                   "p"], rows)],
        figures={"structure_function": fig},
        dataset=res,
    )


# ----------------------------------------------------------------------------- auditory receptor
def receptor_section(ctx: Context, spec: dict[str, Any], where: str) -> Section:
    """Encoding model (lagged ridge), LNP and spiking-neuron fits of the grasshopper receptor."""
    import torch

    from brainbridge.snn._tasks import build_model, fit_lnp, grasshopper_task, score
    from brainbridge.snn._train import forward_sequence, train

    cond = ctx.source(spec["source"], "grasshopper", where)["condition"]
    task = grasshopper_task(cond)
    lnp = fit_lnp(task)
    rows = [["LNP (Poisson GLM)", round(float(score(task, lnp.log_rate(task.x_test))), 4)]]
    numbers = {"coincidence factor LNP": rows[0][1]}
    rates: dict[str, np.ndarray] = {"LNP": np.asarray(lnp.log_rate(task.x_test))}
    for name in spec.get("models", ["elm", "lif"]):
        torch.manual_seed(ctx.seed)
        model = build_model(name, task, hidden=int(spec.get("hidden", 32)), seed=ctx.seed)
        train(model, task, epochs=int(spec.get("epochs", 10)), lr=3e-3, batch_size=8, clip_grad_norm=1.0,
              seed=ctx.seed, progress=ctx.progress)
        with torch.no_grad():
            out = forward_sequence(model, task.x_test)
        value = float(score(task, out))
        rows.append([name.upper(), round(value, 4)])
        numbers[f"coincidence factor {name.upper()}"] = round(value, 4)
        rates[name.upper()] = np.asarray(out)
    fig = _raster(task, rates, ctx)
    return Section(
        title="Auditory receptor (grasshopper)",
        text=("Spike trains of a locust auditory receptor (Rokem et al. 2006, shipped with nitime) predicted "
              "from the sound: a linear-nonlinear-Poisson model and spiking/ELM networks trained on the "
              "first part of the recording, scored on the held-out end by the coincidence factor "
              "(Kistler et al. 1997, window 4 ms; 0 = chance, 1 = every spike matched)."),
        numbers=numbers,
        tables=[("Coincidence factor on held-out data", ["model", "Gamma"], rows)],
        figures={"raster": fig},
        dataset=None,
    )


def _raster(task: Any, log_rates: dict[str, np.ndarray], ctx: Context) -> Any:
    from brainbridge.snn._tasks import sample_spikes

    def in_time_order(a: Any) -> np.ndarray:  # (T, windows, 1) -> one time line, windows in order
        return np.asarray(a, dtype=float).transpose(1, 0, 2).reshape(-1)

    fig, ax = _figure(8, 3)
    recorded = np.nan_to_num(in_time_order(task.y_test))
    n = min(recorded.size, 1000)
    t = np.arange(n) * task.dt
    ax.eventplot([t[recorded[:n] > 0]], lineoffsets=[0], colors="k", linelengths=0.8)
    for row, lr in enumerate(log_rates.values(), start=1):
        spikes = np.asarray(sample_spikes(in_time_order(lr)[:n], seed=ctx.seed)).reshape(-1)[:n]
        ax.eventplot([t[spikes > 0]], lineoffsets=[row], colors=f"C{row}", linelengths=0.8)
    ax.set_yticks(range(len(log_rates) + 1), ["recorded", *log_rates])
    ax.set_xlabel("time in the held-out segment (s)")
    return fig


#: Analysis kinds: name -> (function, allowed parameters, required parameters).
ANALYSES: dict[str, tuple[Callable[[Context, dict[str, Any], str], Section], set[str], set[str]]] = {
    "selectivity": (selectivity_section, {"source", "positive", "n_permutations"}, {"source", "positive"}),
    "layer_similarity": (cka_section, {"source"}, {"source"}),
    "top_stimuli": (top_stimuli_section, {"source", "layer", "n_units", "k", "count_prefix"}, {"source"}),
    "model_recovery": (recovery_section, {"source", "truth", "metrics", "noise_levels", "n_units",
                                          "n_repeats"}, {"source", "truth"}),
    "structure_function": (structure_function_section, {"connectome", "funatlas", "n_shuffles"},
                           {"connectome", "funatlas"}),
    "receptor_fit": (receptor_section, {"source", "models", "epochs", "hidden"}, {"source"}),
}
