"""Request workloads for the discrete-event simulation: arrival times (s) and what each request asks for.

Three constructors, all returning a :class:`Workload`:

* :func:`poisson_workload` — each demand class of the scenario is a Poisson process at its ``rate_rps``;
  each arrival comes from a demand source drawn by weight. Seeded.
* :func:`trace_workload` — the arrival times of a real trace (a CSV with a ``TIMESTAMP`` column, such as
  the Azure LLM traces), shifted to start at 0; each arrival gets a demand class drawn by rate share and a
  source drawn by weight. Seeded.
* :func:`fixed_workload` — given times and one request template (tests, hand-computed examples).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from nodeplan.exceptions import SimulationError
from nodeplan.routing.types import Request
from nodeplan.scenario.model import Scenario

__all__ = [
    "MAX_ARRIVALS",
    "Workload",
    "fixed_workload",
    "poisson_workload",
    "read_trace_times",
    "trace_workload",
]

#: Upper bound on arrivals in one workload (memory and run time stay bounded).
MAX_ARRIVALS = 2_000_000


@dataclass(frozen=True)
class Workload:
    """Arrivals of a simulation run, sorted by time.

    Attributes
    ----------
    times_s : (N,) arrival times, s from the start, non-decreasing
    kind : (N,) index into ``templates`` of each arrival
    templates : distinct requests (model, user position, verification, SLO); the engine sets the policy
    duration_s : length of the arrival window, s
    origin : how it was made (``"poisson"``, ``"trace:<file>"``, ``"fixed"``)
    """

    times_s: NDArray[np.float64]
    kind: NDArray[np.int64]
    templates: tuple[Request, ...]
    duration_s: float
    origin: str

    @property
    def n(self) -> int:
        """Number of arrivals."""
        return int(self.times_s.size)


def _check_duration(duration_s: float) -> float:
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float) or not 0 < duration_s < 1e9:
        raise SimulationError(f"duration_s: must be a number of seconds in (0, 1e9) (got {duration_s!r})")
    return float(duration_s)


def _templates(scenario: Scenario) -> tuple[tuple[Request, ...], NDArray[np.float64], NDArray[np.float64]]:
    """Requests per (demand class, source) in class-major order, class rates (req/s), source weights."""
    if not scenario.demand:
        raise SimulationError(f"demand: scenario {scenario.name!r} has no demand class to simulate")
    if not scenario.sources:
        raise SimulationError(
            f"sources: scenario {scenario.name!r} has no demand source to send requests from"
        )
    w = np.array([s.weight for s in scenario.sources], dtype=float)
    if not w.sum() > 0:
        raise SimulationError("sources: every demand source has weight 0")
    rates = np.array([d.rate_rps for d in scenario.demand], dtype=float)
    reqs = tuple(
        Request(d.model, s.lat, s.lon, d.verification, d.verifiers, d.slo_ms, "nodeplan", s.name)
        for d in scenario.demand
        for s in scenario.sources
    )
    return reqs, rates, w / w.sum()


def poisson_workload(scenario: Scenario, duration_s: float, seed: int | None = 0) -> Workload:
    """Poisson arrivals of every demand class over ``duration_s`` seconds.

    The number of arrivals of a class is Poisson(``rate_rps · duration_s``) and their times are uniform
    over the window (the same law as exponential gaps); each arrival picks a source by weight.

    Examples
    --------
    >>> from nodeplan.scenario import load_builtin
    >>> w = poisson_workload(load_builtin("opengradient"), 10.0, seed=1)
    >>> 600 < w.n < 980, bool((w.times_s[1:] >= w.times_s[:-1]).all())  # 78.5 req/s x 10 s
    (True, True)
    """
    dur = _check_duration(duration_s)
    reqs, rates, wsrc = _templates(scenario)
    if rates.sum() * dur > MAX_ARRIVALS:
        raise SimulationError(
            f"duration_s: {dur:g} s at {rates.sum():g} req/s is over {MAX_ARRIVALS:,} arrivals; shorten it"
        )
    rng = np.random.default_rng(seed)
    n_src = len(wsrc)
    times, kinds = [], []
    for c, rate in enumerate(rates):
        k = int(rng.poisson(rate * dur))
        times.append(rng.uniform(0.0, dur, size=k))
        kinds.append(c * n_src + rng.choice(n_src, size=k, p=wsrc))
    return _sorted(np.concatenate(times), np.concatenate(kinds), reqs, dur, "poisson")


def _sorted(
    t: NDArray[np.float64], kind: NDArray[np.int64], reqs: tuple[Request, ...], dur: float, origin: str
) -> Workload:
    order = np.lexsort((kind, t))  # stable in time, ties by kind: independent of construction order
    return Workload(t[order].astype(float), kind[order].astype(np.int64), reqs, dur, origin)


def read_trace_times(path: str | Path) -> NDArray[np.float64]:
    """Arrival times, s from the first, of a CSV trace with a ``TIMESTAMP`` column (sorted).

    Timestamps are ISO-like (``2023-11-16 18:17:03.9799600``, up to 9 fractional digits); the time zone
    does not matter since only differences are used.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "TIMESTAMP" not in reader.fieldnames:
                raise SimulationError(
                    f"trace: {p} has no TIMESTAMP column (columns: {', '.join(reader.fieldnames or []) or 'none'})"
                )
            raw = [row["TIMESTAMP"] for row in reader]
    except OSError as exc:
        raise SimulationError(f"trace: cannot read {p} ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SimulationError(f"trace: {p} is not a readable CSV ({exc})") from None
    if not raw:
        raise SimulationError(f"trace: {p} has no rows")
    try:
        stamps = np.array([s.strip().replace(" ", "T") for s in raw], dtype="datetime64[ns]")
    except ValueError:
        bad = next(s for s in raw if not _parses(s))
        raise SimulationError(f"trace: TIMESTAMP {bad!r} in {p} is not a date-time") from None
    ns = np.sort(stamps.astype(np.int64))
    return (ns - ns[0]).astype(float) / 1e9


def _parses(s: str) -> bool:
    try:
        np.datetime64(s.strip().replace(" ", "T"), "ns")
    except ValueError:
        return False
    return True


def trace_workload(
    scenario: Scenario,
    path: str | Path,
    seed: int | None = 0,
    *,
    duration_s: float | None = None,
    speed: float = 1.0,
) -> Workload:
    """Replay the arrival times of a real trace on ``scenario``'s demand.

    Times are shifted to start at 0 and divided by ``speed`` (2 = twice the trace's rate); only
    arrivals before ``duration_s`` are kept (``None`` = the whole trace). Each arrival is assigned a
    demand class with probability proportional to its ``rate_rps`` and a source by weight (seeded); the
    classes' own rates are not used otherwise.
    """
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 < speed < 1e6:
        raise SimulationError(f"speed: must be a positive factor below 1e6 (got {speed!r})")
    reqs, rates, wsrc = _templates(scenario)
    if not rates.sum() > 0:
        raise SimulationError("demand: every demand class has rate_rps 0; no share to assign arrivals by")
    t = read_trace_times(path) / float(speed)
    if duration_s is not None:
        dur = _check_duration(duration_s)
        t = t[t < dur]
    else:
        dur = float(t[-1]) if t.size and t[-1] > 0 else 1.0
    if t.size > MAX_ARRIVALS:
        raise SimulationError(f"trace: {t.size:,} arrivals is over {MAX_ARRIVALS:,}; pass a shorter duration")
    rng = np.random.default_rng(seed)
    cls = rng.choice(len(rates), size=t.size, p=rates / rates.sum())
    src = rng.choice(len(wsrc), size=t.size, p=wsrc)
    return _sorted(t, cls * len(wsrc) + src, reqs, dur, f"trace:{Path(path).name}")


def fixed_workload(times_s: Sequence[float], request: Request, duration_s: float | None = None) -> Workload:
    """Arrivals at the given times (s), all asking for ``request``.

    >>> from nodeplan.routing import Request
    >>> w = fixed_workload([0.2, 0.0, 0.1], Request("m", 0.0, 0.0))
    >>> w.times_s.tolist(), w.duration_s
    ([0.0, 0.1, 0.2], 0.2)
    """
    t = np.asarray(times_s, dtype=float)
    if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
        raise SimulationError(f"times_s: must be finite times >= 0 s (got {list(times_s)!r})")
    if not isinstance(request, Request):
        raise SimulationError(f"request: expected a Request (got {type(request).__name__})")
    dur = float(t.max()) if duration_s is None and t.size else _check_duration(duration_s or 1.0)
    return _sorted(t, np.zeros(t.size, dtype=np.int64), (request,), dur, "fixed")
