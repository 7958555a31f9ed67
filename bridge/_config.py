"""Run-time configuration from environment variables, and device selection.

``BRAINBRIDGE_DATA``
    Folder where fetched datasets and caches live; default ``~/.cache/brainbridge``.
``BRAINBRIDGE_DEVICE``
    Device used when a function gets ``device="auto"``: ``cpu``, ``cuda``, ``cuda:1``, ...
    Unset: CUDA when available, else the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._checks import _suggest

ENV_DATA = "BRAINBRIDGE_DATA"
ENV_DEVICE = "BRAINBRIDGE_DEVICE"


def data_dir() -> Path:
    """The data and cache folder (``$BRAINBRIDGE_DATA`` or ``~/.cache/brainbridge``).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from brainbridge import data_dir
    >>> with mock.patch.dict(os.environ, {"BRAINBRIDGE_DATA": "/data/brainbridge"}):
    ...     print(data_dir())
    /data/brainbridge
    """
    root = os.environ.get(ENV_DATA)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "brainbridge"


def resolve_device(device: Any = "auto") -> Any:
    """Turn ``"auto"``, a string or a ``torch.device`` into a ``torch.device``.

    ``"auto"`` reads ``$BRAINBRIDGE_DEVICE`` and otherwise picks CUDA when present.
    Asking for CUDA on a machine without it raises a ValueError saying so.

    Examples
    --------
    >>> from brainbridge import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for 'device': expected 'auto', ...; got 'gpu'. Did you mean 'cuda'?
    """
    import torch

    if device is None or device == "auto":
        device = os.environ.get(ENV_DEVICE) or ("cuda" if torch.cuda.is_available() else "cpu")
        source = f"${ENV_DEVICE}" if os.environ.get(ENV_DEVICE) else "'device'"
    else:
        source = "'device'"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        gpu = isinstance(device, str) and device.lower().startswith("gpu")
        hint = " Did you mean 'cuda'?" if gpu else _suggest(device, ("auto", "cpu", "cuda", "mps"))
        raise ValueError(
            f"Invalid value for {source}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'; "
            f"got {device!r}.{hint}"
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"Invalid value for {source}: {device!r} was asked for but this torch has no "
            "CUDA device. Use device='cpu' or 'auto'."
        )
    return dev


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with ``n`` torch intra-op threads, restoring the previous number after.

    Loops over many tiny tensor operations (bootstrap samples, permutations) are dominated
    by thread hand-off, not arithmetic; one thread is faster there.

    Examples
    --------
    >>> import torch
    >>> from brainbridge._config import torch_threads
    >>> with torch_threads(1):
    ...     print(torch.get_num_threads())
    1
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
