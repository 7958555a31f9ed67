"""Stimulating a connectome network neuron by neuron, as in an optogenetic atlas.

:func:`simulate_stimulation` is the protocol of Randi et al. 2023 run on a
:class:`~brainbridge.snn.ConnectomeNetwork`: a current pulse into one neuron at a time,
starting from rest, and every neuron's mean response. :func:`connectome_simulator` packs a
network's options and the protocol into one callable ``simulate(connectome, stimulated)``,
the form :func:`brainbridge.analyses.structure_function` takes (it simulates the real and
the shuffled connectomes with it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._assembly import assembly
from .._checks import check_scalar
from .._config import resolve_device, torch_threads
from ._connectome import ConnectomeNetwork, connectome_step

__all__ = ["simulate_stimulation", "connectome_simulator", "ConnectomeSimulator", "STIMULATION_OPTIONS"]

#: Options of :func:`simulate_stimulation` that :func:`connectome_simulator` passes on.
STIMULATION_OPTIONS = ("amplitude", "duration_steps", "n_steps", "window", "device")


def simulate_stimulation(network: ConnectomeNetwork | xr.DataArray, stimulated: Sequence[str] | None = None,
                         *, amplitude: float = 1.0, duration_steps: int = 5, n_steps: int = 100,
                         window: tuple[int, int] | None = None, device: Any = "auto",
                         **network_kwargs: Any) -> xr.DataArray:
    """Stimulate each neuron in turn from rest and record every neuron's response.

    Like the optogenetic experiment of Randi et al. 2023: one simulation per stimulated neuron
    (all run as one batch), starting from rest (``v = 0``), with a current pulse
    ``I = amplitude`` into that neuron during steps ``0 .. duration_steps - 1``. The response
    of unit ``u`` to stimulus ``s`` is the mean output over the window::

        response[s, u] = mean_{t in [start, stop)} r_u[t]      (r = f(v), rest value 0)

    for the rate network (dimensionless, the analogue of dF/F), and the mean firing rate in
    Hz (spikes per step / dt) for ``"lif"``. The stimulated neuron's own response (the
    "autoresponse") is included; :func:`brainbridge.analyses.structure_function` leaves it out.

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
    device : str or torch.device, default="auto"
        Where to simulate ("auto" picks CUDA when present, else the CPU).
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
    amplitude = check_scalar("amplitude", amplitude, float, what="pulse current")
    duration_steps = check_scalar("duration_steps", duration_steps, int, low=1, what="steps")
    n_steps = check_scalar("n_steps", n_steps, int, low=1, what="steps")
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
    return assembly(mean, dims=("stimulus", "unit"),
                    coords={"stimulus": np.array([str(s) for s in stimulated]),
                            "unit": np.array(names)},
                    modality="celegans", units=units, name="response")


class ConnectomeSimulator:
    """``simulate(connectome, stimulated) -> responses``: a network's options plus the protocol.

    Made by :func:`connectome_simulator`; calling it builds a
    :class:`~brainbridge.snn.ConnectomeNetwork` from ``connectome`` with the stored network
    options and runs :func:`simulate_stimulation` with the stored stimulation options.

    Parameters
    ----------
    network_kwargs : dict
        :class:`~brainbridge.snn.ConnectomeNetwork` options (not ``neurons``).
    stimulation : dict
        :func:`simulate_stimulation` options (:data:`STIMULATION_OPTIONS`).

    Examples
    --------
    >>> simulate = ConnectomeSimulator({"nonlinearity": "relu"}, {"n_steps": 20})
    >>> simulate
    connectome_simulator(nonlinearity='relu', stimulation={'n_steps': 20})
    """

    def __init__(self, network_kwargs: Mapping[str, Any], stimulation: Mapping[str, Any]) -> None:
        self.network_kwargs = dict(network_kwargs)
        self.stimulation = dict(stimulation)

    def __call__(self, connectome: xr.DataArray, stimulated: Sequence[str] | None = None) -> xr.DataArray:
        """Responses ``(stimulus, unit)`` of the network wired by ``connectome``."""
        # ``sign`` is resolved by neuron name (or position, for an array): a degree-preserving
        # shuffle keeps the neurons and their order, so shuffled networks get the real signs
        network = ConnectomeNetwork(connectome, **self.network_kwargs)
        return simulate_stimulation(network, stimulated, **self.stimulation)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.network_kwargs.items())
        return f"connectome_simulator({options}{', ' if options else ''}stimulation={self.stimulation!r})"


def connectome_simulator(*, stimulation: Mapping[str, Any] | None = None,
                         **network_kwargs: Any) -> ConnectomeSimulator:
    """A callable ``simulate(connectome, stimulated)`` for :func:`brainbridge.analyses.structure_function`.

    Each call builds ``ConnectomeNetwork(connectome, **network_kwargs)`` and returns
    ``simulate_stimulation(network, stimulated, **stimulation)``: a ``(stimulus, unit)``
    assembly of responses. The sign of each presynaptic neuron (``sign=``) is resolved from
    the neuron names (or positions) of the connectome it is given, which a degree-preserving
    shuffle keeps, so real and shuffled networks share their signs.

    Parameters
    ----------
    stimulation : dict, optional
        Options of :func:`simulate_stimulation`: ``amplitude``, ``duration_steps``,
        ``n_steps``, ``window``, ``device``. ``stimulated`` is given by the caller.
    **network_kwargs
        :class:`~brainbridge.snn.ConnectomeNetwork` options (``gain_chemical``, ``tau``,
        ``nonlinearity``, ``sign``, ...). Not ``neurons``: select neurons on the connectome
        itself (``connectome.sel(pre=names, post=names)``), so that the analysis scores
        exactly the neurons that are simulated.

    Returns
    -------
    ConnectomeSimulator

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> counts = np.zeros((3, 3, 2)); counts[0, 1, 0] = 1; counts[1, 2, 0] = 1  # A -> B -> C
    >>> conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": list("ABC"), "post": list("ABC"),
    ...                             "synapse_type": ["chemical", "electrical"]})
    >>> simulate = connectome_simulator(nonlinearity="relu", stimulation={"n_steps": 50})
    >>> resp = simulate(conn, ["A"])
    >>> resp.dims, (resp.values[0] > 0).tolist()
    (('stimulus', 'unit'), [True, True, True])
    """
    stimulation = dict(stimulation or {})
    if "stimulated" in stimulation:
        raise ValueError(
            "Invalid value for 'stimulation': 'stimulated' is set by structure_function (the "
            "stimulated neurons of 'measured'); remove it, or subset measured.sel(stimulus=[...])."
        )
    unknown = [k for k in stimulation if k not in STIMULATION_OPTIONS]
    if unknown:
        raise ValueError(
            f"Invalid value for 'stimulation': unknown option(s) {', '.join(map(repr, unknown))}; "
            f"expected keys among {', '.join(map(repr, STIMULATION_OPTIONS))}."
        )
    if "neurons" in network_kwargs:
        raise ValueError(
            "Invalid value for 'neurons': connectome_simulator simulates every neuron of the "
            "connectome it is given; got neurons=... . Select them on the connectome instead: "
            "connectome.sel(pre=names, post=names)."
        )
    return ConnectomeSimulator(network_kwargs, stimulation)
