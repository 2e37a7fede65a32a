"""Monte Carlo over correlated failures: sample domains, map them to down nodes, evaluate each trial.

Per trial (see :mod:`nodeplan.simulation.sampling` for what is sampled) the outcomes are those of the
audit's single-domain failure table (:mod:`nodeplan.metrics.failure`), with the sampled set of down nodes
in place of one domain's nodes:

* **served / verified**: :meth:`nodeplan.metrics.failure.ServingModel.outcome`, used as is -- the same
  serving model, loads, cold starts and verifier choice as the audit;
* **capacity lost**: share of the live execution capacity (slots) on down nodes;
* **stake lost / alive**, **halted** and **fragile**: the consensus rule of
  :mod:`nodeplan.model.consensus` (:meth:`~nodeplan.model.consensus.ConsensusModel.after_down` on the
  trial's down set): *halted* when the live stake is at or below 2/3 of the total stake; *fragile* when it
  still runs but one surviving domain of any of the audit's failure dimensions
  (:func:`~nodeplan.metrics.failure.failure_dimensions`) holds 1/3 or more of the surviving stake;
* **unreplicated**: per model, no live storage node that stores it is left.

Vectorisation: the (trials x domains) failure matrix becomes the (trials x nodes) down matrix with one
matrix product (:func:`~nodeplan.simulation.sampling.down_nodes`); capacity and replicas are matrix
products over it, consensus a sum over each domain dimension's groups of nodes. The serving check costs ~2 ms per call, so it runs once per *distinct*
down set (``np.unique`` over bit-packed rows, plus a per-process cache across chunks): most trials lose
nothing or one domain, so a few thousand calls cover 100,000 trials.

Parallelism: sampling and the matrix products run in the calling process, chunk by chunk
(:data:`~nodeplan.simulation.sampling.CHUNK_TRIALS` trials, each chunk from its own child seed); the
distinct down sets of the whole run are then found once, and with ``workers > 1`` their serving checks
(the expensive part) go in blocks to a local process pool (``concurrent.futures``, spawn start method), so
no two workers repeat a check. The serving check is deterministic, so the result does not depend on
``workers``. A script that passes ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard of
the spawn start method.

Backends: ``backend="ray"`` runs each chunk as a Ray task instead (:mod:`nodeplan.simulation.backends`),
with the same chunk seeding, hence the same outcomes as the local backend.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import SimulationError
from nodeplan.metrics.failure import failure_dimensions
from nodeplan.metrics.serving import Outcome, ServingModel
from nodeplan.model.codes import compile_network
from nodeplan.model.consensus import consensus_model
from nodeplan.model.rtt import RttModel, default_rtt_model
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Role, Scenario
from nodeplan.simulation.backends import check_backend, run_chunks_ray
from nodeplan.simulation.result import MonteCarloResult, TrialOutcomes, check_summary_args, summarise
from nodeplan.simulation.sampling import (
    CHUNK_TRIALS,
    FailureDomains,
    Seed,
    chunk_bounds,
    down_nodes,
    failed_domains,
    failure_domains,
    sample_uniforms,
    seed_sequence,
)

__all__ = ["MAX_TRIALS", "ChunkOutcomes", "Progress", "TrialEvaluator", "monte_carlo_failures", "run_trials"]

#: Upper bound on trials of one run (~60 bytes of results per trial plus the failure bits).
MAX_TRIALS = 20_000_000

_CACHE_LIMIT = 200_000  # distinct down sets remembered per process (~150 bytes each)
_MIN_BLOCK = 32  # serving checks per pool task (~2 ms each on the built-in scenario)

#: Progress callback: ``(stage, done, total)`` with stage ``"sampling"`` (chunks) or ``"serving checks"``
#: (distinct down sets not seen before).
Progress = Callable[[str, int, int], None]


class ChunkOutcomes(NamedTuple):
    """Per-trial arrays of one chunk (fields as in :class:`~nodeplan.simulation.result.TrialOutcomes`)."""

    failed_bits: NDArray[np.uint8]
    down: NDArray[np.int32]
    served: NDArray[np.float64]
    verified: NDArray[np.float64]
    capacity_lost: NDArray[np.float64]
    stake_lost: NDArray[np.float64]
    stake_alive: NDArray[np.float64]
    halted: NDArray[np.bool_]
    fragile: NDArray[np.bool_]
    unreplicated: NDArray[np.bool_]


class TrialEvaluator:
    """The outcomes of sets of failed domains for one scenario (built once per process).

    Holds the compiled scenario, the failure domains, the audit's :class:`ServingModel` and a cache of
    serving outcomes by down set; :meth:`evaluate` is vectorised over trials.

    Parameters
    ----------
    scenario : must have a ``failures`` section
    rtt : RTT model of the serving check (default: the shipped fit)
    """

    def __init__(self, scenario: Scenario, rtt: RttModel | None = None) -> None:
        arrays = compile_network(scenario)
        codes = arrays.dim_codes
        self.scenario = scenario
        self.arrays: ScenarioArrays = arrays
        self.domains: FailureDomains = failure_domains(scenario, arrays, codes)
        n = arrays.n_nodes
        self.serving = (
            ServingModel(scenario, arrays, codes, rtt or default_rtt_model()) if scenario.demand else None
        )
        self.live = arrays.up.copy()
        self.baseline = self._serve(np.zeros(n, dtype=bool))
        cap = np.where(arrays.role(Role.EXECUTION) & self.live, arrays.capacity.astype(float), 0.0)
        self._cap_w = cap / cap.sum() if cap.sum() > 0 else np.zeros(n)
        #: the consensus rule over the audit's failure dimensions (``None`` without stake)
        self.consensus = consensus_model(arrays, codes, failure_dimensions(scenario, arrays))
        #: domains holding >= 1/3 of the live stake with no failure (consensus already fragile)
        self.baseline_dominant = () if self.consensus is None else self.consensus.dominant()
        self.baseline_halted = self.consensus is not None and self.consensus.baseline().halted
        storage_live = arrays.role(Role.STORAGE) & self.live
        rep = arrays.stored & storage_live[:, None]
        self._replicas = rep.astype(np.float32)
        self._rep_total = rep.sum(axis=0)
        self.baseline_unreplicated = self._rep_total == 0
        self._cache: dict[bytes, tuple[float, float]] = {}

    def _serve(self, down: NDArray[np.bool_]) -> Outcome:
        return self.serving.outcome(down) if self.serving is not None else Outcome(None, None)

    def cached(self, row: NDArray[np.uint8]) -> tuple[float, float] | None:
        """Served/verified of a packed down set if this process has checked it already."""
        return self._cache.get(row.tobytes())

    def remember(self, row: NDArray[np.uint8], value: tuple[float, float]) -> None:
        """Store the served/verified of a packed down set (up to a bounded number of sets)."""
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[row.tobytes()] = value

    def serve_rows(self, rows: NDArray[np.uint8]) -> NDArray[np.float64]:
        """(k, 2) served and verified shares (``nan`` = n/a) of ``rows``, bit-packed (k, ceil(n / 8)) down
        sets; one serving check per row not yet in this process's cache."""
        n = self.arrays.n_nodes
        vals = np.full((rows.shape[0], 2), np.nan)
        if self.serving is None:
            return vals
        for i, row in enumerate(rows):
            hit = self.cached(row)
            if hit is None:
                out = self._serve(np.unpackbits(row, count=n).astype(bool))
                hit = (
                    np.nan if out.demand_served is None else out.demand_served,
                    np.nan if out.verified is None else out.verified,
                )
                self.remember(row, hit)
            vals[i] = hit
        return vals

    def structural(self, failed: NDArray[np.bool_]) -> tuple[ChunkOutcomes, NDArray[np.uint8]]:
        """Everything but the serving check for each row of ``failed`` ((T, D) bool), and the bit-packed
        (T, ceil(n / 8)) down sets (``served`` and ``verified`` are left ``nan``)."""
        down = down_nodes(failed, self.domains.incidence) & self.live[None, :]
        cap_lost = down @ self._cap_w
        t = failed.shape[0]
        if self.consensus is not None:
            cons = self.consensus.after_down(down)
            stake_lost, stake_alive = cons.stake_lost, cons.alive_share
            halted, fragile = cons.halted, cons.fragile
        else:
            stake_lost, stake_alive = np.zeros(t), np.full(t, np.nan)
            halted, fragile = np.zeros(t, dtype=bool), np.zeros(t, dtype=bool)
        lost_rep = down.astype(np.float32) @ self._replicas
        unrep = (self._rep_total[None, :] - lost_rep) <= 0
        out = ChunkOutcomes(
            failed_bits=np.packbits(failed, axis=1),
            down=down.sum(axis=1).astype(np.int32),
            served=np.full(t, np.nan),
            verified=np.full(t, np.nan),
            capacity_lost=cap_lost,
            stake_lost=stake_lost,
            stake_alive=stake_alive,
            halted=halted,
            fragile=fragile,
            unreplicated=unrep,
        )
        return out, np.packbits(down, axis=1)

    def evaluate(self, failed: NDArray[np.bool_]) -> ChunkOutcomes:
        """Outcomes of each row of ``failed`` ((T, D) bool: domain failed in trial)."""
        out, packed = self.structural(failed)
        uniq, inv = np.unique(packed, axis=0, return_inverse=True)
        vals = self.serve_rows(uniq)[inv.ravel()]
        return out._replace(served=vals[:, 0], verified=vals[:, 1])

    def sample(self, root: np.random.SeedSequence, chunk: int, size: int) -> NDArray[np.bool_]:
        """(size, D) failed domains of chunk ``chunk`` of the run seeded by ``root``."""
        u = sample_uniforms(root, chunk, size, self.domains.n_domains)
        return failed_domains(u, self.domains.probability)


# Per-process evaluator of the pool workers (set by the pool initializer, read by _worker_serve).
_WORKER: dict[str, TrialEvaluator] = {}


def _init_worker(scenario: Scenario, rtt: RttModel | None) -> None:
    _WORKER["evaluator"] = TrialEvaluator(scenario, rtt)


def _worker_serve(start: int, rows: NDArray[np.uint8]) -> tuple[int, NDArray[np.float64]]:
    return start, _WORKER["evaluator"].serve_rows(rows)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SimulationError(f"{name}: expected an integer (got {value!r})")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"between {lo} and {hi:,}"
        raise SimulationError(f"{name}: must be {bound} (got {value})")
    return int(value)


def _serve_distinct(
    local: TrialEvaluator,
    rows: NDArray[np.uint8],
    workers: int,
    scenario: Scenario,
    rtt: RttModel | None,
    progress: Progress | None,
) -> NDArray[np.float64]:
    """(k, 2) served/verified of each distinct packed down set; rows missing from ``local``'s cache go to
    a process pool in blocks when ``workers > 1`` and there are enough of them."""
    k = rows.shape[0]
    vals = np.full((k, 2), np.nan)
    missing = []
    for i, row in enumerate(rows):
        hit = local.cached(row)
        if hit is None:
            missing.append(i)
        else:
            vals[i] = hit
    todo = np.array(missing, dtype=np.intp)
    block = max(_MIN_BLOCK, -(-todo.size // (8 * workers)))
    starts = list(range(0, todo.size, block))
    done = 0
    if workers > 1 and len(starts) > 1:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(starts)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(scenario, rtt),
        ) as pool:
            futures = [pool.submit(_worker_serve, s, rows[todo[s : s + block]]) for s in starts]
            for f in as_completed(futures):
                s, got = f.result()
                idx = todo[s : s + block]
                vals[idx] = got
                for i, v in zip(idx, got, strict=True):
                    local.remember(rows[i], (float(v[0]), float(v[1])))
                done += idx.size
                if progress is not None:
                    progress("serving checks", done, todo.size)
    else:
        for s in starts:
            idx = todo[s : s + block]
            vals[idx] = local.serve_rows(rows[idx])
            done += idx.size
            if progress is not None:
                progress("serving checks", done, todo.size)
    return vals


def run_trials(
    scenario: Scenario,
    trials: int = 10_000,
    *,
    seed: Seed = None,
    workers: int = 1,
    rtt: RttModel | None = None,
    progress: Progress | None = None,
    evaluator: TrialEvaluator | None = None,
    backend: str = "local",
    ray_address: str | None = None,
) -> TrialOutcomes:
    """Run ``trials`` Monte Carlo trials of correlated domain failures (module docstring).

    Parameters
    ----------
    scenario : needs a ``failures`` section (probabilities over the planning window)
    trials : number of trials, 1 to :data:`MAX_TRIALS`
    seed : ``int`` >= 0, numpy ``Generator`` or ``None`` (fresh entropy, recorded in the result)
    workers : processes; 1 runs in this process, more use a local process pool. Same seed, same
        result, whatever ``workers``.
    rtt : RTT model of the serving check (default: the shipped fit)
    progress : called as ``progress(stage, done, total)`` after each chunk (stage ``"sampling"``) and each
        block of serving checks (stage ``"serving checks"``)
    evaluator : a :class:`TrialEvaluator` of ``scenario`` to reuse (its cache of serving checks carries over)
    backend : ``"local"`` (this process, or ``workers`` local processes) or ``"ray"`` (one Ray task per
        chunk; ``workers`` is then only recorded). Same seed, same result, whatever the backend.
    ray_address : with ``backend="ray"``, the Ray cluster to connect to (default: the Ray initialised in
        this process, else a small local instance started and stopped by the run)

    Raises
    ------
    SimulationError
        For a bad ``trials``, ``workers``, ``seed`` or ``backend``; with ``backend="ray"``, when Ray is
        not installed or cannot start.
    ScenarioError
        When the scenario has no ``failures`` section.

    Examples
    --------
    >>> from nodeplan.scenario.model import Node
    >>> sc = Scenario(nodes=[Node(id="a", lat=0, lon=0, roles={"storage"}, provider="x")],
    ...               failures={"provider": {"default": 0.25}})
    >>> t = run_trials(sc, 4096, seed=1)
    >>> abs(float(t.down.mean()) - 0.25) < 4 * (0.25 * 0.75 / 4096) ** 0.5  # P(a down) = 0.25, 4 s.e.
    True
    """
    trials = _check_int("trials", trials, 1, MAX_TRIALS)
    workers = _check_int("workers", workers, 1, 256)
    backend = check_backend(backend)
    root = seed_sequence(seed)
    local = evaluator or TrialEvaluator(scenario, rtt)
    bounds = chunk_bounds(trials, CHUNK_TRIALS)
    if backend == "ray":
        chunks = run_chunks_ray(local, root, bounds, address=ray_address, progress=progress)
        return _outcomes(scenario, local, root, workers, _concat(chunks))
    parts: list[ChunkOutcomes] = []
    packed: list[NDArray[np.uint8]] = []
    for c, (_, size) in enumerate(bounds):
        out, rows = local.structural(local.sample(root, c, size))
        parts.append(out)
        packed.append(rows)
        if progress is not None:
            progress("sampling", c + 1, len(bounds))
    cat = _concat(parts)
    if local.serving is not None:
        uniq, inv = np.unique(np.concatenate(packed), axis=0, return_inverse=True)
        vals = _serve_distinct(local, uniq, workers, scenario, rtt, progress)[inv.ravel()]
        cat = cat._replace(served=vals[:, 0], verified=vals[:, 1])
    return _outcomes(scenario, local, root, workers, cat)


def _concat(parts: list[ChunkOutcomes]) -> ChunkOutcomes:
    return ChunkOutcomes(*(np.concatenate([getattr(p, f) for p in parts]) for f in ChunkOutcomes._fields))


def _outcomes(
    scenario: Scenario, local: TrialEvaluator, root: np.random.SeedSequence, workers: int, cat: ChunkOutcomes
) -> TrialOutcomes:
    return TrialOutcomes(
        scenario=scenario.name,
        domains=local.domains,
        model_ids=local.arrays.model_ids,
        seed_entropy=int(root.entropy) if isinstance(root.entropy, int) else 0,
        chunk_trials=CHUNK_TRIALS,
        workers=workers,
        baseline=local.baseline,
        baseline_unreplicated=local.baseline_unreplicated,
        baseline_dominant=local.baseline_dominant,
        baseline_halted=local.baseline_halted,
        has_stake=local.consensus is not None,
        **cat._asdict(),
    )


def monte_carlo_failures(
    scenario: Scenario,
    trials: int = 10_000,
    *,
    seed: Seed = None,
    workers: int = 1,
    slo_target: float = 0.9,
    tail: float = 0.05,
    top: int = 10,
    rtt: RttModel | None = None,
    progress: Progress | None = None,
    backend: str = "local",
    ray_address: str | None = None,
) -> MonteCarloResult:
    """Run the trials and summarise them (:func:`run_trials` then
    :func:`~nodeplan.simulation.result.summarise`; parameters as there, all checked before the run)."""
    check_summary_args(slo_target, tail, top)
    t = run_trials(
        scenario,
        trials,
        seed=seed,
        workers=workers,
        rtt=rtt,
        progress=progress,
        backend=backend,
        ray_address=ray_address,
    )
    return summarise(t, slo_target=slo_target, tail=tail, top=top)
