"""Comparing RDMs, many against many: rsatoolbox's similarity measures, in torch.

Each measure equals ``rsatoolbox.rdm.compare(a, b, method=...)`` (rsatoolbox 0.3, default
``sigma_k=None``) on the same RDMs; tested in float64 at 1e-8 relative. Kendall's tau-a
counts discordant pairs by merge sort in ``O(n log n)`` per pair of RDMs (``n`` = number
of stimulus pairs), where rsatoolbox calls scipy's private ``_kendall_dis``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import torch
import xarray as xr
from scipy.stats import rankdata

from .._checks import AssemblyError, _check_option, check_finite
from .._config import resolve_device
from ._rdm import _square_dims, from_rsatoolbox_rdms

logger = logging.getLogger(__name__)

__all__ = ["compare_rdms", "COMPARE_METHODS", "COMPARE_ALIASES"]


# --------------------------------------------------------------------------------------
# kernels: va (A, P), vb (B, P) float64 numpy -> (A, B)
# --------------------------------------------------------------------------------------

def _cosine_t(va: Any, vb: Any) -> Any:
    """Cosine of every row of ``va`` with every row of ``vb``; 0 where a norm is 0."""
    na = torch.linalg.vector_norm(va, dim=-1)
    nb = torch.linalg.vector_norm(vb, dim=-1)
    out = torch.matmul(va, vb.T) / (na[:, None] * nb[None, :])
    zero = (na[:, None] == 0) | (nb[None, :] == 0)
    return torch.where(zero, torch.zeros_like(out), out)


def _center(v: Any) -> Any:
    return v - v.mean(dim=-1, keepdim=True)


def _m_cosine(va: Any, vb: Any, ctx: dict) -> Any:
    return _cosine_t(va, vb)


def _m_corr(va: Any, vb: Any, ctx: dict) -> Any:
    return _cosine_t(_center(va), _center(vb))


def _ranks(v: Any) -> Any:
    r = rankdata(v.cpu().numpy(), axis=-1)  # average ranks for ties, like rsatoolbox
    return torch.as_tensor(r, dtype=torch.float64, device=v.device)


def _m_spearman(va: Any, vb: Any, ctx: dict) -> Any:
    return _cosine_t(_center(_ranks(va)), _center(_ranks(vb)))


def _m_rho_a(va: Any, vb: Any, ctx: dict) -> Any:
    n = va.shape[-1]
    ra, rb = _center(_ranks(va)), _center(_ranks(vb))
    return torch.matmul(ra, rb.T) * (12.0 / (float(n) ** 3 - n))


def _double_centered(v: Any, n: int) -> Any:
    """``H (-D/2) H`` of each RDM vector, flattened to ``(n_rdm, n * n)``."""
    iu, ju = np.triu_indices(n, k=1)
    w = torch.zeros((v.shape[0], n, n), dtype=v.dtype, device=v.device)
    w[:, iu, ju] = -0.5 * v
    w[:, ju, iu] = -0.5 * v
    row = w.mean(dim=-1, keepdim=True)
    g = w - row - row.transpose(-1, -2) + w.mean(dim=(-1, -2), keepdim=True)
    return g.reshape(v.shape[0], n * n)


def _m_cosine_cov(va: Any, vb: Any, ctx: dict) -> Any:
    return _cosine_t(_double_centered(va, ctx["n"]), _double_centered(vb, ctx["n"]))


def _m_corr_cov(va: Any, vb: Any, ctx: dict) -> Any:
    return _m_cosine_cov(_center(va), _center(vb), ctx)


def _dense_ranks(v: np.ndarray) -> np.ndarray:
    return np.unique(v, return_inverse=True)[1].astype(np.int64)


def _pairs_tied(ranks: np.ndarray) -> int:
    cnt = np.bincount(ranks)
    return int((cnt * (cnt - 1) // 2).sum())


def _count_inversions(y: np.ndarray, base: int = 32) -> int:
    """Number of pairs ``i < j`` with ``y[i] > y[j]``, by bottom-up merge sort.

    ``y`` holds non-negative integers; it is padded to a power of two with a value larger
    than all of them (padding adds no inversion). Blocks of ``base`` elements are counted
    by direct comparison and sorted; then each level merges pairs of sorted blocks of
    width ``w`` with one stable argsort per row: a right-block element that lands at
    position ``p`` of the merged row as the ``q``-th right element has ``p - q`` left
    elements at or below it, hence ``w - p + q`` above it. ``O(n log n)`` work.
    """
    n = y.size
    if n < 2:
        return 0
    size = max(1 << int(np.ceil(np.log2(n))), base)
    a = np.full(size, int(y.max()) + 1, dtype=np.int64)
    a[:n] = y
    rows = a.reshape(-1, base)
    upper = np.triu(np.ones((base, base), dtype=bool), k=1)
    total = 0
    for s in range(0, rows.shape[0], 4096):
        r = rows[s:s + 4096]
        total += int(((r[:, :, None] > r[:, None, :]) & upper).sum())
    a = np.sort(rows, axis=1).ravel()
    w = base
    while w < size:
        rows = a.reshape(-1, 2 * w)
        idx = np.argsort(rows, axis=1, kind="stable")
        pos = np.nonzero(idx >= w)[1]
        total += rows.shape[0] * (w * w + w * (w - 1) // 2) - int(pos.sum())
        a = np.take_along_axis(rows, idx, axis=1).ravel()
        w *= 2
    return total


def _tau_a(ra: np.ndarray, rb: np.ndarray, tie_a: int, tie_b: int) -> float:
    """Kendall's tau-a of two dense-rank vectors (rsatoolbox's ``_tau_a``).

    ``tau_a = (n_c - n_d) / (n (n - 1) / 2)`` with tied pairs counting as neither, i.e.
    ``n_c - n_d = tot - ties_a - ties_b + ties_ab - 2 n_d``.
    """
    n = ra.size
    key = ra * (int(rb.max()) + 1) + rb
    order = np.argsort(key, kind="stable")
    discordant = _count_inversions(rb[order])
    sorted_key = key[order]
    runs = np.diff(np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1], True]))
    tie_ab = int((runs * (runs - 1) // 2).sum())
    tot = n * (n - 1) // 2
    tau = (tot - tie_a - tie_b + tie_ab - 2 * discordant) / tot
    return min(1.0, max(-1.0, tau))


def _m_tau_a(va: Any, vb: Any, ctx: dict) -> Any:
    a, b = va.cpu().numpy(), vb.cpu().numpy()
    ranks_a = [_dense_ranks(v) for v in a]
    ranks_b = [_dense_ranks(v) for v in b]
    ties_a = [_pairs_tied(r) for r in ranks_a]
    ties_b = [_pairs_tied(r) for r in ranks_b]
    out = np.empty((len(a), len(b)))
    for i, (ra, ta) in enumerate(zip(ranks_a, ties_a, strict=True)):
        for j, (rb, tb) in enumerate(zip(ranks_b, ties_b, strict=True)):
            out[i, j] = _tau_a(ra, rb, ta, tb)
    return torch.as_tensor(out)


#: Comparison methods (similarities; larger is more similar): name -> kernel.
COMPARE_METHODS: dict[str, Callable[[Any, Any, dict], Any]] = {
    "cosine": _m_cosine,
    "corr": _m_corr,
    "spearman": _m_spearman,
    "kendall_tau_a": _m_tau_a,
    "rho_a": _m_rho_a,
    "corr_cov": _m_corr_cov,
    "cosine_cov": _m_cosine_cov,
}

#: Other accepted names (rsatoolbox's spelling) -> method.
COMPARE_ALIASES: dict[str, str] = {"pearson": "corr", "tau-a": "kendall_tau_a",
                                   "tau_a": "kendall_tau_a", "rho-a": "rho_a"}


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------

def _as_square(x: Any, name: str) -> xr.DataArray:
    """``x`` as a square RDM DataArray ``(*batch, d, d + "_")``, its values checked.

    The values follow :func:`_check_rdm_values`: NaN marks a missing pair, inf raises.
    """
    r = _as_square_unchecked(x, name)
    _check_rdm_values(r, name)
    return r


def _as_square_unchecked(x: Any, name: str) -> xr.DataArray:
    if isinstance(x, xr.DataArray):
        if "pair" in x.dims:
            return _square_from_pairs(x, name)
        _square_dims(x, name)
        return x
    if type(x).__name__ == "RDMs" and hasattr(x, "dissimilarities"):
        return from_rsatoolbox_rdms(x)
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray) and x.ndim >= 2 and x.shape[-1] == x.shape[-2]:
        batch = [f"rdm{i}" if x.ndim > 3 else "rdm" for i in range(x.ndim - 2)]
        return xr.DataArray(x, dims=(*batch, "stimulus", "stimulus_"))
    raise TypeError(
        f"Invalid type for {name!r}: expected RDMs from rdm() (a DataArray with dims "
        "(*batch, 'stimulus', 'stimulus_')), rdm_vector() output, an rsatoolbox RDMs object "
        f"or an array (..., n, n); got {type(x).__name__}"
        + (f" of shape {x.shape}" if hasattr(x, "shape") else "") + ".")


def _square_from_pairs(v: xr.DataArray, name: str) -> xr.DataArray:
    along = [str(k) for k, c in v.coords.items() if c.dims == ("pair",)]
    firsts = [k for k in along if k + "_" in along]
    if v.dims[-1] != "pair" or not firsts:
        raise AssemblyError(
            f"{name!r} has a 'pair' dim but not the layout of rdm_vector(): 'pair' last, with "
            f"coords d and d + '_' along it; got dims {tuple(v.dims)}, coords on pair "
            f"{along}. Pass the square RDM instead.")
    d = firsts[0]
    i_ids, j_ids = np.asarray(v[d].values), np.asarray(v[d + "_"].values)
    n = int(round((1 + np.sqrt(1 + 8 * v.sizes["pair"])) / 2))
    ids = np.r_[i_ids[:n - 1][:1], j_ids[:n - 1]]
    iu, ju = np.triu_indices(n, k=1)
    if not (np.array_equal(ids[iu], i_ids) and np.array_equal(ids[ju], j_ids)):
        raise AssemblyError(
            f"The pairs of {name!r} are not in rdm_vector()'s order (np.triu_indices). "
            "Pass the square RDM instead.")
    values = np.asarray(v.values)
    square = np.zeros(values.shape[:-1] + (n, n))
    square[..., iu, ju] = values
    square[..., ju, iu] = values
    batch = [str(b) for b in v.dims[:-1]]
    coords = {k: c.variable for k, c in v.coords.items() if c.dims and set(c.dims) <= set(batch)}
    coords.update({d: ids, d + "_": ids})
    return xr.DataArray(square, dims=(*batch, d, d + "_"), coords=coords, attrs=dict(v.attrs))


def _rdm_ids(r: xr.DataArray) -> np.ndarray | None:
    """The stimulus ids of an RDM as strings, or None for a plain array (no ids)."""
    d0, _ = _square_dims(r)
    return np.asarray(r[d0].values).astype(str) if d0 in r.coords else None


def _align_rdms(a: xr.DataArray, b: xr.DataArray, *, names: tuple[str, str] = ("a", "b")
               ) -> xr.DataArray:
    """``b`` with its stimuli in ``a``'s order; raise unless both hold the same stimuli.

    The one alignment rule of every function that takes two sets of RDMs
    (:func:`compare_rdms`, :func:`bootstrap`, :func:`permutation_test`, :func:`rsa`):
    RDMs with stimulus ids are matched by id (``b`` is reordered to ``a``'s order); an RDM
    without ids (a plain array) is matched by position and must have as many stimuli.
    Differing ids raise a ``ValueError`` naming both arguments: an RDM over a subset of
    stimuli is not a block of the full one for every method, so nothing is dropped silently.
    ``a`` and ``b`` are square DataArrays (see ``_as_square``).
    """
    na, nb = names
    ids_a, ids_b = _rdm_ids(a), _rdm_ids(b)
    if ids_a is None or ids_b is None:
        if a.shape[-1] != b.shape[-1]:
            raise ValueError(
                f"Invalid value for {nb!r}: expected RDMs over the {a.shape[-1]} stimuli of "
                f"{na!r}; got {b.shape[-1]}. Compute both on the same stimuli, e.g. "
                "x, y = brainbridge.align(x, y) before rdm().")
        return b
    if np.array_equal(ids_a, ids_b):
        return b
    if ids_a.size == ids_b.size and np.unique(ids_b).size == ids_b.size \
            and set(ids_a) == set(ids_b):
        pos = {s: i for i, s in enumerate(ids_b)}
        order = np.array([pos[s] for s in ids_a])
        logger.debug("Reordering the stimuli of %r to the order of %r.", nb, na)
        db0, db1 = _square_dims(b)
        return b.isel({db0: order, db1: order})
    set_a, set_b = set(ids_a), set(ids_b)
    only_a = [str(s) for s in ids_a if s not in set_b]
    only_b = [str(s) for s in ids_b if s not in set_a]
    raise ValueError(
        f"The stimuli of {na!r} and {nb!r} differ: {na!r} has {ids_a.size}, {nb!r} has "
        f"{ids_b.size}, {len(set_a & set_b)} shared; only in {na!r}: {only_a[:5]}; only in "
        f"{nb!r}: {only_b[:5]}. Compute both RDMs on the same stimuli, e.g. "
        "x, y = brainbridge.align(x, y) before rdm().")


def _check_rdm_values(r: xr.DataArray, name: str) -> None:
    """The NaN / inf policy for RDMs given to comparisons and statistics.

    NaN marks a missing stimulus pair and is allowed; inf, non-real dtypes and an RDM whose
    pairs are all NaN raise, naming ``name`` and the RDM.
    """
    values = check_finite(name, r, allow_nan=True, fix=(
        "A dissimilarity must be a finite number (NaN marks a missing pair); recompute the "
        "RDM from finite data."))
    n = values.shape[-1]
    if n < 3:
        raise ValueError(
            f"Invalid value for {name!r}: expected RDMs over at least 3 stimuli (2 stimulus "
            f"pairs to compare); got {n}. Add stimuli.")
    iu, ju = np.triu_indices(n, k=1)
    empty = np.isnan(values[..., iu, ju]).all(axis=-1).reshape(-1)
    if empty.any():
        first = int(np.flatnonzero(empty)[0])
        batch = [str(d) for d in r.dims[:-2]]
        where = ""
        if batch:
            index = np.unravel_index(first, [r.sizes[d] for d in batch])
            where = " at " + ", ".join(
                f"{d}={np.asarray(r[d].values, dtype=object)[i] if d in r.coords else int(i)!r}"
                for d, i in zip(batch, index, strict=True))
        if not batch:
            raise ValueError(
                f"Invalid value for {name!r}: the RDM is all NaN (no stimulus pair to "
                "compare). Recompute it from complete data.")
        raise ValueError(
            f"Invalid value for {name!r}: {int(empty.sum())} of {empty.size} RDMs are all NaN "
            f"(no stimulus pair to compare), the first{where}. Drop them first, e.g. "
            f"{name}.dropna({batch[0]!r}, how='all').")


def _vectors(r: xr.DataArray) -> np.ndarray:
    n = r.shape[-1]
    iu, ju = np.triu_indices(n, k=1)
    return np.asarray(r.values, dtype=np.float64)[..., iu, ju].reshape(-1, iu.size)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------

def compare_rdms(a: Any, b: Any, *, method: str = "spearman", device: Any = "auto") -> xr.DataArray:
    r"""Similarity of every RDM in ``a`` with every RDM in ``b``.

    On the upper-triangle vectors ``u``, ``v`` (``n`` stimulus pairs):

    ================ ============================================================
    method           similarity
    ================ ============================================================
    cosine           ``u.v / (|u| |v|)`` (0 when a vector is all zero)
    corr             Pearson r (alias ``"pearson"``)
    spearman         Pearson r of the ranks (ties get average ranks)
    kendall_tau_a    ``(n_concordant - n_discordant) / (n (n - 1) / 2)``; tied pairs
                     count as neither (aliases ``"tau-a"``, ``"tau_a"``)
    rho_a            ``12 sum_k (R(u)_k - mean)(R(v)_k - mean) / (n^3 - n)`` (alias
                     ``"rho-a"``)
    cosine_cov       cosine of the double-centred matrices ``G = H (-D/2) H`` in the
                     Frobenius inner product: whitened cosine for independent
                     pattern noise (rsatoolbox, ``sigma_k=None``)
    corr_cov         ``cosine_cov`` after subtracting each vector's mean
    ================ ============================================================

    Each equals ``rsatoolbox.rdm.compare(a, b, method=...)``. NaN marks a missing pair:
    a NaN dissimilarity drops that pair from every comparison, and NaNs must sit at the same
    pairs in ``a`` and ``b``. An inf, a non-real dtype, an all-NaN RDM or fewer than 2
    complete pairs raise a ``ValueError`` (``TypeError`` for the dtype) naming the argument.
    ``b`` is matched to ``a`` by stimulus id; different stimuli raise.
    Products run in torch in float64; tau-a counts discordant pairs with a merge sort on
    the CPU (``O(n log n)`` per pair of RDMs).

    Parameters
    ----------
    a, b : DataArray, rsatoolbox RDMs or ndarray
        RDMs as :func:`rdm` returns them (dims ``(*batch, d, d + "_")``), their
        :func:`rdm_vector`, an ``rsatoolbox.rdm.RDMs`` object, or an array
        ``(..., n, n)``. Both must hold the same stimuli; ``b`` is reordered to ``a``'s
        order if needed.
    method : str, default="spearman"
        One of :data:`COMPARE_METHODS` or an alias in :data:`COMPARE_ALIASES`.
    device : str or torch.device, default="auto"

    Returns
    -------
    DataArray, dims ``(*batch_a, *batch_b)``
        A batch dim of ``b`` whose name is also in ``a`` gets the suffix ``"_b"``. With one
        RDM on each side the result is 0-d (``float(result)`` gives the number).
        ``attrs["method"]`` is the canonical method name.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> d = [[0., 1, 2], [1, 0, 3], [2, 3, 0]]
    >>> a = xr.DataArray(d, dims=("stimulus", "stimulus_"))
    >>> b = a.copy(data=[[0., 1, 3], [1, 0, 2], [3, 2, 0]])
    >>> round(float(compare_rdms(a, b, method="corr", device="cpu")), 6)
    0.5
    """
    method = _check_option("method", method, [*COMPARE_METHODS, *COMPARE_ALIASES])
    method = COMPARE_ALIASES.get(method, method)
    ra, rb = _as_square(a, "a"), _as_square(b, "b")
    rb = _align_rdms(ra, rb)
    va, vb = _vectors(ra), _vectors(rb)
    nan_a, nan_b = np.isnan(va).any(axis=0), np.isnan(vb).any(axis=0)
    if not np.array_equal(nan_a, nan_b):
        raise ValueError(
            f"'a' has NaN at {int(nan_a.sum())} stimulus pairs and 'b' at "
            f"{int(nan_b.sum())}, not the same ones. Set the same pairs to NaN in both.")
    n_stim = ra.shape[-1]
    if nan_a.any():
        if method in ("cosine_cov", "corr_cov"):
            raise ValueError(
                f"method={method!r} needs complete RDMs; {int(nan_a.sum())} stimulus pairs "
                "are NaN. Drop the stimuli with missing values, or use method='corr'.")
        va, vb = va[:, ~nan_a], vb[:, ~nan_a]
    if va.shape[1] < 2:
        raise ValueError(
            f"Invalid value for 'a': comparing RDMs needs at least 2 complete stimulus pairs; "
            f"got {va.shape[1]} ({int(nan_a.sum())} pairs are NaN). Add stimuli or fill the "
            "missing pairs.")
    dev = resolve_device(device)
    ta = torch.as_tensor(va, device=dev)
    tb = torch.as_tensor(vb, device=dev)
    sim = COMPARE_METHODS[method](ta, tb, {"n": n_stim}).cpu().numpy()
    return _wrap(sim, ra, rb, method)


def _wrap(sim: np.ndarray, ra: xr.DataArray, rb: xr.DataArray, method: str) -> xr.DataArray:
    batch_a = [str(d) for d in ra.dims[:-2]]
    batch_b = [str(d) for d in rb.dims[:-2]]
    rename = {d: (d + "_b" if d in batch_a else d) for d in batch_b}
    shape = [ra.sizes[d] for d in batch_a] + [rb.sizes[d] for d in batch_b]
    coords: dict[Hashable, Any] = {}
    for r, batch, ren in ((ra, batch_a, {}), (rb, batch_b, rename)):
        for k, c in r.coords.items():
            if c.dims and set(c.dims) <= set(batch):
                new = ren.get(str(k), str(k) + "_b" if str(k) in coords else str(k))
                coords[new] = ([ren.get(str(d), str(d)) for d in c.dims], np.asarray(c.values))
    dims = batch_a + [rename[d] for d in batch_b]
    return xr.DataArray(sim.reshape(shape), dims=dims, coords=coords,
                        attrs={"method": method}, name="similarity")
