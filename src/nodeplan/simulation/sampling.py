"""Sampling correlated failures of the dependency graph: domains, seeds, chunks, down-masks.

A **failure domain** is one known value of one dimension named in ``scenario.failures`` (provider
``hetzner``, data center ``ovh-sbg-campus``, country ``DE``, ...). Over the planning window each domain
fails independently with probability ``failures[dim].values.get(value, failures[dim].default)``; a node
is down in a trial when any of its domains failed. A node with an unknown value in a dimension is not
affected by that dimension (there is no "unknown" domain).

The hierarchy of DESIGN.md (``data_center -> provider_region -> provider``, ``country ->
jurisdiction``) propagates through the codes: they come from
:func:`~nodeplan.model.codes.complete_codes` (and, as in the audit,
:func:`~nodeplan.model.codes.fill_providers_from_asn`), so a node whose data center is known to be
Hetzner's *is* a Hetzner node, and the failure of provider ``hetzner`` takes it down with every other
node of that provider -- all its regions and data centers. A region or data center failure takes down
only its own nodes.

Randomness
----------
One :class:`numpy.random.SeedSequence` (see :func:`seed_sequence`) is the root of a run. Trials are cut
into chunks of a fixed size (:data:`CHUNK_TRIALS`); chunk ``c`` draws its uniforms from the child
sequence ``c`` of the root (:func:`chunk_seed`, the same child as ``root.spawn(c + 1)[c]``), so a trial's
draws depend on the seed and its index only -- never on how many worker processes ran the chunks.
Domain ``d`` fails in trial ``t`` when ``u[t, d] < p[d]`` (:func:`failed_domains`): with the same
uniforms, raising one ``p[d]`` only adds failures (the *coupling* the property tests rely on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import ScenarioError, SimulationError
from nodeplan.scenario.arrays import ScenarioArrays
from nodeplan.scenario.model import Scenario

__all__ = [
    "CHUNK_TRIALS",
    "FailureDomains",
    "Seed",
    "chunk_bounds",
    "chunk_seed",
    "down_nodes",
    "failed_domains",
    "failure_domains",
    "sample_uniforms",
    "seed_sequence",
]

#: Trials per chunk. Part of the reproducibility contract: the same seed gives the same trials for any
#: number of workers, but changing this constant changes the draws.
CHUNK_TRIALS = 2048

#: What a ``seed`` argument accepts (normalised by :func:`seed_sequence`).
Seed = int | np.random.Generator | np.random.SeedSequence | None


@dataclass(frozen=True, eq=False)
class FailureDomains:
    """The failure domains of a scenario (``D`` domains over ``n`` nodes).

    Attributes
    ----------
    dimensions : the dimensions named in ``scenario.failures`` that the nodes have, in scenario order
    dim : (D,) index into ``dimensions`` of each domain's dimension
    values : (D,) the domain's value (e.g. ``"hetzner"``)
    probability : (D,) failure probability over the planning window, in [0, 1]
    incidence : (D, n) bool, node ``i`` depends on domain ``d`` (hierarchy already propagated)
    unmatched : ``(dimension, value)`` pairs listed in ``scenario.failures`` that no node has (ignored)
    """

    dimensions: tuple[str, ...]
    dim: NDArray[np.intp]
    values: tuple[str, ...]
    probability: NDArray[np.float64]
    incidence: NDArray[np.bool_]
    unmatched: tuple[tuple[str, str], ...]

    @property
    def n_domains(self) -> int:
        """Number of domains ``D``."""
        return len(self.values)

    def label(self, d: int) -> str:
        """``dimension=value`` of domain ``d``."""
        return f"{self.dimensions[int(self.dim[d])]}={self.values[d]}"


def failure_domains(scenario: Scenario, arrays: ScenarioArrays, codes: NDArray[np.int32]) -> FailureDomains:
    """One domain per known value of each dimension of ``scenario.failures``.

    Parameters
    ----------
    arrays : the scenario's arrays (after provider derivation, if any, so that ``dim_values`` match)
    codes : (n, d) completed codes (:func:`~nodeplan.model.codes.complete_codes`)

    Raises
    ------
    ScenarioError
        When ``scenario.failures`` is empty (the message says what to add).

    Examples
    --------
    >>> from nodeplan.scenario.arrays import compile_scenario
    >>> from nodeplan.scenario.model import Node
    >>> nodes = [Node(id="a", lat=0, lon=0, roles={"storage"}, provider="x", country="DE"),
    ...          Node(id="b", lat=0, lon=0, roles={"storage"}, provider="y")]
    >>> sc = Scenario(nodes=nodes, failures={"provider": {"default": 0.1, "values": {"y": 0.5, "z": 1}}})
    >>> a = compile_scenario(sc)
    >>> fd = failure_domains(sc, a, a.dim_codes)
    >>> fd.values, fd.probability.tolist(), fd.incidence.astype(int).tolist(), fd.unmatched
    (('x', 'y'), [0.1, 0.5], [[1, 0], [0, 1]], (('provider', 'z'),))
    """
    if not scenario.failures:
        raise ScenarioError(
            "failures: the scenario has no failure probabilities; add e.g. "
            "'failures: {provider: {default: 0.01, values: {hetzner: 0.02}}}' (per dimension a default "
            "probability over the planning window and per-value overrides, see docs/scenario.md)"
        )
    dims = tuple(d for d in arrays.dims if d in scenario.failures)
    dim_idx: list[int] = []
    values: list[str] = []
    probs: list[float] = []
    rows: list[NDArray[np.bool_]] = []
    unmatched: list[tuple[str, str]] = []
    for j, dim in enumerate(dims):
        spec = scenario.failures[dim]
        k = arrays.dim_index(dim)
        known = arrays.dim_values[k]
        unmatched.extend((dim, v) for v in sorted(spec.values) if v not in set(known))
        for code, v in enumerate(known):
            dim_idx.append(j)
            values.append(v)
            probs.append(float(spec.values.get(v, spec.default)))
            rows.append(codes[:, k] == code)
    n = arrays.n_nodes
    return FailureDomains(
        dimensions=dims,
        dim=np.array(dim_idx, dtype=np.intp),
        values=tuple(values),
        probability=np.array(probs, dtype=float),
        incidence=np.array(rows, dtype=bool).reshape(len(rows), n),
        unmatched=tuple(unmatched),
    )


def seed_sequence(seed: Seed) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a run (the one place a seed is normalised).

    An ``int`` (>= 0) is the entropy itself; a ``Generator`` gives 128 bits of entropy from its next
    draws (so the same generator state gives the same run); ``None`` takes fresh entropy from the OS.
    ``int(root.entropy)`` repeats the run either way.

    >>> seed_sequence(7).entropy
    7
    >>> g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    >>> seed_sequence(g1).entropy == seed_sequence(g2).entropy
    True
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        a, b = seed.integers(0, 2**64, size=2, dtype=np.uint64)
        return np.random.SeedSequence(int(a) | (int(b) << 64))
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise SimulationError(f"seed: expected an integer >= 0, a numpy Generator or None (got {seed!r})")
    if seed < 0:
        raise SimulationError(f"seed: must be >= 0 (got {seed})")
    return np.random.SeedSequence(int(seed))


def chunk_seed(root: np.random.SeedSequence, chunk: int) -> np.random.SeedSequence:
    """Child ``chunk`` of ``root``, as ``root.spawn(chunk + 1)[chunk]`` gives it, without mutating ``root``.

    >>> r = np.random.SeedSequence(5)
    >>> chunk_seed(r, 2).generate_state(2).tolist() == r.spawn(3)[2].generate_state(2).tolist()
    True
    """
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, int(chunk)), pool_size=root.pool_size
    )


def chunk_bounds(trials: int, chunk_trials: int = CHUNK_TRIALS) -> list[tuple[int, int]]:
    """``(first trial, size)`` of each chunk; the last chunk may be shorter.

    >>> chunk_bounds(5000, 2048)
    [(0, 2048), (2048, 2048), (4096, 904)]
    """
    return [(s, min(chunk_trials, trials - s)) for s in range(0, trials, chunk_trials)]


def sample_uniforms(
    root: np.random.SeedSequence, chunk: int, size: int, n_domains: int
) -> NDArray[np.float64]:
    """(size, D) uniforms on [0, 1) of chunk ``chunk`` (PCG64 seeded by :func:`chunk_seed`)."""
    rng = np.random.Generator(np.random.PCG64(chunk_seed(root, chunk)))
    return rng.random((size, n_domains))


def failed_domains(uniforms: NDArray[np.float64], probability: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(T, D) domain ``d`` failed in trial ``t``: ``u[t, d] < p[d]`` (p = 0 never fails, p = 1 always).

    >>> failed_domains(np.array([[0.2, 0.7], [0.9, 0.0]]), np.array([0.5, 0.0])).tolist()
    [[True, False], [False, False]]
    """
    return uniforms < probability[None, :]


def down_nodes(failed: NDArray[np.bool_], incidence: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(T, n) node down in trial: some failed domain contains it (a boolean matrix product).

    Counts are summed in float32 (exact below 2**24 failed domains per node), then compared with 0.

    >>> inc = np.array([[1, 1, 0], [0, 0, 1]], dtype=bool)  # domain 0 holds nodes 0 and 1
    >>> down_nodes(np.array([[True, False], [False, False]]), inc).tolist()
    [[True, True, False], [False, False, False]]
    """
    if failed.shape[1] == 0:
        return np.zeros((failed.shape[0], incidence.shape[1]), dtype=bool)
    return (failed.astype(np.float32) @ incidence.astype(np.float32)) > 0
