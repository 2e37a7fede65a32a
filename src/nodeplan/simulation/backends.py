"""Where the chunks of a Monte Carlo run execute: ``"local"`` (this process, or a local process pool) or
``"ray"`` (Ray tasks, on a local Ray instance or a cluster).

Both backends produce the *same* trials for the same seed: chunk ``c`` always draws from child ``c`` of
the root :class:`~numpy.random.SeedSequence` (:func:`~nodeplan.simulation.sampling.chunk_seed`) and the
serving check is deterministic, so the outcome arrays are identical, whatever the backend and the number
of Ray workers.

* **local** -- the path of :func:`~nodeplan.simulation.montecarlo.run_trials`: chunks sampled in this
  process, the distinct down sets of the whole run checked once (``workers > 1``: in a process pool);
* **ray** -- :func:`run_chunks_ray`: the trial evaluator is shipped once (``ray.put``); each chunk is one
  remote task given its chunk index and the root seed, which samples the chunk, evaluates it (serving
  checks once per distinct down set of the chunk) and returns its outcomes; the driver gathers them in
  chunk order. Each Ray worker process unpickles the evaluator once per run and keeps its cache of
  serving checks across the chunks it runs.

Ray is an optional dependency (``pip install 'nodeplan[ray]'``), imported only when the ray backend runs.
With no ``address`` and no Ray already initialised in this process, a small local instance is started
(:data:`RAY_NUM_CPUS` CPUs, :data:`RAY_OBJECT_STORE_BYTES` of object store, no dashboard, Ray's usage
statistics off unless the environment sets ``RAY_USAGE_STATS_ENABLED``) and shut down at the end; with an
``address`` the run connects to that cluster and disconnects at the end; a Ray already initialised by the
caller is used as is and left running.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nodeplan.exceptions import SimulationError

if TYPE_CHECKING:
    from nodeplan.simulation.montecarlo import ChunkOutcomes, TrialEvaluator

__all__ = [
    "BACKENDS",
    "RAY_NUM_CPUS",
    "RAY_OBJECT_STORE_BYTES",
    "RAY_USAGE_STATS_ENV",
    "Backend",
    "check_backend",
    "import_ray",
    "run_chunks_ray",
]

#: Backend names accepted by :func:`~nodeplan.simulation.montecarlo.run_trials` and ``--backend``.
BACKENDS: tuple[str, ...] = ("local", "ray")
Backend = Literal["local", "ray"]

#: CPUs of the local Ray instance started when no address is given.
RAY_NUM_CPUS = 2
#: Object store of that instance, bytes (Ray's minimum is 75 MiB; a run ships one evaluator of ~1 MB and
#: ~100 KB of outcomes per chunk).
RAY_OBJECT_STORE_BYTES = 80 * 1024**2
#: Environment variable of Ray's usage statistics (``"0"``: off). A local instance started by nodeplan
#: runs with it set to ``"0"`` unless the caller's environment sets it.
RAY_USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"

# Per Ray worker process: the evaluator of the current run, keyed by its object id (one run at a time).
_WORKER_EVALUATOR: dict[str, TrialEvaluator] = {}


def check_backend(backend: object) -> Backend:
    """``backend`` if it is one of :data:`BACKENDS`, else a :class:`SimulationError` naming it.

    >>> check_backend("ray")
    'ray'
    >>> check_backend("spark")
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.SimulationError: backend: expected one of local, ray (got 'spark')
    """
    if backend not in BACKENDS:
        raise SimulationError(f"backend: expected one of {', '.join(BACKENDS)} (got {backend!r})")
    return backend  # type: ignore[return-value]


def import_ray() -> ModuleType:
    """The ``ray`` module, or a one-line :class:`SimulationError` naming the extra to install."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise SimulationError(
            "backend 'ray': Ray is not installed; install the extra with: pip install 'nodeplan[ray]'"
        ) from exc


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (one line) when a ``host:port`` or ``ray://host:port`` Ray address does not answer: Ray
    itself retries an unreachable address for minutes. ``"auto"`` (the cluster of this machine) is passed on.

    >>> _check_reachable("nowhere")
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.SimulationError: ray_address: expected host:port, ray://host:port or auto (got 'nowhere')
    """
    if address == "auto":
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit() or "/" in hostport:
        raise SimulationError(f"ray_address: expected host:port, ray://host:port or auto (got {address!r})")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise SimulationError(f"ray_address: no Ray cluster answers at {address!r} ({exc})") from exc


def _chunk_task(
    key: str, boxed: list[Any], root: np.random.SeedSequence, chunk: int, size: int
) -> ChunkOutcomes:
    """Ray task body: outcomes of chunk ``chunk`` (``size`` trials) of the run seeded by ``root``.

    ``boxed`` holds the evaluator's ``ObjectRef`` inside a list, so Ray does not resolve it for every task:
    the worker fetches it only when this process has not seen run ``key`` yet.
    """
    ev = _WORKER_EVALUATOR.get(key)
    if ev is None:
        ray = import_ray()
        ev = ray.get(boxed[0])
        _WORKER_EVALUATOR.clear()
        _WORKER_EVALUATOR[key] = ev
    return ev.evaluate(ev.sample(root, chunk, size))


def run_chunks_ray(
    evaluator: TrialEvaluator,
    root: np.random.SeedSequence,
    bounds: list[tuple[int, int]],
    *,
    address: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ChunkOutcomes]:
    """Outcomes of each chunk (``bounds`` as from :func:`~nodeplan.simulation.sampling.chunk_bounds`), in
    chunk order, each computed by one Ray task (module docstring).

    Parameters
    ----------
    evaluator : the run's evaluator (shipped once with ``ray.put``)
    root : root seed sequence of the run; chunk ``c`` samples from its child ``c``
    bounds : ``(first trial, size)`` of each chunk
    address : Ray cluster to connect to (e.g. ``"ray://head:10001"`` or ``"auto"``); ``None`` uses the Ray
        already initialised in this process, or starts a small local one
    progress : called as ``progress("sampling", done, total)`` as chunks finish

    Raises
    ------
    SimulationError
        When Ray is not installed, or cannot start or connect (the message names the address).
    """
    ray = import_ray()
    if address is not None:
        _check_reachable(address)
    with _ray_session(ray, address):
        ref = ray.put(evaluator)
        task = ray.remote(num_cpus=1)(_chunk_task)
        pending = {task.remote(ref.hex(), [ref], root, c, size): c for c, (_, size) in enumerate(bounds)}
        parts: dict[int, ChunkOutcomes] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for r in done:
                parts[pending.pop(r)] = ray.get(r)
            if progress is not None:
                progress("sampling", len(parts), len(bounds))
        return [parts[c] for c in range(len(bounds))]


@contextmanager
def _ray_session(ray: ModuleType, address: str | None) -> Iterator[None]:
    """Ray for the duration of the block: the one already initialised in this process (left running), or
    one started here (local instance when ``address`` is ``None``, else a connection) and shut down at the
    end. A local instance started here runs with Ray's usage statistics off
    (:data:`RAY_USAGE_STATS_ENV` ``=0``) unless the caller's environment sets that variable; the
    environment is restored at the end."""
    if ray.is_initialized():
        yield
        return
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    set_env = address is None and RAY_USAGE_STATS_ENV not in os.environ
    if address is None:
        kwargs.update(
            num_cpus=RAY_NUM_CPUS, object_store_memory=RAY_OBJECT_STORE_BYTES, include_dashboard=False
        )
    if set_env:
        os.environ[RAY_USAGE_STATS_ENV] = "0"
    try:
        try:
            ray.init(address=address, **kwargs)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            where = f"ray_address {address!r}" if address else "local Ray instance"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SimulationError(f"backend 'ray': cannot start or connect to the {where}: {first}") from exc
        try:
            yield
        finally:
            ray.shutdown()
    finally:
        if set_env:
            os.environ.pop(RAY_USAGE_STATS_ENV, None)
