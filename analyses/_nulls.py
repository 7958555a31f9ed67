"""Null models of graphs: degree-preserving rewiring of a connectome.

:func:`shuffle_connectome` rewires the chemical graph by directed double-edge swaps
(``a->b, c->d`` becomes ``a->d, c->b``: every in- and out-degree is kept) and the
gap-junction graph by undirected swaps (every degree kept); each edge keeps its weight.
:func:`brainbridge.analyses.structure_function` scores simulations of such shuffles as its
null distribution.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xarray as xr

from .._checks import check_connectome, check_random_state, check_scalar

logger = logging.getLogger(__name__)

__all__ = ["shuffle_connectome"]


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
        The same neurons in the same order on 'pre' and 'post', e.g.
        :func:`brainbridge.loaders.load_celegans_connectome`. Without NaN (fill unreconstructed
        pairs first, e.g. ``connectome.fillna(0)``).
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
    connectome = check_connectome(connectome)
    n_swaps = check_scalar("n_swaps", n_swaps, float, low=0.0, what="accepted swaps per edge")
    rng = check_random_state(random_state)
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
