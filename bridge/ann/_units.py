"""Unit ids of layer outputs, shared by ANN extraction and spiking-network recording."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import AssemblyError, check_scalar

_POSITION_NAMES = {0: (), 1: ("t",), 2: ("y", "x"), 3: ("z", "y", "x")}


@dataclass(frozen=True)
class Units:
    """Ids and coords of one layer's units: ``ids``, ``layer``, ``channel``, ``position``.

    Made by :func:`unit_table`; :func:`brainbridge.extract` and :func:`brainbridge.snn.record`
    build their ``unit`` coordinates from it, so ANN and SNN unit ids read the same.

    Examples
    --------
    >>> from brainbridge.ann import unit_table
    >>> units = unit_table("conv1", 2, (1, 2))
    >>> units.size, units.channel.tolist(), units.position.tolist()
    (4, [0, 0, 1, 1], ['y0x0', 'y0x1', 'y0x0', 'y0x1'])
    """

    ids: np.ndarray
    layer: np.ndarray
    channel: np.ndarray
    position: np.ndarray

    @property
    def size(self) -> int:
        return self.ids.size


def unit_table(layer: str, n_channels: int, positions: tuple[int, ...]) -> Units:
    """Unit ids ``layer:c{channel}[:{position}]`` for a layer output ``(channel, *positions)``.

    Positions are named ``t`` (1 positional dim), ``y x`` (2) or ``z y x`` (3); channels vary
    slowest, as in a C-order flatten of ``(channel, *positions)``.

    Parameters
    ----------
    layer : str
        The layer's name (module path), the prefix of every id.
    n_channels : int
        Size of the channel dim.
    positions : tuple of int
        Sizes of the positional dims after the channel dim (at most 3).

    Returns
    -------
    Units

    Raises
    ------
    ValueError
        If ``n_channels`` or a positional size is not an integer >= 1.

    Examples
    --------
    >>> from brainbridge.ann import unit_table
    >>> unit_table("conv1", 2, (1, 2)).ids.tolist()
    ['conv1:c0:y0x0', 'conv1:c0:y0x1', 'conv1:c1:y0x0', 'conv1:c1:y0x1']
    >>> unit_table("fc", 3, ()).ids.tolist()
    ['fc:c0', 'fc:c1', 'fc:c2']
    """
    n_channels = check_scalar("n_channels", n_channels, int, low=1, what="the size of the channel dim")
    positions = tuple(positions)
    for size in positions:
        check_scalar("positions", size, int, low=1, what="every positional size")
    names = _POSITION_NAMES.get(len(positions))
    if names is None:
        raise AssemblyError(
            f"Layer {layer!r} has {len(positions)} positional dims; at most 3 are supported. "
            "Use reduce='mean' or reduce='max' to pool over them."
        )
    grid = np.indices(positions).reshape(len(positions), -1).T if positions else np.zeros((1, 0), int)
    pos = np.array(["".join(f"{n}{i}" for n, i in zip(names, row)) for row in grid])
    channel = np.repeat(np.arange(n_channels), pos.size)
    position = np.tile(pos, n_channels)
    prefix = np.char.add(f"{layer}:c", channel.astype(str))
    ids = prefix if not positions else np.char.add(np.char.add(prefix, ":"), position)
    return Units(ids=ids.astype(str), layer=np.full(ids.size, layer), channel=channel,
                  position=position.astype(str))
