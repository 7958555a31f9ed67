"""``rsa``: align two systems on their stimuli, compute RDMs, compare them, optionally bootstrap."""

from __future__ import annotations

from typing import Any

import xarray as xr

from .._align import align
from .._checks import _check_dims, check_scalar
from ._compare import compare_rdms
from ._rdm import rdm
from ._stats import bootstrap


def rsa(x: Any, y: Any, *, method: str = "correlation", compare: str = "spearman",
        dim: str = "stimulus", by_x: str | None = None, by_y: str | None = None,
        n_boot: int = 0, random_state: Any = None, device: Any = "auto",
        progress: bool | None = None) -> xr.Dataset:
    """Representational similarity of two assemblies in one call.

    Steps: :func:`brainbridge.align` ``x`` and ``y`` on ``dim``; one RDM per group of
    units (``by_x="layer"`` gives one per layer, ``by_y="region"`` one per region; a
    ``subject`` dim gives one per subject) with :func:`rdm`; every RDM of ``x`` compared
    with every RDM of ``y`` with :func:`compare_rdms`; with ``n_boot > 0``, a bootstrap over
    stimuli (:func:`bootstrap`) that scores each ``x`` RDM against the ``y`` RDMs (averaged
    over ``y``'s subjects) and adds confidence intervals and the noise ceiling.

    Parameters
    ----------
    x, y : DataArray
        Assemblies with ``dim`` and ``unit`` (e.g. model activations and recordings).
    method : str, default="correlation"
        RDM method (see :func:`rdm`).
    compare : str, default="spearman"
        Comparison method (see :func:`compare_rdms`).
    dim : str, default="stimulus"
    by_x, by_y : str, optional
        A unit coord to split each system's units by (``"layer"``, ``"region"``).
    n_boot : int, default=0
        Bootstrap samples over stimuli; 0 skips the bootstrap. Needs at most one batch dim
        on each side (the model dim on ``x``, ``subject`` on ``y``) and 4 or more stimuli.
    random_state : int, Generator or None
    device : "auto", str or torch.device
    progress : bool or None

    Returns
    -------
    Dataset
        ``similarity`` with dims ``(*batch_x, *batch_y)``; ``rdm_x`` and ``rdm_y``; with a
        bootstrap also ``score``, ``ci_low``, ``ci_high``, ``se``, ``p_zero``, ``p_pair``
        (over ``model``, the batch of ``x``) and ``noise_lower`` / ``noise_upper``.
        Plot it with :func:`plot_model_comparison` (bootstrap) or :func:`plot_matrix`.

    Examples
    --------
    >>> import numpy as np, brainbridge as bb
    >>> from brainbridge.analyses import rsa
    >>> rng = np.random.default_rng(0)
    >>> brain = bb.assembly(rng.normal(size=(10, 20)), dims=("stimulus", "unit"), modality="fmri")
    >>> model = bb.assembly(brain.values @ rng.normal(size=(20, 30)), dims=("stimulus", "unit"),
    ...                     modality="ann")
    >>> float(rsa(model, brain, device="cpu")["similarity"]) > 0.5
    True
    """
    n_boot = check_scalar("n_boot", n_boot, int, low=0, what="bootstrap samples; 0 skips it")
    _check_dims(x, [dim, "unit"], "x")
    _check_dims(y, [dim, "unit"], "y")
    x, y = align(x, y, dim=dim, names=("x", "y"))
    rx = rdm(x, method=method, dim=dim, by=by_x, device=device)
    ry = rdm(y, method=method, dim=dim, by=by_y, device=device)
    similarity = compare_rdms(rx, ry, method=compare, device=device)
    rename_y = {d: f"{d}_b" for d in ry.dims[:-2] if d in rx.dims[:-2]}
    out = xr.Dataset({"similarity": similarity, "rdm_x": rx,
                      "rdm_y": ry.rename(rename_y) if rename_y else ry},
                     attrs={"rdm_method": method, "compare": similarity.attrs.get("method",
                                                                                 compare)})
    if n_boot:
        batch_y = [str(d) for d in ry.dims[:-2]]
        boot = bootstrap(rx, ry, method=compare, n_boot=n_boot, over="stimulus",
                         dim=batch_y[0] if batch_y else None, random_state=random_state,
                         progress=progress)
        keep = ["score", "se", "ci_low", "ci_high", "p_zero", "p_pair", "noise_lower",
                "noise_upper"]
        out = out.merge(boot[keep])
        out.attrs.update({k: boot.attrs[k] for k in ("n_boot", "ci", "over")})
    return out
