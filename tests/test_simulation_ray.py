"""Ray backend of the Monte Carlo failure simulation: identical to the local backend for the same seed.

One small local Ray instance (2 CPUs, 80 MiB object store, no dashboard, usage statistics off: conftest
sets RAY_USAGE_STATS_ENABLED=0) is started for the module and always shut down at the end.
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Iterator

import numpy as np
import pytest

from nodeplan.cli import main
from nodeplan.exceptions import SimulationError
from nodeplan.scenario.io import load_builtin
from nodeplan.simulation.backends import (
    RAY_NUM_CPUS,
    RAY_OBJECT_STORE_BYTES,
    RAY_USAGE_STATS_ENV,
    run_chunks_ray,
)
from nodeplan.simulation.montecarlo import ChunkOutcomes, run_trials
from nodeplan.simulation.sampling import CHUNK_TRIALS

pytestmark = pytest.mark.ray

SEED = 20260601
TRIALS = 2 * CHUNK_TRIALS  # 4,096: two chunks, so two tasks that may land on different workers


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[object]:
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install '.[ray]')")
    ray.init(
        num_cpus=RAY_NUM_CPUS,
        object_store_memory=RAY_OBJECT_STORE_BYTES,
        include_dashboard=False,
        log_to_driver=False,
        ignore_reinit_error=True,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_ray_trials_identical_to_local(ray_cluster: object) -> None:
    sc = load_builtin("opengradient")
    local = run_trials(sc, TRIALS, seed=SEED)
    remote = run_trials(sc, TRIALS, seed=SEED, backend="ray")
    assert local.failed_bits.shape[0] == TRIALS
    for field in ChunkOutcomes._fields:
        assert _same(getattr(local, field), getattr(remote, field)), field
    # Not vacuous: the run has failures, harm and distinct serving outcomes to get wrong.
    assert local.down.max() > 0
    assert np.unique(local.served[~np.isnan(local.served)]).size > 1
    # Ray was started by the fixture, so the run must leave it running.
    assert ray_cluster.is_initialized()  # type: ignore[attr-defined]


def test_ray_other_seed_differs(ray_cluster: object) -> None:
    """The Ray tasks really use the run's seed (not a fixed one): another seed, other failures."""
    sc = load_builtin("opengradient")
    a = run_trials(sc, CHUNK_TRIALS, seed=1, backend="ray")
    b = run_trials(sc, CHUNK_TRIALS, seed=2, backend="ray")
    assert not np.array_equal(a.failed_bits, b.failed_bits)
    assert np.array_equal(a.failed_bits, run_trials(sc, CHUNK_TRIALS, seed=1).failed_bits)


def test_cli_ray_json_equals_local(ray_cluster: object, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "failures", "--trials", "2048", "--seed", "7", "--json"]
    assert main([*args, "--backend", "local"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--backend", "ray"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote == local
    assert local["trials"] == 2048


def test_cli_unknown_backend_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "failures", "--trials", "10", "--backend", "spark"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "error: backend: expected one of local, ray (got 'spark')"


def test_ray_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(SimulationError, match=r"pip install 'nodeplan\[ray\]'"):
        run_trials(load_builtin("opengradient"), 16, seed=1, backend="ray")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("nowhere", "error: ray_address: expected host:port, ray://host:port or auto (got 'nowhere')"),
        ("127.0.0.1:1", "error: ray_address: no Ray cluster answers at '127.0.0.1:1' ("),
    ],
)
def test_cli_bad_ray_address_fails_fast(
    capsys: pytest.CaptureFixture[str], address: str, message: str
) -> None:
    """A wrong --ray-address is a one-line error, not minutes of Ray retrying (port 1: nothing listens)."""
    pytest.importorskip("ray")
    code = main(["simulate", "failures", "--trials", "10", "--backend", "ray", "--ray-address", address])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(message)


class _FakeRay:
    """Stands in for the ``ray`` module: records the usage-statistics variable Ray would see at start."""

    def __init__(self) -> None:
        self.env_at_init: str | None = "unset"
        self.init_kwargs: dict[str, object] = {}
        self.shut_down = False

    def is_initialized(self) -> bool:
        return False

    def init(self, address: str | None = None, **kwargs: object) -> None:
        self.env_at_init = os.environ.get(RAY_USAGE_STATS_ENV)
        self.init_kwargs = {"address": address, **kwargs}

    def put(self, obj: object) -> object:
        return types.SimpleNamespace(hex=lambda: "ref")

    def remote(self, **_: object) -> object:
        return lambda fn: fn

    def shutdown(self) -> None:
        self.shut_down = True


@pytest.mark.parametrize("preset", [None, "1"])
def test_local_ray_started_by_the_backend_has_usage_stats_off(
    monkeypatch: pytest.MonkeyPatch, preset: str | None
) -> None:
    """The local instance the ray backend starts sees RAY_USAGE_STATS_ENABLED=0, unless the caller's
    environment sets it; the environment is as before once the run ends."""
    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    if preset is None:
        monkeypatch.delenv(RAY_USAGE_STATS_ENV, raising=False)
    else:
        monkeypatch.setenv(RAY_USAGE_STATS_ENV, preset)
    assert run_chunks_ray(None, np.random.SeedSequence(0), []) == []  # type: ignore[arg-type]
    assert fake.env_at_init == (preset or "0")
    assert fake.init_kwargs["address"] is None
    assert fake.shut_down
    assert os.environ.get(RAY_USAGE_STATS_ENV) == preset
