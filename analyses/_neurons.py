"""Unit-level comparisons: streamed neuron-pair correlation and unit matching.

Equations (``n`` samples; unit ``i`` of ``a`` is ``x_i``, unit ``j`` of ``b`` is ``y_j``):

* ``r_ij = (n Sxy_ij - Sx_i Sy_j) / sqrt((n Sxx_i - Sx_i^2) (n Syy_j - Sy_j^2))`` with
  ``Sx = sum x``, ``Sxx = sum x^2``, ``Sxy = sum x y^T`` accumulated over chunks of samples.
* Every chunk is shifted by the first chunk's per-unit mean before the sums (the shift
  cancels in ``r`` and removes the cancellation of raw sums with large means).
* Per-chunk products and sums run in the chunk's dtype (float32 inputs: float32) and are
  added into float64 accumulators; float64 inputs stay float64 throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
import xarray as xr
from scipy.optimize import linear_sum_assignment
from scipy.stats import ortho_group

from .._align import align
from .._checks import _check_option, check_finite, check_nonempty, check_random_state, check_scalar
from .._config import resolve_device
from .._linalg import matmul

logger = logging.getLogger(__name__)

#: Rows of the correlation matrix finished at once when only the top-k partners are kept.
_ROW_BLOCK = 1024


def _is_dask(data: Any) -> bool:
    return hasattr(data, "__dask_graph__") and data.__dask_graph__() is not None


def _flatten(da: xr.DataArray, others: list[str], name: str) -> Any:
    if "unit" not in da.dims:
        raise ValueError(
            f"Invalid value for {name!r}: expected a DataArray with a 'unit' dim; got dims "
            f"{tuple(da.dims)}. Rename the feature dim to 'unit'."
        )
    missing = [d for d in others if d not in da.dims]
    if missing or len(da.dims) != len(others) + 1:
        raise ValueError(
            f"Invalid value for {name!r}: expected sample dims {tuple(others)} besides 'unit'; "
            f"got dims {tuple(da.dims)}. Give 'a' and 'b' the same sample dims."
        )
    data = da.transpose(*others, "unit").data
    return data.reshape(-1, da.sizes["unit"])


_FINITE_FIX = ("Correlations need complete data; drop the units or samples with missing values "
               "first, e.g. a.dropna('unit').")


def _check_values(name: str, x: Any, offset: int | None = None) -> None:
    """The analyses' NaN / inf rule (brainbridge._checks.check_finite) without a float64 copy.

    ``offset``: the first sample of a chunk, named in the message.
    """
    data = x.data if isinstance(x, xr.DataArray) else x
    check_nonempty(name, x)
    if _is_dask(data):
        if np.dtype(data.dtype).kind not in "biuf":
            check_finite(name, np.empty(0, dtype=data.dtype))
        return  # checked chunk by chunk in _chunks
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf" or not np.isfinite(arr).all():
        fix = _FINITE_FIX if offset is None else f"{_FINITE_FIX} (in the chunk from sample {offset})"
        check_finite(name, x if offset is None else arr, fix=fix)


def _prepare(a: Any, b: Any, dim: str) -> tuple[Any, Any, np.ndarray | None, np.ndarray | None]:
    """Return 2-D (samples, units) arrays (numpy or dask) and unit ids, or pass iterables on."""
    if isinstance(a, xr.DataArray) and isinstance(b, xr.DataArray):
        if dim in a.dims and dim in b.dims and dim in a.coords and dim in b.coords:
            a, b = align(a, b, dim=dim)
        _check_values("a", a)
        _check_values("b", b)
        others = [d for d in a.dims if d != "unit"]
        ids_a = np.asarray(a["unit"].values) if "unit" in a.coords else None
        ids_b = np.asarray(b["unit"].values) if "unit" in b.coords else None
        return _flatten(a, others, "a"), _flatten(b, others, "b"), ids_a, ids_b
    if isinstance(a, xr.DataArray) or isinstance(b, xr.DataArray):
        raise ValueError(
            "Invalid value for 'a'/'b': expected both DataArrays or both arrays; got "
            f"{type(a).__name__} and {type(b).__name__}. Convert both the same way."
        )
    if b is None:
        return a, None, None, None  # an iterable of (a_chunk, b_chunk) pairs
    arrs = []
    for name, x in (("a", a), ("b", b)):
        x = x if _is_dask(x) else np.asarray(x)
        if x.ndim != 2:
            raise ValueError(
                f"Invalid value for {name!r}: expected a 2-D (samples, units) array; got shape "
                f"{tuple(x.shape)}. Reshape to (n_samples, n_units)."
            )
        _check_values(name, x)
        arrs.append(x)
    return arrs[0], arrs[1], None, None


def _check_pair(xa: Any, yb: Any) -> tuple[np.ndarray, np.ndarray]:
    xa, yb = np.asarray(xa), np.asarray(yb)
    if xa.ndim != 2 or yb.ndim != 2 or xa.shape[0] != yb.shape[0]:
        raise ValueError(
            "Invalid value for 'a'/'b': expected (n_samples, n_units) chunks with the same "
            f"number of samples in a and b; got shapes {tuple(xa.shape)} and "
            f"{tuple(yb.shape)}. Align a and b on their samples first (brainbridge.align)."
        )
    _check_values("a", xa, 0)
    _check_values("b", yb, 0)
    return xa, yb


def _chunks(a: Any, b: Any, chunk_size: int, perm: np.ndarray | None) -> Iterator[tuple[Any, Any]]:
    if b is None:  # iterable of pairs; a permutation baseline permutes within each chunk
        gen = np.random.default_rng(int(perm[0])) if perm is not None else None
        for pair in a:
            xa, yb = _check_pair(*pair)
            if gen is not None:
                yb = yb[gen.permutation(len(yb))]
            yield xa, yb
        return
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            "Invalid value for 'a'/'b': expected the same number of samples in a and b; got "
            f"{a.shape[0]} and {b.shape[0]}. Align a and b on their samples first "
            "(brainbridge.align), or give both DataArrays stimulus ids so they are aligned."
        )
    n = a.shape[0]
    for start in range(0, n, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        xa = a[sl]
        yb = b[perm[sl]] if perm is not None else b[sl]
        if _is_dask(xa):
            xa = xa.compute()
            _check_values("a", xa, start)
        if _is_dask(yb):
            yb = yb.compute()
            _check_values("b", yb, start)
        yield np.asarray(xa), np.asarray(yb)


def _accumulate(chunks: Iterable[tuple[np.ndarray, np.ndarray]], dev: Any,
                transform: Callable[[Any], Any] | None = None,
                shift: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """Float64 sums of the shifted chunks: n, Sx, Sxx, Sy, Syy, Sxy.

    The shift is the first chunk's per-unit mean unless given (the distributed path gives
    every block the same one, so the blocks' sums add up).
    """
    acc: dict[str, Any] = {}
    for xa, yb in chunks:
        dtype = torch.float32 if (xa.dtype == np.float32 and yb.dtype == np.float32) else torch.float64
        x = torch.as_tensor(np.ascontiguousarray(xa), dtype=dtype, device=dev)
        y = torch.as_tensor(np.ascontiguousarray(yb), dtype=dtype, device=dev)
        if transform is not None:
            y = transform(y)
        if not acc:
            sx, sy = (x.mean(0), y.mean(0)) if shift is None else (
                torch.as_tensor(v, device=dev) for v in shift)
            acc = {"n": 0, "shift_x": sx, "shift_y": sy}
            p, q = x.shape[1], y.shape[1]
            for key, size in (("sx", (p,)), ("sxx", (p,)), ("sy", (q,)), ("syy", (q,)), ("sxy", (p, q))):
                acc[key] = torch.zeros(size, dtype=torch.float64, device=dev)
        x = x - acc["shift_x"].to(dtype)
        y = y - acc["shift_y"].to(dtype)
        acc["n"] += x.shape[0]
        # Per-chunk sums in the chunk's dtype (shifted data, a few thousand terms), added into
        # float64 accumulators.
        acc["sx"] += x.sum(0)
        acc["sxx"] += torch.linalg.vector_norm(x, dim=0) ** 2
        acc["sy"] += y.sum(0)
        acc["syy"] += torch.linalg.vector_norm(y, dim=0) ** 2
        acc["sxy"] += matmul(x.T, y)  # in-place add promotes the chunk's product to float64
    return acc


def _check_enough(acc: dict[str, Any]) -> dict[str, Any]:
    if not acc or acc["n"] < 2:
        raise ValueError(
            "Invalid value for 'a'/'b': expected at least 2 samples to correlate; got "
            f"{acc.get('n', 0)}. Pass more stimuli (or tokens)."
        )
    return acc


def _corr_rows(acc: dict[str, Any], rows: slice) -> Any:
    """Rows ``rows`` of the correlation matrix (float64), NaN where a unit has zero variance."""
    n = acc["n"]
    vx = n * acc["sxx"][rows] - acc["sx"][rows] ** 2
    vy = n * acc["syy"] - acc["sy"] ** 2
    cov = n * acc["sxy"][rows] - acc["sx"][rows, None] * acc["sy"][None, :]
    den = torch.sqrt(vx.clamp_min(0))[:, None] * torch.sqrt(vy.clamp_min(0))[None, :]
    r = cov / den
    bad = (vx <= 1e-12 * n * acc["sxx"][rows])[:, None] | (vy <= 1e-12 * n * acc["syy"])[None, :]
    r = torch.where(bad | (den == 0), torch.full_like(r, float("nan")), r)
    return r.clamp(-1.0, 1.0)


def _baseline_none(q: int, n: int | None, rng: np.random.Generator) -> dict[str, Any]:
    return {}


def _baseline_permutation(q: int, n: int | None, rng: np.random.Generator) -> dict[str, Any]:
    if n is None:
        return {"perm": np.array([rng.integers(2**31)])}
    return {"perm": rng.permutation(n)}


def _baseline_rotation(q: int, n: int | None, rng: np.random.Generator) -> dict[str, Any]:
    rot = ortho_group.rvs(q, random_state=rng) if q > 1 else np.ones((1, 1))
    return {"rotation": rot}


def _baseline_gaussian(q: int, n: int | None, rng: np.random.Generator) -> dict[str, Any]:
    return {"gaussian": np.random.default_rng(rng.integers(2**63))}


#: Baselines for excess correlation; each returns how b is changed before correlating.
BASELINES: dict[str, Callable[..., dict[str, Any]]] = {
    "permutation": _baseline_permutation,
    "rotation": _baseline_rotation,
    "gaussian": _baseline_gaussian,
}


def _transform(spec: dict[str, Any]) -> Callable[[Any], Any] | None:
    """The change made to each chunk of b by a baseline (rotation or gaussian), or None."""
    if "rotation" in spec:
        rot = spec["rotation"]

        def rotate(y: Any) -> Any:
            return matmul(y, torch.as_tensor(rot, dtype=y.dtype, device=y.device))
        return rotate
    if "gaussian" in spec:
        gen = spec["gaussian"]

        def draw(y: Any) -> Any:
            return torch.as_tensor(gen.standard_normal(tuple(y.shape)), dtype=y.dtype, device=y.device)
        return draw
    return None


def _correlate(a: Any, b: Any, chunk_size: int, device: Any, spec: dict[str, Any],
               client: Any = None) -> dict[str, Any]:
    if client is not None:
        return _correlate_distributed(client, a, b, chunk_size, device, spec)
    dev = resolve_device(device)
    return _check_enough(_accumulate(_chunks(a, b, chunk_size, spec.get("perm")), dev, _transform(spec)))


# ----------------------------------------------------------------------------- dask.distributed
def _block_sums(xa: np.ndarray, yb: np.ndarray, shift: tuple[np.ndarray, np.ndarray],
                spec: dict[str, Any], device: Any) -> dict[str, Any]:
    """Runs on a worker: the float64 sums of one block of samples, as numpy."""
    if "gaussian_seed" in spec:
        spec = {"gaussian": np.random.default_rng(spec["gaussian_seed"])}
    acc = _accumulate([(np.asarray(xa), np.asarray(yb))], resolve_device(device), _transform(spec), shift)
    return {k: (v if k == "n" else v.cpu().numpy()) for k, v in acc.items()}


def _add_sums(s1: dict[str, Any], s2: dict[str, Any]) -> dict[str, Any]:
    """Runs on a worker: the sums of two blocks (same shift) added."""
    return {k: (s1[k] if k.startswith("shift") else s1[k] + s2[k]) for k in s1}


def _correlate_distributed(client: Any, a: Any, b: Any, chunk_size: int, device: Any,
                           spec: dict[str, Any]) -> dict[str, Any]:
    """One task per ``chunk_size`` block of samples on a dask.distributed cluster, tree-summed.

    Every block is shifted by the first block's per-unit means (computed here), so the blocks'
    float64 sums add up to exactly what the local loop accumulates. Dask-backed inputs are
    computed on the workers (``client.compute`` per block); numpy inputs are scattered.
    """
    if b is None:
        raise ValueError(
            "Invalid value for 'client': a dask.distributed client needs array inputs (numpy, "
            "dask or DataArrays); got an iterable of chunk pairs. Pass a and b as (dask) arrays."
        )
    first_x, first_y = next(_chunks(a, b, chunk_size, spec.get("perm")))
    if "gaussian" in spec:  # the drawn noise has mean 0; any shift cancels in r
        shift = (np.asarray(first_x, dtype=np.float64).mean(0), np.zeros(b.shape[1]))
    else:
        local = _accumulate([(first_x, first_y)], "cpu", _transform(spec))
        shift = (local["shift_x"].numpy(), local["shift_y"].numpy())
    shift = (shift[0].astype(np.float64), shift[1].astype(np.float64))
    shared = {"rotation": client.scatter(spec["rotation"], broadcast=True)} if "rotation" in spec else {}
    n = a.shape[0]
    seeds = spec["gaussian"].integers(2**63, size=-(-n // chunk_size)) if "gaussian" in spec else None

    def to_worker(block: Any) -> Any:
        return client.compute(block) if _is_dask(block) else client.scatter(np.ascontiguousarray(block))

    futures = []
    for i, start in enumerate(range(0, n, chunk_size)):
        sl = slice(start, min(start + chunk_size, n))
        yb = b[spec["perm"][sl]] if "perm" in spec else b[sl]
        task_spec = dict(shared) if seeds is None else {"gaussian_seed": int(seeds[i])}
        futures.append(client.submit(_block_sums, to_worker(a[sl]), to_worker(yb), shift,
                                     task_spec, device, pure=False))
    while len(futures) > 1:  # pairwise tree sum on the workers
        pairs = [futures[i:i + 2] for i in range(0, len(futures), 2)]
        futures = [client.submit(_add_sums, *p, pure=False) if len(p) == 2 else p[0] for p in pairs]
    sums = futures[0].result()
    dev = resolve_device(device)
    acc = {k: (v if k == "n" else torch.as_tensor(v, device=dev)) for k, v in sums.items()}
    return _check_enough(acc)


def _unit_coords(da: Any, new: str, dim: str) -> dict[str, Any]:
    """Per-unit coords (e.g. ``layer``) of a DataArray, moved onto dim ``new``."""
    if not isinstance(da, xr.DataArray):
        return {}
    return {f"{c}_{new[-1]}" if c in ("unit_a", "unit_b") else str(c): (new, np.asarray(da[c].values))
            for c in da.coords if c != "unit" and da[c].dims == ("unit",)}


def _unit_ids(ids: np.ndarray | None, n: int) -> np.ndarray:
    return np.asarray(ids).astype(str) if ids is not None else np.array([str(i) for i in range(n)])


def _result(acc: dict[str, Any], ids_a: np.ndarray, ids_b: np.ndarray, top_k: int | None,
            prefix: str) -> dict[str, Any]:
    p, q = acc["sxy"].shape
    if top_k is None:
        r = _corr_rows(acc, slice(0, p)).cpu().numpy()
        return {f"{prefix}r": (("unit_a", "unit_b"), r)}
    k = min(top_k, q)
    vals = np.empty((p, k))
    idx = np.empty((p, k), dtype=np.int64)
    for start in range(0, p, _ROW_BLOCK):
        rows = slice(start, min(start + _ROW_BLOCK, p))
        r = _corr_rows(acc, rows)
        r = torch.nan_to_num(r, nan=-float("inf"))
        v, i = torch.topk(r, k, dim=1)
        vals[rows], idx[rows] = v.cpu().numpy(), i.cpu().numpy()
    vals[np.isinf(vals)] = np.nan
    return {f"{prefix}r": (("unit_a", "rank"), vals),
            f"{prefix}partner": (("unit_a", "rank"), ids_b[idx])}


def neuron_correlation(a: Any, b: Any = None, *, dim: str = "stimulus", chunk_size: int = 4096,
                       top_k: int | None = None, baseline: str | None = None,
                       device: Any = "auto", random_state: Any = None,
                       client: Any = None) -> xr.Dataset:
    """Pearson correlation of every unit of ``a`` with every unit of ``b``, streamed.

    ``r_ij = (n Sxy_ij - Sx_i Sy_j) / sqrt((n Sxx_i - Sx_i^2)(n Syy_j - Sy_j^2))`` over the
    ``n`` samples, from float64 accumulators of ``Sx, Sxx, Sy, Syy, Sxy`` filled chunk by
    chunk (float32 chunks: float32 per-chunk products and sums, added into float64; each
    chunk is first shifted by the first chunk's per-unit mean, which cancels in ``r``).

    Parameters
    ----------
    a, b : DataArray, ndarray or dask array
        Assemblies with a ``unit`` dim; when both carry ``dim`` ids they are aligned with
        :func:`brainbridge.align`, then every dim other than ``unit`` is flattened into
        samples (e.g. stimulus x token). Arrays are ``(n_samples, n_units)``; dask-backed data
        is computed ``chunk_size`` samples at a time. Alternatively ``a`` is an iterable of
        ``(a_chunk, b_chunk)`` array pairs and ``b`` is None (data that never fits in memory).
    dim : str, default="stimulus"
        Dim to align on.
    chunk_size : int, default=4096
        Samples per chunk.
    top_k : int or None, default=None
        None: the full ``(unit_a, unit_b)`` matrix. Otherwise the ``k`` partners with the
        highest (signed) ``r`` per unit of ``a``, dims ``(unit_a, rank)``, produced from the
        accumulators ``1024`` rows at a time.
    baseline : {None, "permutation", "rotation", "gaussian"}, default=None
        Also compute the same statistic with ``b`` replaced by: its samples permuted
        (iterables: permuted within each chunk); ``b @ Q`` with ``Q`` a random orthogonal
        ``(unit, unit)`` matrix (keeps b's covariance spectrum, mixes its units); independent
        gaussian samples with b's per-unit mean and std (drawn standard normal, since ``r`` is
        invariant to per-unit affine maps). Stored as ``baseline_r`` (and
        ``baseline_partner``) for excess correlation (Gurnee et al. 2024), e.g.
        ``ds.r.max("unit_b") - ds.baseline_r.max("unit_b")``.
    device : str or torch.device, default="auto"
        Where the chunk products run (on each worker, when ``client`` is given).
    random_state : int, Generator or None
    client : distributed.Client, optional
        Run the chunks on a dask.distributed cluster: one task per ``chunk_size`` block of
        samples (dask-backed blocks are computed on the workers, numpy blocks scattered), every
        block shifted by the first block's means, float64 block sums added in a tree on the
        workers. Equal to the local result up to float summation order. The gaussian baseline
        seeds each block from ``random_state``, so its draws differ from the local path's.

    Returns
    -------
    Dataset
        ``r`` (``unit_a`` x ``unit_b``, or ``unit_a`` x ``rank`` with ``partner`` ids), the
        same with a ``baseline_`` prefix when asked for; attrs ``n_samples``, ``baseline``.
        Per-unit coords of ``a`` (e.g. ``layer``) are kept on ``unit_a``; those of ``b`` on
        ``unit_b`` (full matrix only; a name on both sides becomes ``layer_a``, ``layer_b``).
        Arrays without ids get ``"0", "1", ...``.
        A unit with zero variance gets NaN correlations (ranked last by ``top_k``). NaN or
        inf in ``a`` or ``b`` raise a ``ValueError`` naming the first bad entry (drop
        incomplete units first); complex or text data a ``TypeError``.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import neuron_correlation
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> ds = neuron_correlation(x, x[:, ::-1], chunk_size=7)
    >>> bool(np.allclose(ds.r.values, np.corrcoef(x.T, x[:, ::-1].T)[:3, 3:]))
    True
    """
    chunk_size = check_scalar("chunk_size", chunk_size, int, low=1)
    top_k = check_scalar("top_k", top_k, int, low=1, allow_none=True)
    if baseline is not None:
        _check_option("baseline", baseline, list(BASELINES))
    if client is not None and not callable(getattr(client, "submit", None)):
        raise ValueError(
            "Invalid value for 'client': expected a distributed.Client (or None); got "
            f"{type(client).__name__}. Create one with distributed.Client(...) or leave it None."
        )
    if b is None and (isinstance(a, (np.ndarray, xr.DataArray)) or _is_dask(a)):
        raise ValueError(
            "Invalid value for 'b': expected an array or DataArray when 'a' is one; got None. "
            "Pass b, or pass a as an iterable of (a_chunk, b_chunk) pairs."
        )
    if b is None and baseline is not None:
        a = list(a)  # an iterable is read twice: once for r, once for the baseline
    rng = check_random_state(random_state)
    xa, yb, ids_a, ids_b = _prepare(a, b, dim)
    acc = _correlate(xa, yb, chunk_size, device, {}, client)
    p, q = acc["sxy"].shape
    ids_a, ids_b = _unit_ids(ids_a, p), _unit_ids(ids_b, q)
    data = _result(acc, ids_a, ids_b, top_k, "")
    if baseline is not None:
        n = None if yb is None else yb.shape[0]
        spec = BASELINES[baseline](q, n, rng)
        data.update(_result(_correlate(xa, yb, chunk_size, device, spec, client), ids_a, ids_b, top_k,
                            "baseline_"))
    coords: dict[str, Any] = {"unit_a": ids_a, **_unit_coords(a, "unit_a", dim)}
    if top_k is None:
        coords["unit_b"] = ids_b
        for name, value in _unit_coords(b, "unit_b", dim).items():
            if name in coords:  # the same coord on both sides: layer -> layer_a, layer_b
                coords[f"{name}_a"] = coords.pop(name)
                name = f"{name}_b"
            coords[name] = value
    else:
        coords["rank"] = np.arange(data["r"][1].shape[1])
    return xr.Dataset(data, coords=coords,
                      attrs={"n_samples": int(acc["n"]), "baseline": str(baseline)})


def _match_best(r: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(r), -np.inf, r)
    out = np.argmax(filled, axis=1)
    out[np.all(np.isnan(r), axis=1)] = -1
    return out


def _match_mutual(r: np.ndarray) -> np.ndarray:
    best = _match_best(r)
    back = _match_best(r.T)
    out = np.full(r.shape[0], -1)
    for i, j in enumerate(best):
        if j >= 0 and back[j] == i:
            out[i] = j
    return out


def _match_hungarian(r: np.ndarray) -> np.ndarray:
    rows, cols = linear_sum_assignment(np.nan_to_num(r, nan=-2.0), maximize=True)
    out = np.full(r.shape[0], -1)
    out[rows] = cols
    return out


#: Matching rules: each maps an (n_a, n_b) correlation matrix to a partner index per row (-1: none).
MATCH_METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "best": _match_best,
    "mutual": _match_mutual,
    "hungarian": _match_hungarian,
}


def match_units(a: Any, b: Any = None, *, method: str = "best", n_permutations: int = 100,
                dim: str = "stimulus", chunk_size: int = 4096, device: Any = "auto",
                random_state: Any = None, client: Any = None) -> xr.Dataset:
    """Match each unit of ``a`` to a unit of ``b`` by correlation, with permutation p-values.

    Methods: ``"best"`` (``argmax_j r_ij``); ``"mutual"`` (mutual best buddies, Rosetta
    neurons, Dravid et al. 2023: ``j = argmax r_i.`` and ``i = argmax r_.j``); ``"hungarian"``
    (one-to-one assignment maximising ``sum r_ij``, scipy ``linear_sum_assignment``).

    The null: ``n_permutations`` times, b's samples are permuted and the correlation
    recomputed; the null value for unit ``i`` is its best ``max_j r_ij`` in the permuted data
    (a max over all partners, so it is valid, and conservative, for every method).
    ``p_i = (1 + #{null >= r_i}) / (1 + n_permutations)``.

    Parameters
    ----------
    a, b : as in :func:`neuron_correlation`, or ``a`` a precomputed ``(unit_a, unit_b)``
        correlation DataArray and ``b`` None (then ``n_permutations`` must be 0).
    method : {"best", "mutual", "hungarian"}, default="best"
    n_permutations : int, default=100
        Permutations for the p-values; 0 skips them (``p`` is NaN).
    dim, chunk_size, device, random_state, client : as in :func:`neuron_correlation`.

    Returns
    -------
    Dataset
        Over ``unit_a``: ``partner`` (unit id of b, ``""`` when unmatched), ``r`` and ``p``
        (NaN when unmatched); attrs ``method``, ``n_permutations``.

    Examples
    --------
    >>> import numpy as np
    >>> from brainbridge.analyses import match_units
    >>> x = np.random.default_rng(0).normal(size=(200, 3))
    >>> match_units(x, x[:, [2, 0, 1]], n_permutations=9,
    ...             random_state=0).partner.values.tolist()
    ['1', '2', '0']
    """
    _check_option("method", method, list(MATCH_METHODS))
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=0)
    rng = check_random_state(random_state)
    if isinstance(a, xr.DataArray) and b is None:
        if set(a.dims) != {"unit_a", "unit_b"}:
            raise ValueError(
                "Invalid value for 'a': expected a correlation DataArray with dims ('unit_a', "
                f"'unit_b') when b is None; got dims {tuple(a.dims)}. Pass both assemblies."
            )
        if n_permutations:
            raise ValueError(
                "Invalid value for 'n_permutations': a precomputed correlation matrix has no "
                f"samples to permute; got n_permutations={n_permutations}. Pass "
                "n_permutations=0, or pass both assemblies."
            )
        r_da = a.transpose("unit_a", "unit_b")
    else:
        if b is None:
            a = list(a)
        r_da = neuron_correlation(a, b, dim=dim, chunk_size=chunk_size, device=device,
                                  client=client).r
    r = np.asarray(r_da.values, dtype=float)
    ids_b = np.asarray(r_da["unit_b"].values).astype(str)
    idx = MATCH_METHODS[method](r)
    matched = idx >= 0
    r_match = np.where(matched, r[np.arange(len(idx)), np.maximum(idx, 0)], np.nan)
    p: np.ndarray = np.full(len(idx), np.nan)
    if n_permutations:
        xa, yb, _, _ = _prepare(a, b, dim)
        exceed = np.zeros(len(idx))
        for _ in range(n_permutations):
            n = None if yb is None else yb.shape[0]
            acc = _correlate(xa, yb, chunk_size, device, _baseline_permutation(0, n, rng), client)
            null = _corr_rows(acc, slice(0, acc["sxy"].shape[0])).cpu().numpy()
            null_max = np.nanmax(np.where(np.isnan(null), -np.inf, null), axis=1)
            exceed += null_max >= r_match
        p = np.where(matched, (1 + exceed) / (1 + n_permutations), np.nan)
    partner = np.where(matched, ids_b[np.maximum(idx, 0)], "")
    return xr.Dataset(
        {"partner": ("unit_a", partner), "r": ("unit_a", r_match), "p": ("unit_a", p)},
        coords={"unit_a": np.asarray(r_da["unit_a"].values)},
        attrs={"method": method, "n_permutations": int(n_permutations)},
    )
