"""Ollivier-Ricci curvature of the C. elegans connectome and functional atlas, and their alignment.

Real data, printed as markdown tables with runtimes (issue #7):

* Cook et al. (2019) hermaphrodite connectome (``load_celegans_connectome("cook2019_herm")``):
  the chemical-synapse graph (directed, pre -> post) and the gap-junction graph (undirected),
  each with unit edge lengths and with lengths ``1 / synapse count``.
* Randi et al. (2023) functional atlas (``load_celegans_funatlas()``): a directed graph with
  an edge ``j -> i`` (connectome orientation: stimulated neuron -> responding neuron) wherever
  stimulating ``j`` changed ``i``'s activity with ``q < 0.05`` (the atlas's ``q``: the
  q-value of the response, Benjamini-Hochberg over pairs). Lengths: 1 per edge (the main
  graph: significance, not amplitude, is what is comparable with synapse counts), or
  ``median|dff| / |dff|`` (stronger mean response = closer; scaled so that the median edge
  has length 1, because neighbour mass ``exp(-w**2)`` vanishes for lengths above ~4).
  Pairs never measured are NaN in ``q`` and carry no edge.
* Their alignment (:func:`curvature_alignment`): node curvature of the connectome vs the
  atlas on the neurons in both, Spearman correlation, and the Jaccard overlap of edges, each
  with a 1000-permutation null over neuron labels (and a degree-stratified null); once over all
  shared neurons and once
  over the neurons with at least one functional edge (dropping isolated nodes changes no
  curvature, and the stricter null shuffles only neurons the atlas actually connects).
  Undirected versions of both graphs add Ricci-flow communities (10 iterations) and their
  agreement (ARI / NMI).

Run: ``python bench/report_curvature.py`` (about a minute on 2 busy cores).
"""

from __future__ import annotations

import logging
import sys
import time

import numpy as np
import scipy.sparse as sp

from brainbridge.analyses import Graph, connectome_graph, curvature_alignment, ricci_curvature
from brainbridge.loaders import load_celegans_connectome, load_celegans_funatlas

HUBS = ["AVAL", "AVAR", "AVBL", "AVBR", "AVDL", "AVDR", "AVEL", "AVER", "PVCL", "PVCR", "RIAL", "RIAR",
        "RIML", "RIMR", "AIBL", "AIBR"]


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def functional_graph(atlas, *, q_max: float = 0.05, weight: str = "unweighted",
                     directed: bool = True) -> Graph:
    """Edges stimulus -> unit where ``q < q_max``; lengths 1 or ``median|dff| / |dff|``."""
    q = atlas["q"].transpose("stimulus", "unit")
    dff = np.abs(atlas["dff"].transpose("stimulus", "unit").values)
    assert q["stimulus"].values.tolist() == q["unit"].values.tolist()
    keep = np.nan_to_num(q.values, nan=1.0) < q_max
    if weight == "inverse":
        keep &= np.isfinite(dff) & (dff > 0)
    np.fill_diagonal(keep, False)
    if not directed:
        keep = keep | keep.T
        dff = np.fmax(dff, dff.T)
    rows, cols = np.nonzero(keep)
    lengths = np.ones(rows.size) if weight == "unweighted" else np.median(dff[rows, cols]) / dff[rows, cols]
    n = keep.shape[0]
    return Graph(sp.csr_array((lengths, (rows, cols)), shape=(n, n)), q["stimulus"].values.astype(str),
                 directed)


def without_isolated(g: Graph) -> Graph:
    src, dst, _ = g.edges()
    used = np.unique(np.concatenate([src, dst]))
    return Graph(g.weights[used][:, used], g.nodes[used], g.directed)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t_start = time.perf_counter()
    ricci_curvature(Graph.from_networkx(__import__("networkx").path_graph(4)))  # compile the kernels once
    conn = load_celegans_connectome("cook2019_herm")
    atlas = load_celegans_funatlas()
    graphs = {}
    for synapse in ("chemical", "electrical"):
        for weight in ("unweighted", "inverse"):
            graphs[f"Cook 2019 {synapse}, {weight}"] = connectome_graph(conn, synapse_type=synapse,
                                                                        weight=weight)
    graphs["Randi 2023 functional (q<0.05), unweighted"] = functional_graph(atlas)
    graphs["Randi 2023 functional (q<0.05), median|dff|/|dff|"] = functional_graph(atlas, weight="inverse")

    out("## Ollivier-Ricci curvature (alpha 0.5, exact W1; GraphRicciCurvature conventions)")
    out()
    out("| graph | nodes | edges | directed | mean edge | median edge | negative | mean node | time (s) |")
    out("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    curv = {}
    for name, g in graphs.items():
        ds, seconds = timed(ricci_curvature, g)
        curv[name] = ds
        k = ds.edge_curvature.values
        out(f"| {name} | {g.n_nodes} | {k.size} | {'yes' if g.directed else 'no'} | {k.mean():.3f} | "
            f"{np.median(k):.3f} | {np.mean(k < 0):.1%} | {np.nanmean(ds.node_curvature.values):.3f} | "
            f"{seconds:.2f} |")

    for name in ("Cook 2019 chemical, unweighted", "Cook 2019 electrical, unweighted",
                 "Randi 2023 functional (q<0.05), unweighted"):
        ds = curv[name]
        order = np.argsort(ds.edge_curvature.values, kind="stable")
        arrow = "->" if ds.attrs["directed"] else "--"
        out()
        out(f"### {name}: the 5 most negative and the 5 most positive edges")
        out()
        out("| most negative | curvature | most positive | curvature |")
        out("|---|---:|---|---:|")
        for lo, hi in zip(order[:5], order[::-1][:5]):
            out(f"| {ds.source.values[lo]} {arrow} {ds.target.values[lo]} | {ds.edge_curvature.values[lo]:.3f} | "
                f"{ds.source.values[hi]} {arrow} {ds.target.values[hi]} | {ds.edge_curvature.values[hi]:.3f} |")

    out()
    out("### Node curvature of hub neurons (degree in brackets: in + out edges)")
    out()
    cols = ["Cook 2019 chemical, unweighted", "Cook 2019 chemical, inverse",
            "Cook 2019 electrical, unweighted", "Randi 2023 functional (q<0.05), unweighted"]
    out("| neuron | chemical | chemical 1/n | gap junction | functional |")
    out("|---|---:|---:|---:|---:|")
    for hub in HUBS:
        cells = []
        for name in cols:
            ds = curv[name]
            if hub not in ds.node.values:
                cells.append("absent")
                continue
            node = ds.sel(node=hub)
            cells.append(f"{float(node.node_curvature):.3f} ({int(node.degree)})")
        out(f"| {hub} | " + " | ".join(cells) + " |")

    out()
    out("## Alignment: Cook 2019 connectome vs Randi 2023 functional atlas")
    out()
    out("Matched by neuron name; p = (1 + #{null >= observed}) / (1 + 1000), 1000 shuffles of the "
        "atlas's neuron labels (seed 0). Wasserstein distances have no null (label-free).")
    out()
    fun = graphs["Randi 2023 functional (q<0.05), unweighted"]
    chem_u = connectome_graph(conn, synapse_type="chemical", directed=False)
    gap = connectome_graph(conn, synapse_type="electrical")
    fun_u = functional_graph(atlas, directed=False)
    rows = [
        ("chemical -> vs functional ->, all shared neurons", graphs["Cook 2019 chemical, unweighted"], fun, 0),
        ("chemical -> vs functional ->, neurons with a functional edge",
         graphs["Cook 2019 chemical, unweighted"], without_isolated(fun), 0),
        ("chemical -- vs functional --, neurons with a functional edge, flow 10", chem_u,
         without_isolated(fun_u), 10),
        ("gap junction -- vs functional --, neurons with a functional edge, flow 10", gap,
         without_isolated(fun_u), 10),
    ]
    scores = ["node_spearman", "node_pearson", "edge_jaccard", "edge_spearman", "community_ari",
              "community_nmi", "edge_wasserstein", "node_wasserstein"]
    out("| comparison | shared neurons | shared edges | " + " | ".join(scores) + " | time (s) |")
    out("|---|---:|---:|" + "---:|" * len(scores) + "---:|")
    notes = []
    for label, ga, gb, flow in rows:
        res, seconds = timed(curvature_alignment, ga, gb, flow_iterations=flow, n_permutations=1000,
                             random_state=0)
        cells = []
        for s in scores:
            v, p = float(res.value.sel(score=s)), float(res.p_value.sel(score=s))
            cells.append("n/a" if np.isnan(v) else f"{v:.3f}" + ("" if np.isnan(p) else f" (p={p:.3f})"))
        out(f"| {label} | {res.attrs['n_shared_nodes']} | {res.attrs['n_shared_edges']} | "
            + " | ".join(cells) + f" | {seconds:.1f} |")
        if flow:
            notes.append(f"{label}: {res.attrs['n_communities_a']} vs {res.attrs['n_communities_b']} "
                         f"communities{'; ' + res.attrs['community_note'] if res.attrs['community_note'] else ''}")
    out()
    for note in notes:
        out(f"- {note}")
    # context: node curvature tracks degree in both graphs, so compare with the degree correlation
    from scipy.stats import spearmanr

    chem, func = curv["Cook 2019 chemical, unweighted"], curv["Randi 2023 functional (q<0.05), unweighted"]
    both = [v for v in func.node.values[func.degree.values > 0] if v in set(chem.node.values.tolist())]
    out(f"- context: Spearman of total degree, chemical vs functional, on the {len(both)} neurons with a "
        f"functional edge: {spearmanr(chem.degree.sel(node=both), func.degree.sel(node=both))[0]:.3f}; "
        "of node curvature vs degree within each graph: chemical "
        f"{spearmanr(chem.node_curvature.sel(node=both), chem.degree.sel(node=both))[0]:.3f}, functional "
        f"{spearmanr(func.node_curvature.sel(node=both), func.degree.sel(node=both))[0]:.3f}")
    out()
    out("### The same comparisons under the degree-stratified null")
    out()
    out("Labels shuffled only within 10 strata of the atlas's degree (curvature_alignment(..., "
        "null='degree')): does curvature align beyond what degree correspondence explains?")
    out()
    strict = ["node_spearman", "node_pearson", "edge_jaccard", "edge_spearman", "community_ari"]
    out("| comparison | " + " | ".join(f"{s}: p labels / p degree" for s in strict) + " |")
    out("|---|" + "---:|" * len(strict))
    for label, ga, gb, flow in rows:
        both = {kind: curvature_alignment(ga, gb, flow_iterations=flow, n_permutations=1000, random_state=0,
                                          null=kind) for kind in ("labels", "degree")}
        cells = []
        for s in strict:
            v = float(both["labels"].value.sel(score=s))
            cells.append("n/a" if np.isnan(v) else f"{v:.3f}: " + " / ".join(
                f"{float(both[kind].p_value.sel(score=s)):.3f}" for kind in ("labels", "degree")))
        out(f"| {label} | " + " | ".join(cells) + " |")
    out()
    out(f"Total runtime {time.perf_counter() - t_start:.1f} s (2 cores, shared machine).")


if __name__ == "__main__":
    main()
