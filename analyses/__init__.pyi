"""Type stub for ``brainbridge.analyses``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from ._cka import KERNELS as KERNELS
from ._cka import LINEAR_FORMS as LINEAR_FORMS
from ._cka import cka as cka
from ._compare import COMPARE_ALIASES as COMPARE_ALIASES
from ._compare import COMPARE_METHODS as COMPARE_METHODS
from ._compare import compare_rdms as compare_rdms
from ._curvature import CURVATURE_METHODS as CURVATURE_METHODS
from ._curvature import curvature_communities as curvature_communities
from ._curvature import ricci_community as ricci_community
from ._curvature import ricci_curvature as ricci_curvature
from ._curvature import ricci_flow as ricci_flow
from ._curvature_align import ALIGNMENT_SCORES as ALIGNMENT_SCORES
from ._curvature_align import PERMUTED_SCORES as PERMUTED_SCORES
from ._curvature_align import curvature_alignment as curvature_alignment
from ._curvature_align import system_curvature as system_curvature
from ._encoding import CEILINGS as CEILINGS
from ._encoding import encoding_score as encoding_score
from ._encoding import spearman_brown as spearman_brown
from ._encoding import split_half_ceiling as split_half_ceiling
from ._encoding import variance_partitioning as variance_partitioning
from ._graph import Graph as Graph
from ._graph import as_graph as as_graph
from ._graph import connectome_graph as connectome_graph
from ._graph import knn_graph as knn_graph
from ._neurons import BASELINES as BASELINES
from ._neurons import MATCH_METHODS as MATCH_METHODS
from ._neurons import match_units as match_units
from ._neurons import neuron_correlation as neuron_correlation
from ._nulls import shuffle_connectome as shuffle_connectome
from ._plots import graph_layout as graph_layout
from ._plots import plot_communities as plot_communities
from ._plots import plot_comparison as plot_comparison
from ._plots import plot_correlation_partners as plot_correlation_partners
from ._plots import plot_curvature_graph as plot_curvature_graph
from ._plots import plot_curvature_histogram as plot_curvature_histogram
from ._plots import plot_curvature_summary as plot_curvature_summary
from ._plots import plot_encoding_scores as plot_encoding_scores
from ._plots import plot_matrix as plot_matrix
from ._plots import plot_mds as plot_mds
from ._plots import plot_model_comparison as plot_model_comparison
from ._plots import plot_rate_prediction as plot_rate_prediction
from ._plots import plot_rdm as plot_rdm
from ._plots import plot_recovery as plot_recovery
from ._plots import plot_score_map as plot_score_map
from ._plots import plot_selective_fraction as plot_selective_fraction
from ._plots import plot_selectivity as plot_selectivity
from ._plots import plot_structure_function as plot_structure_function
from ._plots import plot_top_stimuli as plot_top_stimuli
from ._plots import plot_training as plot_training
from ._preprocess import NORMALIZERS as NORMALIZERS
from ._preprocess import SMOOTHERS as SMOOTHERS
from ._preprocess import normalize as normalize
from ._preprocess import smooth as smooth
from ._rdm import NOISE_METHODS as NOISE_METHODS
from ._rdm import RDM_METHODS as RDM_METHODS
from ._rdm import from_rsatoolbox_rdms as from_rsatoolbox_rdms
from ._rdm import noise_precision as noise_precision
from ._rdm import rdm as rdm
from ._rdm import rdm_vector as rdm_vector
from ._rdm import to_rsatoolbox_rdms as to_rsatoolbox_rdms
from ._recovery import ENCODING_ALPHAS as ENCODING_ALPHAS
from ._recovery import RECOVERY_METRICS as RECOVERY_METRICS
from ._recovery import model_recovery as model_recovery
from ._rsa import rsa as rsa
from ._selectivity import SELECTIVITY_METHODS as SELECTIVITY_METHODS
from ._selectivity import dead_neurons as dead_neurons
from ._selectivity import domain_neurons as domain_neurons
from ._selectivity import positional_neurons as positional_neurons
from ._selectivity import selective_fraction as selective_fraction
from ._selectivity import selectivity as selectivity
from ._selectivity import top_stimuli as top_stimuli
from ._stats import NoiseCeiling as NoiseCeiling
from ._stats import PermutationResult as PermutationResult
from ._stats import bootstrap as bootstrap
from ._stats import noise_ceiling as noise_ceiling
from ._stats import permutation_test as permutation_test
from ._stats import pool_rdms as pool_rdms
from ._structure_function import STRUCTURE_FUNCTION_SCORES as STRUCTURE_FUNCTION_SCORES
from ._structure_function import structure_function as structure_function

__all__ = [
    "ALIGNMENT_SCORES",
    "BASELINES",
    "CEILINGS",
    "COMPARE_ALIASES",
    "COMPARE_METHODS",
    "CURVATURE_METHODS",
    "ENCODING_ALPHAS",
    "Graph",
    "KERNELS",
    "LINEAR_FORMS",
    "MATCH_METHODS",
    "NOISE_METHODS",
    "NORMALIZERS",
    "NoiseCeiling",
    "PERMUTED_SCORES",
    "PermutationResult",
    "RDM_METHODS",
    "RECOVERY_METRICS",
    "SELECTIVITY_METHODS",
    "SMOOTHERS",
    "STRUCTURE_FUNCTION_SCORES",
    "as_graph",
    "bootstrap",
    "cka",
    "compare_rdms",
    "connectome_graph",
    "curvature_alignment",
    "curvature_communities",
    "dead_neurons",
    "domain_neurons",
    "encoding_score",
    "from_rsatoolbox_rdms",
    "graph_layout",
    "knn_graph",
    "match_units",
    "model_recovery",
    "neuron_correlation",
    "noise_ceiling",
    "noise_precision",
    "normalize",
    "permutation_test",
    "plot_communities",
    "plot_comparison",
    "plot_correlation_partners",
    "plot_curvature_graph",
    "plot_curvature_histogram",
    "plot_curvature_summary",
    "plot_encoding_scores",
    "plot_matrix",
    "plot_mds",
    "plot_model_comparison",
    "plot_rate_prediction",
    "plot_rdm",
    "plot_recovery",
    "plot_score_map",
    "plot_selective_fraction",
    "plot_selectivity",
    "plot_structure_function",
    "plot_top_stimuli",
    "plot_training",
    "pool_rdms",
    "positional_neurons",
    "rdm",
    "rdm_vector",
    "ricci_community",
    "ricci_curvature",
    "ricci_flow",
    "rsa",
    "selective_fraction",
    "selectivity",
    "shuffle_connectome",
    "smooth",
    "spearman_brown",
    "split_half_ceiling",
    "structure_function",
    "system_curvature",
    "to_rsatoolbox_rdms",
    "top_stimuli",
    "variance_partitioning",
]
