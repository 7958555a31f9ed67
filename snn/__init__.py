"""Spiking and biophysical neuron layers (LIF, ELM, Kuramoto), recording and training.

Every layer is a functional ``step`` with explicit state plus a thin torch module
(``forward(x, state) -> (out, state)``, time-first ``forward_seq``); :func:`record` turns
their spikes, potentials and phases into assemblies. Names are imported on first use.
"""

from __future__ import annotations

from .._lazy import attach

_EXPORTS = {
    "LIF": "._lif",
    "RLIF": "._lif",
    "LIFState": "._lif",
    "LIFParams": "._lif",
    "lif_step": "._lif",
    "lif_seq": "._lif",
    "surrogate": ".surrogate",
    "ELM": "._elm",
    "ELMState": "._elm",
    "ELMParams": "._elm",
    "elm_step": "._elm",
    "scaled_tanh": "._elm",
    "Kuramoto": "._kuramoto",
    "KuramotoClassifier": "._kuramoto",
    "KuramotoState": "._kuramoto",
    "KuramotoParams": "._kuramoto",
    "kuramoto_step": "._kuramoto",
    "kuramoto_energy": "._kuramoto",
    "ConnectomeNetwork": "._connectome",
    "ConnectomeState": "._connectome",
    "ConnectomeParams": "._connectome",
    "connectome_step": "._connectome",
    "simulate_stimulation": "._connectome",
    "shuffle_connectome": "._connectome",
    "structure_function": "._connectome",
    "record": "._record",
    "READOUTS": "._record",
    "train": "._train",
    "evaluate": "._train",
    "OPTIMIZERS": "._train",
    "Task": "._tasks",
    "TASKS": "._tasks",
    "digits_task": "._tasks",
    "memory_task": "._tasks",
    "adding_task": "._tasks",
    "grasshopper_task": "._tasks",
    "coincidence_factor": "._tasks",
    "fit_lnp": "._tasks",
    "LNP": "._tasks",
    "build_model": "._tasks",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
