"""Shared analyses: RSA, CKA, statistics (and, later, curvature, encoding and neuron-level ones).

Every function takes assemblies (or plain arrays) and returns xarray objects or numbers.
Names are imported on first use.
"""

from __future__ import annotations

from .._lazy import attach

_EXPORTS = {
    "rdm": "._rdm",
    "rdm_vector": "._rdm",
    "noise_precision": "._rdm",
    "to_rsatoolbox_rdms": "._rdm",
    "from_rsatoolbox_rdms": "._rdm",
    "RDM_METHODS": "._rdm",
    "NOISE_METHODS": "._rdm",
    "compare_rdms": "._compare",
    "COMPARE_METHODS": "._compare",
    "COMPARE_ALIASES": "._compare",
    "cka": "._cka",
    "KERNELS": "._cka",
    "LINEAR_FORMS": "._cka",
    "noise_ceiling": "._stats",
    "bootstrap": "._stats",
    "permutation_test": "._stats",
    "pool_rdms": "._stats",
    "NoiseCeiling": "._stats",
    "PermutationResult": "._stats",
    "rsa": "._rsa",
    "encoding_score": "._encoding",
    "split_half_ceiling": "._encoding",
    "spearman_brown": "._encoding",
    "variance_partitioning": "._encoding",
    "CEILINGS": "._encoding",
    "selectivity": "._selectivity",
    "top_stimuli": "._selectivity",
    "domain_neurons": "._selectivity",
    "dead_neurons": "._selectivity",
    "positional_neurons": "._selectivity",
    "SELECTIVITY_METHODS": "._selectivity",
    "neuron_correlation": "._neurons",
    "match_units": "._neurons",
    "BASELINES": "._neurons",
    "MATCH_METHODS": "._neurons",
    "plot_rdm": "._plots",
    "plot_mds": "._plots",
    "plot_model_comparison": "._plots",
    "plot_matrix": "._plots",
    "plot_selectivity": "._plots",
    "plot_top_stimuli": "._plots",
    "plot_correlation_partners": "._plots",
    "Graph": "._graph",
    "knn_graph": "._graph",
    "connectome_graph": "._graph",
    "ricci_curvature": "._curvature",
    "ricci_flow": "._curvature",
    "ricci_community": "._curvature",
    "CURVATURE_METHODS": "._curvature",
    "as_graph": "._graph",
    "curvature_alignment": "._curvature_align",
    "system_curvature": "._curvature_align",
    "ALIGNMENT_SCORES": "._curvature_align",
    "PERMUTED_SCORES": "._curvature_align",
    "plot_curvature_histogram": "._plots",
    "plot_curvature_graph": "._plots",
    "plot_communities": "._plots",
    "graph_layout": "._plots",
    "model_recovery": "._recovery",
    "plot_recovery": "._recovery",
    "RECOVERY_METRICS": "._recovery",
    "ENCODING_ALPHAS": "._recovery",
}


__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
