"""Type stub for ``brainbridge.snn``, generated from ``_EXPORTS`` in ``__init__.py``.

At run time these names are imported on first use (``brainbridge._lazy``); type checkers and
IDEs read this file instead. Do not edit: run ``python .ci/typecheck.py stubs``.
"""

from . import surrogate as surrogate
from ._connectome import GABA_NEURONS as GABA_NEURONS
from ._connectome import ConnectomeNetwork as ConnectomeNetwork
from ._connectome import ConnectomeParams as ConnectomeParams
from ._connectome import ConnectomeState as ConnectomeState
from ._connectome import connectome_step as connectome_step
from ._elm import ELM as ELM
from ._elm import ELMParams as ELMParams
from ._elm import ELMState as ELMState
from ._elm import elm_step as elm_step
from ._elm import scaled_tanh as scaled_tanh
from ._kuramoto import Kuramoto as Kuramoto
from ._kuramoto import KuramotoClassifier as KuramotoClassifier
from ._kuramoto import KuramotoParams as KuramotoParams
from ._kuramoto import KuramotoState as KuramotoState
from ._kuramoto import kuramoto_energy as kuramoto_energy
from ._kuramoto import kuramoto_step as kuramoto_step
from ._lif import LIF as LIF
from ._lif import RLIF as RLIF
from ._lif import LIFParams as LIFParams
from ._lif import LIFState as LIFState
from ._lif import lif_seq as lif_seq
from ._lif import lif_step as lif_step
from ._record import READOUTS as READOUTS
from ._record import record as record
from ._spiketrain import coincidence_factor as coincidence_factor
from ._spiketrain import sample_spikes as sample_spikes
from ._spiketrain import spike_timing as spike_timing
from ._spiketrain import threshold_spikes as threshold_spikes
from ._stimulation import ConnectomeSimulator as ConnectomeSimulator
from ._stimulation import connectome_simulator as connectome_simulator
from ._stimulation import simulate_stimulation as simulate_stimulation
from ._tasks import TASKS as TASKS
from ._tasks import Task as Task
from ._tasks import adding_task as adding_task
from ._tasks import digits_task as digits_task
from ._tasks import grasshopper_task as grasshopper_task
from ._tasks import memory_task as memory_task
from ._tasks import task_score as task_score
from ._train import OPTIMIZERS as OPTIMIZERS
from ._train import evaluate as evaluate
from ._train import forward_sequence as forward_sequence
from ._train import train as train
from ._zoo import MODELS as MODELS
from ._zoo import build_model as build_model

__all__ = [
    "ConnectomeNetwork",
    "ConnectomeParams",
    "ConnectomeSimulator",
    "ConnectomeState",
    "ELM",
    "ELMParams",
    "ELMState",
    "GABA_NEURONS",
    "Kuramoto",
    "KuramotoClassifier",
    "KuramotoParams",
    "KuramotoState",
    "LIF",
    "LIFParams",
    "LIFState",
    "MODELS",
    "OPTIMIZERS",
    "READOUTS",
    "RLIF",
    "TASKS",
    "Task",
    "adding_task",
    "build_model",
    "coincidence_factor",
    "connectome_simulator",
    "connectome_step",
    "digits_task",
    "elm_step",
    "evaluate",
    "forward_sequence",
    "grasshopper_task",
    "kuramoto_energy",
    "kuramoto_step",
    "lif_seq",
    "lif_step",
    "memory_task",
    "record",
    "sample_spikes",
    "scaled_tanh",
    "simulate_stimulation",
    "spike_timing",
    "surrogate",
    "task_score",
    "threshold_spikes",
    "train",
]
