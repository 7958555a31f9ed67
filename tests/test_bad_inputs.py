"""The bad-input suite (issue #15): every public name and CLI subcommand under a matrix of bad inputs.

How to read a failure: a case id is ``<public name>-<argument>-<bad kind>``. The call must
raise ValueError / TypeError (AssemblyError is a ValueError) or, for files,
FileNotFoundError / ValueError, with a message that names the argument in quotes; or, where
the registry documents that a result is the allowed outcome, return one with no bare NaN or
inf. A raw internal exception (IndexError, KeyError, ZeroDivisionError, a numpy broadcast
error, a torch RuntimeError, AttributeError, ...) always fails.

Adding a public name: add a :class:`Spec` to ``tests/bad_input_cases.py`` (or, with the
reason, to ``EXEMPT`` below); ``test_every_public_name_is_registered`` fails otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).parent))
from bad_input_cases import DATA_KINDS, Spec, _registry, ids  # noqa: E402

import brainbridge as bb  # noqa: E402

# ------------------------------------------------------------------------------ what remains
# Cases that still fail because the library is not fixed yet. xfail_strict is on: when one
# starts passing, the suite fails and tells you to delete its line.
XFAIL: dict[str, str] = {
    # brainbridge.analyses.bootstrap
    'brainbridge.analyses.bootstrap-data-nan':
        'issue #15: returns NaN / inf in ["result[\'boot\']", "result[\'boot_noise\']"]',
    'brainbridge.analyses.bootstrap-models-nan':
        'issue #15: returns NaN / inf in ["result[\'boot\']"]',
    # brainbridge.analyses.cka
    'brainbridge.analyses.cka-x-constant':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.analyses.cka-x-wrong_dims':
        'issue #15: raw IndexError: list index out of range',
    'brainbridge.analyses.cka-y-constant':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.analyses.cka-y-wrong_dims':
        'issue #15: raw IndexError: list index out of range',
    # brainbridge.analyses.connectome_graph
    'brainbridge.analyses.connectome_graph-c-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.analyses.connectome_graph-c-empty_first':
        'issue #15: accepted without an error (returns Graph)',
    'brainbridge.analyses.connectome_graph-c-object':
        'issue #15: accepted without an error (returns Graph)',
    'brainbridge.analyses.connectome_graph-c-str':
        'issue #15: accepted without an error (returns Graph)',
    'brainbridge.analyses.connectome_graph-c-wrong_dims':
        'issue #15: accepted without an error (returns Graph)',
    # brainbridge.analyses.curvature_alignment
    'brainbridge.analyses.curvature_alignment-a-all_nan':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected finit",
    'brainbridge.analyses.curvature_alignment-a-complex':
        "issue #15: message does not name the argument: TypeError: Invalid type for 'g': expected real nu",
    'brainbridge.analyses.curvature_alignment-a-constant':
        'issue #15: returns NaN / inf in ["result[\'value\']", "result[\'p_value\']", "result[\'null\']"]',
    'brainbridge.analyses.curvature_alignment-a-empty_last':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected at le",
    'brainbridge.analyses.curvature_alignment-a-inf':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected finit",
    'brainbridge.analyses.curvature_alignment-a-nan':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected finit",
    'brainbridge.analyses.curvature_alignment-a-object':
        "issue #15: message does not name the argument: TypeError: Invalid type for 'g': expected real nu",
    'brainbridge.analyses.curvature_alignment-a-str':
        "issue #15: message does not name the argument: TypeError: Invalid type for 'g': expected real nu",
    'brainbridge.analyses.curvature_alignment-a-wrong_dims':
        "issue #15: message does not name the argument: AssemblyError: 'g' must have dims ('stimulus', 'u",
    'brainbridge.analyses.curvature_alignment-b-all_nan':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected finit",
    'brainbridge.analyses.curvature_alignment-b-complex':
        "issue #15: message does not name the argument: TypeError: Invalid type for 'g': expected real nu",
    'brainbridge.analyses.curvature_alignment-b-constant':
        'issue #15: returns NaN / inf in ["result[\'value\']", "result[\'p_value\']", "result[\'null\']"]',
    'brainbridge.analyses.curvature_alignment-b-empty_last':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected at le",
    'brainbridge.analyses.curvature_alignment-b-inf':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected finit",
    'brainbridge.analyses.curvature_alignment-b-nan':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'g': expected finit",
    'brainbridge.analyses.curvature_alignment-b-object':
        "issue #15: message does not name the argument: TypeError: Invalid type for 'g': expected real nu",
    'brainbridge.analyses.curvature_alignment-b-str':
        "issue #15: message does not name the argument: TypeError: Invalid type for 'g': expected real nu",
    'brainbridge.analyses.curvature_alignment-b-wrong_dims':
        "issue #15: message does not name the argument: AssemblyError: 'g' must have dims ('stimulus', 'u",
    'brainbridge.analyses.curvature_alignment-random-shapes':
        'issue #15: 4 stimuli, 1 unit: NaN value / p_value / null instead of an error',
    # brainbridge.analyses.curvature_communities
    'brainbridge.analyses.curvature_communities-flow_iterations-0':
        'issue #15: accepted without an error (returns Dataset)',
    'brainbridge.analyses.curvature_communities-graph-constant':
        'issue #15: raw RuntimeWarning: divide by zero encountered in scalar divide',
    # brainbridge.analyses.domain_neurons
    'brainbridge.analyses.domain_neurons-domains-nan':
        "issue #15: raw ValueError: could not convert string to float: 'a'",
    'brainbridge.analyses.domain_neurons-domains-object':
        "issue #15: message does not name the argument: TypeError: '>' not supported between instances of",
    # brainbridge.analyses.encoding_score
    'brainbridge.analyses.encoding_score-features-constant':
        'issue #15: returns NaN / inf in ["result[\'ceiling\']", "result[\'normalized\']", "result[\'normal',
    'brainbridge.analyses.encoding_score-permutation':
        "issue #15: CV folds follow the row order of 'responses': permuting it changes r",
    'brainbridge.analyses.encoding_score-responses-constant':
        'issue #15: returns NaN / inf in ["result[\'r\']", "result[\'r2\']", "result[\'ceiling\']", "result',
    # brainbridge.analyses.match_units
    'brainbridge.analyses.match_units-a-constant':
        'issue #15: returns NaN / inf in ["result[\'r\']", "result[\'p\']"]',
    'brainbridge.analyses.match_units-b-constant':
        'issue #15: returns NaN / inf in ["result[\'r\']", "result[\'p\']"]',
    # brainbridge.analyses.neuron_correlation
    'brainbridge.analyses.neuron_correlation-a-constant':
        'issue #15: returns NaN / inf in ["result[\'r\']"]',
    'brainbridge.analyses.neuron_correlation-b-constant':
        'issue #15: returns NaN / inf in ["result[\'r\']"]',
    # brainbridge.analyses.noise_precision
    'brainbridge.analyses.noise_precision-residuals-constant':
        'issue #15: raw _LinAlgError: linalg.inv: The diagonal element 1 is zero, the inversion could not',
    'brainbridge.analyses.noise_precision-residuals-single':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'dof': expected a p",
    # brainbridge.analyses.normalize
    'brainbridge.analyses.normalize-da-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.analyses.normalize-da-empty_first':
        'issue #15: raw ValueError: cannot reshape array of size 0 into shape (0)',
    'brainbridge.analyses.normalize-da-inf':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.analyses.normalize-da-object':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.analyses.normalize-da-str':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.analyses.normalize-da-wrong_dims':
        'issue #15: accepted without an error (returns DataArray)',
    # brainbridge.analyses.pool_rdms
    'brainbridge.analyses.pool_rdms-vectors-wrong_dims':
        'issue #15: raw IndexError: tuple index out of range',
    # brainbridge.analyses.positional_neurons
    'brainbridge.analyses.positional_neurons-x-constant':
        'issue #15: returns NaN / inf in ["result[\'score\']"]',
    # brainbridge.analyses.rdm
    'brainbridge.analyses.rdm-x-constant':
        "issue #15: returns NaN / inf in ['result']",
    # brainbridge.analyses.rdm_vector
    'brainbridge.analyses.rdm_vector-r-nan':
        "issue #15: returns NaN / inf in ['result']",
    # brainbridge.analyses.ricci_flow
    'brainbridge.analyses.ricci_flow-k-forwarded':
        "issue #15: raw ValueError: Invalid value for 'k': expected fewer neighbours than nodes (10); got",
    # brainbridge.analyses.rsa
    'brainbridge.analyses.rsa-compare-typo':
        "issue #15: message does not name 'compare': Invalid value for 'method': expected one of 'cosine'",
    'brainbridge.analyses.rsa-random-shapes':
        "issue #15: errors of the inner compare_rdms name 'a', not 'x' (2 stimuli; 1 unit: all-NaN RDM)",
    'brainbridge.analyses.rsa-x-constant':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'a': the RDM is all",
    'brainbridge.analyses.rsa-y-constant':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'b': the RDM is all",
    # brainbridge.analyses.selective_fraction
    'brainbridge.analyses.selective_fraction-labels-nan':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'target': method 'd",
    'brainbridge.analyses.selective_fraction-labels-object':
        "issue #15: message does not name the argument: TypeError: '<' not supported between instances of",
    'brainbridge.analyses.selective_fraction-x-constant':
        'issue #15: raw RuntimeWarning: invalid value encountered in subtract',
    # brainbridge.analyses.selectivity
    'brainbridge.analyses.selectivity-labels-nan':
        "issue #15: message does not name the argument: ValueError: Invalid value for 'target': method 'd",
    'brainbridge.analyses.selectivity-labels-object':
        "issue #15: message does not name the argument: TypeError: '<' not supported between instances of",
    'brainbridge.analyses.selectivity-x-constant':
        'issue #15: returns NaN / inf in ["result[\'score\']"]',
    # brainbridge.analyses.shuffle_connectome
    'brainbridge.analyses.shuffle_connectome-connectome-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.analyses.shuffle_connectome-connectome-empty_last':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.analyses.shuffle_connectome-connectome-inf':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.analyses.shuffle_connectome-connectome-str':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.analyses.shuffle_connectome-n_swaps-0':
        'issue #15: accepted without an error (returns DataArray)',
    # brainbridge.analyses.smooth
    'brainbridge.analyses.smooth-da-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.analyses.smooth-da-empty_first':
        'issue #15: raw ValueError: cannot reshape array of size 0 into shape (0)',
    'brainbridge.analyses.smooth-da-inf':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.analyses.smooth-da-object':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.analyses.smooth-da-str':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.analyses.smooth-da-wrong_dims':
        'issue #15: accepted without an error (returns DataArray)',
    # brainbridge.analyses.split_half_ceiling
    'brainbridge.analyses.split_half_ceiling-responses-constant':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.analyses.split_half_ceiling-responses-single':
        "issue #15: returns NaN / inf in ['result']",
    # brainbridge.analyses.structure_function
    'brainbridge.analyses.structure_function-n_permutations-0':
        'issue #15: accepted without an error (returns Dataset)',
    # brainbridge.analyses.variance_partitioning
    'brainbridge.analyses.variance_partitioning-responses-constant':
        'issue #15: returns NaN / inf in ["result[\'variance\']", "result[\'r2\']"]',
    # brainbridge.encoders.AttentionReadout
    'brainbridge.encoders.AttentionReadout-X-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.encoders.AttentionReadout-X-empty_last':
        'issue #15: raw RuntimeError: cannot reshape tensor of 0 elements into shape [-1, 0] because the ',
    'brainbridge.encoders.AttentionReadout-X-object':
        "issue #15: raw TypeError: ufunc 'isfinite' not supported for the input types, and the inputs cou",
    'brainbridge.encoders.AttentionReadout-X-str':
        "issue #15: raw TypeError: ufunc 'isfinite' not supported for the input types, and the inputs cou",
    'brainbridge.encoders.AttentionReadout-y-complex':
        'issue #15: accepted without an error (returns AttentionReadout)',
    'brainbridge.encoders.AttentionReadout-y-empty_last':
        'issue #15: raw UserWarning: std(): degrees of freedom is <= 0. Correction should be strictly les',
    'brainbridge.encoders.AttentionReadout-y-object':
        "issue #15: raw TypeError: ufunc 'isfinite' not supported for the input types, and the inputs cou",
    'brainbridge.encoders.AttentionReadout-y-str':
        "issue #15: raw TypeError: ufunc 'isfinite' not supported for the input types, and the inputs cou",
    'brainbridge.encoders.AttentionReadout-y-wrong_dims':
        'issue #15: accepted without an error (returns AttentionReadout)',
    # brainbridge.encoders.BandedRidgeEncoder
    'brainbridge.encoders.BandedRidgeEncoder-X-all_nan':
        'issue #15: message does not name the argument: ValueError: Input X contains NaN. [+3 more lines;',
    'brainbridge.encoders.BandedRidgeEncoder-X-complex':
        'issue #15: message does not name the argument: ValueError: Complex data not supported [[-1.53747',
    'brainbridge.encoders.BandedRidgeEncoder-X-empty_first':
        'issue #15: message does not name the argument: ValueError: Found array with 0 sample(s) (shape=(',
    'brainbridge.encoders.BandedRidgeEncoder-X-empty_last':
        'issue #15: message does not name the argument: ValueError: Found array with 0 feature(s) (shape=',
    'brainbridge.encoders.BandedRidgeEncoder-X-inf':
        'issue #15: message does not name the argument: ValueError: Input X contains infinity or a value ',
    'brainbridge.encoders.BandedRidgeEncoder-X-nan':
        'issue #15: message does not name the argument: ValueError: Input X contains NaN. [+3 more lines;',
    'brainbridge.encoders.BandedRidgeEncoder-X-object':
        'issue #15: message does not name the argument: ValueError: Input X contains NaN. [+3 more lines;',
    'brainbridge.encoders.BandedRidgeEncoder-X-single':
        'issue #15: message does not name the argument: ValueError: Found input variables with inconsiste',
    'brainbridge.encoders.BandedRidgeEncoder-X-str':
        'issue #15: accepted without an error (returns BandedRidgeEncoder)',
    'brainbridge.encoders.BandedRidgeEncoder-X-wrong_dims':
        'issue #15: message does not name the argument: ValueError: Expected 2D array, got 1D array inste',
    'brainbridge.encoders.BandedRidgeEncoder-cv--1':
        'issue #15: message does not name the argument: ValueError: k-fold cross-validation requires at l',
    'brainbridge.encoders.BandedRidgeEncoder-cv-0':
        'issue #15: message does not name the argument: ValueError: k-fold cross-validation requires at l',
    'brainbridge.encoders.BandedRidgeEncoder-cv-True':
        'issue #15: message does not name the argument: ValueError: k-fold cross-validation requires at l',
    'brainbridge.encoders.BandedRidgeEncoder-cv-huge':
        'issue #15: message does not name the argument: ValueError: Cannot have number of splits n_splits',
    'brainbridge.encoders.BandedRidgeEncoder-n_iter-huge':
        'issue #15: message does not name the argument: ValueError: Maximum allowed dimension exceeded',
    'brainbridge.encoders.BandedRidgeEncoder-y-all_nan':
        'issue #15: message does not name the argument: ValueError: Input y contains NaN.',
    'brainbridge.encoders.BandedRidgeEncoder-y-complex':
        'issue #15: message does not name the argument: ValueError: Complex data not supported [[ 1.57425',
    'brainbridge.encoders.BandedRidgeEncoder-y-empty_first':
        'issue #15: message does not name the argument: ValueError: Found array with 0 sample(s) (shape=(',
    'brainbridge.encoders.BandedRidgeEncoder-y-empty_last':
        'issue #15: message does not name the argument: ValueError: Found array with 0 feature(s) (shape=',
    'brainbridge.encoders.BandedRidgeEncoder-y-inf':
        'issue #15: message does not name the argument: ValueError: Input y contains infinity or a value ',
    'brainbridge.encoders.BandedRidgeEncoder-y-nan':
        'issue #15: message does not name the argument: ValueError: Input y contains NaN.',
    'brainbridge.encoders.BandedRidgeEncoder-y-object':
        'issue #15: accepted without an error (returns BandedRidgeEncoder)',
    'brainbridge.encoders.BandedRidgeEncoder-y-single':
        'issue #15: message does not name the argument: ValueError: Found input variables with inconsiste',
    'brainbridge.encoders.BandedRidgeEncoder-y-str':
        'issue #15: accepted without an error (returns BandedRidgeEncoder)',
    'brainbridge.encoders.BandedRidgeEncoder-y-wrong_dims':
        'issue #15: accepted without an error (returns BandedRidgeEncoder)',
    # brainbridge.encoders.RidgeEncoder
    'brainbridge.encoders.RidgeEncoder-X-complex':
        'issue #15: message does not name the argument: ValueError: Complex data not supported [[-1.53747',
    'brainbridge.encoders.RidgeEncoder-X-empty_first':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.RidgeEncoder-X-empty_last':
        'issue #15: message does not name the argument: ValueError: Found array with 0 feature(s) (shape=',
    'brainbridge.encoders.RidgeEncoder-X-single':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.RidgeEncoder-X-str':
        'issue #15: accepted without an error (returns RidgeEncoder)',
    'brainbridge.encoders.RidgeEncoder-X-wrong_dims':
        'issue #15: message does not name the argument: ValueError: Expected 2D array, got 1D array inste',
    'brainbridge.encoders.RidgeEncoder-Y-complex':
        'issue #15: message does not name the argument: ValueError: Complex data not supported [[ 1.57425',
    'brainbridge.encoders.RidgeEncoder-Y-empty_first':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.RidgeEncoder-Y-empty_last':
        'issue #15: message does not name the argument: ValueError: Found array with 0 feature(s) (shape=',
    'brainbridge.encoders.RidgeEncoder-Y-single':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.RidgeEncoder-Y-str':
        'issue #15: accepted without an error (returns RidgeEncoder)',
    'brainbridge.encoders.RidgeEncoder-Y-wrong_dims':
        'issue #15: accepted without an error (returns RidgeEncoder)',
    'brainbridge.encoders.RidgeEncoder-cv-True':
        'issue #15: message does not name the argument: ValueError: k-fold cross-validation requires at l',
    # brainbridge.encoders.fit_distributed
    'brainbridge.encoders.fit_distributed-client-None':
        "issue #15: raw AttributeError: 'NoneType' object has no attribute 'nthreads'",
    # brainbridge.encoders.fit_lnp
    'brainbridge.encoders.fit_lnp-counts-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.encoders.fit_lnp-counts-object':
        'issue #15: accepted without an error (returns LNP)',
    'brainbridge.encoders.fit_lnp-counts-str':
        'issue #15: accepted without an error (returns LNP)',
    'brainbridge.encoders.fit_lnp-stimulus-all_nan':
        'issue #15: message does not name the argument: ValueError: Input X contains NaN. [+3 more lines;',
    'brainbridge.encoders.fit_lnp-stimulus-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.encoders.fit_lnp-stimulus-inf':
        'issue #15: message does not name the argument: ValueError: Input X contains infinity or a value ',
    'brainbridge.encoders.fit_lnp-stimulus-nan':
        'issue #15: message does not name the argument: ValueError: Input X contains NaN. [+3 more lines;',
    'brainbridge.encoders.fit_lnp-stimulus-object':
        'issue #15: message does not name the argument: ValueError: Input X contains NaN. [+3 more lines;',
    'brainbridge.encoders.fit_lnp-stimulus-str':
        'issue #15: accepted without an error (returns LNP)',
    # brainbridge.encoders.lagged
    'brainbridge.encoders.lagged-features-complex':
        'issue #15: message does not name the argument: AssemblyError: Invalid assembly: 1 problem: - val',
    'brainbridge.encoders.lagged-features-empty_first':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.encoders.lagged-features-empty_last':
        "issue #15: message does not name the argument: AssemblyError: 'data' has 0 entries along 'unit' ",
    # brainbridge.encoders.solve_banded_ridge_random_search
    'brainbridge.encoders.solve_banded_ridge_random_search-X-all_nan':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-empty_first':
        'issue #15: raw IndexError: index is out of bounds for dimension with size 0',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-empty_last':
        'issue #15: accepted without an error (returns BandedRidgeResult)',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-inf':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-nan':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-object':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-single':
        'issue #15: raw IndexError: index 20 is out of bounds for dimension 0 with size 1',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-str':
        'issue #15: accepted without an error (returns BandedRidgeResult)',
    'brainbridge.encoders.solve_banded_ridge_random_search-X-wrong_dims':
        'issue #15: raw IndexError: too many indices for tensor of dimension 1',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-all_nan':
        "issue #15: returns NaN / inf in ['result[3]', 'result[7]']",
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-empty_first':
        'issue #15: raw IndexError: index is out of bounds for dimension with size 0',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-empty_last':
        'issue #15: message does not name the argument: ValueError: range() arg 3 must not be zero',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-inf':
        'issue #15: raw RuntimeWarning: invalid value encountered in matmul',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-nan':
        "issue #15: returns NaN / inf in ['result[3]', 'result[7]']",
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-object':
        'issue #15: accepted without an error (returns BandedRidgeResult)',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-single':
        'issue #15: raw IndexError: index 20 is out of bounds for dimension 0 with size 1',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-str':
        'issue #15: accepted without an error (returns BandedRidgeResult)',
    'brainbridge.encoders.solve_banded_ridge_random_search-Y-wrong_dims':
        'issue #15: message does not name the argument: ValueError: not enough values to unpack (expected',
    'brainbridge.encoders.solve_banded_ridge_random_search-alphas-complex':
        'issue #15: accepted without an error (returns BandedRidgeResult)',
    'brainbridge.encoders.solve_banded_ridge_random_search-alphas-empty_first':
        'issue #15: raw IndexError: argmax(): Expected reduction dim 0 to have non-zero size.',
    'brainbridge.encoders.solve_banded_ridge_random_search-alphas-inf':
        "issue #15: returns NaN / inf in ['result[0]', 'result[1]', 'result[3]', 'result[4]']",
    'brainbridge.encoders.solve_banded_ridge_random_search-alphas-nan':
        "issue #15: returns NaN / inf in ['result[4]']",
    'brainbridge.encoders.solve_banded_ridge_random_search-alphas-object':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.object_. The only supported typ",
    'brainbridge.encoders.solve_banded_ridge_random_search-alphas-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    # brainbridge.encoders.solve_ridge_cv
    'brainbridge.encoders.solve_ridge_cv-X-all_nan':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_ridge_cv-X-complex':
        'issue #15: accepted without an error (returns RidgeCVResult)',
    'brainbridge.encoders.solve_ridge_cv-X-empty_first':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.solve_ridge_cv-X-empty_last':
        'issue #15: accepted without an error (returns RidgeCVResult)',
    'brainbridge.encoders.solve_ridge_cv-X-inf':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_ridge_cv-X-nan':
        'issue #15: message does not name the argument: LinAlgError: Eigenvalues did not converge',
    'brainbridge.encoders.solve_ridge_cv-X-object':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.object_. The only supported typ",
    'brainbridge.encoders.solve_ridge_cv-X-single':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.solve_ridge_cv-X-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    'brainbridge.encoders.solve_ridge_cv-X-wrong_dims':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: expected X (n_samples',
    'brainbridge.encoders.solve_ridge_cv-Y-all_nan':
        "issue #15: returns NaN / inf in ['result[2]', 'result[4]']",
    'brainbridge.encoders.solve_ridge_cv-Y-complex':
        'issue #15: accepted without an error (returns RidgeCVResult)',
    'brainbridge.encoders.solve_ridge_cv-Y-empty_first':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.solve_ridge_cv-Y-empty_last':
        'issue #15: raw ValueError: need at least one array to concatenate',
    'brainbridge.encoders.solve_ridge_cv-Y-inf':
        'issue #15: raw RuntimeWarning: invalid value encountered in matmul',
    'brainbridge.encoders.solve_ridge_cv-Y-nan':
        "issue #15: returns NaN / inf in ['result[2]', 'result[4]']",
    'brainbridge.encoders.solve_ridge_cv-Y-object':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.object_. The only supported typ",
    'brainbridge.encoders.solve_ridge_cv-Y-single':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: X and Y must have the',
    'brainbridge.encoders.solve_ridge_cv-Y-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    'brainbridge.encoders.solve_ridge_cv-Y-wrong_dims':
        'issue #15: message does not name the argument: ValueError: Invalid shapes: expected X (n_samples',
    'brainbridge.encoders.solve_ridge_cv-cv-True':
        'issue #15: message does not name the argument: ValueError: k-fold cross-validation requires at l',
    # brainbridge.encoders.split_r2_score
    'brainbridge.encoders.split_r2_score-y_pred_split-all_nan':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.encoders.split_r2_score-y_pred_split-complex':
        'issue #15: accepted without an error (returns ndarray)',
    'brainbridge.encoders.split_r2_score-y_pred_split-empty_first':
        'issue #15: accepted without an error (returns ndarray)',
    'brainbridge.encoders.split_r2_score-y_pred_split-inf':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.encoders.split_r2_score-y_pred_split-nan':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.encoders.split_r2_score-y_pred_split-object':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.object_. The only supported typ",
    'brainbridge.encoders.split_r2_score-y_pred_split-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    'brainbridge.encoders.split_r2_score-y_true-all_nan':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.encoders.split_r2_score-y_true-complex':
        'issue #15: accepted without an error (returns ndarray)',
    'brainbridge.encoders.split_r2_score-y_true-inf':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.encoders.split_r2_score-y_true-nan':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.encoders.split_r2_score-y_true-object':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.object_. The only supported typ",
    'brainbridge.encoders.split_r2_score-y_true-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    # brainbridge.snn.ConnectomeNetwork
    'brainbridge.snn.ConnectomeNetwork-connectome-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.ConnectomeNetwork-connectome-object':
        'issue #15: accepted without an error (returns ConnectomeNetwork)',
    'brainbridge.snn.ConnectomeNetwork-connectome-str':
        'issue #15: accepted without an error (returns ConnectomeNetwork)',
    # brainbridge.snn.ELM
    'brainbridge.snn.ELM-x-complex':
        'issue #15: raw RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexDouble and F',
    # brainbridge.snn.KuramotoClassifier
    'brainbridge.snn.KuramotoClassifier-channels--1':
        'issue #15: raw RuntimeError: Trying to create tensor with negative dimension -1: [-1, 3]',
    'brainbridge.snn.KuramotoClassifier-channels-0':
        'issue #15: raw UserWarning: Initializing zero-element tensors is a no-op',
    'brainbridge.snn.KuramotoClassifier-channels-2.5':
        "issue #15: message does not name the argument: TypeError: empty(): argument 'size' (position 1) ",
    'brainbridge.snn.KuramotoClassifier-channels-True':
        "issue #15: message does not name the argument: TypeError: empty(): argument 'size' (position 1) ",
    'brainbridge.snn.KuramotoClassifier-channels-huge':
        "issue #15: message does not name the argument: TypeError: empty(): argument 'size' failed to unp",
    'brainbridge.snn.KuramotoClassifier-channels-nan':
        "issue #15: message does not name the argument: TypeError: empty(): argument 'size' (position 1) ",
    # brainbridge.snn.LIF
    'brainbridge.snn.LIF-beta-True':
        'issue #15: accepted without an error (returns Tensor)',
    'brainbridge.snn.LIF-x-complex':
        'issue #15: raw NotImplementedError: "ge_cpu" not implemented for \'ComplexDouble\'',
    'brainbridge.snn.LIF-x-str':
        "issue #15: raw AttributeError: 'numpy.ndarray' object has no attribute 'dim'",
    # brainbridge.snn.RLIF
    'brainbridge.snn.RLIF-x-complex':
        'issue #15: raw NotImplementedError: "ge_cpu" not implemented for \'ComplexDouble\'',
    'brainbridge.snn.RLIF-x-str':
        "issue #15: raw AttributeError: 'numpy.ndarray' object has no attribute 'dim'",
    # brainbridge.snn.coincidence_factor
    'brainbridge.snn.coincidence_factor-spikes_data-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.coincidence_factor-spikes_data-object':
        'issue #15: accepted without an error (returns float)',
    'brainbridge.snn.coincidence_factor-spikes_data-str':
        'issue #15: accepted without an error (returns float)',
    'brainbridge.snn.coincidence_factor-spikes_data-wrong_dims':
        'issue #15: accepted without an error (returns float)',
    'brainbridge.snn.coincidence_factor-spikes_model-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.coincidence_factor-spikes_model-object':
        'issue #15: accepted without an error (returns float)',
    'brainbridge.snn.coincidence_factor-spikes_model-str':
        'issue #15: accepted without an error (returns float)',
    'brainbridge.snn.coincidence_factor-spikes_model-wrong_dims':
        'issue #15: accepted without an error (returns float)',
    # brainbridge.snn.connectome_simulator
    'brainbridge.snn.connectome_simulator-conn-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.connectome_simulator-conn-object':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.snn.connectome_simulator-conn-str':
        'issue #15: accepted without an error (returns DataArray)',
    # brainbridge.snn.connectome_step
    'brainbridge.snn.connectome_step-x-complex':
        'issue #15: raw RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::complex<do',
    'brainbridge.snn.connectome_step-x-str':
        "issue #15: message does not name the argument: TypeError: zeros_like(): argument 'input' (positi",
    'brainbridge.snn.connectome_step-x-wrong_dims':
        'issue #15: raw RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x1 and 2x2)',
    # brainbridge.snn.elm_step
    'brainbridge.snn.elm_step-x-complex':
        'issue #15: raw RuntimeError: mat1 and mat2 must have the same dtype, but got ComplexDouble and F',
    'brainbridge.snn.elm_step-x-str':
        "issue #15: raw RuntimeError: Can't call numpy() on Tensor that requires grad. Use tensor.detach(",
    'brainbridge.snn.elm_step-x-wrong_dims':
        'issue #15: raw RuntimeError: The size of tensor a (3) must match the size of tensor b (2) at non',
    # brainbridge.snn.evaluate
    'brainbridge.snn.evaluate-batch_size--1':
        'issue #15: message does not name the argument: ValueError: torch.cat(): expected a non-empty lis',
    'brainbridge.snn.evaluate-batch_size-0':
        'issue #15: message does not name the argument: ValueError: range() arg 3 must not be zero',
    'brainbridge.snn.evaluate-batch_size-2.5':
        "issue #15: message does not name the argument: TypeError: 'float' object cannot be interpreted a",
    'brainbridge.snn.evaluate-batch_size-True':
        'issue #15: accepted without an error (returns tuple)',
    'brainbridge.snn.evaluate-batch_size-nan':
        "issue #15: message does not name the argument: TypeError: 'float' object cannot be interpreted a",
    # brainbridge.snn.forward_sequence
    'brainbridge.snn.forward_sequence-x-complex':
        'issue #15: raw NotImplementedError: "ge_cpu" not implemented for \'ComplexDouble\'',
    'brainbridge.snn.forward_sequence-x-str':
        "issue #15: raw AttributeError: 'numpy.ndarray' object has no attribute 'dim'",
    # brainbridge.snn.grasshopper_task
    'brainbridge.snn.grasshopper_task-history-0':
        'issue #15: accepted without an error (returns Task)',
    # brainbridge.snn.kuramoto_energy
    'brainbridge.snn.kuramoto_energy-n--1':
        'issue #15: raw RuntimeError: unflatten got an unexpected error: only one dimension can be inferr',
    'brainbridge.snn.kuramoto_energy-n-0':
        "issue #15: raw RuntimeError: unflatten: Provided sizes [-1, 0] don't multiply up to the size of ",
    'brainbridge.snn.kuramoto_energy-n-2.5':
        "issue #15: message does not name the argument: TypeError: unflatten(): argument 'sizes' failed t",
    'brainbridge.snn.kuramoto_energy-n-True':
        'issue #15: accepted without an error (returns Tensor)',
    'brainbridge.snn.kuramoto_energy-n-huge':
        "issue #15: message does not name the argument: TypeError: unflatten(): argument 'sizes' failed t",
    'brainbridge.snn.kuramoto_energy-n-nan':
        "issue #15: message does not name the argument: TypeError: unflatten(): argument 'sizes' failed t",
    'brainbridge.snn.kuramoto_energy-x-complex':
        'issue #15: raw RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::complex<do',
    'brainbridge.snn.kuramoto_energy-x-str':
        "issue #15: raw TypeError: unsupported operand type(s) for @: 'numpy.ndarray' and 'Tensor'",
    'brainbridge.snn.kuramoto_energy-x-wrong_dims':
        'issue #15: raw RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x1 and 4x4)',
    # brainbridge.snn.kuramoto_step
    'brainbridge.snn.kuramoto_step-n--1':
        'issue #15: raw RuntimeError: unflatten got an unexpected error: only one dimension can be inferr',
    'brainbridge.snn.kuramoto_step-n-0':
        "issue #15: raw RuntimeError: unflatten: Provided sizes [-1, 0] don't multiply up to the size of ",
    'brainbridge.snn.kuramoto_step-n-2.5':
        "issue #15: message does not name the argument: TypeError: unflatten(): argument 'sizes' failed t",
    'brainbridge.snn.kuramoto_step-n-True':
        'issue #15: accepted without an error (returns tuple)',
    'brainbridge.snn.kuramoto_step-n-huge':
        "issue #15: message does not name the argument: TypeError: unflatten(): argument 'sizes' failed t",
    'brainbridge.snn.kuramoto_step-n-nan':
        "issue #15: message does not name the argument: TypeError: unflatten(): argument 'sizes' failed t",
    'brainbridge.snn.kuramoto_step-x-complex':
        'issue #15: raw RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::complex<do',
    'brainbridge.snn.kuramoto_step-x-str':
        "issue #15: raw TypeError: unsupported operand type(s) for @: 'numpy.ndarray' and 'Tensor'",
    'brainbridge.snn.kuramoto_step-x-wrong_dims':
        'issue #15: raw RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x1 and 4x4)',
    # brainbridge.snn.lif_seq
    'brainbridge.snn.lif_seq-x_seq-complex':
        'issue #15: raw NotImplementedError: "ge_cpu" not implemented for \'ComplexDouble\'',
    'brainbridge.snn.lif_seq-x_seq-str':
        "issue #15: raw AttributeError: 'numpy.ndarray' object has no attribute 'dim'",
    # brainbridge.snn.lif_step
    'brainbridge.snn.lif_step-refractory--1':
        'issue #15: accepted without an error (returns tuple)',
    'brainbridge.snn.lif_step-refractory-2.5':
        'issue #15: accepted without an error (returns tuple)',
    'brainbridge.snn.lif_step-refractory-True':
        'issue #15: accepted without an error (returns tuple)',
    'brainbridge.snn.lif_step-refractory-huge':
        'issue #15: raw OverflowError: int too big to convert',
    'brainbridge.snn.lif_step-refractory-nan':
        'issue #15: accepted without an error (returns tuple)',
    'brainbridge.snn.lif_step-x-complex':
        'issue #15: raw NotImplementedError: "ge_cpu" not implemented for \'ComplexDouble\'',
    'brainbridge.snn.lif_step-x-str':
        "issue #15: message does not name the argument: TypeError: zeros_like(): argument 'input' (positi",
    # brainbridge.snn.record
    'brainbridge.snn.record-inputs-complex':
        'issue #15: raw NotImplementedError: "ge_cpu" not implemented for \'ComplexDouble\'',
    'brainbridge.snn.record-inputs-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    'brainbridge.snn.record-inputs-wrong_dims':
        'issue #15: accepted without an error (returns dict)',
    # brainbridge.snn.sample_spikes
    'brainbridge.snn.sample_spikes-log_rate-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.sample_spikes-log_rate-object':
        'issue #15: accepted without an error (returns ndarray)',
    'brainbridge.snn.sample_spikes-log_rate-str':
        'issue #15: accepted without an error (returns ndarray)',
    # brainbridge.snn.scaled_tanh
    'brainbridge.snn.scaled_tanh-z-complex':
        'issue #15: accepted without an error (returns Tensor)',
    'brainbridge.snn.scaled_tanh-z-str':
        "issue #15: raw UFuncTypeError: ufunc 'multiply' did not contain a loop with signature matching t",
    # brainbridge.snn.simulate_stimulation
    'brainbridge.snn.simulate_stimulation-network-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.simulate_stimulation-network-object':
        'issue #15: accepted without an error (returns DataArray)',
    'brainbridge.snn.simulate_stimulation-network-str':
        'issue #15: accepted without an error (returns DataArray)',
    # brainbridge.snn.spike_timing
    'brainbridge.snn.spike_timing-rate-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.spike_timing-rate-str':
        'issue #15: accepted without an error (returns Dataset)',
    'brainbridge.snn.spike_timing-spikes-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.spike_timing-spikes-str':
        'issue #15: accepted without an error (returns Dataset)',
    # brainbridge.snn.task_score
    'brainbridge.snn.task_score-output-complex':
        'issue #15: accepted without an error (returns float)',
    'brainbridge.snn.task_score-output-empty_first':
        'issue #15: raw RuntimeError: The size of tensor a (0) must match the size of tensor b (4) at non',
    'brainbridge.snn.task_score-output-nan':
        "issue #15: returns NaN / inf in ['result']",
    'brainbridge.snn.task_score-output-str':
        "issue #15: raw TypeError: can't convert np.ndarray of type numpy.str_. The only supported types ",
    'brainbridge.snn.task_score-output-wrong_dims':
        'issue #15: accepted without an error (returns float)',
    # brainbridge.snn.threshold_spikes
    'brainbridge.snn.threshold_spikes-rate-complex':
        'issue #15: complex input: the imaginary part is dropped (a warning, no error)',
    'brainbridge.snn.threshold_spikes-rate-str':
        'issue #15: accepted without an error (returns ndarray)',
}

# Public callables deliberately not walked through the matrix, with the reason.
EXEMPT: dict[str, str] = {
    "AssemblyError": "exception class",
    "StudyError": "exception class",
    "Section": "report content dataclass; write_report checks it (registered)",
    "Study": "parsed study dataclass; built and checked by load_study (registered)",
    "Units": "result record of unit_table (registered)",
    "ModelEntry": "registry record of brainbridge.models; not called with data",
    "TextPreprocess": "needs a Hugging Face tokenizer (network); minilm covers its sizes (registered)",
    "LNP": "result of fit_lnp (registered)",
    "RidgeCVResult": "result of solve_ridge_cv (registered)",
    "NoiseCeiling": "result NamedTuple of noise_ceiling (registered)",
    "PermutationResult": "result NamedTuple of permutation_test (registered)",
    "Graph": "graph container; as_graph / knn_graph build and check it (registered)",
    "Task": "task dataclass; built and checked by the *_task factories (registered)",
    "ConnectomeSimulator": "returned by connectome_simulator (registered, called through it)",
    "ConnectomeParams": "parameter NamedTuple of connectome_step (registered)",
    "ConnectomeState": "state NamedTuple of connectome_step (registered)",
    "ELMParams": "parameter NamedTuple of elm_step (registered)",
    "ELMState": "state NamedTuple of elm_step (registered)",
    "KuramotoParams": "parameter NamedTuple of kuramoto_step (registered)",
    "KuramotoState": "state NamedTuple of Kuramoto (registered)",
    "LIFParams": "parameter NamedTuple of lif_step (registered)",
    "LIFState": "state NamedTuple of lif_step (registered)",
}
# plot_* functions: figures of results, covered by tests/test_plots.py.
EXEMPT_PREFIX = ("plot_",)

MODULES = ("brainbridge", "brainbridge.ann", "brainbridge.models", "brainbridge.loaders",
           "brainbridge.encoders", "brainbridge.snn", "brainbridge.analyses", "brainbridge.studies")
REGISTRY: dict[str, Spec] = _registry()
SEED = 20261203
# A hang guard only: generous, because the alarm interrupts whatever runs, and a first call may
# compile numba kernels for 20 s or more (interrupting numba's compiler breaks it for the session).
CASE_TIMEOUT_S = 300


def _resolve(key: str) -> Any:
    module, _, name = key.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _public() -> list[tuple[str, str, Any]]:
    out = []
    for module in MODULES:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj) and not isinstance(obj, type(argparse)):
                out.append((module, name, obj))
    return out


def test_every_public_name_is_registered():
    covered = {id(_resolve(key)) for key in REGISTRY}
    missing = [f"{module}.{name}" for module, name, obj in _public()
               if id(obj) not in covered and name not in EXEMPT and not name.startswith(EXEMPT_PREFIX)]
    assert not missing, (f"public names without a bad-input Spec in tests/bad_input_cases.py: {missing}; "
                         "register them (or exempt them, with the reason, in EXEMPT)")
    stale = [key for key in REGISTRY if not hasattr(importlib.import_module(key.rpartition(".")[0]),
                                                     key.rpartition(".")[2])]
    assert not stale
    public_names = {name for _, name, _ in _public()}
    assert not set(EXEMPT) - public_names, "EXEMPT names that are no longer public"


# ------------------------------------------------------------------------------ machinery


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """A hang is a failure, not a stuck suite."""
    def handler(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {seconds} s (a hang or an unbounded allocation)")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _call(key: str, kw: dict[str, Any]) -> Any:
    spec, obj = REGISTRY[key], _resolve(key)
    with _time_limit(CASE_TIMEOUT_S):
        return spec.call(obj, kw) if spec.call is not None else obj(**kw)


def _names(msg: str, names: tuple[str, ...]) -> bool:
    """Whether the message names one of the arguments in quotes (or as a --flag)."""
    for name in names:
        variants = {name, "--" + name.replace("_", "-")}
        for v in variants:
            if re.search(rf"""['"`]{re.escape(v)}['"`\[]""", msg) or (v.startswith("--") and v in msg):
                return True
        if f"Invalid {name}:" in msg:  # validate(da, name=...) / AssemblyError's own format
            return True
    return False


def _nonfinite(result: Any, path: str = "result") -> list[str]:
    """Where a result holds NaN / inf (a bare meaningless number)."""
    import torch

    found: list[str] = []
    if isinstance(result, xr.Dataset):
        for k, v in result.data_vars.items():
            found += _nonfinite(v, f"{path}[{k!r}]")
    elif isinstance(result, xr.DataArray):
        found += _nonfinite(result.values, path)
    elif isinstance(result, torch.Tensor):
        if result.is_floating_point() and not bool(torch.isfinite(result.detach()).all()):
            found.append(path)
    elif isinstance(result, np.ndarray):
        if result.dtype.kind in "fc" and not np.isfinite(result).all():
            found.append(path)
    elif isinstance(result, float | np.floating):
        if not math.isfinite(result):
            found.append(path)
    elif isinstance(result, tuple | list):
        for i, v in enumerate(result):
            found += _nonfinite(v, f"{path}[{i}]")
    elif isinstance(result, dict):
        for k, v in result.items():
            found += _nonfinite(v, f"{path}[{k!r}]")
    return found


ALLOWED_ERRORS = (ValueError, TypeError)


def _expect_clear_error(key: str, kw: dict[str, Any], names: tuple[str, ...], *,
                        allow_result: str | None = None, result_may_be_nonfinite: bool = False,
                        errors: tuple[type[BaseException], ...] = ALLOWED_ERRORS) -> None:
    try:
        result = _call(key, kw)
    except errors as err:
        msg = str(err)
        assert not _is_raw(err), f"raw internal error, not a checked one: {type(err).__name__}: {msg}"
        assert _names(msg, names), f"the message does not name {names} in quotes: {type(err).__name__}: {msg}"
        return
    if allow_result is None:
        pytest.fail(f"no error for a bad {names[0]!r}: returned {type(result).__name__}")
    if not result_may_be_nonfinite:
        bad = _nonfinite(result)
        assert not bad, f"a result with NaN / inf where a number is claimed: {bad}"


# Messages of ValueErrors / TypeErrors raised by numpy, torch, xarray or python internals.
_RAW = re.compile(r"operands could not be broadcast|negative dimensions|need at least one array|"
                  r"could not convert string to float|invalid literal for|cannot reshape|"
                  r"zero-size array|object arrays are not supported|must be real number, not|"
                  r"unsupported operand type|can't convert|not supported for the input types|"
                  r"'NoneType' object|expected scalar type|ufunc|dimensions \(.*\) must",
                  re.IGNORECASE)


def _is_raw(err: BaseException) -> bool:
    return bool(_RAW.search(str(err)))


# ------------------------------------------------------------------------------ bad data


def _first_dim(v: Any) -> Any:
    return v.dims[0]


def _set_one(v: Any, value: float) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        out = v.clone().float()
        out.view(-1)[0] = value
        return out
    if isinstance(v, xr.DataArray):
        data = np.array(v.values, dtype=float)
        data.flat[0] = value
        return v.copy(data=data)
    if isinstance(v, list):
        return [_set_one(v[0], value)] + list(v[1:])
    data = np.array(v, dtype=float)
    data.flat[0] = value
    return data


def _isel(v: Any, axis: int, sl: slice) -> Any:
    import torch

    if isinstance(v, xr.DataArray):
        return v.isel({v.dims[axis]: sl})
    if isinstance(v, list):
        return v[sl] if axis == 0 else [np.asarray(e)[sl] for e in v]
    arr = v if isinstance(v, torch.Tensor) else np.asarray(v)
    index = [slice(None)] * arr.ndim
    index[axis] = sl
    return arr[tuple(index)]


def _wrong_dims(v: Any) -> Any:
    import torch

    if isinstance(v, xr.DataArray):
        return v.isel({v.dims[-1]: 0}, drop=True) if v.ndim > 1 else v.expand_dims(extra=2).transpose(...)
    if isinstance(v, torch.Tensor):
        return v[..., 0] if v.ndim > 1 else v[:, None, None]
    if isinstance(v, list):
        return np.zeros((2, 2, 2))
    arr = np.asarray(v)
    return arr[..., 0] if arr.ndim > 1 else np.stack([arr, arr], 1)[:, :, None]


def _as_dtype(v: Any, kind: str) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        base = v.detach().numpy()
    elif isinstance(v, xr.DataArray):
        base = v.values
    elif isinstance(v, list):
        base = np.asarray(v[0])
    else:
        base = np.asarray(v)
    if kind == "str":
        new = base.astype(str)
    elif kind == "complex":
        new = base.astype(complex) + 1j
    else:
        new = base.astype(object)
        new.flat[0] = None
    if isinstance(v, torch.Tensor):
        return torch.from_numpy(new) if kind == "complex" else new
    if isinstance(v, xr.DataArray):
        return v.copy(data=new)
    if isinstance(v, list):
        return [new] + list(v[1:])
    return new


def _constant(v: Any) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        return torch.ones_like(v)
    if isinstance(v, xr.DataArray):
        return v.copy(data=np.ones(v.shape))
    if isinstance(v, list):
        return [np.ones(len(e)) for e in v]
    return np.ones(np.shape(v))


def _all_nan_first(v: Any) -> Any:
    """The whole first slice (a stimulus, a subject, a time point) is NaN."""
    import torch

    if isinstance(v, torch.Tensor):
        out = v.clone().float()
        out[0] = float("nan")
        return out
    if isinstance(v, xr.DataArray):
        data = np.array(v.values, dtype=float)
        data[0] = np.nan
        return v.copy(data=data)
    if isinstance(v, list):
        return [np.full(len(v[0]), np.nan)] + list(v[1:])
    data = np.array(v, dtype=float)
    data[0] = np.nan
    return data


def _bad(v: Any, kind: str) -> Any:
    if kind == "nan":
        return _set_one(v, np.nan)
    if kind == "all_nan":
        return _all_nan_first(v)
    if kind == "inf":
        return _set_one(v, np.inf)
    if kind == "empty_first":
        return _isel(v, 0, slice(0, 0))
    if kind == "empty_last":
        return _isel(v, -1, slice(0, 0))
    if kind == "single":
        return _isel(v, 0, slice(0, 1))
    if kind == "constant":
        return _constant(v)
    if kind == "wrong_dims":
        return _wrong_dims(v)
    return _as_dtype(v, kind)


def _rdm_like(v: Any) -> bool:
    return isinstance(v, xr.DataArray) and "stimulus_" in v.dims


def _bad_rdm(v: xr.DataArray, kind: str) -> Any:
    """RDM-aware versions: shrink both stimulus dims, keep the RDM symmetric."""
    if kind in ("empty_first", "single"):
        sl = slice(0, 0) if kind == "empty_first" else slice(0, 1)
        return v.isel(stimulus=sl, stimulus_=sl)
    if kind == "empty_last":
        return v.isel(stimulus_=slice(0, 0))
    if kind == "all_nan":  # one all-NaN subject / model, or an all-NaN RDM
        data = np.array(v.values, dtype=float)
        if data.ndim > 2:
            data[0] = np.nan
        else:
            data[:] = np.nan
        return v.copy(data=data)
    if kind in ("nan", "inf"):
        data = np.array(v.values, dtype=float)
        value = np.nan if kind == "nan" else np.inf
        data[..., 0, 1] = data[..., 1, 0] = value
        return v.copy(data=data)
    if kind == "constant":
        data = np.ones(v.shape)
        idx = np.arange(v.sizes["stimulus"])
        data[..., idx, idx] = 0
        return v.copy(data=data)
    return _bad(v, kind)


def _data_cases() -> Iterator[Any]:
    for key, spec in REGISTRY.items():
        for arg, kinds in spec.data.items():
            for kind in kinds or DATA_KINDS:
                yield _param(f"{key}-{arg}-{kind}", key, arg, kind, slow=spec.slow)


_CASE_IDS: set[str] = set()  # every case id made, for test_xfail_list_names_real_cases


def _param(case_id: str, *values: Any, slow: bool = False) -> Any:
    _CASE_IDS.add(case_id)
    marks = [pytest.mark.slow] if slow else []
    if case_id in XFAIL:
        marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[case_id]))
    return pytest.param(*values, id=case_id, marks=marks)


def _valid_cases() -> Iterator[Any]:
    for key, spec in REGISTRY.items():
        if not spec.no_valid_call:
            yield _param(f"{key}-valid", key, slow=spec.slow)


@pytest.mark.parametrize("key", list(_valid_cases()))
def test_valid_call(key):
    """The factory itself is right: the valid call runs (a broken factory would hide cases)."""
    kw = REGISTRY[key].make(np.random.default_rng(SEED))
    _call(key, kw)


@pytest.mark.parametrize(("key", "arg", "kind"), list(_data_cases()))
def test_bad_data(key, arg, kind):
    spec = REGISTRY[key]
    kw = spec.make(np.random.default_rng(SEED))
    value = kw[arg]
    kw[arg] = _bad_rdm(value, kind) if _rdm_like(value) else _bad(value, kind)
    documented = spec.allowed.get((arg, kind))
    if kind == "all_nan":
        documented = documented or spec.allowed.get((arg, "nan"))
    # finite-or-error kinds: a clear error, or a result with no bare NaN / inf in it
    soft = kind in ("nan", "all_nan", "inf", "constant", "single")
    names = (arg,) + tuple(spec.aliases.get(arg, ())) + (spec.pair if spec.pair and arg in spec.pair else ())
    if kind in ("empty_first", "empty_last", "single"):
        # a shape mismatch may be reported on the other argument the caller passed ('labels', 'k', 'cv')
        names += tuple(k for k in kw if k != arg)
    _expect_clear_error(key, kw, names,
                        allow_result=documented or ("finite" if soft else None),
                        result_may_be_nonfinite=documented is not None)


# ------------------------------------------------------------------------------ bad sizes

SIZE_VALUES: dict[str, Any] = {"0": 0, "-1": -1, "2.5": 2.5, "True": True, "nan": float("nan"),
                               "huge": 2**64}


def _size_cases() -> Iterator[Any]:
    for key, spec in REGISTRY.items():
        for arg, skip in spec.sizes.items():
            for label in SIZE_VALUES:
                if label not in skip:
                    yield _param(f"{key}-{arg}-{label}", key, arg, label, slow=spec.slow)


@pytest.mark.parametrize(("key", "arg", "label"), list(_size_cases()))
def test_bad_size(key, arg, label):
    kw = REGISTRY[key].make(np.random.default_rng(SEED))
    kw[arg] = SIZE_VALUES[label]
    _expect_clear_error(key, kw, (arg,))


# ------------------------------------------------------------------------------ option typos


def _typo(value: str) -> str:
    """Drop one inner letter: 'spearman' -> 'spearmn'."""
    return value[:-2] + value[-1] if len(value) > 3 else value + "x"


def _option_cases() -> Iterator[Any]:
    for key, spec in REGISTRY.items():
        for arg in spec.options:
            yield _param(f"{key}-{arg}-typo", key, arg, slow=spec.slow)


def _option_value(key: str, arg: str, kw: dict[str, Any]) -> str:
    import inspect

    if arg in kw:
        value = kw[arg]
    else:
        obj = _resolve(key)
        value = inspect.signature(obj).parameters[arg].default
    if isinstance(value, list | tuple):
        value = value[0]
    assert isinstance(value, str), f"{key}: option {arg!r} has no string value to misspell"
    return value


@pytest.mark.parametrize(("key", "arg"), list(_option_cases()))
def test_option_typo(key, arg):
    spec = REGISTRY[key]
    kw = spec.make(np.random.default_rng(SEED))
    value = _option_value(key, arg, kw)
    bad = _typo(value)
    kw[arg] = [bad] if isinstance(kw.get(arg), list) else bad
    with pytest.raises((ValueError, FileNotFoundError)) as info:  # a name-or-path option: "no such file"
        _call(key, kw)
    msg = str(info.value)
    assert _names(msg, (arg,) + tuple(spec.aliases.get(arg, ()))), f"the message does not name {arg!r}: {msg}"
    assert "Did you mean" in msg and repr(value) in msg, f"no 'Did you mean {value!r}?': {msg}"


# ------------------------------------------------------------------------------ two inputs: ids


def _pair_cases() -> Iterator[Any]:
    for key, spec in REGISTRY.items():
        if spec.pair:
            for kind in ("disjoint_ids", "duplicated_ids", "partial_overlap"):
                yield _param(f"{key}-ids-{kind}", key, kind, slow=spec.slow)


def _relabel(v: Any, new: list[str]) -> Any:
    coords = {"stimulus": new}
    if "stimulus_" in v.dims:
        coords["stimulus_"] = new
    return v.assign_coords(coords)


@pytest.mark.parametrize(("key", "kind"), list(_pair_cases()))
def test_mismatched_ids(key, kind):
    spec = REGISTRY[key]
    a, b = spec.pair
    kw = spec.make(np.random.default_rng(SEED))
    n = kw[b].sizes["stimulus"]
    if kind == "disjoint_ids":
        kw[b] = _relabel(kw[b], ids(n, "other"))
    elif kind == "duplicated_ids":
        dup = ids(n)
        dup[1] = dup[0]
        kw[b] = _relabel(kw[b], dup)
    else:
        # half the ids shared: an outer join would fill NaN, an inner join would silently shrink;
        # both inputs are checked, so only a clear error or the aligned-subset result is fine.
        kw[b] = _relabel(kw[b], ids(n // 2) + ids(n - n // 2, "other"))
    if kind == "partial_overlap":
        try:
            _call(key, kw)
        except ALLOWED_ERRORS as err:
            assert not _is_raw(err) and _names(str(err), (a, b)), str(err)
        return
    _expect_clear_error(key, kw, (a, b))


def _pair_keys() -> list[Any]:
    return [_param(f"{key}-permutation", key, slow=spec.slow or key in SLOW_PERMUTATION)
            for key, spec in REGISTRY.items() if spec.pair]


SLOW_PERMUTATION = {"brainbridge.analyses.encoding_score"}  # cross-validated fits: seconds each


def _same(r1: Any, r2: Any) -> None:
    if isinstance(r1, xr.Dataset | xr.DataArray):
        xr.testing.assert_allclose(r1.transpose(*sorted(r1.dims)).sortby(
            [d for d in r1.dims if d in r1.coords and r1[d].dtype.kind in "UO"] or []),
            r2.transpose(*sorted(r2.dims)).sortby(
            [d for d in r2.dims if d in r2.coords and r2[d].dtype.kind in "UO"] or []), rtol=1e-6)
    elif isinstance(r1, tuple) and hasattr(r1, "_fields"):
        for f in r1._fields:
            if f != "null":
                np.testing.assert_allclose(np.asarray(getattr(r1, f), float),
                                           np.asarray(getattr(r2, f), float), rtol=1e-6)
    elif isinstance(r1, tuple):
        for u, v in zip(r1, r2):
            _same(u, v)
    else:
        np.testing.assert_allclose(np.asarray(r1, float), np.asarray(r2, float), rtol=1e-6)


@pytest.mark.parametrize("key", _pair_keys())
def test_permuting_one_input_changes_nothing(key):
    """f(x, y[perm]) == f(x, y): every two-input function aligns by stimulus id (hypothesis)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    spec = REGISTRY[key]
    a, b = spec.pair
    kw = spec.make(np.random.default_rng(SEED))
    n = kw[b].sizes["stimulus"]
    expected = _call(key, dict(kw))
    permute = spec.permute or (lambda v, p: v.isel(stimulus=p))

    @settings(max_examples=4, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.permutations(list(range(n))))
    def check(perm):
        got = _call(key, {**kw, b: permute(kw[b], np.asarray(perm))})
        _same(expected, got)

    check()


# ------------------------------------------------------------------------------ targeted cases


@pytest.mark.parametrize("key", [_param(f"{k}-stimuli-float64", k) for k in
                                 ("brainbridge.extract", "brainbridge.ablation_effect")])
def test_float64_arrays_are_accepted(key):
    """Arrays are documented as accepted stimuli: a float64 array is not a torch dtype error."""
    kw = REGISTRY[key].make(np.random.default_rng(SEED))
    kw["stimuli"] = np.asarray(kw["stimuli"], dtype=np.float64)
    assert not _nonfinite(_call(key, kw))


@pytest.mark.parametrize("key", [_param("brainbridge.encoders.fit_distributed-client-None",
                                        "brainbridge.encoders.fit_distributed")])
def test_fit_distributed_without_a_client(key):
    from brainbridge.encoders import RidgeEncoder, fit_distributed

    x = np.random.default_rng(SEED).normal(size=(20, 3))
    with pytest.raises(ALLOWED_ERRORS) as info:
        fit_distributed(RidgeEncoder(cv=3, device="cpu"), x, x, client=None)
    assert _names(str(info.value), ("client",)), str(info.value)


# ------------------------------------------------------------------------------ files: bb.load


def _write_nc(tmp: Path) -> Path:
    from bad_input_cases import asm

    return bb.save(asm(np.random.default_rng(SEED), 40, 30), tmp / "a.nc")


def _write_zarr(tmp: Path) -> Path:
    from bad_input_cases import asm

    return bb.save(asm(np.random.default_rng(SEED), 40, 30), tmp / "a.zarr")


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 64] = b"\xff" * min(64, len(data) - mid)
    path.write_bytes(bytes(data))


def _damage(kind: str, tmp: Path) -> Path:
    if kind == "nc-truncated":
        path = _write_nc(tmp)
        _truncate(path)
    elif kind == "nc-corrupt":
        path = _write_nc(tmp)
        _corrupt(path)
    elif kind == "nc-empty":
        path = tmp / "a.nc"
        path.write_bytes(b"")
    elif kind == "text-renamed-nc":
        path = tmp / "a.nc"
        path.write_text("stimulus,unit\n1,2\n")
    elif kind == "zarr-renamed-nc":
        path = _write_zarr(tmp).rename(tmp / "b.nc")
    elif kind == "nc-renamed-zarr":
        path = _write_nc(tmp).rename(tmp / "b.zarr")
    elif kind in ("zarr-chunk-deleted", "zarr-chunk-truncated"):
        store = _write_zarr(tmp)
        chunks = [p for p in store.rglob("*") if p.is_file() and p.parent.name not in ("stimulus", "unit")
                  and not p.name.startswith(".") and p.name not in ("zarr.json",)]
        chunks = [p for p in chunks if p.parent.name in ("c", "0") or p.name[:1].isdigit()]
        data_chunks = [p for p in chunks if "stimulus" not in p.parts and "unit" not in p.parts]
        target = max(data_chunks, key=lambda p: p.stat().st_size)
        if kind == "zarr-chunk-deleted":
            target.unlink()
        else:
            _truncate(target, 0.2)
        path = store
    else:  # missing
        path = tmp / "missing.nc"
    return path


FILE_KINDS = ("missing", "nc-empty", "nc-truncated", "nc-corrupt", "text-renamed-nc", "zarr-renamed-nc",
              "nc-renamed-zarr", "zarr-chunk-deleted", "zarr-chunk-truncated")


@pytest.mark.parametrize("kind", [_param(f"brainbridge.load-path-{k}", k) for k in FILE_KINDS])
def test_load_damaged_file(kind, tmp_path):
    """A damaged store is an error naming the file, never a partial or zero-filled assembly."""
    path = _damage(kind, tmp_path)
    errors = (FileNotFoundError,) if kind == "missing" else (ValueError, OSError)
    try:
        with _time_limit(CASE_TIMEOUT_S):
            result = bb.load(path)
            result.load()
    except errors as err:
        assert not _is_raw(err), f"raw error: {type(err).__name__}: {err}"
        assert path.name in str(err), f"the message does not name the file {path.name!r}: {err}"
        return
    pytest.fail(f"a damaged file ({kind}) loaded without an error: {result.sizes}")


# ------------------------------------------------------------------------------ the command line


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    from brainbridge.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def _cli(argv: list[str], capsys: Any) -> tuple[int, str]:
    """Run the CLI in-process; a traceback (any exception but SystemExit) fails the test."""
    from brainbridge.cli._main import main

    capsys.readouterr()
    try:
        with _time_limit(CASE_TIMEOUT_S * 3):
            code = main(argv)
    except SystemExit as exc:  # argparse: usage error
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    from bad_input_cases import pair

    tmp = tmp_path_factory.mktemp("cli")
    x, y = pair(np.random.default_rng(SEED), 30)
    x = x.assign_coords(layer=("unit", ["a"] * 3 + ["b"] * 3),
                        face=("stimulus", np.arange(30) < 15))
    bb.save(x, tmp / "x.nc")
    bb.save(y, tmp / "y.nc")
    return tmp


# Per subcommand: its argv on valid files ({d}: the files folder, {o}: an output folder), the
# size flags and the free-text option flags (a typo must get "Did you mean").
CLI: dict[str, dict[str, Any]] = {
    "info": dict(argv=[]),
    "datasets": dict(argv=["info", "nitime-fmri"], typo_positional=("name", 1)),
    "load": dict(argv=["{d}/x.nc", "--to", "{o}/l.nc"], no_valid="raw formats only: see the raw files below"),
    "extract": dict(no_valid="extracts a whole built-in stimulus set; tests/test_cli.py runs it",
                    argv=["--model", "efficientnet_lite0", "--stimuli", "digits", "--layers", "_fc",
                          "--out", "{o}/e.nc"], sizes={"--batch-size": ("huge",)}, typos=("--model",)),
    "compare": dict(argv=["{d}/x.nc", "{d}/y.nc", "--out", "{o}/c.nc", "-q"], sizes={"--n-boot": ("0",)},
                    typos=("--rdm", "--compare"), files=(0, 1)),
    "encode": dict(argv=["{d}/x.nc", "{d}/y.nc", "--out", "{o}/s.nc", "--cv", "3", "-q"], sizes=("--cv",),
                   files=(0, 1)),
    "selectivity": dict(argv=["{d}/x.nc", "--labels", "face", "--out", "{o}/sel.nc", "-q"],
                        sizes={"--top": (), "--n-permutations": ("0",)}, typos=("--method",), files=(0,)),
    "train": dict(argv=["--task", "adding", "--model", "lif", "--epochs", "1", "--hidden", "4",
                        "--task-arg", "n_train=8", "--task-arg", "n_test=4", "--out", "{o}/t", "-q"],
                  sizes={"--epochs": ("huge",), "--batch-size": ("huge",), "--hidden": ()}, slow=True),
    "curvature": dict(argv=["{d}/x.nc", "{d}/y.nc", "--k", "3", "--n-permutations", "9", "--out", "{o}/k.nc",
                            "-q"], sizes={"--k": (), "--n-permutations": ("0",)}, typos=("--metric",),
                      files=(0, 1)),
    "demo": dict(argv=["--study", "1_celegans_structure_function", "--out", "{o}/demo"], typos=("--study",),
                 no_valid="a full study takes minutes"),
    "run": dict(argv=["1_celegans_structure_function", "--out", "{o}/run"], typo_positional=("study", 0),
                no_valid="a full study takes minutes"),
    "report": dict(argv=["{d}/none"], files=(0,), no_valid="needs a finished study"),
}


def test_every_subcommand_is_registered():
    assert set(_subcommands()) == set(CLI), "register the new subcommand in CLI (tests/test_bad_inputs.py)"


def _argv(cmd: str, d: Path, o: Path) -> list[str]:
    return [cmd] + [a.format(d=d, o=o) for a in CLI[cmd]["argv"]]


def _set_flag(argv: list[str], flag: str, value: str) -> list[str]:
    argv = list(argv)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    return argv


def _cli_cases(kind: str) -> Iterator[Any]:
    for cmd, spec in CLI.items():
        slow = spec.get("slow", False)
        if kind == "sizes":
            sizes = spec.get("sizes", ())
            for flag in sizes:
                for label in ("0", "-1", "2.5", "nan", "huge"):
                    if isinstance(sizes, dict) and label in sizes[flag]:
                        continue  # a valid value for this flag (0 = none)
                    yield _param(f"cli-{cmd}-{flag}-{label}", cmd, flag, label, slow=slow)
        elif kind == "typos":
            for flag in spec.get("typos", ()):
                yield _param(f"cli-{cmd}-{flag}-typo", cmd, flag, slow=slow)
            if "typo_positional" in spec:
                yield _param(f"cli-{cmd}-{spec['typo_positional'][0]}-typo", cmd, None, slow=slow)
        elif kind == "files":
            for index in spec.get("files", ()):
                for damage in ("missing", "truncated", "text-renamed"):
                    yield _param(f"cli-{cmd}-file{index}-{damage}", cmd, index, damage, slow=slow)


@pytest.mark.parametrize(("cmd", "flag", "label"), list(_cli_cases("sizes")))
def test_cli_bad_size(cmd, flag, label, cli_files, tmp_path, capsys):
    value = {"huge": str(2**64)}.get(label, label)
    code, err = _cli(_set_flag(_argv(cmd, cli_files, tmp_path), flag, value), capsys)
    assert code == 2, f"exit code {code} for {flag} {value}: {err}"
    assert flag in err or flag.lstrip("-").replace("-", "_") in err, \
        f"the message does not name {flag}: {err}"


@pytest.mark.parametrize(("cmd", "flag"), list(_cli_cases("typos")))
def test_cli_typo(cmd, flag, cli_files, tmp_path, capsys):
    argv = _argv(cmd, cli_files, tmp_path)
    if flag is None:
        index = CLI[cmd]["typo_positional"][1] + 1
        good = argv[index]
        argv[index] = _typo(good)
    else:
        defaults = {"--rdm": "correlation", "--compare": "spearman", "--method": "dprime",
                    "--metric": "euclidean"}
        good = argv[argv.index(flag) + 1] if flag in argv else defaults[flag]
        argv = _set_flag(argv, flag, _typo(good))
    code, err = _cli(argv, capsys)
    assert code == 2, err
    assert "Did you mean" in err and repr(good) in err, f"no 'Did you mean {good!r}?': {err}"


@pytest.mark.parametrize(("cmd", "index", "damage"), list(_cli_cases("files")))
def test_cli_damaged_input(cmd, index, damage, cli_files, tmp_path, capsys):
    argv = _argv(cmd, cli_files, tmp_path)
    positional = [i for i, a in enumerate(argv) if a.startswith(str(cli_files))][index]
    path = tmp_path / f"in{index}.nc"
    if damage == "missing":
        pass
    elif damage == "truncated":
        source = Path(argv[positional])
        path.write_bytes(source.read_bytes()[:2000] if source.exists() else b"")
    else:
        path.write_text("not,an,assembly\n")
    argv[positional] = str(path)
    code, err = _cli(argv, capsys)
    assert code == 2, f"exit code {code}: {err}"
    assert path.name in err, f"the message does not name the file {path.name!r}: {err}"


@pytest.mark.parametrize("cmd", [_param(f"cli-{c}-valid", c, slow=s.get("slow", False))
                                 for c, s in CLI.items() if not s.get("no_valid")])
def test_cli_valid(cmd, cli_files, tmp_path, capsys):
    code, err = _cli(_argv(cmd, cli_files, tmp_path), capsys)
    assert code == 0, err


# Damaged raw files given to `brainbridge load`, written with each format's own writer.
def _raw_file(kind: str, tmp: Path) -> Path:
    import pickle

    if kind == "pkl-truncated":
        path = tmp / "worms.pkl"
        path.write_bytes(pickle.dumps({"w": {"calcium_data": np.zeros((30, 2))}})[:40])
    elif kind == "parquet-renamed-text":
        path = tmp / "worms.parquet"
        path.write_text("not parquet\n")
    elif kind == "nii-truncated":
        import nibabel as nib

        path = tmp / "bold.nii"
        nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 20), "float32"), np.eye(4)), path)
        _truncate(path)
    elif kind == "json-corrupt":
        path = tmp / "connectome.json"
        path.write_text('{"pre": ["a", "b"], "post": [')
    else:  # gifti truncated
        import nibabel as nib

        path = tmp / "sub.func.gii"
        arr = nib.gifti.GiftiDataArray(np.zeros(10, "float32"), intent="NIFTI_INTENT_TIME_SERIES")
        nib.save(nib.gifti.GiftiImage(darrays=[arr]), path)
        _truncate(path)
    return path


RAW_KINDS = ("pkl-truncated", "parquet-renamed-text", "nii-truncated", "json-corrupt", "gii-truncated")


@pytest.mark.parametrize("kind", [_param(f"cli-load-source-{k}", k) for k in RAW_KINDS])
def test_cli_load_damaged_raw_file(kind, tmp_path, capsys):
    path = _raw_file(kind, tmp_path)
    code, err = _cli(["load", str(path), "--to", str(tmp_path / "out.nc"), "-q"], capsys)
    assert code == 2, f"exit code {code}: {err}"
    assert path.name in err, f"the message does not name the file {path.name!r}: {err}"
    assert not (tmp_path / "out.nc").exists()


# ------------------------------------------------------------------------------ train checkpoints


def _checkpoint(kind: str, tmp: Path) -> Path:
    import torch

    path = tmp / "ckpt.pt"
    if kind == "garbage":
        path.write_bytes(b"\x00garbage" * 50)
    elif kind == "truncated":
        torch.save({"model": {"w": torch.zeros(100)}, "epoch": 1}, path)
        _truncate(path)
    elif kind == "foreign":
        torch.save({"something": "else"}, path)
    else:  # a folder
        path.mkdir()
    return path


@pytest.mark.parametrize("kind", [_param(f"brainbridge.snn.train-checkpoint-{k}", k)
                                  for k in ("garbage", "truncated", "foreign", "folder")])
def test_train_bad_checkpoint(kind, tmp_path):
    """train(resume=True) on a damaged or foreign checkpoint: an error naming the file, before training."""
    path = _checkpoint(kind, tmp_path)
    kw = REGISTRY["brainbridge.snn.train"].make(np.random.default_rng(SEED))
    kw.update(checkpoint=path, resume=kind != "folder")
    with pytest.raises(ALLOWED_ERRORS + (OSError,)) as info:
        _call("brainbridge.snn.train", kw)
    assert not _is_raw(info.value), f"raw error: {info.value}"
    assert path.name in str(info.value) or _names(str(info.value), ("checkpoint",)), str(info.value)


@pytest.mark.parametrize("key", [_param("brainbridge.analyses.ricci_flow-k-forwarded",
                                        "brainbridge.analyses.ricci_flow")])
def test_ricci_flow_forwards_knn_options(key):
    """ricci_flow(points, k=3) builds the kNN graph with k=3, like ricci_curvature(points, k=3)."""
    from brainbridge.analyses import ricci_flow

    x = np.random.default_rng(SEED).normal(size=(10, 3))
    assert not _nonfinite(ricci_flow(x, iterations=1, k=3, progress=False)["weight"])


def test_xfail_list_names_real_cases():
    """Every XFAIL entry is a case of this file (a renamed or removed case leaves no stale line)."""
    assert not set(XFAIL) - _CASE_IDS, sorted(set(XFAIL) - _CASE_IDS)


# ------------------------------------------------------------------------------ study files

# (path in the study, bad value, the name the message must quote, whether it is a typo)
STUDY_CASES: dict[str, tuple[tuple[Any, ...], Any, str, bool]] = {
    "n_permutations-str": (("analyses", 0, "n_permutations"), "ten", "n_permutations", False),
    "n_permutations--1": (("analyses", 0, "n_permutations"), -1, "n_permutations", False),
    "n_permutations-True": (("analyses", 0, "n_permutations"), True, "n_permutations", False),
    "k-2.5": (("analyses", 2, "k"), 2.5, "k", False),
    "random_state-str": (("random_state",), "zero", "random_state", False),
    "kind-typo": (("analyses", 0, "kind"), "selectivty", "selectivity", True),
    "model-typo": (("sources", "images", "model"), "efficientnet_lit0", "model", True),
    "quick-missing-entry": (("quick",), {"analyses.7.k": 1}, "analyses.7.k", False),
}


@pytest.mark.parametrize("case", [_param(f"brainbridge.load_study-{c}", c) for c in STUDY_CASES])
def test_study_bad_entries(case):
    """A bad study entry is a StudyError (a ValueError) naming the entry, not a raw int()/KeyError."""
    import copy

    import yaml

    from brainbridge.studies import load_study, study_dir

    path, value, name, typo = STUDY_CASES[case]
    study = copy.deepcopy(yaml.safe_load((study_dir() / "2_vision_units.yaml").read_text()))
    target = study
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValueError) as info:
        load_study(study, quick=case.startswith("quick"))  # the quick overrides replace n_permutations
    msg = str(info.value)
    assert not _is_raw(info.value) and f"'{name}'" in msg, msg
    if typo:
        assert "Did you mean" in msg, f"no 'Did you mean {name!r}?': {msg}"


# ------------------------------------------------------------------------------ random shapes

SHAPE_KEYS = ("brainbridge.analyses.rsa", "brainbridge.analyses.cka",
              "brainbridge.analyses.neuron_correlation", "brainbridge.analyses.match_units",
              "brainbridge.analyses.curvature_alignment")


@pytest.mark.parametrize("key", [_param(f"{k}-random-shapes", k) for k in SHAPE_KEYS])
def test_random_shapes_give_a_number_or_a_clear_error(key):
    """Tiny and lopsided shapes (2 stimuli, 1 unit, ...): a finite result or a clear error (hypothesis)."""
    from bad_input_cases import pair
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    spec = REGISTRY[key]
    a, b = spec.pair

    @settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.integers(2, 9), st.integers(1, 4), st.integers(1, 4))
    def check(n, u, v):
        kw = spec.make(np.random.default_rng(SEED))
        kw[a], kw[b] = pair(np.random.default_rng(n * 100 + u * 10 + v), n, u, v)
        try:
            result = _call(key, kw)
        except ALLOWED_ERRORS as err:
            assert not _is_raw(err) and _names(str(err), tuple(kw)), f"n={n}, u={u}, v={v}: {err}"
            return
        assert not _nonfinite(result), f"n={n}, u={u}, v={v}: NaN / inf in {_nonfinite(result)}"

    check()


# ------------------------------------------------------------------------------ save: never lose a file


def _save_target(kind: str, tmp: Path) -> Path:
    import os

    if kind == "missing-folder":
        return tmp / "no" / "such" / "a.nc"
    if kind == "read-only-file":
        path = bb.save(bb.assembly(np.zeros((2, 2)), dims=("stimulus", "unit"), modality="ann"), tmp / "a.nc")
        os.chmod(path, 0o444)
        return path
    if kind == "foreign-folder":
        folder = tmp / "notes.zarr"
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
        return folder
    if kind == "foreign-file":
        path = tmp / "notes.nc"
        path.write_text("my notes, not an assembly")
        return path
    raise AssertionError(kind)


SAVE_KINDS = ("missing-folder", "read-only-file", "foreign-folder", "foreign-file")


@pytest.mark.parametrize("kind", [_param(f"brainbridge.save-path-{k}", k) for k in SAVE_KINDS])
def test_save_never_replaces_what_it_did_not_write(kind, tmp_path):
    """save refuses (naming the user's path) rather than replacing a file it did not write."""
    import os

    from bad_input_cases import asm

    path = _save_target(kind, tmp_path)
    before = sorted((p.name, p.read_bytes()) for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        path.read_bytes() if path.exists() else None)
    with pytest.raises((ValueError, OSError)) as info:
        bb.save(asm(np.random.default_rng(SEED)), path)
    assert str(path) in str(info.value) or path.name in str(info.value), str(info.value)
    assert ".tmp" not in str(info.value).replace(str(path), ""), f"names a temporary file: {info.value}"
    after = sorted((p.name, p.read_bytes()) for p in path.rglob("*") if p.is_file()) if path.is_dir() else (
        path.read_bytes() if path.exists() else None)
    assert before == after, "the existing file or folder was changed"
    if kind == "read-only-file":
        assert (os.stat(path).st_mode & 0o777) == 0o444


@pytest.mark.parametrize("cmd", [_param(f"cli-{c}---out-wrong-suffix", c, slow=s.get("slow", False))
                                 for c, s in CLI.items() if any("--out" == a for a in s["argv"])
                                 and c not in ("demo", "run")])  # demo / run: --out is a folder
def test_cli_out_with_a_wrong_suffix(cmd, cli_files, tmp_path, capsys):
    """`--out r.txt` is refused before any work (the suffix picks the format)."""
    argv = _set_flag(_argv(cmd, cli_files, tmp_path), "--out", str(tmp_path / "r.txt"))
    code, err = _cli(argv, capsys)
    assert code == 2 and "--out" in err, err
    assert not (tmp_path / "r.txt").exists()
