"""Spiking and biophysical neuron layers (LIF, ELM, Kuramoto), recording and training.

Every layer is a functional ``step`` with explicit state plus a thin torch module
(``forward(x, state) -> (out, state)``, time-first ``forward_seq``); :func:`record` turns
their spikes, potentials and phases into assemblies. Beside them: connectome-constrained
networks and their stimulation protocol, sequence tasks, spike-train metrics and a small
model zoo for :func:`train`. Names are imported on first use.
"""

from __future__ import annotations

from .._lazy import attach

# Public name -> defining module. Type checkers read __init__.pyi instead: after editing
# this table, run `python .ci/typecheck.py stubs` (tests/test_typing.py checks they agree).
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
    "GABA_NEURONS": "._connectome",
    "simulate_stimulation": "._stimulation",
    "connectome_simulator": "._stimulation",
    "ConnectomeSimulator": "._stimulation",
    "record": "._record",
    "READOUTS": "._record",
    "train": "._train",
    "evaluate": "._train",
    "forward_sequence": "._train",
    "OPTIMIZERS": "._train",
    "Task": "._tasks",
    "TASKS": "._tasks",
    "digits_task": "._tasks",
    "memory_task": "._tasks",
    "adding_task": "._tasks",
    "grasshopper_task": "._tasks",
    "task_score": "._tasks",
    "coincidence_factor": "._spiketrain",
    "sample_spikes": "._spiketrain",
    "threshold_spikes": "._spiketrain",
    "spike_timing": "._spiketrain",
    "build_model": "._zoo",
    "MODELS": "._zoo",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
