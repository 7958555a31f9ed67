"""Connectome-constrained networks: simulate stimulation neuron by neuron, compare with the atlas.

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
makes inhibitory the neurons whose chemical edges in the ``wang2024_herm`` annotation (which
ships with cect: Wang et al. 2024 neurotransmitter atlas applied to Cook 2019) are all GABA
(29 neurons: the DD/VD motor neurons, RME, RIS, AVL, DVB, ALA, AVJ, RIB; the SMDs, which also
release acetylcholine, stay excitatory). Glutamate and acetylcholine can also inhibit through
ligand-gated chloride channels; that depends on the receptor of each postsynaptic cell, which
no shipped data gives, so they stay excitatory.

**Null.** :func:`shuffle_connectome` rewires the chemical graph by directed double-edge swaps
(``a->b, c->d`` becomes ``a->d, c->b``: every in- and out-degree is kept) and the gap-junction
graph by undirected swaps (every degree kept); each edge keeps its synapse count.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn

from .._checks import _check_option
from ._lif import LIFParams, LIFState, lif_step
from ._trace import emit

logger = logging.getLogger(__name__)

__all__ = [
    "ConnectomeNetwork", "ConnectomeParams", "ConnectomeState", "connectome_step",
    "simulate_stimulation", "shuffle_connectome", "structure_function",
    "NONLINEARITIES", "NORMALIZATIONS", "STRUCTURE_FUNCTION_SCORES",
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

#: Scores of :func:`structure_function`, in the order of its 'score' dim.
STRUCTURE_FUNCTION_SCORES = ("pair_pearson", "pair_spearman", "rsa", "curvature")


class ConnectomeState(NamedTuple):
    """State of a :class:`ConnectomeNetwork` between steps.

    Attributes
    ----------
    v : Tensor, (batch, n_neurons)
        Membrane potential (dimensionless; LIF threshold units with ``"lif"``).
    r : Tensor, (batch, n_neurons)
        What each neuron transmits through its chemical synapses: ``f(v)`` (rate) or the
        spikes of the last step (``"lif"``).
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
    f = NONLINEARITIES[nonlinearity]
    out = f(v_new)  # type: ignore[misc]
    return out, ConnectomeState(v_new, out)


# ------------------------------------------------------------------------------ inputs
def _check_connectome(connectome: Any, name: str = "connectome") -> xr.DataArray:
    if (not isinstance(connectome, xr.DataArray)
            or not {"pre", "post", "synapse_type"} <= set(connectome.dims)):
        got = (f"dims {tuple(connectome.dims)}" if isinstance(connectome, xr.DataArray)
               else type(connectome).__name__)
        raise ValueError(
            f"Invalid value for {name!r}: expected a connectome DataArray with dims ('pre', "
            f"'post', 'synapse_type'); got {got}. Load one with "
            "brainbridge.loaders.load_celegans_connectome('cook2019')."
        )
    types = [str(t) for t in connectome["synapse_type"].values]
    if "chemical" not in types:
        raise ValueError(
            f"Invalid value for {name!r}: expected a 'chemical' synapse type; got "
            f"{', '.join(map(repr, types))}. Use an annotation with chemical synapse counts "
            "(e.g. 'cook2019', 'white1986_whole')."
        )
    pre = [str(n) for n in connectome["pre"].values]
    post = [str(n) for n in connectome["post"].values]
    if pre != post:
        raise ValueError(
            f"Invalid value for {name!r}: expected the same neurons in the same order on 'pre' "
            "and 'post'; they differ. Select them with connectome.sel(post=connectome.pre.values)."
        )
    return connectome


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


@functools.lru_cache(maxsize=1)
def _gaba_neurons() -> frozenset[str]:
    """Neurons whose chemical edges in the wang2024_herm annotation are all GABA."""
    from ..loaders import load_celegans_connectome

    w = load_celegans_connectome("wang2024_herm")
    has = {t: np.nan_to_num(w.sel(synapse_type=t).values).sum(axis=1) > 0
           for t in ("acetylcholine", "glutamate", "gaba")}
    inhibitory = has["gaba"] & ~has["acetylcholine"] & ~has["glutamate"]
    return frozenset(str(n) for n in w["pre"].values[inhibitory])


def _gaba_sign(names: list[str]) -> np.ndarray:
    gaba = _gaba_neurons()
    return np.array([-1.0 if n in gaba else 1.0 for n in names])


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
    ok = (isinstance(value, int | float | np.number) and not isinstance(value, bool)
          and math.isfinite(value) and (value >= 0 if allow_zero else value > 0))
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Invalid value for {name!r}: expected a number {bound} ({what}); got {value!r}.")
    return float(value)


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
        None: all +1 (the connectome carries no sign); ``"gaba"``: -1 for the GABA-only
        neurons of the shipped Wang et al. 2024 annotation (module docstring);
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
        connectome = _check_connectome(connectome)
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


# ------------------------------------------------------------------------------ stimulation
def _steps(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"Invalid value for {name!r}: expected an int >= {low} (steps); got {value!r}.")
    return int(value)


def simulate_stimulation(network: ConnectomeNetwork | xr.DataArray, stimulated: Sequence[str] | None = None,
                         *, amplitude: float = 1.0, duration_steps: int = 5, n_steps: int = 100,
                         window: tuple[int, int] | None = None, device: Any = "cpu",
                         **network_kwargs: Any) -> xr.DataArray:
    """Stimulate each neuron in turn from rest and record every neuron's response.

    Like the optogenetic experiment of Randi et al. 2023: one simulation per stimulated neuron
    (all run as one batch), starting from rest (``v = 0``), with a current pulse
    ``I = amplitude`` into that neuron during steps ``0 .. duration_steps - 1``. The response
    of unit ``u`` to stimulus ``s`` is the mean output over the window::

        response[s, u] = mean_{t in [start, stop)} r_u[t]      (r = f(v), rest value 0)

    for the rate network (dimensionless, the analogue of dF/F), and the mean firing rate in
    Hz (spikes per step / dt) for ``"lif"``. The stimulated neuron's own response (the
    "autoresponse") is included; :func:`structure_function` leaves it out.

    Parameters
    ----------
    network : ConnectomeNetwork or DataArray
        A network, or a connectome to build one from with ``**network_kwargs``.
    stimulated : list of str, optional
        Neurons to stimulate, in order (default: every neuron of the network).
    amplitude : float, default=1.0
        Pulse current (units of ``v``).
    duration_steps : int, default=5
        Pulse length in steps (0.5 s with the default ``dt``).
    n_steps : int, default=100
        Simulated steps per stimulation (10 s with the default ``dt``).
    window : (int, int), optional
        Steps ``[start, stop)`` averaged; default ``(0, n_steps)``.
    device : str or torch.device, default="cpu"
        Where to simulate ("auto" picks CUDA when present).
    **network_kwargs
        :class:`ConnectomeNetwork` options, when ``network`` is a connectome.

    Returns
    -------
    DataArray, dims ('stimulus', 'unit')
        A "celegans" assembly; stimulus and unit ids are neuron names, so it aligns with
        :func:`brainbridge.loaders.load_celegans_funatlas` (``dff[stimulus, unit]``).
        Float64 values (simulated in the network's dtype, float32 by default).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> counts = np.zeros((3, 3, 2)); counts[0, 1, 0] = 1; counts[1, 2, 0] = 1  # A -> B -> C
    >>> conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": list("ABC"), "post": list("ABC"),
    ...                             "synapse_type": ["chemical", "electrical"]})
    >>> resp = simulate_stimulation(conn, ["A", "C"])
    >>> (resp.sel(stimulus="A").values > 0).tolist(), (resp.sel(stimulus="C").values > 0).tolist()
    ([True, True, True], [False, False, True])
    """
    from .._config import resolve_device, torch_threads

    if isinstance(network, xr.DataArray):
        network = ConnectomeNetwork(network, **network_kwargs)
    elif not isinstance(network, ConnectomeNetwork):
        raise ValueError(
            "Invalid value for 'network': expected a ConnectomeNetwork or a connectome DataArray "
            f"(dims 'pre', 'post', 'synapse_type'); got {type(network).__name__}."
        )
    elif network_kwargs:
        raise ValueError(
            f"Invalid value for 'network_kwargs': {', '.join(map(repr, network_kwargs))} apply "
            "when 'network' is a connectome; this is a ConnectomeNetwork already. Build it with "
            "those options instead."
        )
    names = list(network.neurons)
    if stimulated is None:
        stimulated = names
    elif isinstance(stimulated, str):
        stimulated = [stimulated]
    index = {n: i for i, n in enumerate(names)}
    missing = [str(s) for s in stimulated if str(s) not in index]
    if missing or len(stimulated) == 0:
        raise ValueError(
            "Invalid value for 'stimulated': expected names of the network's neurons; "
            + (f"{', '.join(map(repr, missing[:5]))} are not in it." if missing else "got an empty list.")
        )
    amplitude = float(amplitude) if isinstance(amplitude, int | float | np.number) else amplitude
    if not isinstance(amplitude, float) or not math.isfinite(amplitude):
        raise ValueError(f"Invalid value for 'amplitude': expected a finite number; got {amplitude!r}.")
    duration_steps = _steps("duration_steps", duration_steps, 1)
    n_steps = _steps("n_steps", n_steps, 1)
    start, stop = (0, n_steps) if window is None else window
    if not (isinstance(start, int | np.integer) and isinstance(stop, int | np.integer)
            and 0 <= start < stop <= n_steps):
        raise ValueError(
            f"Invalid value for 'window': expected (start, stop) steps with 0 <= start < stop <= "
            f"n_steps = {n_steps}; got {window!r}."
        )
    dev = resolve_device(device)
    stim_idx = torch.as_tensor([index[str(s)] for s in stimulated], device=dev)
    params = network.params()  # moved, not the network: the caller's module stays where it is
    params = params._replace(w_chem=params.w_chem.to(dev), gap=params.gap.to(dev),
                             gap_degree=params.gap_degree.to(dev))
    dtype = params.w_chem.dtype
    pulse = torch.zeros(len(stimulated), len(names), dtype=dtype, device=dev)
    pulse[torch.arange(len(stimulated), device=dev), stim_idx] = amplitude
    quiet = torch.zeros_like(pulse)
    total = torch.zeros(pulse.shape, dtype=torch.float64, device=dev)
    state = None
    # one intra-op thread on the CPU: ~300 small matmuls are dominated by thread hand-off
    # (measured 0.8 ms vs 20 ms per step on a busy 2-core machine)
    threads = torch_threads(1) if dev.type == "cpu" else contextlib.nullcontext()
    with torch.no_grad(), threads:
        for t in range(stop):
            out, state = connectome_step(pulse if t < duration_steps else quiet, state, params,
                                         nonlinearity=network.nonlinearity)
            if t >= start:
                total += out
    mean = (total / (stop - start)).cpu().numpy()
    units = "a.u."
    if network.nonlinearity == "lif":
        mean, units = mean / network.dt, "Hz"
    from .._assembly import assembly

    return assembly(mean, dims=("stimulus", "unit"),
                    coords={"stimulus": np.array([str(s) for s in stimulated]),
                            "unit": np.array(names)},
                    modality="celegans", units=units, name="response")


# ------------------------------------------------------------------------------ shuffles
def _swap_rounds(src: np.ndarray, dst: np.ndarray, n: int, target: int, rng: np.random.Generator,
                 directed: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Batched double-edge swaps on a simple graph (edges ``src -> dst``, no self-loops).

    Each round pairs the edges at random (a random permutation, disjoint pairs) and proposes
    ``a->b, c->d  =>  a->d, c->b`` for every pair (undirected: each edge first gets a random
    orientation, so both swap forms are proposed). A proposal is accepted when it creates no
    self-loop, neither new edge exists before the round, and no other proposal of the round
    creates the same edge; accepted swaps are applied together, which keeps the graph simple
    and every (in-, out-) degree. Rounds continue until ``target`` swaps are accepted (or 50
    rounds without any).
    """
    src, dst = src.copy(), dst.copy()
    n_edges = src.size
    adj = np.zeros((n, n), dtype=bool)
    adj[src, dst] = True
    if not directed:
        adj[dst, src] = True
    done, idle = 0, 0
    while done < target and n_edges >= 2 and idle < 50:
        if not directed:
            flip = rng.random(n_edges) < 0.5
            src, dst = np.where(flip, dst, src), np.where(flip, src, dst)
        perm = rng.permutation(n_edges)
        half = n_edges // 2
        i, j = perm[:half], perm[half:2 * half]
        a, b, c, d = src[i], dst[i], src[j], dst[j]
        ok = (a != d) & (c != b) & ~adj[a, d] & ~adj[c, b]
        k1, k2 = a * n + d, c * n + b
        if not directed:
            k1 = np.minimum(a, d) * n + np.maximum(a, d)
            k2 = np.minimum(c, b) * n + np.maximum(c, b)
        keys = np.concatenate([k1[ok], k2[ok]])
        uniq, counts = np.unique(keys, return_counts=True)
        clash = uniq[counts > 1]
        ok &= ~np.isin(k1, clash) & ~np.isin(k2, clash)
        room = target - done
        if ok.sum() > room:  # stop exactly at the target
            ok[np.flatnonzero(ok)[room:]] = False
        a, b, c, d, i, j = a[ok], b[ok], c[ok], d[ok], i[ok], j[ok]
        adj[a, b] = adj[c, d] = False
        adj[a, d] = adj[c, b] = True
        if not directed:
            adj[b, a] = adj[d, c] = False
            adj[d, a] = adj[b, c] = True
        dst[i], dst[j] = d, b
        done += int(ok.sum())
        idle = 0 if ok.any() else idle + 1
    return src, dst, done


def _shuffle_matrix(m: np.ndarray, n_swaps: float, rng: np.random.Generator, directed: bool) -> np.ndarray:
    n = m.shape[0]
    off = m.copy()
    np.fill_diagonal(off, 0.0)
    src, dst = np.nonzero(off if directed else np.triu(off, 1))
    weights = off[src, dst]
    target = int(round(n_swaps * src.size))
    new_src, new_dst, done = _swap_rounds(src, dst, n, target, rng, directed)
    if done < target:
        logger.info("only %d of %d edge swaps could be made", done, target)
    out = np.zeros_like(m)
    out[new_src, new_dst] = weights
    if not directed:
        out[new_dst, new_src] = weights
    np.fill_diagonal(out, np.diag(m))
    return out


def shuffle_connectome(connectome: xr.DataArray, *, n_swaps: float = 10.0,
                       random_state: Any = None) -> xr.DataArray:
    """A degree-preserving random rewiring of a connectome.

    Every synapse type is shuffled on its own: directed double-edge swaps
    (``a->b, c->d => a->d, c->b``) for chemical and other directed types, which keep every
    neuron's in- and out-degree; undirected swaps for types whose ``transmission`` coord is
    ``"electrical"`` (or named ``"electrical"``), which keep every degree and the symmetry.
    An edge keeps its weight when it moves (so the multiset of weights and each neuron's
    out-strength, for directed types, are kept too). Self-connections stay in place and take
    no part in swaps. About ``n_swaps`` accepted swaps per edge are made (batched proposals,
    see :func:`_swap_rounds`); the same ``random_state`` gives the same result.

    Parameters
    ----------
    connectome : DataArray, dims ('pre', 'post', 'synapse_type')
        Without NaN (fill unreconstructed pairs first, e.g. ``connectome.fillna(0)``).
    n_swaps : float, default=10.0
        Accepted swaps per edge.
    random_state : int, Generator or None

    Returns
    -------
    DataArray
        Same dims, coords and attrs (attr ``shuffle`` says how it was made).

    Examples
    --------
    >>> from brainbridge.loaders import load_celegans_connectome
    >>> conn = load_celegans_connectome("cook2019")
    >>> null = shuffle_connectome(conn, random_state=0)
    >>> chem, shuffled = conn.sel(synapse_type="chemical"), null.sel(synapse_type="chemical")
    >>> bool(((chem > 0).sum("post") == (shuffled > 0).sum("post")).all())
    True
    """
    from ..analyses._stats import _check_random_state

    connectome = _check_connectome(connectome)
    n_swaps = _positive("n_swaps", n_swaps, "accepted swaps per edge", allow_zero=True)
    rng = _check_random_state(random_state)
    data = connectome.transpose("pre", "post", "synapse_type")
    values = np.asarray(data.values, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError(
            "Invalid value for 'connectome': it has NaN entries (pairs the annotation did not "
            "reconstruct), which a rewiring cannot place; fill them first, e.g. "
            "connectome.fillna(0)."
        )
    types = [str(t) for t in data["synapse_type"].values]
    kinds = ([str(k) for k in data["transmission"].values] if "transmission" in data.coords
             else types)
    out = np.empty_like(values)
    for k, (name, kind) in enumerate(zip(types, kinds)):
        directed = not (name == "electrical" or kind == "electrical")
        out[..., k] = _shuffle_matrix(values[..., k], n_swaps, rng, directed)
    result = data.copy(data=out)
    result.attrs["shuffle"] = f"degree-preserving double-edge swaps, {n_swaps:g} per edge"
    return result.transpose(*connectome.dims)


# ------------------------------------------------------------------------------ scores
def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.dot(xc, xc)) * float(np.dot(yc, yc)))
    return float(np.clip(np.dot(xc, yc) / den, -1.0, 1.0)) if den > 0 else float("nan")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(x), rankdata(y)) if x.size >= 3 else float("nan")


def _masked_corr_distance(x: np.ndarray, mask: np.ndarray, min_units: int) -> np.ndarray:
    """``1 - r`` between rows of ``x`` over the columns observed in both rows (pairwise complete).

    ``r[a, b]`` is Pearson's correlation of ``x[a, u]`` and ``x[b, u]`` over
    ``u in obs(a) & obs(b)``; NaN with fewer than ``min_units`` such columns or a constant side.
    Computed from masked sums (float64) for all pairs at once.
    """
    m = mask.astype(np.float64)
    xm = np.where(mask, x, 0.0)
    n = m @ m.T
    sx = xm @ m.T  # sum of x[a, u] over u observed in both a and b
    sxx = (xm * xm) @ m.T
    sxy = xm @ xm.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        va = sxx - sx * sx / n
        vb = va.T
        den = np.sqrt(va * vb)
        r = cov / den
    scale = np.sqrt(np.abs(sxx * sxx.T)) * 1e-12
    r[(n < min_units) | ~(den > scale)] = np.nan
    return 1.0 - np.clip(r, -1.0, 1.0)


class _Scorer:
    """Everything about the measured atlas that the scores need, computed once."""

    def __init__(self, measured: xr.Dataset, neurons: Sequence[str], q_threshold: float,
                 min_units: int, curvature: dict[str, Any]) -> None:
        from ..analyses import ricci_curvature

        in_net = set(neurons)
        units = [str(u) for u in measured["unit"].values if str(u) in in_net]
        stimuli = [str(s) for s in measured["stimulus"].values if str(s) in in_net]
        dff = np.asarray(measured["dff"].sel(stimulus=stimuli, unit=units).values, dtype=np.float64)
        n_obs = np.asarray(measured["n_obs"].sel(stimulus=stimuli, unit=units).values, dtype=np.float64)
        q = np.asarray(measured["q"].sel(stimulus=stimuli, unit=units).values, dtype=np.float64)
        pos = {u: i for i, u in enumerate(units)}
        self_pair = np.zeros(dff.shape, dtype=bool)
        for i, s in enumerate(stimuli):
            if s in pos:
                self_pair[i, pos[s]] = True
        mask = (n_obs > 0) & np.isfinite(dff) & ~self_pair
        keep = mask.any(axis=1)
        if mask.sum() < 3:
            raise ValueError(
                "Invalid value for 'measured': expected at least 3 observed pairs (n_obs > 0, "
                f"finite dff, stimulus != unit) among neurons of the network; got {int(mask.sum())}. "
                "Check that measured uses the connectome's neuron names."
            )
        self.stimuli = [s for s, k in zip(stimuli, keep) if k]
        self.units = units
        dff, q, mask = dff[keep], q[keep], mask[keep]
        self.mask = mask
        self.pairs = dff[mask]
        # RSA: stimuli observed in >= min_units units, pairwise-complete correlation distance
        rows = np.flatnonzero(mask.sum(axis=1) >= min_units)
        self.rsa_rows = rows
        self.min_units = min_units
        iu = np.triu_indices(rows.size, 1)
        self.iu = iu
        d = _masked_corr_distance(dff[rows], mask[rows], min_units)[iu]
        self.rdm_ok = np.isfinite(d)
        self.rdm = d[self.rdm_ok]
        # curvature: undirected graph over the units, edge where q < q_threshold in either direction
        names = np.asarray(units)
        node_of_stim = np.array([pos[s] for s in self.stimuli])
        sig = mask & (np.nan_to_num(q, nan=1.0) < q_threshold)
        self.n_edges = int(sig.sum())
        r_idx, c_idx = np.nonzero(mask)
        self.pair_nodes = (node_of_stim[r_idx], c_idx)
        graph = self._graph(node_of_stim[np.nonzero(sig)[0]], np.nonzero(sig)[1], len(units), names)
        self.curvature = curvature
        self.node_measured = ricci_curvature(graph, **curvature)["node_curvature"].values
        self.names = names

    @staticmethod
    def _graph(src: np.ndarray, dst: np.ndarray, n: int, names: np.ndarray) -> Any:
        import scipy.sparse as sp

        from ..analyses import Graph

        adj = np.zeros((n, n), dtype=bool)
        adj[src, dst] = adj[dst, src] = True  # both directions significant: still one edge
        rows, cols = np.nonzero(adj)
        return Graph(sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n)), names, False)

    def simulated(self, sim: np.ndarray, sim_stimuli: Sequence[str], sim_units: Sequence[str]) -> np.ndarray:
        si = {s: i for i, s in enumerate(sim_stimuli)}
        ui = {u: i for i, u in enumerate(sim_units)}
        return sim[np.ix_([si[s] for s in self.stimuli], [ui[u] for u in self.units])]

    def score(self, sim: np.ndarray) -> np.ndarray:
        """Scores (:data:`STRUCTURE_FUNCTION_SCORES` order) of ``sim`` aligned to (stimuli, units)."""
        from ..analyses import ricci_curvature

        out = np.full(len(STRUCTURE_FUNCTION_SCORES), np.nan)
        x = sim[self.mask]
        out[0], out[1] = _pearson(x, self.pairs), _spearman(x, self.pairs)
        d = _masked_corr_distance(sim[self.rsa_rows], self.mask[self.rsa_rows], self.min_units)[self.iu]
        d = d[self.rdm_ok]
        ok = np.isfinite(d)
        out[2] = _spearman(d[ok], self.rdm[ok])
        if self.n_edges:
            # the n_edges observed pairs with the largest |simulated response| (stable order on ties)
            top = np.argsort(-np.abs(x), kind="stable")[: self.n_edges]
            graph = self._graph(self.pair_nodes[0][top], self.pair_nodes[1][top], len(self.units),
                                self.names)
            node_sim = ricci_curvature(graph, **self.curvature)["node_curvature"].values
            ok = np.isfinite(node_sim) & np.isfinite(self.node_measured)
            self.n_matched = int(ok.sum())
            out[3] = _spearman(node_sim[ok], self.node_measured[ok])
        return out


def _check_measured(measured: Any) -> xr.Dataset:
    need = ("dff", "n_obs", "q")
    if not isinstance(measured, xr.Dataset) or any(v not in measured for v in need):
        got = (f"variables {sorted(map(str, measured.data_vars))}" if isinstance(measured, xr.Dataset)
               else type(measured).__name__)
        raise ValueError(
            "Invalid value for 'measured': expected a Dataset with 'dff', 'n_obs' and 'q' over "
            f"('stimulus', 'unit'); got {got}. Load it with "
            "brainbridge.loaders.load_celegans_funatlas('wt', neurons='canonical')."
        )
    for v in need:
        if set(measured[v].dims) != {"stimulus", "unit"}:
            raise ValueError(
                f"Invalid value for 'measured': expected {v!r} with dims ('stimulus', 'unit'); got "
                f"{tuple(measured[v].dims)}."
            )
    return measured


def structure_function(connectome: xr.DataArray, measured: xr.Dataset, *, n_shuffles: int = 100,
                       q_threshold: float = 0.05, min_units: int = 10, n_swaps: float = 10.0,
                       stimulation: Mapping[str, Any] | None = None, random_state: Any = None,
                       progress: bool | None = None, **network_kwargs: Any) -> xr.Dataset:
    """Compare simulated and measured stimulation responses against shuffled connectomes.

    The connectome becomes a :class:`ConnectomeNetwork` (``**network_kwargs``); every
    stimulated neuron of ``measured`` that the network has is stimulated
    (:func:`simulate_stimulation`, ``**stimulation``), and the responses are scored against
    ``measured`` over the neurons both have:

    * ``pair_pearson``, ``pair_spearman``: correlation of simulated and measured responses over
      the observed pairs: ``n_obs > 0``, finite ``dff``, ``stimulus != unit``.
    * ``rsa``: Spearman correlation of the two RDMs over stimulated neurons. The RDM entry of
      stimuli ``a, b`` is the correlation distance ``1 - r`` of their response vectors over
      the units observed (as above) for both ``a`` and ``b`` (pairwise complete, the same
      units for the simulated RDM); stimuli with fewer than ``min_units`` observed units are
      left out, and entries with fewer than ``min_units`` shared units are NaN and skipped.
    * ``curvature``: Spearman correlation of Ollivier-Ricci node curvature
      (:func:`brainbridge.analyses.ricci_curvature`, exact, ``alpha=0.5``, unit edge lengths)
      between two undirected graphs over the units, over the nodes with an edge in both. The
      measured graph has an edge ``a - b`` where the response of one to stimulation of the
      other has ``q < q_threshold``; the simulated graph has as many directed pairs, the
      observed pairs with the largest ``|simulated response|``, made undirected the same way.

    Null: ``n_shuffles`` degree-preserving rewirings (:func:`shuffle_connectome`) are
    simulated and scored the same way; one-sided p-value (larger = better)::

        p = (1 + #{k : null_k >= observed}) / (1 + n_valid)

    with ``n_valid`` the shuffles whose score is finite (``n_shuffles`` when all are).

    Parameters
    ----------
    connectome : DataArray, dims ('pre', 'post', 'synapse_type')
    measured : Dataset
        ``dff``, ``n_obs`` and ``q`` with dims ('stimulus', 'unit'), e.g.
        :func:`brainbridge.loaders.load_celegans_funatlas` (``neurons="canonical"`` matches
        the connectome's names; with ``"atlas"`` AWCON / AWCOFF are left out).
    n_shuffles : int, default=100
    q_threshold : float, default=0.05
    min_units : int, default=10
    n_swaps : float, default=10.0
        Accepted edge swaps per edge in each shuffle.
    stimulation : dict, optional
        Options of :func:`simulate_stimulation` (``amplitude``, ``duration_steps``,
        ``n_steps``, ``window``, ``device``).
    random_state : int, Generator or None
        Seeds the shuffles.
    progress : bool or None
        Progress bar over shuffles (None: only on a terminal).
    **network_kwargs
        :class:`ConnectomeNetwork` options.

    Returns
    -------
    Dataset
        ``value`` and ``p_value`` over 'score' (:data:`STRUCTURE_FUNCTION_SCORES`), ``null``
        over ('shuffle', 'score'), ``simulated`` and ``measured`` over the scored
        ('stimulus', 'unit'), ``observed`` (bool, the scored pairs). attrs: counts
        (``n_pairs``, ``n_rsa_stimuli``, ``n_rdm_entries``, ``n_graph_pairs``,
        ``n_curvature_nodes``) and the settings.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> names = [f"n{i}" for i in range(12)]
    >>> counts = np.stack([(rng.random((12, 12)) < 0.3) * 1.0, np.zeros((12, 12))], -1)
    >>> conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": names, "post": names,
    ...                             "synapse_type": ["chemical", "electrical"]})
    >>> sim = simulate_stimulation(conn)
    >>> coords = {"stimulus": names, "unit": names}
    >>> atlas = xr.Dataset({"dff": (("stimulus", "unit"), sim.values + rng.normal(0, 0.001, (12, 12))),
    ...                     "n_obs": (("stimulus", "unit"), np.ones((12, 12))),
    ...                     "q": (("stimulus", "unit"), np.where(sim.values > 0.05, 0.01, 0.5))},
    ...                    coords=coords)
    >>> res = structure_function(conn, atlas, n_shuffles=5, min_units=5, random_state=0)
    >>> bool(res.value.sel(score="pair_pearson") > 0.9)
    True
    """
    from threadpoolctl import threadpool_limits

    from .._config import torch_threads
    from ..analyses._stats import _check_random_state

    connectome = _check_connectome(connectome)
    measured = _check_measured(measured)
    n_shuffles = _steps("n_shuffles", n_shuffles, 0)
    min_units = _steps("min_units", min_units, 3)
    if (isinstance(q_threshold, bool) or not isinstance(q_threshold, int | float | np.number)
            or not 0 < q_threshold <= 1):
        raise ValueError(
            f"Invalid value for 'q_threshold': expected a number in (0, 1]; got {q_threshold!r}."
        )
    stimulation = dict(stimulation or {})
    if "stimulated" in stimulation:
        raise ValueError(
            "Invalid value for 'stimulation': 'stimulated' is set by structure_function (the "
            "stimulated neurons of 'measured'); remove it, or subset measured.sel(stimulus=[...])."
        )
    rng = _check_random_state(random_state)
    with threadpool_limits(1), torch_threads(1):  # small matrices: threads only add hand-off
        return _structure_function(connectome, measured, n_shuffles, float(q_threshold), min_units,
                                   float(n_swaps), stimulation, rng, progress, network_kwargs)


def _structure_function(connectome: xr.DataArray, measured: xr.Dataset, n_shuffles: int,
                        q_threshold: float, min_units: int, n_swaps: float, stimulation: dict[str, Any],
                        rng: np.random.Generator, progress: bool | None,
                        network_kwargs: dict[str, Any]) -> xr.Dataset:
    from tqdm.auto import tqdm

    network = ConnectomeNetwork(connectome, **network_kwargs)
    neurons = list(network.neurons)
    scorer = _Scorer(measured, neurons, q_threshold, min_units,
                     {"alpha": 0.5, "method": "exact", "n_jobs": 1})

    def run(net: ConnectomeNetwork) -> tuple[np.ndarray, np.ndarray]:
        resp = simulate_stimulation(net, scorer.stimuli, **stimulation)
        sim = scorer.simulated(resp.values, scorer.stimuli, list(resp["unit"].values))
        return sim, scorer.score(sim)

    sim, value = run(network)
    n_matched = getattr(scorer, "n_matched", 0)
    kwargs = dict(network_kwargs)
    kwargs.pop("neurons", None)
    kwargs["sign"] = _sign(kwargs.get("sign"), neurons)  # resolved once, in the shuffles' order
    sub = connectome.sel(pre=neurons, post=neurons).fillna(0.0)
    null = np.full((n_shuffles, len(STRUCTURE_FUNCTION_SCORES)), np.nan)
    bar = tqdm(range(n_shuffles), desc="shuffled connectomes",
               disable=None if progress is None else not progress)
    for k in bar:
        shuffled = shuffle_connectome(sub, n_swaps=n_swaps, random_state=rng)
        null[k] = run(ConnectomeNetwork(shuffled, **kwargs))[1]
    finite = np.isfinite(null)
    n_valid = finite.sum(axis=0)
    exceed = np.sum(finite & (null >= value[None, :]), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = np.where(np.isfinite(value) & (n_valid > 0), (1.0 + exceed) / (1.0 + n_valid), np.nan)
    measured_dff = np.where(scorer.mask, 0.0, np.nan)
    measured_dff[scorer.mask] = scorer.pairs
    coords = {"score": list(STRUCTURE_FUNCTION_SCORES), "shuffle": np.arange(n_shuffles),
              "stimulus": np.array(scorer.stimuli), "unit": np.array(scorer.units)}
    return xr.Dataset(
        {
            "value": ("score", value),
            "p_value": ("score", p_value),
            "null": (("shuffle", "score"), null),
            "simulated": (("stimulus", "unit"), sim),
            "measured": (("stimulus", "unit"), measured_dff),
            "observed": (("stimulus", "unit"), scorer.mask),
        },
        coords=coords,
        attrs={
            "modality": "celegans",
            "n_pairs": int(scorer.mask.sum()),
            "n_rsa_stimuli": int(scorer.rsa_rows.size),
            "n_rdm_entries": int(scorer.rdm.size),
            "n_graph_pairs": scorer.n_edges,
            "n_curvature_nodes": n_matched,
            "n_shuffles": n_shuffles,
            "q_threshold": float(q_threshold),
            "min_units": min_units,
            "n_swaps": float(n_swaps),
            "network": repr(network.extra_repr()),
            "stimulation": repr(stimulation),
            "p_value_formula": "(1 + #{null >= observed}) / (1 + n_valid)",
        },
    )
