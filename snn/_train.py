"""Training loop for sequence models on a :class:`~brainbridge.snn._tasks.Task`.

Seeded, with per-epoch metrics, atomic checkpoints and exact resume.
"""

from __future__ import annotations

import logging
import os
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from brainbridge._checks import _check_option, _validate_type, check_scalar
from brainbridge._config import resolve_device
from brainbridge._storage import _check_writable, _link_target, atomic_path

from ._tasks import LOSSES, METRICS, Task

logger = logging.getLogger(__name__)

#: Checkpoint format tag; a file with another tag is refused on resume.
CHECKPOINT_FORMAT = "brainbridge.snn.train/1"


def _adam(params: Any, lr: float, weight_decay: float) -> Any:
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _adamw(params: Any, lr: float, weight_decay: float) -> Any:
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _sgd(params: Any, lr: float, weight_decay: float) -> Any:
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


#: Optimizer name -> factory ``(parameters, lr, weight_decay) -> torch.optim.Optimizer``.
OPTIMIZERS: dict[str, Callable[..., Any]] = {"adam": _adam, "adamw": _adamw, "sgd": _sgd}


def forward_sequence(model: Any, x: Any) -> Any:
    """Run ``model`` on a time-first batch ``x`` (T, batch, n_in) and return its output tensor.

    A brainbridge layer (a module with ``forward_seq``) is called through ``forward_seq``;
    any other module is called as ``model(x)``. When the result is a tuple (``(out, state)``,
    or an ``nn.LSTM``'s ``(out, (h, c))``) its first element is the output.

    Examples
    --------
    A LIF neuron with ``beta = 0.5`` and input 0.6 reaches ``0.6, 0.9, 1.05``: it fires on
    the third step.

    >>> import torch
    >>> from brainbridge.snn import LIF, forward_sequence
    >>> forward_sequence(LIF(beta=0.5), torch.full((3, 1, 1), 0.6)).flatten()
    tensor([0., 0., 1.])
    >>> forward_sequence(torch.nn.GRU(2, 3), torch.zeros(4, 1, 2)).shape
    torch.Size([4, 1, 3])
    """
    out = model.forward_seq(x) if hasattr(model, "forward_seq") else model(x)
    return out[0] if isinstance(out, (tuple, list)) else out


def _read(out: Any, task: Task) -> Any:
    """The part of a model output that the loss reads: the last step for ``target="last"``."""
    if task.target == "last" and out.ndim == 3:
        return out[-1]
    return out


def _rng_state(data_gen: Any) -> dict[str, Any]:
    mt: Any = np.random.get_state()  # noqa: NPY002 - the legacy global state is what we restore
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": mt[0], "key": torch.from_numpy(mt[1].astype(np.int64)), "pos": int(mt[2]),
                  "has_gauss": int(mt[3]), "cached": float(mt[4])},
        "python": random.getstate(),
        "data": data_gen.get_state(),
    }


def _set_rng_state(state: dict[str, Any], data_gen: Any) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    mt = (n["kind"], n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    np.random.set_state(mt)  # noqa: NPY002 - restores the legacy global state
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    data_gen.set_state(state["data"])


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _check_checkpoint_path(checkpoint: Any) -> Path:
    """The checkpoint as a Path: a file (existing or not) in a writable folder, created if missing.

    Checked before training starts, so that a wrong path does not fail after the first epoch.
    """
    _validate_type("checkpoint", checkpoint, (str, os.PathLike), "a file path or None")
    path = Path(checkpoint)
    if path.is_dir():
        raise IsADirectoryError(
            f"Invalid value for 'checkpoint': {str(path)!r} is a folder; expected a file path, "
            f"e.g. {str(path / 'checkpoint.pt')!r}."
        )
    target = _link_target(path, "write the checkpoint")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise type(err)(f"Cannot write the checkpoint {str(path)!r}: its folder "
                        f"{str(target.parent)!r} cannot be created ({err.strerror or err}).") from err
    _check_writable(path, target, "write the checkpoint")
    return path


#: Keys of a checkpoint payload and their types.
_PAYLOAD = {"epoch": int, "config": dict, "model": dict, "optimizer": dict, "rng": dict,
            "metrics": dict}

_KINDS = {int: "an integer", dict: "a mapping"}
_AFRESH = "Delete it, or pass resume=False to start afresh (it is then overwritten)."


def _load_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles before it fails
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, PermissionError, MemoryError):
        raise
    except Exception as err:  # noqa: BLE001 - torch.load fails on bad bytes with many types
        raise ValueError(
            f"Invalid value for 'checkpoint': {str(path)!r} is not a brainbridge training "
            f"checkpoint, or it is damaged (truncated or overwritten): torch.load cannot read "
            f"it. {_AFRESH}"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        got = (f"format {payload.get('format')!r}" if isinstance(payload, dict) and "format" in payload
               else f"a {type(payload).__name__}" + (" without a 'format' key"
                                                     if isinstance(payload, dict) else ""))
        raise ValueError(
            f"Invalid value for 'checkpoint': {str(path)!r} is not a brainbridge training "
            f"checkpoint (format {CHECKPOINT_FORMAT!r}); it holds {got}. {_AFRESH}"
        )
    for key, kind in _PAYLOAD.items():
        if not isinstance(payload.get(key), kind) or isinstance(payload.get(key), bool):
            raise ValueError(
                f"Invalid value for 'checkpoint': {str(path)!r} is a damaged brainbridge training "
                f"checkpoint: {key!r} is missing or not {_KINDS[kind]}. {_AFRESH}"
            )
    saved = payload["config"]
    changed = [k for k in config if k not in ("epochs",) and saved.get(k) != config[k]]
    if changed:
        diff = ", ".join(f"{k}: {saved.get(k)!r} -> {config[k]!r}" for k in changed)
        raise ValueError(
            f"Cannot resume from {str(path)!r}: the run was started with other settings ({diff}). "
            "Resume with the same settings, or pass resume=False to start afresh."
        )
    return payload


def train(
    model: Any,
    task: Task,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    clip_grad_norm: float | None = None,
    random_state: int = 0,
    device: Any = "auto",
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> xr.Dataset:
    """Train ``model`` on ``task`` by minibatch gradient descent; return per-epoch metrics.

    Every epoch shuffles the training sequences (a ``torch.Generator`` seeded with
    ``random_state``),
    takes one optimizer step per batch on ``LOSSES[task.loss]`` of the model output (the
    last step for ``task.target == "last"``, every step otherwise), then scores the test set
    in eval mode under ``torch.no_grad``. The model is trained in place (its parameters are
    the result) and returned to its device and training flag afterwards.

    Determinism: at the start ``torch``, ``numpy`` and ``random`` are seeded with
    ``random_state`` and the data order comes from its own generator, so two runs with the same
    ``random_state``, model
    initialisation and device give identical metrics. Seed the model's initialisation
    yourself (e.g. ``torch.manual_seed`` before building it, as
    :func:`brainbridge.snn.build_model` does).

    Checkpoints: with ``checkpoint``, after every epoch the model and optimizer state, the
    epoch, every random state (torch, CUDA, numpy, python, data order) and the metrics so far
    are written to a temporary file that then replaces ``checkpoint`` (``os.replace``), so
    a crash never leaves a half-written file. With ``resume=True`` and an existing
    checkpoint, training continues after its epoch and gives the same metrics and weights
    as a run that was never interrupted; the settings must be the same (``epochs`` may
    grow). Without ``resume`` an existing checkpoint is overwritten.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a time-first batch ``(T, batch, n_in)`` to ``(T, batch, n_out)`` (or
        ``(batch, n_out)``); see :func:`forward_sequence` for how it is called.
    task : Task
        Data, loss and metric (:mod:`brainbridge.snn._tasks`).
    epochs : int
        Total number of epochs (including those done before a resume).
    lr : float, default=1e-3
        Learning rate.
    batch_size : int, default=64
        Training sequences per step (test batches have the same size).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        ``"sgd"`` uses momentum 0.9.
    weight_decay : float, default=0.0
        L2 penalty of the optimizer.
    clip_grad_norm : float, optional
        Rescale the gradients so that their global L2 norm is at most this value
        (``torch.nn.utils.clip_grad_norm_``) before each step.
    random_state : int, default=0
        Seed (>= 0) of torch, numpy, random and the data order. An int, not a numpy
        ``Generator``: it seeds torch's and Python's global generators too.
    device : "auto", str or torch.device, default="auto"
        Where the model trains.
    checkpoint : str or Path, optional
        Checkpoint file (``torch.save`` format, read with ``weights_only=True``). It must be a
        file path (not a folder) in a writable folder (created if missing); this is checked
        before the first epoch.
    resume : bool, default=False
        Continue from ``checkpoint`` when it exists. A file that is not a brainbridge
        checkpoint, or a damaged one, raises a ValueError naming it (delete it, or pass
        ``resume=False`` to start afresh).
    progress : bool or None, default=None
        Show a progress bar over epochs; ``None`` shows it on a terminal only.

    Returns
    -------
    Dataset, dim ``epoch`` (1, 2, ...)
        ``train_loss``, ``test_loss``, ``train_{metric}``, ``test_{metric}`` (the metric of
        ``task.metric``; the train values are averaged over the epoch's batches while the
        weights change) and ``seconds`` (wall time of the epoch). attrs: ``task``,
        ``metric``, ``chance``, ``higher_is_better`` (0/1), ``random_state``, ``lr``, ``batch_size``,
        ``optimizer``, ``weight_decay``, ``clip_grad_norm`` (-1 for none), ``n_parameters``.

    Examples
    --------
    >>> import torch
    >>> from brainbridge.snn._tasks import memory_task
    >>> from brainbridge.snn._train import train
    >>> class GRU(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.rnn, self.out = torch.nn.GRU(5, 16), torch.nn.Linear(16, 4)
    ...     def forward(self, x):
    ...         return self.out(self.rnn(x)[0])
    >>> _ = torch.manual_seed(0)
    >>> task = memory_task(3, n_symbols=4, n_train=128, n_test=64)
    >>> metrics = train(GRU(), task, epochs=10, lr=2e-2, batch_size=32, device="cpu",
    ...                 progress=False)
    >>> metrics["test_accuracy"].sizes["epoch"], float(metrics["test_accuracy"][-1]) > 0.9
    (10, True)
    """
    from tqdm.auto import tqdm

    _validate_type("model", model, torch.nn.Module, "a torch.nn.Module")
    _validate_type("task", task, Task, "a brainbridge.snn Task (e.g. digits_task())")
    epochs = check_scalar("epochs", epochs, int, low=1, what="number of epochs")
    lr = check_scalar("lr", lr, float, low=0, closed="neither", what="learning rate")
    batch_size = check_scalar("batch_size", batch_size, int, low=1, what="sequences per step")
    _check_option("optimizer", optimizer, OPTIMIZERS)
    weight_decay = check_scalar("weight_decay", weight_decay, float, low=0)
    clip_grad_norm = check_scalar("clip_grad_norm", clip_grad_norm, float, low=0, closed="neither",
                                  allow_none=True, what="maximum gradient norm")
    seed = check_scalar("random_state", random_state, int, low=0, what="a seed")
    if resume and checkpoint is None:
        raise ValueError(
            "Invalid value for 'resume': resume=True needs a 'checkpoint' file to resume from; got "
            "checkpoint=None."
        )
    path = _check_checkpoint_path(checkpoint) if checkpoint is not None else None
    dev = resolve_device(device)
    loss_fn = LOSSES[task.loss]
    metric_fn = METRICS[task.metric]
    config = {"task": task.name, "epochs": epochs, "lr": lr, "batch_size": batch_size,
              "optimizer": optimizer, "weight_decay": float(weight_decay),
              "clip_grad_norm": -1.0 if clip_grad_norm is None else clip_grad_norm,
              "random_state": seed}

    was_training = model.training
    first_param = next(model.parameters(), None)
    if first_param is None:
        raise ValueError("Invalid value for 'model': it has no parameters to train.")
    home = first_param.device
    model.to(dev)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr, float(weight_decay))
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds code that uses the legacy global state
    random.seed(seed)
    data_gen = torch.Generator().manual_seed(int(seed))
    names = ["train_loss", "test_loss", f"train_{task.metric}", f"test_{task.metric}", "seconds"]
    history: dict[str, list[float]] = {k: [] for k in names}
    start = 0
    if resume and path is not None and path.exists():
        payload = _load_checkpoint(path, config)
        try:
            model.load_state_dict(payload["model"])
            opt.load_state_dict(payload["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ValueError(
                f"Cannot resume from {str(path)!r}: its weights do not fit this model "
                f"({' '.join(str(err).split())[:300]}). Resume with the model the run was "
                f"started with (same kind and size), or pass resume=False to start afresh."
            ) from err
        try:
            _set_rng_state(payload["rng"], data_gen)
            history = {k: list(payload["metrics"][k]) for k in names}
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as err:
            raise ValueError(
                f"Invalid value for 'checkpoint': {str(path)!r} is a damaged brainbridge training "
                f"checkpoint: its random states or metrics cannot be read ({type(err).__name__}: "
                f"{err}). {_AFRESH}"
            ) from err
        start = int(payload["epoch"])
        logger.info("resumed from %s after epoch %d", path, start)
        if start >= epochs:
            logger.info("the checkpoint already holds %d >= %d epochs; nothing to train", start, epochs)

    n_train = task.x_train.shape[1]
    try:
        with tqdm(total=epochs, initial=start, unit="epoch", desc=f"train {task.name}",
                  disable=None if progress is None else not progress) as bar:
            for epoch in range(start, epochs):
                t0 = time.perf_counter()
                model.train()
                order = torch.randperm(n_train, generator=data_gen)
                total, outs, targets = 0.0, [], []
                for lo in range(0, n_train, batch_size):
                    idx = order[lo:lo + batch_size]
                    x = task.x_train[:, idx].to(dev)
                    y = (task.y_train[:, idx] if task.target == "all" else task.y_train[idx]).to(dev)
                    out = _read(forward_sequence(model, x), task)
                    loss = loss_fn(out, y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if clip_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    outs.append(out.detach().cpu())
                    targets.append(y.detach().cpu())
                axis = 1 if task.target == "all" else 0
                train_metric = metric_fn(torch.cat(outs, axis), torch.cat(targets, axis), **task.options)
                test_loss, test_metric = evaluate(model, task, batch_size=batch_size, device=dev)
                for k, v in zip(names, (total / n_train, test_loss, train_metric, test_metric,
                                        time.perf_counter() - t0)):
                    history[k].append(float(v))
                if not np.isfinite(history["train_loss"][-1]):
                    logger.warning("epoch %d: the training loss is %s; lower 'lr' or set "
                                   "'clip_grad_norm'", epoch + 1, history["train_loss"][-1])
                if path is not None:
                    _save_checkpoint(path, {
                        "format": CHECKPOINT_FORMAT, "epoch": epoch + 1, "config": config,
                        "model": model.state_dict(), "optimizer": opt.state_dict(),
                        "rng": _rng_state(data_gen), "metrics": history,
                    })
                logger.info("epoch %d/%d: train loss %.4f, test loss %.4f, test %s %.4f",
                            epoch + 1, epochs, history["train_loss"][-1], test_loss, task.metric,
                            test_metric)
                bar.set_postfix(loss=f"{history['train_loss'][-1]:.4f}",
                                test=f"{test_metric:.4f}")
                bar.update(1)
    finally:
        model.train(was_training)
        model.to(home)
    n_done = len(history["train_loss"])
    attrs = {**{k: v for k, v in config.items() if k != "epochs"}, "metric": task.metric,
             "chance": float(task.chance), "higher_is_better": int(task.higher_is_better),
             "n_parameters": int(sum(p.numel() for p in model.parameters()))}
    return xr.Dataset({k: ("epoch", np.asarray(v, dtype=np.float64)) for k, v in history.items()},
                      coords={"epoch": np.arange(1, n_done + 1)}, attrs=attrs)


def evaluate(model: Any, task: Task, *, split: str = "test", batch_size: int = 256,
             device: Any = "auto") -> tuple[float, float]:
    """Loss and metric of ``model`` on the task's test (or train) set, in eval mode.

    The loss is averaged over batches weighted by their size; the metric is computed once on
    the outputs of the whole set. The model's training flag is restored.

    Returns
    -------
    (float, float)
        ``(loss, metric)``.

    Examples
    --------
    A readout that outputs zeros has the cross-entropy of a uniform guess, ``log(4)``:

    >>> import torch
    >>> from brainbridge.snn import evaluate, memory_task
    >>> task = memory_task(3, n_symbols=4, n_train=128, n_test=64)
    >>> silent = torch.nn.Linear(5, 4)
    >>> _ = torch.nn.init.zeros_(silent.weight), torch.nn.init.zeros_(silent.bias)
    >>> loss, accuracy = evaluate(silent, task, device="cpu")
    >>> round(loss, 4)
    1.3863
    """
    _check_option("split", split, ["train", "test"])
    dev = resolve_device(device)
    x_all = task.x_test if split == "test" else task.x_train
    y_all = task.y_test if split == "test" else task.y_train
    n = x_all.shape[1]
    was_training = model.training
    model.eval()
    total, outs = 0.0, []
    try:
        with torch.no_grad():
            for lo in range(0, n, batch_size):
                x = x_all[:, lo:lo + batch_size].to(dev)
                y = (y_all[:, lo:lo + batch_size] if task.target == "all" else y_all[lo:lo + batch_size])
                out = _read(forward_sequence(model, x), task)
                total += float(LOSSES[task.loss](out, y.to(dev))) * x.shape[1]
                outs.append(out.cpu())
    finally:
        model.train(was_training)
    out = torch.cat(outs, 1 if task.target == "all" else 0)
    return total / n, METRICS[task.metric](out, y_all, **task.options)
