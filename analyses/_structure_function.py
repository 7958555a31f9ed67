"""Structure vs function: score simulated stimulation responses against a measured atlas.

A connectome is simulated by a callable (``simulate(connectome, stimulated)``, e.g.
:func:`brainbridge.snn.connectome_simulator`), every stimulated neuron of the measured atlas
is stimulated, and the simulated responses are scored against the measured ones; the same is
done for degree-preserving rewirings of the connectome
(:func:`~brainbridge.analyses.shuffle_connectome`), which give the null distribution.
Correlations use :func:`brainbridge._scoring.pearson_r` / ``spearman_r`` (NaN for a constant
side; NaN below 3 pairs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr

from .._checks import check_connectome, check_random_state, check_scalar
from .._scoring import pearson_r, spearman_r
from ._curvature import ricci_curvature
from ._graph import Graph
from ._nulls import shuffle_connectome

__all__ = ["structure_function", "STRUCTURE_FUNCTION_SCORES"]

#: Scores of :func:`structure_function`, in the order of its 'score' dim.
STRUCTURE_FUNCTION_SCORES = ("pair_pearson", "pair_spearman", "rsa", "curvature")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """:func:`~brainbridge._scoring.pearson_r` of two 1-d arrays; NaN with fewer than 3 pairs."""
    return float(pearson_r(x, y)) if x.size >= 3 else float("nan")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """:func:`~brainbridge._scoring.spearman_r` of two 1-d arrays; NaN with fewer than 3 pairs."""
    return float(spearman_r(x, y)) if x.size >= 3 else float("nan")


def _masked_corr_distance(x: np.ndarray, mask: np.ndarray, min_units: int) -> np.ndarray:
    """``1 - r`` between rows of ``x`` over the columns observed in both rows (pairwise complete).

    ``r[a, b]`` is Pearson's correlation of ``x[a, u]`` and ``x[b, u]`` over
    ``u in obs(a) & obs(b)``; NaN with fewer than ``min_units`` such columns or a constant side.
    Computed from masked sums (float64) for all pairs at once.
    """
    m = mask.astype(np.float64)
    xm = np.where(mask, x, 0.0)
    n = m @ m.T
    sx = xm @ m.T  # sum of x[a, u] over u observed in both a and b
    sxx = (xm * xm) @ m.T
    sxy = xm @ xm.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        va = sxx - sx * sx / n
        vb = va.T
        den = np.sqrt(va * vb)
        r = cov / den
    scale = np.sqrt(np.abs(sxx * sxx.T)) * 1e-12
    r[(n < min_units) | ~(den > scale)] = np.nan
    return 1.0 - np.clip(r, -1.0, 1.0)


class _Scorer:
    """Everything about the measured atlas that the scores need, computed once."""

    def __init__(self, measured: xr.Dataset, neurons: Sequence[str], q_threshold: float,
                 min_units: int, curvature: dict[str, Any]) -> None:
        in_net = set(neurons)
        units = [str(u) for u in measured["unit"].values if str(u) in in_net]
        stimuli = [str(s) for s in measured["stimulus"].values if str(s) in in_net]
        dff = np.asarray(measured["dff"].sel(stimulus=stimuli, unit=units).values, dtype=np.float64)
        n_obs = np.asarray(measured["n_obs"].sel(stimulus=stimuli, unit=units).values, dtype=np.float64)
        q = np.asarray(measured["q"].sel(stimulus=stimuli, unit=units).values, dtype=np.float64)
        pos = {u: i for i, u in enumerate(units)}
        self_pair = np.zeros(dff.shape, dtype=bool)
        for i, s in enumerate(stimuli):
            if s in pos:
                self_pair[i, pos[s]] = True
        mask = (n_obs > 0) & np.isfinite(dff) & ~self_pair
        keep = mask.any(axis=1)
        if mask.sum() < 3:
            raise ValueError(
                "Invalid value for 'measured': expected at least 3 observed pairs (n_obs > 0, "
                f"finite dff, stimulus != unit) among neurons of the network; got {int(mask.sum())}. "
                "Check that measured uses the connectome's neuron names."
            )
        self.stimuli = [s for s, k in zip(stimuli, keep) if k]
        self.units = units
        dff, q, mask = dff[keep], q[keep], mask[keep]
        self.mask = mask
        self.pairs = dff[mask]
        # RSA: stimuli observed in >= min_units units, pairwise-complete correlation distance
        rows = np.flatnonzero(mask.sum(axis=1) >= min_units)
        self.rsa_rows = rows
        self.min_units = min_units
        iu = np.triu_indices(rows.size, 1)
        self.iu = iu
        d = _masked_corr_distance(dff[rows], mask[rows], min_units)[iu]
        self.rdm_ok = np.isfinite(d)
        self.rdm = d[self.rdm_ok]
        # curvature: undirected graph over the units, edge where q < q_threshold in either direction
        names = np.asarray(units)
        node_of_stim = np.array([pos[s] for s in self.stimuli])
        sig = mask & (np.nan_to_num(q, nan=1.0) < q_threshold)
        self.n_edges = int(sig.sum())
        r_idx, c_idx = np.nonzero(mask)
        self.pair_nodes = (node_of_stim[r_idx], c_idx)
        graph = self._graph(node_of_stim[np.nonzero(sig)[0]], np.nonzero(sig)[1], len(units), names)
        self.curvature = curvature
        self.node_measured = ricci_curvature(graph, **curvature)["node_curvature"].values
        self.names = names

    @staticmethod
    def _graph(src: np.ndarray, dst: np.ndarray, n: int, names: np.ndarray) -> Any:
        adj = np.zeros((n, n), dtype=bool)
        adj[src, dst] = adj[dst, src] = True  # both directions significant: still one edge
        rows, cols = np.nonzero(adj)
        return Graph(sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n)), names, False)

    def simulated(self, sim: np.ndarray, sim_stimuli: Sequence[str], sim_units: Sequence[str]) -> np.ndarray:
        si = {s: i for i, s in enumerate(sim_stimuli)}
        ui = {u: i for i, u in enumerate(sim_units)}
        return sim[np.ix_([si[s] for s in self.stimuli], [ui[u] for u in self.units])]

    def score(self, sim: np.ndarray) -> np.ndarray:
        """Scores (:data:`STRUCTURE_FUNCTION_SCORES` order) of ``sim`` aligned to (stimuli, units)."""
        out = np.full(len(STRUCTURE_FUNCTION_SCORES), np.nan)
        x = sim[self.mask]
        out[0], out[1] = _pearson(x, self.pairs), _spearman(x, self.pairs)
        d = _masked_corr_distance(sim[self.rsa_rows], self.mask[self.rsa_rows], self.min_units)[self.iu]
        d = d[self.rdm_ok]
        ok = np.isfinite(d)
        out[2] = _spearman(d[ok], self.rdm[ok])
        if self.n_edges:
            # the n_edges observed pairs with the largest |simulated response| (stable order on ties)
            top = np.argsort(-np.abs(x), kind="stable")[: self.n_edges]
            graph = self._graph(self.pair_nodes[0][top], self.pair_nodes[1][top], len(self.units),
                                self.names)
            node_sim = ricci_curvature(graph, **self.curvature)["node_curvature"].values
            ok = np.isfinite(node_sim) & np.isfinite(self.node_measured)
            self.n_matched = int(ok.sum())
            out[3] = _spearman(node_sim[ok], self.node_measured[ok])
        return out


def _check_measured(measured: Any) -> xr.Dataset:
    need = ("dff", "n_obs", "q")
    if not isinstance(measured, xr.Dataset) or any(v not in measured for v in need):
        got = (f"variables {sorted(map(str, measured.data_vars))}" if isinstance(measured, xr.Dataset)
               else type(measured).__name__)
        raise ValueError(
            "Invalid value for 'measured': expected a Dataset with 'dff', 'n_obs' and 'q' over "
            f"('stimulus', 'unit'); got {got}. Load it with "
            "brainbridge.loaders.load_celegans_funatlas('wt', neurons='canonical')."
        )
    for v in need:
        if set(measured[v].dims) != {"stimulus", "unit"}:
            raise ValueError(
                f"Invalid value for 'measured': expected {v!r} with dims ('stimulus', 'unit'); got "
                f"{tuple(measured[v].dims)}."
            )
    return measured


def structure_function(connectome: xr.DataArray, measured: xr.Dataset, *,
                       simulate: Callable[[xr.DataArray, Sequence[str]], xr.DataArray],
                       n_permutations: int = 100, q_threshold: float = 0.05, min_units: int = 10,
                       n_swaps: float = 10.0, random_state: Any = None,
                       progress: bool | None = None) -> xr.Dataset:
    """Compare simulated and measured stimulation responses against shuffled connectomes.

    ``simulate(connectome, stimulated)`` returns the responses ``(stimulus, unit)`` of a model
    wired by ``connectome`` to stimulation of each neuron of ``stimulated``, e.g.
    :func:`brainbridge.snn.connectome_simulator` (a graded connectome network and the
    optogenetic protocol of :func:`brainbridge.snn.simulate_stimulation`). Every stimulated
    neuron of ``measured`` that the connectome has is stimulated, and the responses are scored
    against ``measured`` over the neurons both have:

    * ``pair_pearson``, ``pair_spearman``: correlation of simulated and measured responses over
      the observed pairs: ``n_obs > 0``, finite ``dff``, ``stimulus != unit``.
    * ``rsa``: Spearman correlation of the two RDMs over stimulated neurons. The RDM entry of
      stimuli ``a, b`` is the correlation distance ``1 - r`` of their response vectors over
      the units observed (as above) for both ``a`` and ``b`` (pairwise complete, the same
      units for the simulated RDM); stimuli with fewer than ``min_units`` observed units are
      left out, and entries with fewer than ``min_units`` shared units are NaN and skipped.
    * ``curvature``: Spearman correlation of Ollivier-Ricci node curvature
      (:func:`brainbridge.analyses.ricci_curvature`, exact, ``alpha=0.5``, unit edge lengths)
      between two undirected graphs over the units, over the nodes with an edge in both. The
      measured graph has an edge ``a - b`` where the response of one to stimulation of the
      other has ``q < q_threshold``; the simulated graph has as many directed pairs, the
      observed pairs with the largest ``|simulated response|``, made undirected the same way.

    Null: ``n_permutations`` degree-preserving rewirings (:func:`shuffle_connectome`, NaN
    filled with 0) are simulated and scored the same way; one-sided p-value (larger = better)::

        p = (1 + #{k : null_k >= observed}) / (1 + n_valid)

    with ``n_valid`` the permutations whose score is finite (``n_permutations`` when all are).

    Parameters
    ----------
    connectome : DataArray, dims ('pre', 'post', 'synapse_type')
        E.g. :func:`brainbridge.loaders.load_celegans_connectome`; its neurons (``pre``) are
        the ones simulated and scored (select a subset with ``connectome.sel(pre=..., post=...)``).
    measured : Dataset
        ``dff``, ``n_obs`` and ``q`` with dims ('stimulus', 'unit'), e.g.
        :func:`brainbridge.loaders.load_celegans_funatlas` (``neurons="canonical"`` matches
        the connectome's names; with ``"atlas"`` AWCON / AWCOFF are left out).
    simulate : callable
        ``simulate(connectome, stimulated) -> DataArray (stimulus, unit)``, with stimulus and
        unit ids the neuron names; it must return every neuron of ``connectome`` as a unit.
    n_permutations : int, default=100
        Shuffled connectomes in the null.
    q_threshold : float, default=0.05
    min_units : int, default=10
    n_swaps : float, default=10.0
        Accepted edge swaps per edge in each shuffle.
    random_state : int, Generator or None
        Seeds the shuffles.
    progress : bool or None
        Progress bar over permutations (None: only on a terminal).

    Returns
    -------
    Dataset
        ``value`` and ``p_value`` over 'score' (:data:`STRUCTURE_FUNCTION_SCORES`), ``null``
        over ('shuffle', 'score') (the 'shuffle' dim indexes the permutations), ``simulated``
        and ``measured`` over the scored ('stimulus', 'unit'), ``observed`` (bool, the scored
        pairs). attrs: counts (``n_pairs``, ``n_rsa_stimuli``, ``n_rdm_entries``,
        ``n_graph_pairs``, ``n_curvature_nodes``) and the settings (``simulate`` is the
        simulator's repr).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from brainbridge.snn import connectome_simulator
    >>> rng = np.random.default_rng(0)
    >>> names = [f"n{i}" for i in range(12)]
    >>> counts = np.stack([(rng.random((12, 12)) < 0.3) * 1.0, np.zeros((12, 12))], -1)
    >>> conn = xr.DataArray(counts, dims=("pre", "post", "synapse_type"),
    ...                     coords={"pre": names, "post": names,
    ...                             "synapse_type": ["chemical", "electrical"]})
    >>> simulate = connectome_simulator()
    >>> sim = simulate(conn, names)
    >>> coords = {"stimulus": names, "unit": names}
    >>> atlas = xr.Dataset({"dff": (("stimulus", "unit"), sim.values + rng.normal(0, 0.001, (12, 12))),
    ...                     "n_obs": (("stimulus", "unit"), np.ones((12, 12))),
    ...                     "q": (("stimulus", "unit"), np.where(sim.values > 0.05, 0.01, 0.5))},
    ...                    coords=coords)
    >>> res = structure_function(conn, atlas, simulate=simulate, n_permutations=5, min_units=5,
    ...                          random_state=0)
    >>> bool(res.value.sel(score="pair_pearson") > 0.9)
    True
    """
    from threadpoolctl import threadpool_limits

    connectome = check_connectome(connectome)
    measured = _check_measured(measured)
    if not callable(simulate):
        raise ValueError(
            "Invalid value for 'simulate': expected a callable simulate(connectome, stimulated) "
            f"-> DataArray ('stimulus', 'unit'); got {type(simulate).__name__}. Make one with "
            "brainbridge.snn.connectome_simulator(...)."
        )
    n_permutations = check_scalar("n_permutations", n_permutations, int, low=0,
                                  what="shuffled connectomes")
    min_units = check_scalar("min_units", min_units, int, low=3)
    q_threshold = check_scalar("q_threshold", q_threshold, float, low=0.0, high=1.0, closed="right")
    n_swaps = check_scalar("n_swaps", n_swaps, float, low=0.0, what="accepted swaps per edge")
    rng = check_random_state(random_state)
    with threadpool_limits(1):  # small matrices: threads only add hand-off
        return _structure_function(connectome, measured, simulate, n_permutations, q_threshold,
                                   min_units, n_swaps, rng, progress)


def _structure_function(connectome: xr.DataArray, measured: xr.Dataset, simulate: Callable[..., Any],
                        n_permutations: int, q_threshold: float, min_units: int, n_swaps: float,
                        rng: np.random.Generator, progress: bool | None) -> xr.Dataset:
    from tqdm.auto import tqdm

    neurons = [str(n) for n in connectome["pre"].values]
    scorer = _Scorer(measured, neurons, q_threshold, min_units,
                     {"alpha": 0.5, "method": "exact", "n_jobs": 1})

    def run(conn: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
        resp = simulate(conn, scorer.stimuli)
        if not isinstance(resp, xr.DataArray) or set(resp.dims) != {"stimulus", "unit"}:
            got = f"dims {tuple(resp.dims)}" if isinstance(resp, xr.DataArray) else type(resp).__name__
            raise ValueError(
                "Invalid value for 'simulate': expected it to return a DataArray with dims "
                f"('stimulus', 'unit'); got {got}."
            )
        resp = resp.transpose("stimulus", "unit")
        units = [str(u) for u in resp["unit"].values]
        missing = [u for u in scorer.units if u not in set(units)]
        if missing:
            raise ValueError(
                "Invalid value for 'simulate': its responses lack the unit(s) "
                f"{', '.join(map(repr, missing[:5]))}; it must return every neuron of the connectome."
            )
        sim = scorer.simulated(np.asarray(resp.values), [str(s) for s in resp["stimulus"].values], units)
        return sim, scorer.score(sim)

    sim, value = run(connectome)
    n_matched = getattr(scorer, "n_matched", 0)
    filled = connectome.fillna(0.0)
    null = np.full((n_permutations, len(STRUCTURE_FUNCTION_SCORES)), np.nan)
    bar = tqdm(range(n_permutations), desc="shuffled connectomes",
               disable=None if progress is None else not progress)
    for k in bar:
        null[k] = run(shuffle_connectome(filled, n_swaps=n_swaps, random_state=rng))[1]
    finite = np.isfinite(null)
    n_valid = finite.sum(axis=0)
    exceed = np.sum(finite & (null >= value[None, :]), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_value = np.where(np.isfinite(value) & (n_valid > 0), (1.0 + exceed) / (1.0 + n_valid), np.nan)
    measured_dff = np.where(scorer.mask, 0.0, np.nan)
    measured_dff[scorer.mask] = scorer.pairs
    coords = {"score": list(STRUCTURE_FUNCTION_SCORES), "shuffle": np.arange(n_permutations),
              "stimulus": np.array(scorer.stimuli), "unit": np.array(scorer.units)}
    return xr.Dataset(
        {
            "value": ("score", value),
            "p_value": ("score", p_value),
            "null": (("shuffle", "score"), null),
            "simulated": (("stimulus", "unit"), sim),
            "measured": (("stimulus", "unit"), measured_dff),
            "observed": (("stimulus", "unit"), scorer.mask),
        },
        coords=coords,
        attrs={
            "modality": "celegans",
            "n_pairs": int(scorer.mask.sum()),
            "n_rsa_stimuli": int(scorer.rsa_rows.size),
            "n_rdm_entries": int(scorer.rdm.size),
            "n_graph_pairs": scorer.n_edges,
            "n_curvature_nodes": n_matched,
            "n_permutations": n_permutations,
            "q_threshold": float(q_threshold),
            "min_units": min_units,
            "n_swaps": float(n_swaps),
            "simulate": repr(simulate),
            "p_value_formula": "(1 + #{null >= observed}) / (1 + n_valid)",
        },
    )
