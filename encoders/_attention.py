"""Attention readout: learned queries cross-attend to a frozen backbone's tokens.

After Adeli, Sun & Kriegeskorte (2025), "Transformer brain encoders explain human high-level
visual responses". A frozen backbone gives, for every stimulus, a set of tokens (image
patches, EEG sensors, positions), each a feature vector. One learned query per region (or
unit group) reads those tokens with one transformer-decoder layer, and a linear head per
unit maps its query's output to the unit's response. Unlike a linear readout of the
flattened tokens, *which* token a region reads can change from stimulus to stimulus: it is
chosen by content, through the attention weights, and those weights are returned as an
interpretable map of what each region reads.

Equations (one stimulus; ``x_t`` the ``F`` features of token ``t = 1..T``; ``d = d_model``;
``q_g`` the learned query of group ``g``; ``h`` indexes ``n_heads`` heads of width
``d_h = d / n_heads``):

* tokens: ``m_t = LayerNorm(E x~_t + e_t)``, with ``x~`` the features standardised with the
  training mean and standard deviation of each feature (pooled over stimuli and tokens),
  ``E`` a ``d x F`` projection and ``e_t`` a learned positional embedding of token ``t``.
* cross-attention: ``a_{g,t}^h = softmax_t( (W_q^h q_g) . (W_k^h m_t) / sqrt(d_h) )`` and
  ``c_g = W_o concat_h( sum_t a_{g,t}^h W_v^h m_t )``. The returned attention map is the
  head average ``a_{g,t} = mean_h a_{g,t}^h``, which sums to 1 over tokens.
* decoder layer (post-norm): ``z_g = LayerNorm(q_g + c_g)``,
  ``o_g = LayerNorm(z_g + W_2 GELU(W_1 z_g))`` with a ``2d``-wide hidden layer.
* heads: ``y~_u = w_u . o_{g(u)} + b_u`` for unit ``u`` of group ``g(u)``; with shared
  queries (``n_queries`` given, no ``groups``) every unit reads all of them,
  ``y~_u = w_u . concat_g(o_g) + b_u``. Predictions are ``y_u = mu_u + s_u y~_u``, with
  ``mu_u, s_u`` the unit's training mean and standard deviation.

This is a lighter variant of the paper's DETR-style decoder: there is no self-attention
among the queries, so each region's readout and attention map depend on the tokens only,
never on the other regions' queries; there is one decoder layer and no dropout.

Training minimises the mean squared error of the standardised targets ``y~`` (all units
weigh the same) with AdamW, in mini-batches, and stops early when the loss on a held-out
validation split has not improved for ``patience`` epochs; the weights of the best
validation epoch are restored.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Hashable, Sequence
from contextlib import nullcontext
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
import xarray as xr
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._checks import AssemblyError, _suggest, _validate_type, check_random_state, check_scalar
from .._config import resolve_device, torch_threads
from .._scoring import r2_score

logger = logging.getLogger(__name__)

#: Dim names read as the token axis of a 3-D DataArray, in order of precedence.
TOKEN_DIMS: tuple[str, ...] = ("token", "position", "unit")

#: Rows of a batch evaluated at once by predict / attention_maps.
_EVAL_BATCH = 1024

#: Below this many embedded token values per mini-batch (batch x tokens x d_model), CPU
#: training runs on one thread.
_SMALL_BATCH = 2**16


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


class _Tokens(NamedTuple):
    """X as a ``(n_stimuli, n_tokens, n_features)`` float array, with its labels."""

    values: Any  # numpy array or torch tensor
    stimulus: np.ndarray | None  # stimulus ids, when X is a DataArray
    token_dim: str | None  # the token dim's name in X
    tokens: np.ndarray | None  # token labels
    token_coords: dict[Hashable, np.ndarray]  # other coords along the token dim
    features: np.ndarray | None  # feature labels


class _Targets(NamedTuple):
    """y as a ``(n_stimuli, n_units)`` float array, with its labels."""

    values: Any
    stimulus: np.ndarray | None
    da: xr.DataArray | None  # y when it is a DataArray (for unit coords and attrs)


def _is_torch(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "dim")


def _rank(x: Any) -> int:
    return x.dim() if _is_torch(x) else np.ndim(x)


def _unstack_positions(X: xr.DataArray) -> xr.DataArray:
    """(stimulus, unit) with unit coords ``position`` and ``channel`` -> (stimulus, position, channel)."""
    missing = [c for c in ("position", "channel") if c not in X.coords or X[c].dims != ("unit",)]
    if missing:
        raise AssemblyError(
            f"Invalid value for 'X': a 2-D DataArray with dims {tuple(X.dims)} is read as "
            "activations from brainbridge.extract and needs unit coordinates 'position' and "
            f"'channel'; it lacks {', '.join(map(repr, missing))}. Pass tokens as a 3-D "
            "DataArray with dims ('stimulus', 'token', 'feature') instead."
        )
    if "layer" in X.coords and X["layer"].dims == ("unit",):
        layers = pd.unique(np.asarray(X["layer"].values))
        if len(layers) > 1:
            raise AssemblyError(
                f"Invalid value for 'X': it holds units of {len(layers)} layers "
                f"({', '.join(map(repr, layers[:5].tolist()))}); tokens must come from one "
                "layer. Select one with X.sel(unit=X['layer'] == name)."
            )
    position = np.asarray(X["position"].values)
    channel = np.asarray(X["channel"].values)
    positions, channels = pd.unique(position), pd.unique(channel)
    if len(pd.MultiIndex.from_arrays([position, channel]).unique()) != X.sizes["unit"] or (
        X.sizes["unit"] != len(positions) * len(channels)
    ):
        raise AssemblyError(
            f"Invalid value for 'X': its {X.sizes['unit']} units do not form a full "
            f"position x channel grid ({len(positions)} positions x {len(channels)} channels, "
            "each pair once). Pass tokens as a 3-D DataArray with dims ('stimulus', 'token', "
            "'feature') instead."
        )
    pi = pd.Index(positions).get_indexer(position)
    ci = pd.Index(channels).get_indexer(channel)
    data = np.asarray(X.transpose("stimulus", "unit").values)
    out = np.empty((X.sizes["stimulus"], len(positions), len(channels)), dtype=data.dtype)
    out[:, pi, ci] = data
    return xr.DataArray(
        out,
        dims=("stimulus", "position", "channel"),
        coords={"stimulus": X["stimulus"].values, "position": positions, "channel": channels},
    )


def _as_tokens(X: Any) -> _Tokens:
    if isinstance(X, xr.DataArray):
        if "stimulus" not in X.dims:
            raise AssemblyError(
                f"Invalid value for 'X': a DataArray of tokens needs a 'stimulus' dim; it has "
                f"dims {tuple(X.dims)}. Rename the stimulus dim, e.g. "
                f"X.rename({{{X.dims[0]!r}: 'stimulus'}})."
            )
        if X.ndim == 2 and "unit" in X.dims:
            X = _unstack_positions(X)
        if X.ndim != 3:
            raise AssemblyError(
                f"Invalid value for 'X': expected a DataArray with 3 dims ('stimulus', a token "
                f"dim, a feature dim); got {X.ndim} dims {tuple(X.dims)}."
            )
        rest = [d for d in X.dims if d != "stimulus"]
        token_dim = next((d for d in TOKEN_DIMS if d in rest), None)
        if token_dim is None:
            raise AssemblyError(
                f"Invalid value for 'X': none of its dims {tuple(X.dims)} is a token dim; "
                f"expected one of {', '.join(map(repr, TOKEN_DIMS))} beside 'stimulus'. "
                f"Rename it, e.g. X.rename({{{rest[0]!r}: 'token'}})."
            )
        feature_dim = next(d for d in rest if d != token_dim)
        X = X.transpose("stimulus", token_dim, feature_dim)
        stim = np.asarray(X["stimulus"].values) if "stimulus" in X.coords else None
        tokens = np.asarray(X[token_dim].values) if token_dim in X.coords else None
        features = np.asarray(X[feature_dim].values) if feature_dim in X.coords else None
        others = {
            name: np.asarray(c.values)
            for name, c in X.coords.items()
            if c.dims == (token_dim,) and name != token_dim
        }
        return _Tokens(np.asarray(X.values), stim, token_dim, tokens, others, features)
    if not _is_torch(X):
        X = np.asarray(X)
    if _rank(X) != 3:
        shape = tuple(X.shape)
        fix = " For one token per stimulus use X[:, None, :]." if len(shape) == 2 else ""
        raise ValueError(
            "Invalid value for 'X': expected a 3-D array of tokens (n_stimuli, n_tokens, "
            f"n_features); got {len(shape)}-D with shape {shape}.{fix}"
        )
    return _Tokens(X, None, None, None, {}, None)


def _as_targets(y: Any) -> _Targets:
    if isinstance(y, xr.DataArray):
        if set(y.dims) != {"stimulus", "unit"}:
            raise AssemblyError(
                "Invalid value for 'y': expected a DataArray with dims ('stimulus', 'unit'); "
                f"got dims {tuple(y.dims)}."
            )
        y = y.transpose("stimulus", "unit")
        stim = np.asarray(y["stimulus"].values) if "stimulus" in y.coords else None
        return _Targets(np.asarray(y.values), stim, y)
    if not _is_torch(y):
        y = np.asarray(y)
    if _rank(y) == 1:
        y = y[:, None]
    if _rank(y) != 2:
        raise ValueError(
            "Invalid value for 'y': expected a 2-D array (n_stimuli, n_units); got "
            f"{_rank(y)}-D with shape {tuple(y.shape)}."
        )
    return _Targets(y, None, None)


def _match_stimuli(X: _Tokens, y: _Targets) -> _Targets:
    """Check that X and y describe the same stimuli; put y in X's order when both are labelled."""
    n_x, n_y = X.values.shape[0], y.values.shape[0]
    if X.stimulus is not None and y.stimulus is not None:
        if not np.array_equal(X.stimulus, y.stimulus):
            xs, ys = pd.Index(X.stimulus), pd.Index(y.stimulus)
            if len(xs) != len(ys) or not xs.is_unique or set(xs) != set(ys):
                only_x = [str(s) for s in xs.difference(ys)[:3]]
                only_y = [str(s) for s in ys.difference(xs)[:3]]
                raise ValueError(
                    f"Invalid value for 'y': its {n_y} stimulus ids differ from the {n_x} of "
                    f"'X' (only in X: {only_x}; only in y: {only_y}). Align them first with "
                    "brainbridge.align(X, y, dim='stimulus')."
                )
            order = ys.get_indexer(xs)
            assert y.da is not None  # y.stimulus comes from y.da
            da = y.da.isel(stimulus=order)
            return _Targets(np.asarray(da.values), X.stimulus, da)
        return y
    if n_x != n_y:
        raise ValueError(
            f"Invalid value for 'y': it has {n_y} stimuli (rows) but 'X' has {n_x}; give one "
            "row of responses per stimulus of X."
        )
    return y


def _check_finite(name: str, values: Any) -> None:
    finite = torch.isfinite(values).all() if _is_torch(values) else np.isfinite(values).all()
    if not bool(finite):
        raise ValueError(
            f"Invalid value for {name!r}: it contains NaN or infinite values. Drop or impute "
            "them before fitting (e.g. X.dropna('stimulus'))."
        )


# --------------------------------------------------------------------------------------
# The torch module
# --------------------------------------------------------------------------------------


class ReadoutOutput(NamedTuple):
    """What the readout module returns for a batch.

    prediction : tensor, shape (batch, n_units)
        Standardised responses ``y~``.
    attention : tensor, shape (batch, n_queries, n_tokens)
        Head-averaged attention weights; each row sums to 1 over tokens.
    """

    prediction: Any
    attention: Any


def _build_module(
    n_features: int, n_tokens: int, n_queries: int, n_units: int, d_model: int, n_heads: int,
    unit_query: np.ndarray | None,
) -> Any:
    class AttentionReadoutModule(nn.Module):
        """Token embedding, one cross-attention decoder layer, per-unit linear heads."""

        def __init__(self) -> None:
            super().__init__()
            self.n_heads = n_heads
            self.embed = nn.Linear(n_features, d_model)
            self.position = nn.Parameter(0.02 * torch.randn(n_tokens, d_model))
            self.token_norm = nn.LayerNorm(d_model)
            self.queries = nn.Parameter(torch.randn(n_queries, d_model))
            self.q_proj = nn.Linear(d_model, d_model)
            self.k_proj = nn.Linear(d_model, d_model)
            self.v_proj = nn.Linear(d_model, d_model)
            self.out_proj = nn.Linear(d_model, d_model)
            self.norm1 = nn.LayerNorm(d_model)
            self.mlp = nn.Sequential(
                nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model)
            )
            self.norm2 = nn.LayerNorm(d_model)
            if unit_query is None:  # shared queries: each unit reads all of them
                self.head = nn.Linear(n_queries * d_model, n_units)
                self.unit_query = None
            else:
                bound = 1.0 / math.sqrt(d_model)
                self.head_weight = nn.Parameter(torch.empty(n_units, d_model).uniform_(-bound, bound))
                self.head_bias = nn.Parameter(torch.zeros(n_units))
                self.register_buffer("unit_query", torch.as_tensor(unit_query, dtype=torch.long))

        def forward(self, x: torch.Tensor) -> ReadoutOutput:
            b, t, _ = x.shape
            h, dh = self.n_heads, d_model // self.n_heads
            memory = self.token_norm(self.embed(x) + self.position)  # (b, t, d)
            q = self.q_proj(self.queries).view(-1, h, dh).transpose(0, 1)  # (h, Q, dh)
            k = self.k_proj(memory).view(b, t, h, dh).transpose(1, 2)  # (b, h, t, dh)
            v = self.v_proj(memory).view(b, t, h, dh).transpose(1, 2)
            attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)  # (b, h, Q, t)
            context = (attn @ v).transpose(1, 2).reshape(b, -1, d_model)  # (b, Q, d)
            z = self.norm1(self.queries + self.out_proj(context))
            z = self.norm2(z + self.mlp(z))
            if self.unit_query is None:
                pred = self.head(z.reshape(b, -1))
            else:
                pred = (z[:, self.unit_query, :] * self.head_weight).sum(-1) + self.head_bias
            return ReadoutOutput(pred, attn.mean(dim=1))

    return AttentionReadoutModule()


# --------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------


class AttentionReadout(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Encoding model whose regions read a backbone's tokens through learned attention.

    One learned query per region (or unit group) cross-attends to the tokens of a frozen
    backbone (image patches, EEG sensors, positions) in one transformer-decoder layer; a
    linear head per unit maps its query's output to the unit's response (Adeli, Sun &
    Kriegeskorte 2025). The module docstring gives the equations.

    Queries are assigned to units in one of three ways:

    * ``groups`` names a coordinate along ``y``'s ``unit`` dim (e.g. ``"region"``), or
      gives one label per unit: one query per distinct label (in order of first
      appearance); each unit's head reads only its group's query.
    * neither ``groups`` nor ``n_queries``: one query per unit (query names are the unit
      ids). Memory grows with ``n_units x n_tokens``; use groups beyond a few hundred units.
    * ``n_queries=k`` without ``groups``: ``k`` shared queries (``"q0"``, ``"q1"``, ...);
      each unit's head reads all of them.

    Parameters
    ----------
    n_queries : int, optional
        Number of shared queries, when no ``groups`` are given. With ``groups`` it must
        equal the number of groups, or be None.
    groups : str or array-like of shape (n_units,), optional
        A unit coordinate of ``y`` (needs ``y`` as a DataArray) or one label per unit.
    d_model : int, default=64
        Width of the token embedding, queries and decoder layer; divisible by ``n_heads``.
    n_heads : int, default=1
        Attention heads; the returned maps average them.
    lr : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-4
        AdamW (decoupled) weight decay.
    max_epochs : int, default=200
        Most passes over the training split.
    batch_size : int, default=64
        Stimuli per optimisation step.
    patience : int, default=10
        Stop after this many epochs without a lower validation loss.
    validation_fraction : float, default=0.1
        Fraction of the stimuli held out (at random) for early stopping, in ``[0, 1)``.
        With 0 there is no early stopping: all ``max_epochs`` run and the last weights stay.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the validation split, the weight initialisation and the batch order. A fixed
        int gives identical fits on the CPU.
    device : str or torch.device, default="auto"
        Where to train: ``"auto"`` (``$BRAINBRIDGE_DEVICE``, else CUDA when present, else
        the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    progress : bool or None, default=None
        Show a tqdm progress bar over epochs: True always, False never, None only when
        stderr is a terminal.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, with the best validation epoch's weights, in eval mode.
    history_ : xarray.Dataset, dim ``epoch`` (1, 2, ...)
        ``train_loss`` (mean over the epoch's mini-batches) and ``val_loss`` (NaN without a
        validation split): mean squared error of the standardised targets.
    best_epoch_ : int
        The epoch whose weights were restored.
    n_epochs_ : int
        Epochs run.
    validation_indices_ : ndarray of int
        Rows of the training ``X`` held out for validation.
    query_names_ : ndarray
        One name per query (group labels, unit ids, or ``"q0"``, ...).
    unit_query_ : ndarray of int or None
        Query index read by each unit; None for shared queries.
    n_features_in_, n_tokens_in_, n_units_ : int
        Features per token, tokens per stimulus, units.
    unit_ids_ : ndarray of str
        Unit ids (from ``y``'s ``unit`` coordinate, else ``"0"``, ``"1"``, ...).
    x_mean_, x_scale_ : ndarray, shape (n_features_in_,)
        Feature standardisation (training split).
    y_mean_, y_scale_ : ndarray, shape (n_units_,)
        Target standardisation (training split; a constant unit gets scale 1).
    device_ : torch.device
        The device trained on.

    Notes
    -----
    ``X`` is accepted as

    * an array or tensor of shape ``(n_stimuli, n_tokens, n_features)``;
    * a 3-D DataArray with a ``stimulus`` dim, a token dim (the first of ``'token'``,
      ``'position'``, ``'unit'`` among its dims, e.g. ``('stimulus', 'position',
      'channel')`` for patches or ``('stimulus', 'unit', 'time')`` for EEG sensors) and a
      feature dim (the remaining one);
    * a 2-D ``('stimulus', 'unit')`` assembly from :func:`brainbridge.extract` of one layer
      with unit coords ``position`` and ``channel``, unstacked to ``(stimulus, position,
      channel)``.

    ``y`` is an array ``(n_stimuli, n_units)`` or a ``('stimulus', 'unit')`` assembly. When
    both carry stimulus ids they must hold the same ids; ``y`` is put in ``X``'s order. A
    DataArray ``X`` at predict time is matched to the fitted tokens and features by label.

    :meth:`score` is scikit-learn's uniform average of per-unit R^2 (units whose held-out
    responses are constant are left out); :meth:`score_per_target` returns them all.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.encoders import AttentionReadout
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5, 3))          # 200 stimuli, 5 tokens, 3 features
    >>> y = X[:, 2, :2] + 0.1 * rng.normal(size=(200, 2))   # two units read token 2
    >>> model = AttentionReadout(d_model=16, max_epochs=20, random_state=0, progress=False)
    >>> model = model.fit(X, y)
    >>> model.predict(X).shape
    (200, 2)
    >>> maps = model.attention_maps(X)
    >>> maps.dims, bool(np.allclose(maps.sum("token"), 1))
    (('stimulus', 'query', 'token'), True)
    """

    def __init__(
        self,
        *,
        n_queries: int | None = None,
        groups: str | Sequence[Hashable] | None = None,
        d_model: int = 64,
        n_heads: int = 1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        max_epochs: int = 200,
        batch_size: int = 64,
        patience: int = 10,
        validation_fraction: float = 0.1,
        random_state: int | np.random.Generator | None = None,
        device: Any = "auto",
        progress: bool | None = None,
    ) -> None:
        self.n_queries = n_queries
        self.groups = groups
        self.d_model = d_model
        self.n_heads = n_heads
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.non_deterministic = True  # bit-identical only on the CPU with a fixed seed
        return tags

    # ---------------------------------------------------------------- validation

    def _check_params(self) -> None:
        check_scalar("n_queries", self.n_queries, int, low=1, allow_none=True)
        d_model = check_scalar("d_model", self.d_model, int, low=1)
        n_heads = check_scalar("n_heads", self.n_heads, int, low=1)
        if d_model % n_heads:
            raise ValueError(
                f"Invalid value for 'n_heads': d_model={self.d_model} must be divisible by "
                f"n_heads; got n_heads={self.n_heads}. Pick a divisor of d_model."
            )
        check_scalar("lr", self.lr, float, low=0.0, closed="neither")
        check_scalar("weight_decay", self.weight_decay, float, low=0.0)
        check_scalar("max_epochs", self.max_epochs, int, low=1)
        check_scalar("batch_size", self.batch_size, int, low=1)
        check_scalar("patience", self.patience, int, low=1)
        check_scalar("validation_fraction", self.validation_fraction, float, low=0.0, high=1.0,
                     closed="left")
        if self.progress is not None:
            _validate_type("progress", self.progress, (bool, np.bool_), "a bool or None")
        check_random_state(self.random_state)  # type check only; fit draws from it

    def _assign_queries(self, y: _Targets, n_units: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (query names, query index of each unit or None for shared queries)."""
        groups = self.groups
        if groups is None:
            if self.n_queries is None:
                return self.unit_ids_.copy(), np.arange(n_units)
            return np.array([f"q{i}" for i in range(self.n_queries)]), None
        if isinstance(groups, str):
            if y.da is None:
                raise ValueError(
                    f"Invalid value for 'groups': {groups!r} names a unit coordinate, but 'y' "
                    "is an array without coordinates. Pass y as a ('stimulus', 'unit') "
                    "DataArray, or groups as one label per unit."
                )
            have = [str(c) for c, v in y.da.coords.items() if v.dims == ("unit",) and c != "unit"]
            if groups not in y.da.coords or y.da[groups].dims != ("unit",):
                raise ValueError(
                    f"Invalid value for 'groups': 'y' has no {groups!r} coordinate along "
                    f"'unit'; its unit coordinates are {have if have else 'none'}."
                    f"{_suggest(groups, have)} Add one with y.assign_coords({groups}=('unit', "
                    "[...])) or pass one label per unit."
                )
            labels = np.asarray(y.da[groups].values)
        else:
            labels = np.asarray(groups)
            if labels.ndim != 1 or labels.shape[0] != n_units:
                raise ValueError(
                    "Invalid value for 'groups': expected a coordinate name or one label per "
                    f"unit ({n_units}); got an array of shape {labels.shape}."
                )
        codes, names = pd.factorize(labels, sort=False)
        if self.n_queries is not None and self.n_queries != len(names):
            raise ValueError(
                f"Invalid value for 'n_queries': groups give {len(names)} queries (one per "
                f"group) but n_queries={self.n_queries}. Leave n_queries=None when giving "
                "groups."
            )
        return np.asarray(names), codes.astype(np.int64)

    # ---------------------------------------------------------------- fitting

    def fit(self, X: Any, y: Any) -> AttentionReadout:
        """Train the readout.

        Parameters
        ----------
        X : array-like, tensor or DataArray, shape (n_stimuli, n_tokens, n_features)
            Backbone tokens; see Notes for the accepted DataArray dims.
        y : array-like, tensor or DataArray, shape (n_stimuli, n_units)
            Responses; a ``('stimulus', 'unit')`` assembly can carry the ``groups`` coord.

        Returns
        -------
        self
        """
        self._check_params()
        device = resolve_device(self.device)
        tok = _as_tokens(X)
        tgt = _match_stimuli(tok, _as_targets(y))
        _check_finite("X", tok.values)
        _check_finite("y", tgt.values)
        n, n_tokens, n_features = (int(s) for s in tok.values.shape)
        n_units = int(tgt.values.shape[1])

        self.n_features_in_, self.n_tokens_in_, self.n_units_ = n_features, n_tokens, n_units
        self.token_dim_ = tok.token_dim or "token"
        self.tokens_ = tok.tokens if tok.tokens is not None else np.arange(n_tokens)
        self._tokens_labelled = tok.tokens is not None
        self._token_coords = tok.token_coords
        self.features_ = tok.features
        if tgt.da is not None and "unit" in tgt.da.coords:
            self.unit_ids_ = np.asarray(tgt.da["unit"].values)
            unit_coords = {c: v for c, v in tgt.da.coords.items() if v.dims == ("unit",)}
            self._unit_coords = {c: (("unit",), np.asarray(v.values)) for c, v in unit_coords.items()}
            self._y_attrs = {k: v for k, v in tgt.da.attrs.items() if k != "source"}
            self._units_labelled = True
        else:
            self.unit_ids_ = np.array([str(i) for i in range(n_units)])
            self._unit_coords = {"unit": (("unit",), self.unit_ids_)}
            self._y_attrs = {}
            self._units_labelled = False
        self.query_names_, self.unit_query_ = self._assign_queries(tgt, n_units)

        rng = check_random_state(self.random_state)
        n_val = int(round(self.validation_fraction * n)) if self.validation_fraction > 0 else 0
        if self.validation_fraction > 0:
            n_val = max(n_val, 1)
        if n - n_val < 1:
            raise ValueError(
                f"Invalid value for 'validation_fraction': {self.validation_fraction!r} of "
                f"{n} stimuli leaves no stimulus to train on. Give more stimuli or a smaller "
                "fraction."
            )
        perm = rng.permutation(n)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        self.validation_indices_ = val_idx
        torch_seed = int(rng.integers(2**62))

        Xt = torch.as_tensor(tok.values, dtype=torch.float32).to(device)
        Yt = torch.as_tensor(tgt.values, dtype=torch.float32).to(device)
        tr = torch.as_tensor(train_idx, device=device)
        Xtr64 = Xt[tr].to(torch.float64).reshape(-1, n_features)
        x_mean = Xtr64.mean(0)
        x_scale = Xtr64.std(0, correction=0)
        Ytr64 = Yt[tr].to(torch.float64)
        y_mean = Ytr64.mean(0)
        y_scale = Ytr64.std(0, correction=0)
        x_scale = torch.where(x_scale > 0, x_scale, torch.ones_like(x_scale))
        y_scale = torch.where(y_scale > 0, y_scale, torch.ones_like(y_scale))
        self.x_mean_, self.x_scale_ = x_mean.cpu().numpy(), x_scale.cpu().numpy()
        self.y_mean_, self.y_scale_ = y_mean.cpu().numpy(), y_scale.cpu().numpy()
        Xs = (Xt - x_mean.float()) / x_scale.float()
        Ys = (Yt - y_mean.float()) / y_scale.float()

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            module = _build_module(
                n_features, n_tokens, len(self.query_names_), n_units, int(self.d_model),
                int(self.n_heads), self.unit_query_,
            ).to(device)
        generator = torch.Generator().manual_seed(torch_seed)
        # Tiny mini-batches are dominated by thread hand-off: one CPU thread is faster there
        # (and far faster on a busy machine).
        small = self.batch_size * n_tokens * self.d_model < _SMALL_BATCH
        threads = torch_threads(1) if device.type == "cpu" and small else nullcontext()
        with threads:
            history, best_epoch = _train(
                module, Xs, Ys, train_idx, val_idx, lr=float(self.lr),
                weight_decay=float(self.weight_decay), max_epochs=int(self.max_epochs),
                batch_size=int(self.batch_size), patience=int(self.patience),
                generator=generator, progress=self.progress,
            )
        self.module_ = module.eval()
        self.device_ = device
        self.history_ = xr.Dataset(
            {"train_loss": ("epoch", history[0]), "val_loss": ("epoch", history[1])},
            coords={"epoch": np.arange(1, len(history[0]) + 1)},
        )
        self.n_epochs_ = len(history[0])
        self.best_epoch_ = best_epoch
        logger.info(
            "AttentionReadout: %d epochs, best epoch %d (val loss %.4g), %d queries, %d units",
            self.n_epochs_, best_epoch, float(history[1][best_epoch - 1]),
            len(self.query_names_), n_units,
        )
        return self

    # ---------------------------------------------------------------- inference

    def _tokens_for_inference(self, X: Any) -> tuple[Any, _Tokens]:
        check_is_fitted(self, "module_")
        tok = _as_tokens(X)
        values = tok.values
        if isinstance(X, xr.DataArray):
            da = xr.DataArray(values, dims=("stimulus", "token", "feature"))
            if self._tokens_labelled and tok.tokens is not None:
                da = _reorder(da, "token", tok.tokens, self.tokens_, "tokens", "token labels")
            if self.features_ is not None and tok.features is not None:
                da = _reorder(da, "feature", tok.features, self.features_, "features",
                              "feature labels")
            values = da.values
        shape = tuple(values.shape)
        if shape[1:] != (self.n_tokens_in_, self.n_features_in_):
            raise ValueError(
                f"Invalid value for 'X': the model was fitted on {self.n_tokens_in_} tokens x "
                f"{self.n_features_in_} features per stimulus; got {shape[1]} x {shape[2]} "
                f"(shape {shape})."
            )
        _check_finite("X", values)
        Xt = torch.as_tensor(values, dtype=torch.float32).to(self.device_)
        mean = torch.as_tensor(self.x_mean_, dtype=torch.float32, device=self.device_)
        scale = torch.as_tensor(self.x_scale_, dtype=torch.float32, device=self.device_)
        return (Xt - mean) / scale, tok

    def _forward(self, X: Any) -> tuple[np.ndarray, np.ndarray, _Tokens]:
        Xs, tok = self._tokens_for_inference(X)
        preds, maps = [], []
        with torch.no_grad():
            for start in range(0, Xs.shape[0], _EVAL_BATCH):
                out = self.module_(Xs[start:start + _EVAL_BATCH])
                preds.append(out.prediction.double().cpu().numpy())
                maps.append(out.attention.double().cpu().numpy())
        pred = np.concatenate(preds) if preds else np.empty((0, self.n_units_))
        pred = pred * self.y_scale_ + self.y_mean_
        attn = np.concatenate(maps) if maps else np.empty((0, len(self.query_names_), self.n_tokens_in_))
        return pred, attn, tok

    def predict(self, X: Any) -> Any:
        """Predict responses.

        Parameters
        ----------
        X : array-like, tensor or DataArray, shape (n_stimuli, n_tokens, n_features)

        Returns
        -------
        ndarray, shape (n_stimuli, n_units), or DataArray, dims ('stimulus', 'unit')
            A DataArray when ``X`` is one: stimulus ids from ``X``, unit ids and coords
            (and the ``modality`` / ``units`` attrs) from the training ``y``.
        """
        pred, _, tok = self._forward(X)
        if not isinstance(X, xr.DataArray):
            return pred
        stim = tok.stimulus if tok.stimulus is not None else _default_ids(pred.shape[0])
        attrs = {**self._y_attrs, "source": "brainbridge AttentionReadout prediction"}
        return xr.DataArray(
            pred, dims=("stimulus", "unit"),
            coords={"stimulus": stim, **self._unit_coords}, attrs=attrs, name="prediction",
        )

    def attention_maps(self, X: Any) -> xr.DataArray:
        """Attention weights of every query over the tokens, per stimulus.

        Parameters
        ----------
        X : array-like, tensor or DataArray, shape (n_stimuli, n_tokens, n_features)

        Returns
        -------
        DataArray, dims ('stimulus', 'query', 'token')
            ``a_{g,t}`` averaged over heads; sums to 1 over ``token``. ``query`` holds
            :attr:`query_names_`; ``token`` the token labels (with the token dim's other
            coords, e.g. sensor positions) of the training ``X``, else 0, 1, ...;
            ``stimulus`` the ids of ``X``, else ``"0"``, ``"1"``, ...
        """
        _, attn, tok = self._forward(X)
        stim = tok.stimulus if tok.stimulus is not None else _default_ids(attn.shape[0])
        coords: dict[Hashable, Any] = {
            "stimulus": stim, "query": self.query_names_, "token": self.tokens_,
        }
        for name, values in self._token_coords.items():
            if name not in coords:
                coords[name] = ("token", values)
        return xr.DataArray(attn, dims=("stimulus", "query", "token"), coords=coords,
                            name="attention", attrs={"token_dim": self.token_dim_})

    # ---------------------------------------------------------------- scores

    def score_per_target(self, X: Any, y: Any) -> xr.DataArray:
        """Coefficient of determination of each unit on ``(X, y)``.

        ``R^2_u = 1 - sum_i (y_iu - yhat_iu)^2 / sum_i (y_iu - mean_i y_iu)^2``, accumulated
        in float64. Per-target scores depart from scikit-learn's scalar ``score``: one value
        per unit, and NaN for a unit whose responses in ``y`` are constant (where
        ``sklearn.metrics.r2_score`` gives 1 or 0); see :mod:`brainbridge._scoring`.

        Returns
        -------
        DataArray, dims ('unit',)
            With the unit ids and coords of the training ``y``.
        """
        pred, _, tok = self._forward(X)
        tgt = _match_stimuli(tok, _as_targets(y))
        if tgt.da is not None and "unit" in tgt.da.coords and self._units_labelled:
            da = _reorder(tgt.da, "unit", np.asarray(tgt.da["unit"].values), self.unit_ids_,
                          "units", "unit ids", arg="y")
            tgt = _Targets(np.asarray(da.values), tgt.stimulus, da)
        y_np = tgt.values.detach().cpu().numpy() if _is_torch(tgt.values) else tgt.values
        y_np = np.asarray(y_np, dtype=np.float64)
        if y_np.shape[1] != self.n_units_:
            raise ValueError(
                f"Invalid value for 'y': the model predicts {self.n_units_} units; got "
                f"{y_np.shape[1]} columns."
            )
        r2 = r2_score(y_np, np.asarray(pred, dtype=np.float64))
        return xr.DataArray(r2, dims=("unit",), coords=dict(self._unit_coords), name="r2")

    def score(self, X: Any, y: Any, sample_weight: None = None) -> float:
        """Mean R^2 over units (units with constant ``y`` left out); see :meth:`score_per_target`."""
        if sample_weight is not None:
            raise ValueError(
                "Invalid value for 'sample_weight': AttentionReadout.score does not support "
                "sample weights; got an array. Leave sample_weight=None."
            )
        r2 = self.score_per_target(X, y).values
        finite = np.isfinite(r2)
        return float(r2[finite].mean()) if finite.any() else float("nan")


def _default_ids(n: int) -> np.ndarray:
    return np.array([str(i) for i in range(n)])


def _reorder(da: xr.DataArray, dim: str, have: np.ndarray, want: np.ndarray, what: str,
             label: str, arg: str = "X") -> xr.DataArray:
    """Put ``da`` along ``dim`` (labelled ``have``) in the fitted order ``want``."""
    if len(have) == len(want) and np.array_equal(have, want):
        return da
    idx = pd.Index(have).get_indexer(want) if pd.Index(have).is_unique else None
    if idx is None or len(have) != len(want) or (idx < 0).any():
        missing = [str(w) for w in np.asarray(want)[idx < 0][:3]] if idx is not None else []
        raise ValueError(
            f"Invalid value for {arg!r}: its {label} differ from the {len(want)} {what} the "
            f"model was fitted on (missing: {missing}; got {len(have)} {what}). Give {arg} the "
            f"same {what} as at fit time."
        )
    return da.isel({dim: idx})


def _train(
    module: Any, X: Any, Y: Any, train_idx: np.ndarray, val_idx: np.ndarray, *, lr: float,
    weight_decay: float, max_epochs: int, batch_size: int, patience: int, generator: Any,
    progress: bool | None,
) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """Mini-batch AdamW on the MSE with early stopping; restores the best weights in place.

    Returns ``((train_loss, val_loss), best_epoch)``, losses per epoch (val NaN when
    ``val_idx`` is empty), ``best_epoch`` 1-based.
    """
    from tqdm import tqdm

    device = X.device
    tr = torch.as_tensor(train_idx, device=device)
    va = torch.as_tensor(val_idx, device=device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    train_losses: list[float] = []
    val_losses: list[float] = []
    best, best_epoch, best_state, wait = math.inf, 0, None, 0
    bar = tqdm(range(max_epochs), desc="AttentionReadout", unit="epoch", leave=False,
               disable=None if progress is None else not progress)
    try:
        for epoch in bar:
            module.train()
            order = tr[torch.randperm(len(tr), generator=generator).to(device)]
            total = 0.0
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                loss = torch.mean((module(X[rows]).prediction - Y[rows]) ** 2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(rows)
            train_losses.append(total / len(order))
            if len(va):
                module.eval()
                with torch.no_grad():
                    sse = 0.0
                    for start in range(0, len(va), _EVAL_BATCH):
                        rows = va[start:start + _EVAL_BATCH]
                        diff = module(X[rows]).prediction.double() - Y[rows].double()
                        sse += float((diff**2).sum())
                val = sse / (len(va) * Y.shape[1])
                val_losses.append(val)
                if val < best:
                    best, best_epoch, wait = val, epoch + 1, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    wait += 1
                bar.set_postfix(train=f"{train_losses[-1]:.4g}", val=f"{val:.4g}")
                if wait >= patience:
                    break
            else:
                val_losses.append(math.nan)
                best_epoch = epoch + 1
                bar.set_postfix(train=f"{train_losses[-1]:.4g}")
    finally:
        bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    return (np.asarray(train_losses), np.asarray(val_losses)), best_epoch
