"""Centred kernel alignment (CKA): linear, RBF and debiased; in memory, streamed and batched.

Equations (``n`` stimuli; ``X`` is ``n x p``, ``Y`` is ``n x q``; ``H = I - 11^T / n``):

* Kernels: linear ``K = X X^T``; RBF ``K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))``.
* Biased HSIC (Kornblith et al. 2019, up to a factor that cancels):
  ``HSIC_0(K, L) = <HKH, HLH>_F``. For the linear kernel with column-centred ``Xc, Yc`` this
  is ``||Yc^T Xc||_F^2`` (feature-space form) ``= <Xc Xc^T, Yc Yc^T>_F`` (Gram form).
* Unbiased HSIC (Song et al. 2012), with ``K~, L~`` the kernels with zeroed diagonals:
  ``HSIC_1(K, L) = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1]
  / (n (n-3))``.
* ``CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``.

Internally every representation (a whole assembly, or one ``layer`` / ``region`` group of
its units) is reduced to a few float64 sums, and ``HSIC`` between any two of them is built
from those sums; see :func:`cka` for the precision policy.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr

from .._align import align
from .._checks import (
    AssemblyError,
    _check_dims,
    _check_option,
    _validate_type,
    check_finite,
    check_nonempty,
    check_scalar,
)
from .._config import resolve_device
from .._linalg import matmul

logger = logging.getLogger(__name__)

#: Bytes of float64 scratch space one block of products may use (feature and Gram forms).
_BLOCK_BYTES = 2**28
#: Fewest blocks a symmetric product is split into, so that only ~(k+1)/2k of it is computed.
_MIN_BLOCKS = 8
#: Smallest block width worth a separate matrix product.
_MIN_BLOCK = 256


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


class _Side(NamedTuple):
    """One input, as a ``(n, p)`` array (numpy, torch or dask) with its unit groups."""

    data: Any
    labels: list[Hashable] | None  # group labels, None when not grouped
    cols: list[Any]  # per group: a slice or an integer index array over columns
    ids: np.ndarray | None  # stimulus ids, when known


def _is_dask(data: Any) -> bool:
    return hasattr(data, "__dask_graph__") and data.__dask_graph__() is not None


def _groups(da: xr.DataArray, by: str | None, feat: str, name: str, arg: str) -> tuple[
    list[Hashable] | None, list[Any]
]:
    n_cols = da.sizes[feat]
    if by is None:
        return None, [slice(0, n_cols)]
    if by not in da.coords:
        have = [str(c) for c in da.coords if da[c].dims == (feat,) and c != feat]
        raise AssemblyError(
            f"Invalid value for {arg!r}: {name!r} has no {by!r} coordinate; its coordinates "
            f"on {feat!r} are {have if have else 'none'}. Add one with "
            f"{name}.assign_coords({by}=({feat!r}, [...])) or pick one of these."
        )
    if da[by].dims != (feat,):
        raise AssemblyError(
            f"Invalid value for {arg!r}: coordinate {by!r} of {name!r} must lie along the "
            f"unit dim {feat!r}; it has dims {da[by].dims}."
        )
    values = np.asarray(da[by].values)
    labels = list(dict.fromkeys(values.tolist()))
    cols: list[Any] = []
    for label in labels:
        idx = np.flatnonzero(values == label)
        contiguous = idx[-1] - idx[0] + 1 == idx.size
        cols.append(slice(int(idx[0]), int(idx[-1]) + 1) if contiguous else idx)
    return labels, cols


def _side(v: Any, *, name: str, dim: str, by: str | None) -> _Side:
    arg = f"by_{name}"
    if isinstance(v, xr.DataArray):
        _check_dims(v, [dim], name)
        if v.ndim != 2:
            others = [d for d in v.dims if d != dim]
            stacked = ", ".join(map(repr, others))
            raise AssemblyError(
                f"{name!r} must have exactly two dims, {dim!r} and one unit dim; it has dims "
                f"{tuple(v.dims)}. Reduce the extra ones first, e.g. "
                f"{name}.mean({others[-1]!r}) or {name}.stack(unit_=({stacked}))."
            )
        feat = next(d for d in v.dims if d != dim)
        v = v.transpose(dim, feat)
        labels, cols = _groups(v, by, str(feat), name, arg)
        ids = np.asarray(v[dim].values) if dim in v.coords else None
        _check_real(name, v.data)
        return _Side(v.data, labels, cols, ids)
    if by is not None:
        raise TypeError(
            f"Invalid value for {arg!r}: grouping by {by!r} needs {name!r} to be an "
            f"xarray.DataArray with a {by!r} coordinate on its unit dim; got "
            f"{type(v).__name__}. Pass an assembly or leave {arg}=None."
        )
    if not (hasattr(v, "shape") and hasattr(v, "dtype")):
        v = np.asarray(v)
    if v.ndim != 2:
        raise ValueError(
            f"{name!r} must be 2-D, (n_stimuli, n_units) with stimuli along axis 0; got shape "
            f"{tuple(v.shape)}."
        )
    _check_real(name, v)
    return _Side(v, None, [slice(0, int(v.shape[1]))], None)


def _check_real(name: str, v: Any) -> None:
    """TypeError unless ``v`` (numpy, dask or torch) holds real numbers (not complex, text);
    ValueError if it is empty."""
    check_nonempty(name, v)
    if isinstance(v, torch.Tensor):
        if v.is_complex():
            check_finite(name, np.empty(0, dtype=np.complex128))
        return
    if np.dtype(v.dtype).kind not in "biuf":
        check_finite(name, np.empty(0, dtype=v.dtype) if np.dtype(v.dtype).kind != "O"
                     else np.asarray(v))


def _prepare(x: Any, y: Any, dim: str, by_x: str | None, by_y: str | None) -> tuple[
    _Side, _Side
]:
    if isinstance(x, xr.DataArray) and isinstance(y, xr.DataArray) and x is not y:
        _check_dims(x, [dim], "x")
        _check_dims(y, [dim], "y")
        if dim in x.coords and dim in y.coords:
            same = x.sizes[dim] == y.sizes[dim] and np.array_equal(x[dim].values, y[dim].values)
            if not same:
                x, y = align(x, y, dim=dim, names=("x", "y"))
    sx = _side(x, name="x", dim=dim, by=by_x)
    sy = _side(y, name="y", dim=dim, by=by_y)
    nx, ny = int(sx.data.shape[0]), int(sy.data.shape[0])
    if nx != ny:
        raise ValueError(
            f"'x' and 'y' must hold the same stimuli: 'x' has {nx} along {dim!r} (axis 0) and "
            f"'y' has {ny}. Pass assemblies with {dim!r} ids so that they are aligned, or "
            "select the same rows of both."
        )
    return sx, sy


def _dtype_of(a: Any) -> str:
    dtype = a.dtype
    return "float64" if str(dtype).rsplit(".", 1)[-1] == "float64" else "float32"


def _compute_dtype(*arrays: Any) -> Any:
    """float64 when any input is float64, else float32 (float16, ints, ... are cast)."""
    return torch.float64 if any(_dtype_of(a) == "float64" for a in arrays) else torch.float32


def _to_tensor(a: Any, device: Any, dtype: Any, name: str = "x") -> Any:
    """``a`` as a ``dtype`` tensor on ``device`` (no copy when it already is one)."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        arr = np.asarray(a)
        if arr.dtype != np.float64 and arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        arr = np.ascontiguousarray(arr)
        with warnings.catch_warnings():
            # read-only arrays (e.g. from xarray) are never written to here
            warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
            t = torch.from_numpy(arr)
    t = t.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(t).all()):
        check_finite(name, t.cpu(), fix=(
            f"CKA needs finite values. Drop the units or stimuli with missing values first, "
            f"e.g. {name}.dropna('unit')."))
    return t


def _cols(t: Any, cols: Any) -> Any:
    if isinstance(cols, slice):
        return t[:, cols]
    return t.index_select(1, torch.as_tensor(cols, device=t.device))


def _centre(t: Any) -> Any:
    """Subtract column means (computed in float64) from ``t``; returns a new tensor."""
    mean = t.sum(0, dtype=torch.float64) / t.shape[0]
    return t - mean.to(t.dtype)


# --------------------------------------------------------------------------------------
# Sums per representation and per pair: the HSIC building blocks
# --------------------------------------------------------------------------------------


class _Terms(NamedTuple):
    """Float64 sums from which HSIC between groups ``g`` and ``h`` is built.

    ``mm[g, h] = <M_g, M_h>_F`` with ``M = HKH`` (biased) or ``K~`` (debiased);
    for the debiased estimator also ``rr[g, h] = (K~_g 1) . (K~_h 1)`` and ``s[g] = 1^T K~_g 1``.
    """

    mm: Any  # (G, G) tensor
    rr: Any | None
    s: Any | None


def _edges(size: int, width: int) -> list[int]:
    k = max(1, math.ceil(size / max(1, width)))
    return [round(i * size / k) for i in range(k + 1)]


def _sym_width(size: int, other: int) -> int:
    """Block width for a symmetric product over ``size`` rows whose blocks span ``other``."""
    mem = max(1, _BLOCK_BYTES // (8 * max(1, other)))
    split = max(_MIN_BLOCK, math.ceil(size / _MIN_BLOCKS))
    return max(1, min(size, mem, split))


def _sq_rows(block: Any) -> Any:
    """Sum of squares of ``block``: float32 along each row, float64 across rows."""
    return torch.linalg.vecdot(block, block, dim=1).to(torch.float64).sum()


def _sq_sym(zt: Any) -> Any:
    """``||zt zt^T||_F^2`` in float64, computing only the upper row blocks of ``zt zt^T``."""
    rows = zt.shape[0]
    edges = _edges(rows, _sym_width(rows, rows))
    total = 0.0
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        block = matmul(zt[s:e], zt[s:].T)
        total = total + _sq_rows(block[:, : e - s]) + 2.0 * _sq_rows(block[:, e - s:])
    return total


def _sq_cross(at: Any, bt: Any) -> Any:
    """``||at bt^T||_F^2`` in float64, in row blocks of ``at``."""
    rows, other = at.shape[0], bt.shape[0]
    edges = _edges(rows, max(1, _BLOCK_BYTES // (8 * max(1, other))))
    total = 0.0
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        total = total + _sq_rows(matmul(at[s:e], bt.T))
    return total


def _pairs(xi: list[int], yi: list[int], n_groups: int) -> set[tuple[int, int]]:
    pairs = {(g, g) for g in range(n_groups)}
    pairs |= {(min(g, h), max(g, h)) for g in xi for h in yi}
    return pairs


def _kk_feature(zs: list[Any], pairs: set[tuple[int, int]]) -> Any:
    """``<K_g, K_h>_F = ||Z_g^T Z_h||_F^2`` for the needed pairs (feature-space form)."""
    n_groups = len(zs)
    kk = torch.full((n_groups, n_groups), math.nan, dtype=torch.float64, device=zs[0].device)
    zts = [z.T.contiguous() for z in zs]  # (p_g, n): row blocks give the fastest products
    for g, h in sorted(pairs):
        kk[g, h] = kk[h, g] = _sq_sym(zts[g]) if g == h else _sq_cross(zts[g], zts[h])
    return kk


def _kk_gram(zs: list[Any], pairs: set[tuple[int, int]]) -> Any:
    """``<K_g, K_h>_F`` with ``K = Z Z^T`` built in row blocks, upper blocks only (Gram form).

    Never holds a whole ``n x n`` matrix: one row block of every group's kernel at a time.
    All pairs of groups come from one batched product per block.
    """
    n = zs[0].shape[0]
    n_groups = len(zs)
    edges = _edges(n, _sym_width(n, n * n_groups))
    kk = torch.zeros((n_groups, n_groups), dtype=torch.float64, device=zs[0].device)
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        w = e - s
        f = torch.empty((n_groups, w, n - s), dtype=zs[0].dtype, device=zs[0].device)
        for g, z in enumerate(zs):
            matmul(z[s:e], z[s:].T, out=f[g])
        for part, weight in ((f[:, :, :w], 1.0), (f[:, :, w:], 2.0)):  # upper blocks twice
            if part.shape[2]:
                rows = part.transpose(0, 1)  # (w, G, cols): per row, every pair of groups
                kk += weight * torch.bmm(rows, rows.transpose(1, 2)).to(torch.float64).sum(0)
    return kk


#: Linear-kernel forms: how ``<K_g, K_h>_F`` is computed.
LINEAR_FORMS: dict[str, Callable[[list[Any], set[tuple[int, int]]], Any]] = {
    "feature": _kk_feature,
    "gram": _kk_gram,
}


def _form_costs(n: int, widths: list[int], pairs: set[tuple[int, int]]) -> dict[str, float]:
    """Multiply-adds of each linear form (symmetric products count half)."""
    feature = 0.0
    for g, h in pairs:
        feature += n * widths[g] ** 2 / 2 if g == h else n * widths[g] * widths[h]
    gram = n * n * sum(widths) / 2 + 2.0 * n * n * len(widths) ** 2  # float64 inner products
    return {"feature": feature, "gram": gram}


def _linear_terms(zs: list[Any], pairs: set[tuple[int, int]], form: str,
                  debiased: bool) -> _Terms:
    """HSIC sums for the linear kernel from column-centred groups ``zs``."""
    kk = LINEAR_FORMS[form](zs, pairs)
    if not debiased:
        return _Terms(kk, None, None)
    # centred features: K 1 = 0, so K~ 1 = -diag(K) and 1^T K~ 1 = -tr(K)
    d = torch.stack([torch.linalg.vecdot(z, z, dim=1).to(torch.float64) for z in zs])  # diag K
    dd = d @ d.T
    return _Terms(kk - dd, dd, -d.sum(1))


def _median(v: Any) -> Any:
    """Median of a 1-D tensor, averaging the two middle values when the count is even."""
    m = v.numel()
    lo = v.kthvalue((m + 1) // 2).values
    hi = v.kthvalue(m // 2 + 1).values
    return (lo + hi) / 2


def _rbf_terms(zs: list[Any], pairs: set[tuple[int, int]], debiased: bool, sigma: float | None,
               sigma_factor: float) -> tuple[_Terms, list[float]]:
    """HSIC sums for the RBF kernel; also the width used for each group."""
    n = zs[0].shape[0]
    mats, sums, widths = [], [], []
    upper = torch.ones(n, n, dtype=torch.bool, device=zs[0].device).triu_(1)
    for g, z in enumerate(zs):
        gram = (z @ z.T).to(torch.float64)
        sq = gram.diagonal().clone()
        d2 = (sq[:, None] + sq[None, :] - 2.0 * gram).clamp_min_(0.0)
        d2.fill_diagonal_(0.0)
        del gram
        if sigma is None:
            med = _median(d2[upper])
            width = sigma_factor * float(med.sqrt())
            if not width > 0:
                raise ValueError(
                    f"The median heuristic gives sigma = 0 for group {g} (its median squared "
                    "distance between stimuli is 0: most stimuli have identical responses). "
                    "Pass an explicit width, e.g. sigma=1.0."
                )
        else:
            width = float(sigma)
        widths.append(width)
        k = d2.mul_(-0.5 / width**2).exp_()
        if debiased:
            k.fill_diagonal_(0.0)
            sums.append(k.sum(1))
        else:
            mean = k.mean(0)
            k = k - mean[None, :] - mean[:, None] + mean.mean()
        mats.append(k.reshape(-1))
    n_groups = len(zs)
    mm = torch.full((n_groups, n_groups), math.nan, dtype=torch.float64, device=zs[0].device)
    for g, h in pairs:
        mm[g, h] = mm[h, g] = torch.dot(mats[g], mats[h])
    if not debiased:
        return _Terms(mm, None, None), widths
    r = torch.stack(sums)
    return _Terms(mm, r @ r.T, r.sum(1)), widths


# --------------------------------------------------------------------------------------
# Streaming: float64 moments over chunks of stimuli
# --------------------------------------------------------------------------------------


class _Moments:
    """Exact float64 moment accumulators for the linear kernel, one chunk of stimuli at a time.

    Rows are shifted by the first chunk's column means (``z' = z - shift``), which keeps
    the centring by sums ``Zc^T Zc = Z'^T Z' - n d d^T`` (``d`` = mean of ``z'``) free of
    cancellation when the means are large.
    """

    def __init__(self, pairs: set[tuple[int, int]], debiased: bool) -> None:
        self.pairs = sorted(pairs)
        self.debiased = debiased
        self.n = 0
        self.shift: list[Any] | None = None
        self.s: list[Any] = []
        self.c: dict[tuple[int, int], Any] = {}
        self.sr: Any = None
        self.rr: dict[tuple[int, int], Any] = {}
        self.rz: dict[tuple[int, int], Any] = {}  # sum_i R_g,i z'_h,i
        self.zr: dict[tuple[int, int], Any] = {}  # sum_i z'_g,i R_h,i

    def update(self, zs: list[Any]) -> None:
        if self.shift is None:
            self.shift = [z.sum(0, dtype=torch.float64) / z.shape[0] for z in zs]
            self.s = [torch.zeros_like(m) for m in self.shift]
            self.sr = torch.zeros(len(zs), dtype=torch.float64, device=zs[0].device)
        zs = [z - m.to(z.dtype) for z, m in zip(zs, self.shift, strict=True)]
        self.n += zs[0].shape[0]
        for g, z in enumerate(zs):
            self.s[g] += z.sum(0, dtype=torch.float64)
        for g, h in self.pairs:
            prod = (zs[g].T @ zs[h]).to(torch.float64)
            self.c[g, h] = self.c[g, h] + prod if (g, h) in self.c else prod
        if not self.debiased:
            return
        r = torch.stack([torch.linalg.vecdot(z, z, dim=1).to(torch.float64) for z in zs])
        self.sr += r.sum(1)
        for g, h in self.pairs:
            rr = torch.dot(r[g], r[h])
            rz = (r[g].to(zs[h].dtype) @ zs[h]).to(torch.float64)
            zr = (r[h].to(zs[g].dtype) @ zs[g]).to(torch.float64)
            for store, value in ((self.rr, rr), (self.rz, rz), (self.zr, zr)):
                store[g, h] = store[g, h] + value if (g, h) in store else value

    def terms(self, n_groups: int) -> _Terms:
        n = self.n
        device = self.sr.device
        kk = torch.full((n_groups, n_groups), math.nan, dtype=torch.float64, device=device)
        dd = torch.full_like(kk, math.nan)
        d = [s / n for s in self.s]  # mean of the shifted rows
        for g, h in self.pairs:
            c = self.c[g, h]
            cc = c - n * torch.outer(d[g], d[h])
            kk[g, h] = kk[h, g] = torch.dot(cc.reshape(-1), cc.reshape(-1))
            if self.debiased:
                dg2, dh2 = torch.dot(d[g], d[g]), torch.dot(d[h], d[h])
                value = (self.rr[g, h] - 2.0 * torch.dot(self.rz[g, h], d[h])
                         - 2.0 * torch.dot(d[g], self.zr[g, h]) + dh2 * self.sr[g]
                         + dg2 * self.sr[h] + 4.0 * (d[g] @ c @ d[h]) - 3.0 * n * dg2 * dh2)
                dd[g, h] = dd[h, g] = value
        if not self.debiased:
            return _Terms(kk, None, None)
        tr = self.sr - n * torch.stack([torch.dot(m, m) for m in d])  # tr(K_g), centred
        return _Terms(kk - dd, dd, -tr)


def _chunk_edges(sx: _Side, sy: _Side, n: int, chunk_size: int | None) -> list[int]:
    if chunk_size is not None:
        return [*range(0, n, chunk_size), n]
    for side in (sx, sy):
        if _is_dask(side.data):
            sizes = side.data.chunks[0]
            return [0, *np.cumsum(sizes).tolist()]
    return [0, n]


def _stream(sx: _Side, sy: _Side, groups: list[tuple[str, Any]], pairs: set[tuple[int, int]],
            edges: list[int], debiased: bool, device: Any, dtype: Any) -> _Terms:
    moments = _Moments(pairs, debiased)
    need_y = any(src == "y" for src, _ in groups)
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        parts = [sx.data[s:e]] + ([sy.data[s:e]] if need_y else [])
        if any(_is_dask(p) for p in parts):
            import dask

            parts = list(dask.compute(*parts))
        tx = _to_tensor(parts[0], device, dtype, "x")
        ty = _to_tensor(parts[1], device, dtype, "y") if need_y else None
        moments.update([_cols(tx if src == "x" else ty, cols) for src, cols in groups])
        logger.debug("cka: streamed stimuli %d-%d of %d", s, e, edges[-1])
    return moments.terms(len(groups))


# --------------------------------------------------------------------------------------
# Public function
# --------------------------------------------------------------------------------------


def _hsic_matrix(t: _Terms, n: int, debiased: bool) -> Any:
    """HSIC between every pair of groups (up to the factor 1 / (n (n-3)), which cancels)."""
    if not debiased:
        return t.mm
    assert t.s is not None and t.rr is not None  # the debiased terms
    return (t.mm + (t.s[:, None] * t.s[None, :]) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * t.rr)


#: Kernels :func:`cka` knows, with the equation each implements.
KERNELS: dict[str, str] = {
    "linear": "k(a, b) = a . b",
    "rbf": "k(a, b) = exp(-||a - b||^2 / (2 sigma^2))",
}


def cka(
    x: Any,
    y: Any,
    *,
    kernel: str = "linear",
    debiased: bool = False,
    dim: str = "stimulus",
    sigma: float | None = None,
    sigma_factor: float = 1.0,
    by_x: str | None = None,
    by_y: str | None = None,
    chunk_size: int | None = None,
    form: str = "auto",
    device: Any = "auto",
) -> xr.DataArray:
    r"""Centred kernel alignment between two representations of the same stimuli.

    For kernels ``K`` (from ``x``) and ``L`` (from ``y``) over ``n`` stimuli,

    ``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``

    with the biased estimator ``HSIC_0(K, L) = <HKH, HLH>_F`` (``H = I - 11^T / n``;
    Kornblith et al. 2019) or, with ``debiased=True``, the unbiased estimator of Song et al.
    (2012) on the kernels with zeroed diagonals ``K~, L~``:

    ``HSIC_1 = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1]
    / (n (n-3))``,

    which is what Brain-Score's ``CKA`` metric uses by default. For the linear kernel the
    biased value is ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred
    ``Xc, Yc``. It is computed in the feature-space form (``p x q`` products) or the Gram form
    (``n x n`` kernels, built in row blocks and never held whole), whichever needs fewer
    multiply-adds (``form="auto"``: the feature form when ``p + q <= n`` for one pair).
    Symmetric products (``Xc^T Xc``, ``Xc Xc^T``) compute only their upper blocks.

    Parameters
    ----------
    x, y : DataArray, dims (``dim``, unit) or array-like (n_stimuli, n_units)
        The representations. Assemblies are aligned on ``dim`` with
        :func:`brainbridge.align` when their ids differ (an
        :class:`~brainbridge.AssemblyError` if they share none); plain numpy, torch or dask
        arrays have stimuli along axis 0 and must have the same length. Any other dim
        (``trial``, ``time``) must be reduced first. NaN or inf raise a ValueError.
    kernel : {"linear", "rbf"}, default="linear"
        See :data:`KERNELS`.
    debiased : bool, default=False
        Use the unbiased HSIC estimator; needs at least 4 stimuli.
    dim : str, default="stimulus"
        The stimulus dim of assemblies.
    sigma : float, optional
        RBF width, shared by ``x`` and ``y`` and every group. By default each representation
        gets its own width from the median heuristic:
        ``sigma = sigma_factor * sqrt(median_{i<j} ||x_i - x_j||^2)``, the median over the
        ``n (n-1) / 2`` distinct pairs of stimuli (for an odd count of pairs this is the median
        distance). With ``sigma_factor=1`` this is Brain-Score's ``kernel_CKA`` convention;
        Kornblith et al. report ``sigma_factor`` 0.2-0.8 (their code also counts the ``n``
        zero self-distances in the median).
    sigma_factor : float, default=1.0
        Multiplier of the median heuristic; only with ``kernel="rbf"`` and ``sigma=None``.
    by_x, by_y : str, optional
        A coordinate on the unit dim (``"layer"``, ``"region"``) that splits ``x`` / ``y``
        into groups of units; CKA is computed for every pair of groups in one call, sharing
        each group's products. With ``x is y`` and ``by_x == by_y`` only one triangle is
        computed.
    chunk_size : int, optional
        Stream over chunks of this many stimuli (linear kernel only). Dask-backed inputs stream
        over their own chunks along ``dim`` when ``chunk_size`` is None. Streaming accumulates
        ``Z'^T Z'`` for every needed pair of groups, column sums (and, for ``debiased``, sums
        of row norms) in float64 and centres through those sums: exact, not an approximation.
        Only one chunk of rows is on ``device`` at a time, plus ``p x q`` float64 accumulators.
    form : {"auto", "feature", "gram"}, default="auto"
        Linear-kernel form; see :data:`LINEAR_FORMS`. Both give the same value; streaming
        always uses the feature form.
    device : str or torch.device, default="auto"
        Where the products run (:func:`brainbridge.resolve_device`).

    Returns
    -------
    DataArray
        Named ``"cka"``. 0-d without grouping (``float(result)`` gives the number); dims
        ``(by_x,)``, ``(by_y,)`` or ``(by_x, by_y)`` with the group labels as coordinates;
        when ``by_x == by_y`` the second dim is ``by_y + "_"`` (e.g. ``("layer", "layer_")``).
        RBF widths are coordinates ``sigma_x`` / ``sigma_y``. attrs: ``kernel``,
        ``debiased`` (0/1), ``form`` (``"feature"``, ``"gram"``, ``"stream"`` or ``"rbf"``),
        ``n_stimuli``. A representation with zero (or, debiased, non-positive) self-HSIC
        gives NaN, with a logged warning.

    Notes
    -----
    Precision: when ``x`` or ``y`` is float64, both are computed in float64 throughout.
    Otherwise both are cast to float32 and the matrix products (``Xc^T Xc``, ``Xc^T Yc``,
    ``Xc Xc^T`` and their blocks) run in float32; the squares (or pairwise products) of their
    entries are summed in float32 along one row only (at most ``max(n, p, q)`` terms) and in
    float64 across rows, never in one long float32 sum (a float32 Frobenius norm of a
    4096 x 4096 product loses ~3e-4 relative). Column means, row norms, distances,
    exponentials, Gram centring and all HSIC sums are float64, as are the streaming
    accumulators. Against a float64 computation on the same float32 data the result agrees to
    ~1e-6 relative (tested at 1e-5).

    Examples
    --------
    >>> import numpy as np, brainbridge as bb
    >>> from brainbridge.analyses import cka
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 8))
    >>> q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    >>> round(float(cka(x, 3.0 * x @ q)), 6)  # invariant to rotation and scale
    1.0
    >>> a = bb.assembly(np.hstack([x, x[:, :2] ** 2]), dims=("stimulus", "unit"),
    ...                 modality="ann", coords={"layer": ("unit", ["l1"] * 8 + ["l2"] * 2)})
    >>> m = cka(a, a, by_x="layer", by_y="layer")
    >>> m.dims, m.shape
    (('layer', 'layer_'), (2, 2))
    """
    _check_option("kernel", kernel, KERNELS)
    _check_option("form", form, ("auto", *LINEAR_FORMS))
    _validate_type("debiased", debiased, (bool, np.bool_), "bool")
    _validate_type("dim", dim, str, "str")
    for arg, value in (("by_x", by_x), ("by_y", by_y)):
        if value is not None:
            _validate_type(arg, value, str, "str or None")
    if sigma is not None:
        if kernel != "rbf":
            raise ValueError(
                f"'sigma' applies to kernel='rbf' only; got sigma={sigma!r} with "
                f"kernel={kernel!r}. Drop sigma or use kernel='rbf'."
            )
        check_scalar("sigma", sigma, float, low=0, closed="neither")
    check_scalar("sigma_factor", sigma_factor, float, low=0, closed="neither")
    check_scalar("chunk_size", chunk_size, int, low=1, allow_none=True)
    if kernel != "linear" and form != "auto":
        raise ValueError(
            f"'form' applies to kernel='linear' only; got form={form!r} with kernel={kernel!r}. "
            "Leave form='auto'."
        )

    shared = x is y and by_x == by_y
    sx, sy = _prepare(x, y, dim, by_x, by_y)
    n = int(sx.data.shape[0])
    if n < 2:
        raise ValueError(f"Invalid value for 'x': CKA needs at least 2 stimuli along {dim!r}; "
                         f"got {n}. Pass two or more stimuli.")
    if debiased and n < 4:
        raise ValueError(
            f"debiased=True needs at least 4 stimuli along {dim!r} (the unbiased HSIC estimator "
            f"divides by n (n - 3)); got {n}. Use debiased=False or more stimuli."
        )
    streaming = chunk_size is not None or _is_dask(sx.data) or _is_dask(sy.data)
    if streaming and kernel != "linear":
        raise ValueError(
            f"kernel={kernel!r} needs every n x n kernel matrix in memory and cannot stream; "
            "streaming (chunk_size=... or dask-backed inputs) works with kernel='linear'. "
            "Load the data first (x.compute()) or use kernel='linear'."
        )
    if streaming and form == "gram":
        raise ValueError(
            "form='gram' cannot stream: streaming (chunk_size=... or dask-backed inputs) "
            "accumulates the feature-space form. Use form='auto' or load the data first."
        )

    dev = resolve_device(device)
    dtype = _compute_dtype(sx.data, sy.data)
    groups: list[tuple[str, Any]] = [("x", c) for c in sx.cols]
    xi = list(range(len(sx.cols)))
    if shared:
        yi = xi
    else:
        yi = [len(groups) + b for b in range(len(sy.cols))]
        groups += [("y", c) for c in sy.cols]
    pairs = _pairs(xi, yi, len(groups))
    widths: list[float] | None = None

    if streaming:
        edges = _chunk_edges(sx, sy, n, chunk_size)
        terms = _stream(sx, sy, groups, pairs, edges, debiased, dev, dtype)
        used = "stream"
    else:
        tx = _to_tensor(sx.data, dev, dtype, "x")
        ty = tx if shared else _to_tensor(sy.data, dev, dtype, "y")
        cx = _centre(tx)
        cy = cx if shared else _centre(ty)
        zs = [_cols(cx if src == "x" else cy, cols) for src, cols in groups]
        if kernel == "linear":
            costs = _form_costs(n, [int(z.shape[1]) for z in zs], pairs)
            used = min(costs, key=costs.__getitem__) if form == "auto" else form
            logger.debug("cka: linear %s form (multiply-adds %s)", used, costs)
            terms = _linear_terms(zs, pairs, used, debiased)
        else:
            terms, widths = _rbf_terms(zs, pairs, debiased, sigma, sigma_factor)
            used = "rbf"

    hsic = _hsic_matrix(terms, n, debiased)
    self_h = hsic.diagonal()
    values = (hsic[xi][:, yi] / (self_h[xi][:, None] * self_h[yi][None, :]).sqrt()).cpu().numpy()
    bad = (self_h <= 0).cpu().numpy() | np.isnan(self_h.cpu().numpy())
    if bad.any():
        logger.warning(
            "cka: %d representation(s) have %s self-HSIC (constant responses%s); their CKA is "
            "NaN", int(bad.sum()), "zero or negative" if debiased else "zero",
            ", or too few stimuli for the unbiased estimator" if debiased else "",
        )
        bad_x, bad_y = bad[xi], bad[yi]
        values[bad_x, :] = np.nan
        values[:, bad_y] = np.nan
    return _result(values, sx, sy, by_x, by_y, widths, xi, yi, kernel, debiased, used, n)


def _result(values: np.ndarray, sx: _Side, sy: _Side, by_x: str | None, by_y: str | None,
            widths: list[float] | None, xi: Sequence[int], yi: Sequence[int], kernel: str,
            debiased: bool, used: str, n: int) -> xr.DataArray:
    dims: list[str] = []
    coords: dict[str, Any] = {}
    name_y = None
    if by_x is not None:
        dims.append(by_x)
        coords[by_x] = np.asarray(sx.labels)
    else:
        values = values[0]
    if by_y is not None:
        name_y = by_y + "_" if by_y == by_x else by_y
        dims.append(name_y)
        coords[name_y] = np.asarray(sy.labels)
    else:
        values = values[..., 0]
    if widths is not None:
        wx = np.asarray([widths[g] for g in xi])
        wy = np.asarray([widths[g] for g in yi])
        coords["sigma_x"] = (by_x, wx) if by_x is not None else wx[0]
        coords["sigma_y"] = (name_y, wy) if name_y is not None else wy[0]
    attrs = {"kernel": kernel, "debiased": int(debiased), "form": used, "n_stimuli": n}
    return xr.DataArray(values, dims=dims, coords=coords, name="cka", attrs=attrs)
