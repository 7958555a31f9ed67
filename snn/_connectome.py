"""Connectome-constrained networks: the model (weights from a connectome, signs, Euler step).

A graded (rate) network whose weights are a C. elegans connectome, optionally spiking through
the LIF core (:func:`brainbridge.snn._lif.lif_step`)::

    tau dv_i/dt = -v_i + g_c sum_j W[j, i] r_j + g_e sum_j G[i, j] (v_j - v_i) + I_i(t)
    r_i = f(v_i)                     f = tanh or relu ("rate"), or spikes of a LIF ("lif")

``W[pre, post]`` comes from the chemical synapse counts (normalised, optionally signed per
presynaptic neuron), ``G`` from the gap junctions (symmetric; the second term is Laplacian
coupling ``-g_e (L v)_i``, ``L = diag(G 1) - G``). Forward Euler with step ``dt``::

    v[t+1] = v[t] + (dt / tau) * (-v[t] + g_c W^T r[t] + g_e (G v[t] - deg * v[t]) + I[t])
    r[t+1] = f(v[t+1])

With ``"lif"`` the same update is the LIF's tau form (``beta = 1 - dt/tau``, input gain
``dt/tau``), followed by firing ``s = H(v - theta)`` and the subtractive reset, and the
transmitted ``r`` is the spike train. Orientation follows the loaders: connectome
``[pre, post]``, atlas ``dff[stimulus, unit]`` (response of ``unit`` to stimulation of
``stimulus``), simulated responses ``[stimulus, unit]``.

**Sign.** The Cook et al. 2019 JSON (and every cect annotation with synapse counts) carries no
transmitter or sign, so all chemical synapses are excitatory by default. ``sign="gaba"``
makes inhibitory the neurons of :data:`GABA_NEURONS`: those whose chemical edges in the
``wang2024_herm`` annotation (which ships with cect 0.3.5: Wang et al. 2024 neurotransmitter
atlas applied to Cook 2019) are all GABA (29 neurons: DD/VD motor neurons, RME, RIS, AVL, DVB,
ALA, AVJ, RIB; the SMDs, which also release acetylcholine, stay excitatory). Glutamate and
acetylcholine can also inhibit through ligand-gated chloride channels; that depends on the
receptor of each postsynaptic cell, which no shipped data gives, so they stay excitatory.

The stimulation protocol is :func:`brainbridge.snn.simulate_stimulation`; the degree-preserving
null model and the structure-function scores are analyses
(:func:`brainbridge.analyses.shuffle_connectome`, :func:`brainbridge.analyses.structure_function`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn

from .._checks import _check_option, check_connectome, check_scalar
from ._lif import LIFParams, LIFState, lif_step
from ._trace import emit

logger = logging.getLogger(__name__)

__all__ = [
    "ConnectomeNetwork", "ConnectomeParams", "ConnectomeState", "connectome_step",
    "NONLINEARITIES", "NORMALIZATIONS", "GABA_NEURONS",
]

#: Transfer functions of the rate network ("lif" spikes instead; see :func:`connectome_step`).
NONLINEARITIES: dict[str, Callable[[Tensor], Tensor] | None] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "lif": None,
}


def _norm_in(chem: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = chem.sum(axis=0, keepdims=True)
    w = np.divide(chem, total, out=np.zeros_like(chem), where=total > 0)
    return w, _scaled(gap, gap.sum(axis=1).max(initial=0.0))


def _norm_max(chem: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _scaled(chem, chem.max(initial=0.0)), _scaled(gap, gap.max(initial=0.0))


def _scaled(m: np.ndarray, by: float) -> np.ndarray:
    return m / by if by > 0 else np.zeros_like(m)


#: How synapse counts become weights: ``"in"``: ``W[:, j] = C[:, j] / sum_i C[i, j]`` (each
#: neuron's chemical input sums to 1), ``G = E / max_i sum_j E[i, j]`` (largest gap-junction
#: degree 1); ``"max"``: ``W = C / max C``, ``G = E / max E``.
NORMALIZATIONS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "in": _norm_in,
    "max": _norm_max,
}

#: Neurons whose chemical synapses ``sign="gaba"`` makes inhibitory: every neuron whose
#: chemical edges in the ``wang2024_herm`` annotation of cect 0.3.5 (Wang C et al. 2024, A
#: neurotransmitter atlas of C. elegans males and hermaphrodites, eLife 13:RP95402, applied to
#: Cook et al. 2019) are all GABA, i.e. it has GABA edges and no acetylcholine or glutamate
#: edges. A constant, so that the model does not read data files; the test suite recomputes it
#: from ``brainbridge.loaders.load_celegans_connectome("wang2024_herm")``.
GABA_NEURONS: frozenset[str] = frozenset({
    "ALA", "AVJL", "AVJR", "AVL", "DD1", "DD2", "DD3", "DD6", "DVB", "RIBL", "RIBR", "RIS",
    "RMED", "RMEL", "RMER", "RMEV", "VD1", "VD10", "VD11", "VD12", "VD13", "VD2", "VD3", "VD4",
    "VD5", "VD6", "VD7", "VD8", "VD9",
})


class ConnectomeState(NamedTuple):
    """State of a :class:`ConnectomeNetwork` between steps.

    Attributes
    ----------
    v : Tensor, (batch, n_neurons)
        Membrane potential (dimensionless; LIF threshold units with ``"lif"``).
    r : Tensor, (batch, n_neurons)
        What each neuron transmits through its chemical synapses: ``f(v)`` (rate) or the
        spikes of the last step (``"lif"``).

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    >>> p = ConnectomeParams(w, torch.zeros(2, 2), torch.zeros(2), 1.0, 0.0, 0.5)
    >>> _, state = connectome_step(torch.tensor([[1.0, 0.0]]), None, p, nonlinearity="relu")
    >>> state.v, state.r
    (tensor([[0.5000, 0.0000]]), tensor([[0.5000, 0.0000]]))
    """

    v: Tensor
    r: Tensor


class ConnectomeParams(NamedTuple):
    """Numerical parameters of :func:`connectome_step`.

    Attributes
    ----------
    w_chem : Tensor, (n_neurons, n_neurons)
        Signed, normalised chemical weights ``W[pre, post]``.
    gap : Tensor, (n_neurons, n_neurons)
        Normalised symmetric gap-junction weights ``G``, zero diagonal.
    gap_degree : Tensor, (n_neurons,)
        ``G.sum(1)``.
    gain_chemical, gain_electrical : float
        ``g_c`` and ``g_e``.
    alpha : float
        ``dt / tau`` (in (0, 1]).
    threshold : float
        LIF firing threshold (``"lif"`` only).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> counts = np.zeros((2, 2, 2)); counts[0, 1, 0] = 3
    >>> conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": ["A", "B"], "post": ["A", "B"],
    ...                             "synapse_type": ["chemical", "electrical"]})
    >>> p = ConnectomeNetwork(conn, tau=1.0, dt=0.1).params()
    >>> p.w_chem.tolist(), round(p.alpha, 3)
    ([[0.0, 1.0], [0.0, 0.0]], 0.1)
    """

    w_chem: Tensor
    gap: Tensor
    gap_degree: Tensor
    gain_chemical: float
    gain_electrical: float
    alpha: float
    threshold: float = 1.0


def connectome_step(x: Tensor, state: ConnectomeState | None, params: ConnectomeParams, *,
                    nonlinearity: str = "tanh") -> tuple[Tensor, ConnectomeState]:
    """One forward-Euler step of the connectome network (the functional core).

    Implements, with ``a = dt / tau``::

        drive  = g_c r W + g_e (v G - deg * v) + x             (row vectors, W[pre, post])
        rate:  v' = v + a (drive - v);   r' = f(v')
        lif:   v' = v + a (drive - v);   s = H(v' - theta);   v' <- v' - theta s;   r' = s

    Parameters
    ----------
    x : Tensor, (batch, n_neurons)
        External current ``I`` of this step (same units as ``v``).
    state : ConnectomeState or None
        Previous state; None starts from rest (``v = 0``, ``r = 0``, a fixed point of every
        nonlinearity without input).
    params : ConnectomeParams
    nonlinearity : {"tanh", "relu", "lif"}, default="tanh"

    Returns
    -------
    out : Tensor, (batch, n_neurons)
        ``r'``: the rate ``f(v')`` or the spikes (0/1).
    state : ConnectomeState

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([[0.0, 1.0], [0.0, 0.0]])  # neuron 0 -> neuron 1
    >>> p = ConnectomeParams(w, torch.zeros(2, 2), torch.zeros(2), 1.0, 0.0, 0.5)
    >>> out, st = connectome_step(torch.tensor([[1.0, 0.0]]), None, p, nonlinearity="relu")
    >>> out
    tensor([[0.5000, 0.0000]])
    >>> out, st = connectome_step(torch.zeros(1, 2), st, p, nonlinearity="relu")
    >>> out
    tensor([[0.2500, 0.2500]])
    """
    if state is None:
        zeros = torch.zeros_like(x)
        state = ConnectomeState(zeros, zeros)
    v, r = state
    w_chem, gap, degree, g_c, g_e, alpha, threshold = params
    drive = x + g_c * (r @ w_chem)
    if g_e != 0:
        drive = drive + g_e * (v @ gap - v * degree)
    if nonlinearity == "lif":
        s, lif_state = lif_step(drive, LIFState(v, r), LIFParams(1.0 - alpha, threshold, alpha),
                                reset="subtract", reset_timing="same")
        return s, ConnectomeState(lif_state.v, s)
    v_new = v + alpha * (drive - v)
    f = NONLINEARITIES.get(nonlinearity) or _check_option("nonlinearity", nonlinearity, NONLINEARITIES)
    out = f(v_new)
    return out, ConnectomeState(v_new, out)


# ------------------------------------------------------------------------------ inputs
def _matrices(connectome: xr.DataArray, neurons: Sequence[str] | None) -> tuple[list[str], np.ndarray,
                                                                                  np.ndarray]:
    """Neuron names, chemical counts and symmetric gap-junction counts (NaN -> 0, no diagonal)."""
    names = [str(n) for n in connectome["pre"].values]
    if neurons is not None:
        if isinstance(neurons, str) or not isinstance(neurons, Sequence | np.ndarray):
            raise ValueError(
                f"Invalid value for 'neurons': expected a list of neuron names; got {neurons!r}."
            )
        wanted = [str(n) for n in neurons]
        missing = [n for n in wanted if n not in set(names)]
        if missing or not wanted:
            raise ValueError(
                f"Invalid value for 'neurons': expected names of the connectome's neurons; "
                f"{', '.join(map(repr, missing[:5])) if missing else 'got an empty list'}"
                f"{' are not in it' if missing else ''}. Use names from connectome.pre.values."
            )
        if len(set(wanted)) != len(wanted):
            raise ValueError("Invalid value for 'neurons': a neuron name is repeated; give each once.")
        connectome = connectome.sel(pre=wanted, post=wanted)
        names = wanted
    chem = np.asarray(connectome.sel(synapse_type="chemical").transpose("pre", "post").values,
                      dtype=np.float64)
    types = [str(t) for t in connectome["synapse_type"].values]
    if "electrical" in types:
        elec = np.asarray(connectome.sel(synapse_type="electrical").transpose("pre", "post").values,
                          dtype=np.float64)
    else:
        logger.info("the connectome has no 'electrical' synapse type: no gap junctions")
        elec = np.zeros_like(chem)
    unknown = int(np.isnan(chem).sum() + np.isnan(elec).sum())
    if unknown:
        logger.info("%d connectome entries are NaN (pairs not reconstructed): treated as 0", unknown)
    chem, elec = np.nan_to_num(chem), np.nan_to_num(elec)
    if (chem < 0).any() or (elec < 0).any():
        raise ValueError(
            "Invalid value for 'connectome': expected synapse counts >= 0; got negative values. "
            "Give signs with sign=..., not in the counts."
        )
    np.fill_diagonal(chem, 0.0)
    np.fill_diagonal(elec, 0.0)
    if not np.allclose(elec, elec.T):
        logger.info("electrical synapses are not symmetric: using (E + E^T) / 2")
        elec = (elec + elec.T) / 2
    return names, chem, elec


def _gaba_sign(names: list[str]) -> np.ndarray:
    return np.array([-1.0 if n in GABA_NEURONS else 1.0 for n in names])


def _sign(sign: Any, names: list[str]) -> np.ndarray:
    if sign is None:
        return np.ones(len(names))
    if isinstance(sign, str):
        _check_option("sign", sign, ["gaba"])
        return _gaba_sign(names)
    if isinstance(sign, Mapping):
        unknown = [k for k in sign if k not in set(names)]
        if unknown:
            raise ValueError(
                f"Invalid value for 'sign': {', '.join(map(repr, unknown[:5]))} are not neurons "
                "of the network; use names from the connectome (missing names stay +1)."
            )
        return np.array([float(sign.get(n, 1.0)) for n in names])
    values = np.asarray(sign, dtype=np.float64)
    if values.shape != (len(names),) or not np.all(np.isfinite(values)):
        raise ValueError(
            f"Invalid value for 'sign': expected None, 'gaba', a {{neuron: sign}} mapping or "
            f"{len(names)} finite numbers (one per presynaptic neuron); got shape {values.shape}."
        )
    return values


def _positive(name: str, value: Any, what: str, *, allow_zero: bool = False) -> float:
    return check_scalar(name, value, float, low=0.0, closed="both" if allow_zero else "neither",
                        what=what)


# ------------------------------------------------------------------------------ module
class ConnectomeNetwork(nn.Module):
    """A connectome-constrained graded (or spiking) network.

    Equations in the module docstring and :func:`connectome_step`; ``forward`` is one
    Euler step, ``forward_seq`` runs a time-first input.

    Parameters
    ----------
    connectome : DataArray, dims ('pre', 'post', 'synapse_type')
        E.g. :func:`brainbridge.loaders.load_celegans_connectome`; ``[pre, post]`` counts.
        Needs ``'chemical'``; ``'electrical'`` (gap junctions) is optional. NaN (pairs not
        reconstructed) counts as 0; self-connections are dropped.
    neurons : list of str, optional
        Keep these neurons, in this order (default: all, in the connectome's order).
    gain_chemical : float, default=0.9
        ``g_c``. With ``normalize="in"`` every neuron's input weights sum to 1, so
        ``g_c < 1`` keeps the linearised rate network stable around rest.
    gain_electrical : float, default=0.5
        ``g_e``, gap-junction (Laplacian) coupling.
    tau : float, default=1.0
        Membrane time constant in seconds.
    dt : float, default=0.1
        Euler step in seconds (``dt <= tau``).
    nonlinearity : {"tanh", "relu", "lif"}, default="tanh"
        ``f``; ``"lif"`` transmits LIF spikes (threshold ``threshold``, subtractive reset).
    sign : None, "gaba", mapping or array-like, default=None
        Sign of each presynaptic neuron's chemical synapses, multiplying its row of ``W``:
        None: all +1 (the connectome carries no sign); ``"gaba"``: -1 for the neurons of
        :data:`GABA_NEURONS` (Wang et al. 2024; module docstring);
        ``{name: sign}`` (others +1) or one number per neuron.
    normalize : {"in", "max"}, default="in"
        See :data:`NORMALIZATIONS`.
    threshold : float, optional
        LIF threshold (``"lif"`` only; default 1.0).

    Attributes
    ----------
    neurons : tuple of str
    w_chem, gap, gap_degree : Tensor (buffers)

    Examples
    --------
    >>> import numpy as np, torch, xarray as xr
    >>> counts = np.zeros((3, 3, 2)); counts[0, 1, 0] = 2; counts[1, 2, 0] = 1
    >>> conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": list("ABC"), "post": list("ABC"),
    ...                             "synapse_type": ["chemical", "electrical"]})
    >>> net = ConnectomeNetwork(conn, gain_chemical=1.0, nonlinearity="relu")
    >>> x = torch.zeros(30, 1, 3); x[:5, 0, 0] = 1.0
    >>> out, state = net.forward_seq(x)
    >>> out.shape, bool(out[-1, 0, 2] > 0)
    (torch.Size([30, 1, 3]), True)
    """

    w_chem: Tensor  # buffers (register_buffer in __init__), declared for type checkers
    gap: Tensor
    gap_degree: Tensor

    def __init__(self, connectome: xr.DataArray, *, neurons: Sequence[str] | None = None,
                 gain_chemical: float = 0.9, gain_electrical: float = 0.5, tau: float = 1.0,
                 dt: float = 0.1, nonlinearity: str = "tanh", sign: Any = None,
                 normalize: str = "in", threshold: float | None = None) -> None:
        super().__init__()
        _check_option("nonlinearity", nonlinearity, NONLINEARITIES)
        _check_option("normalize", normalize, NORMALIZATIONS)
        self.gain_chemical = _positive("gain_chemical", gain_chemical, "chemical gain", allow_zero=True)
        self.gain_electrical = _positive("gain_electrical", gain_electrical, "gap-junction gain",
                                         allow_zero=True)
        self.tau = _positive("tau", tau, "membrane time constant in seconds")
        self.dt = _positive("dt", dt, "Euler step in seconds")
        if self.dt > self.tau:
            raise ValueError(
                f"Invalid value for 'dt': expected dt <= tau for a stable Euler step; got dt={dt!r} "
                f"and tau={tau!r}. Use a smaller dt (e.g. tau / 10)."
            )
        if threshold is not None and nonlinearity != "lif":
            raise ValueError(
                f"Invalid value for 'threshold': the threshold applies to nonlinearity='lif' only; "
                f"got threshold={threshold!r} with nonlinearity={nonlinearity!r}. Drop threshold."
            )
        self.threshold = _positive("threshold", 1.0 if threshold is None else threshold,
                                   "LIF firing threshold")
        self.nonlinearity = nonlinearity
        self.normalize = normalize
        connectome = check_connectome(connectome, chemical=True)
        names, chem, elec = _matrices(connectome, neurons)
        self.neurons = tuple(names)
        w, g = NORMALIZATIONS[normalize](chem, elec)
        w = _sign(sign, names)[:, None] * w
        dtype = torch.get_default_dtype()
        self.register_buffer("w_chem", torch.as_tensor(w, dtype=dtype))
        self.register_buffer("gap", torch.as_tensor(g, dtype=dtype))
        self.register_buffer("gap_degree", torch.as_tensor(g.sum(axis=1), dtype=dtype))

    @property
    def n_neurons(self) -> int:
        return len(self.neurons)

    def params(self) -> ConnectomeParams:
        """The :class:`ConnectomeParams` of this network."""
        return ConnectomeParams(self.w_chem, self.gap, self.gap_degree, self.gain_chemical,
                                self.gain_electrical, self.dt / self.tau, self.threshold)

    def _check_input(self, x: Tensor, name: str, ndim: int) -> None:
        if x.dim() != ndim or x.shape[-1] != self.n_neurons or (ndim == 3 and x.shape[0] == 0):
            shape = "(T, batch, n_neurons) with T >= 1" if ndim == 3 else "(batch, n_neurons)"
            raise ValueError(
                f"Invalid value for {name!r}: expected a tensor of shape {shape}, n_neurons = "
                f"{self.n_neurons}; got shape {tuple(x.shape)}."
            )

    def forward(self, x: Tensor, state: ConnectomeState | None = None) -> tuple[Tensor, ConnectomeState]:
        """One step: ``x`` (batch, n_neurons) -> ``(out, state)``."""
        self._check_input(x, "x", 2)
        out, state = connectome_step(x, state, self.params(), nonlinearity=self.nonlinearity)
        emit(self, step=True, out=out, v=state.v)
        return out, state

    def forward_seq(self, x_seq: Tensor, state: ConnectomeState | None = None
                    ) -> tuple[Tensor, ConnectomeState]:
        """All steps of ``x_seq`` (T, batch, n_neurons) -> ``(out (T, batch, n_neurons), state)``."""
        self._check_input(x_seq, "x_seq", 3)
        params = self.params()
        outs, vs = [], []
        for t in range(x_seq.shape[0]):
            out, state = connectome_step(x_seq[t], state, params, nonlinearity=self.nonlinearity)
            outs.append(out)
            vs.append(state.v)
        out_seq = torch.stack(outs)
        emit(self, step=False, out=out_seq, v=torch.stack(vs))
        return out_seq, state  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return (f"n_neurons={self.n_neurons}, nonlinearity={self.nonlinearity!r}, "
                f"gain_chemical={self.gain_chemical:g}, gain_electrical={self.gain_electrical:g}, "
                f"tau={self.tau:g} s, dt={self.dt:g} s, normalize={self.normalize!r}")
