"""Marginal value of a node: rank candidate nodes to add (or existing nodes to remove) by what they change.

For each candidate, :func:`advise` builds the scenario with that node added alone (or, with
``remove=True``, with one existing node removed alone) and compares the two :class:`NetworkState` records:

* effective independent failure domains per role (the audit's summary, ``1 / P(share a dependency)``);
* effective providers, ASNs and operators per role (``1 / HHI`` of node counts, unknown = one entity);
* the baseline outcome of the audit's serving model: demand served within SLO, verified demand with an
  independent verifier, models with no live storage replica;
* the worst single-domain failure (every row of the audit's failure table): worst served share, worst
  verified share, most models left without a replica, number of single domains whose loss halts
  consensus (live stake at or below 2/3) and the stake alive after the worst one; plus the row of the
  baseline's worst domain (e.g. ``provider aws``) in the new network;
* the demand-weighted expected time of the demand from the **router** (``nodeplan`` policy,
  :func:`~nodeplan.routing.route_batch` with ``commit=False`` on an idle network, so RTT + cold start +
  service + verification; queueing enters through the served-within-SLO measure of the serving model),
  compared over the (class, source) pairs routable in **both** networks, and the share of demand the
  router finds no route for;
* the hourly cost of the live nodes.

Score
-----
Each measure gives a *gain* (after minus before, signed so that positive is better) and the score is
``Σ weight_k × gain_k`` (:class:`ScoreWeights`, overridable)::

    term                 gain                                                                  weight
    served               Δ demand served within SLO, no failure (share: 0.10 = 10 points)        1.0
    verified             Δ verified demand with an independent verifier, no failure (share)      1.0
    unreplicated         -Δ models with no live storage replica / models                         1.0
    worst_served         Δ lowest served share over the single-domain failures                   1.0
    worst_verified       Δ lowest verified share over the single-domain failures                 1.0
    worst_unreplicated   -Δ most models one failure leaves without a replica / models            1.0
    halting              -Δ single domains whose loss halts consensus (stake alive <= 2/3)       0.25
    worst_alive_stake    Δ lowest share of stake alive over the single-domain failures           1.0
    worst_domain_halted  +1 when the baseline's worst failure no longer halts consensus after     0.5
                         the change, -1 when it newly halts it, else 0
    worst_domain_fragile +1 when consensus runs in the baseline's worst failure before and after   0.25
                         the change and stops being fragile, -1 when it becomes fragile, else 0
    worst_domain_stake   Δ stake alive (share) in the baseline's worst failure                   1.0
    domains              Δ effective independent failure domains, summed over the four roles     0.05
    providers            Δ effective providers (1/HHI), summed over the four roles               0.05
    asns, operators      Δ effective ASNs / operators (1/HHI), summed over the four roles        0.02
    time                 -Δ expected time / expected time before, over the demand routable in     0.5
                         both networks (demand one network cannot route does not count as fast)
    cost                 -Δ USD per hour of the live nodes                                       0.0
    unroutable           -Δ share of demand (by rate) with no route: a removal that leaves m2     1.0
                         with no executor loses m2's share; an addition that makes it routable
                         gains it

Share terms weigh one network-wide guarantee: a candidate that lifts the worst-case verified demand
from 19% to 45% gains 0.26, as much as adding ~5 effective providers to one role. The consensus terms
use the audit's rule (:mod:`nodeplan.model.consensus`), with its two separate facts: *halted* when 2/3 or
less of the stake is alive, *fragile* when it runs but one surviving domain of any dimension holds 1/3 of
the surviving stake. The baseline's worst failure is the audit's first failure row (highest harm).

Added candidates rank by score, highest first; removed nodes rank by score, lowest first (the most
load-bearing node first). Ties go to the cheaper node (``price_usd_per_hour``), then the id.

Evaluation
----------
``method="incremental"`` (default) compiles the baseline once and, per candidate, computes only what
the summary needs: the few measures above (not every dimension), and the serving outcome once per
*distinct* set of failed live nodes (a country and its jurisdiction often fail the same nodes). A
candidate that the serving model cannot see (no execution slots, no verification mode the demand uses,
no stored model, or down), and that changes no other node's completed dependency codes, reuses the
baseline's outcomes. ``method="naive"`` runs the full :func:`~nodeplan.metrics.audit.audit_scenario` per
candidate; both give the same numbers (``bench/bench_advise.py`` checks it). Nothing is random, so no
seed is needed; with ``workers > 1`` candidates are spread over a process pool and the result is the
same, in the same order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nodeplan.exceptions import ScenarioError
from nodeplan.metrics.audit import audit_scenario
from nodeplan.model.rtt import RttModel, default_rtt_model
from nodeplan.placement.advise_state import (
    ADVISE_ROLES,
    CandidateEvaluator,
    EvalMethod,
    NetworkState,
    TrackedFailure,
    common_expected_ms,
    compile_with_codes,
    delta,
    init_worker,
    state_from_audit,
    worker_state,
)
from nodeplan.placement.advise_text import reasons
from nodeplan.placement.options import as_enum
from nodeplan.scenario.io import parse_scenario
from nodeplan.scenario.model import Node, NodeStatus, Scenario

__all__ = [
    "ADVISE_ROLES",
    "AdviceResult",
    "Assessment",
    "EvalMethod",
    "NetworkState",
    "ScoreWeights",
    "advise",
    "load_builtin_candidates",
    "load_candidates",
    "parse_candidates",
]


@dataclass(frozen=True)
class ScoreWeights:
    """Weight of each gain in the marginal-value score (see the module docstring for units)."""

    served: float = 1.0
    verified: float = 1.0
    unreplicated: float = 1.0
    worst_served: float = 1.0
    worst_verified: float = 1.0
    worst_unreplicated: float = 1.0
    halting: float = 0.25
    worst_alive_stake: float = 1.0
    worst_domain_halted: float = 0.5
    worst_domain_fragile: float = 0.25
    worst_domain_stake: float = 1.0
    domains: float = 0.05
    providers: float = 0.05
    asns: float = 0.02
    operators: float = 0.02
    time: float = 0.5
    cost: float = 0.0
    unroutable: float = 1.0

    @classmethod
    def parse(cls, items: Sequence[str]) -> ScoreWeights:
        """Defaults overridden by ``NAME=VALUE`` items.

        >>> ScoreWeights.parse(["time=0", "cost=0.1"]).cost
        0.1
        """
        names = [f.name for f in fields(cls)]
        out: dict[str, float] = {}
        for item in items:
            name, sep, val = item.partition("=")
            name = name.strip()
            if not sep or name not in names:
                raise ScenarioError(
                    f"--weight: expected NAME=VALUE with NAME one of {', '.join(names)} (got {item!r})"
                )
            try:
                x = float(val)
            except ValueError:
                raise ScenarioError(f"--weight: {val.strip()!r} is not a number (in {item!r})") from None
            if not np.isfinite(x):
                raise ScenarioError(f"--weight: must be finite (got {item!r})")
            out[name] = x
        return cls(**out)


@dataclass(frozen=True)
class Assessment:
    """One candidate: its network after the change, gains, weighted contributions, score and reasons."""

    node: str
    price_usd_per_hour: float
    after: NetworkState
    gains: dict[str, float]
    contributions: dict[str, float]
    score: float
    reasons: tuple[str, ...]
    rank: int = 0


@dataclass(frozen=True)
class AdviceResult:
    """Ranked candidates; ``baseline`` is the network before any change."""

    scenario: str
    remove: bool
    method: EvalMethod
    weights: ScoreWeights
    baseline: NetworkState
    ranked: tuple[Assessment, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able mapping (``nodeplan advise --json``)."""
        return {
            "scenario": self.scenario,
            "action": "remove" if self.remove else "add",
            "weights": {f.name: getattr(self.weights, f.name) for f in fields(self.weights)},
            "baseline": self.baseline.to_dict(),
            "ranked": [
                {
                    "rank": a.rank,
                    "node": a.node,
                    "score": round(a.score, 6),
                    "price_usd_per_hour": a.price_usd_per_hour,
                    "reasons": list(a.reasons),
                    "gains": {k: round(v, 6) for k, v in a.gains.items()},
                    "contributions": {k: round(v, 6) for k, v in a.contributions.items()},
                    "after": a.after.to_dict(),
                }
                for a in self.ranked
            ],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


# -- candidates --------------------------------------------------------------------------------------
def _rewrite(msg: str, n_base: int) -> str:
    m = re.match(r"nodes\.(\d+)(.*)", msg, flags=re.S)
    if m and int(m.group(1)) >= n_base:
        return f"candidates.{int(m.group(1)) - n_base}{m.group(2)}"
    return msg


def _with_nodes(scenario: Scenario, nodes: Sequence[Any], n_base: int) -> Scenario:
    data = {name: getattr(scenario, name) for name in Scenario.model_fields}
    data["nodes"] = list(nodes)
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(_rewrite(str(exc), n_base)) from None


def parse_candidates(data: Any, scenario: Scenario) -> tuple[Node, ...]:
    """Validate a list of node mappings (scenario node format) as candidates to add to ``scenario``.

    Raises
    ------
    ScenarioError
        One line naming ``candidates.<i>.<field>`` and the value, e.g.
        ``candidates.2.lat: Input should be less than or equal to 90 (got 123)``, or an id that is
        already a node of the scenario.
    """
    if not isinstance(data, list):
        raise ScenarioError(f"candidates: expected a list of nodes, got {type(data).__name__}")
    if not data:
        raise ScenarioError("candidates: the list is empty (give at least one node)")
    ids = {n.id for n in scenario.nodes}
    for i, item in enumerate(data):
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] in ids:
            raise ScenarioError(
                f"candidates.{i}.id: {item['id']!r} is already a node of scenario {scenario.name!r} "
                "(give the candidate a new id)"
            )
    n = len(scenario.nodes)
    full = _with_nodes(scenario, [*scenario.nodes, *data], n)
    return tuple(full.nodes[n:])


def load_builtin_candidates(scenario: Scenario, name: str = "opengradient") -> tuple[Node, ...]:
    """The example candidates shipped for built-in scenario ``name``
    (``src/nodeplan/scenario/data/<name>_candidates.yaml``), validated against ``scenario``."""
    res = resources.files("nodeplan.scenario").joinpath("data", f"{name}_candidates.yaml")
    if not res.is_file():
        raise ScenarioError(
            f"--candidates: no built-in candidates for scenario {name!r}; give --candidates FILE"
        )
    return parse_candidates(yaml.safe_load(res.read_text(encoding="utf-8")), scenario)


def load_candidates(path: str | Path, scenario: Scenario) -> tuple[Node, ...]:
    """Read candidates from a YAML or JSON file (a list of nodes) and validate them against ``scenario``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"--candidates: file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"--candidates: cannot read {p}: {exc}") from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{p}: malformed JSON at line {exc.lineno} col {exc.colno}: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} col {mark.column + 1}" if mark is not None else ""
        raise ScenarioError(f"{p}: malformed YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    return parse_candidates(data, scenario)


# -- score ---------------------------------------------------------------------------------------------
def _halted_gain(before: TrackedFailure | None, after: TrackedFailure | None) -> float:
    """+1 when the baseline's worst failure stops halting consensus, -1 when it starts, else 0."""
    if before is None or after is None or before.halted is None or after.halted is None:
        return 0.0
    return float(before.halted) - float(after.halted)


def _fragile_gain(before: TrackedFailure | None, after: TrackedFailure | None) -> float:
    """+1 when the baseline's worst failure stops leaving consensus fragile, -1 when it starts; 0 unless
    consensus runs (is not halted) in that failure both before and after."""
    if before is None or after is None or before.fragile is None or after.fragile is None:
        return 0.0
    if before.halted or after.halted:
        return 0.0
    return float(before.fragile) - float(after.fragile)


def _gains(before: NetworkState, after: NetworkState, n_models: int) -> dict[str, float]:
    """Gain per score term (positive = better), before weighting."""
    m = max(n_models, 1)
    roles = ADVISE_ROLES[1:]
    t0, t1 = common_expected_ms(before, after)
    return {
        "served": delta(after.served, before.served),
        "verified": delta(after.verified, before.verified),
        "unreplicated": -(len(after.unreplicated) - len(before.unreplicated)) / m,
        "worst_served": delta(after.worst_served, before.worst_served),
        "worst_verified": delta(after.worst_verified, before.worst_verified),
        "worst_unreplicated": -(after.worst_unreplicated - before.worst_unreplicated) / m,
        "halting": -float(after.halting - before.halting),
        "worst_alive_stake": delta(after.worst_alive_stake, before.worst_alive_stake),
        "worst_domain_halted": _halted_gain(before.tracked, after.tracked),
        "worst_domain_fragile": _fragile_gain(before.tracked, after.tracked),
        "worst_domain_stake": delta(
            *(None if t is None else t.alive_stake for t in (after.tracked, before.tracked))
        ),
        "domains": sum(delta(after.domains[r], before.domains[r]) for r in roles),
        "providers": sum(
            delta(after.effective["provider"][r], before.effective["provider"][r]) for r in roles
        ),
        "asns": sum(delta(after.effective["asn"][r], before.effective["asn"][r]) for r in roles),
        "operators": sum(
            delta(after.effective["operator"][r], before.effective["operator"][r]) for r in roles
        ),
        "time": -(t1 - t0) / t0 if t0 and t1 is not None else 0.0,
        "cost": -(after.cost_usd_per_hour - before.cost_usd_per_hour),
        "unroutable": -(after.unroutable - before.unroutable),
    }


# -- entry point ---------------------------------------------------------------------------------------
def advise(
    scenario: Scenario,
    candidates: Sequence[Node | str] = (),
    *,
    remove: bool = False,
    weights: ScoreWeights | None = None,
    rtt: RttModel | None = None,
    method: EvalMethod | str = EvalMethod.INCREMENTAL,
    workers: int = 1,
) -> AdviceResult:
    """Rank ``candidates`` (nodes to add, each alone) or, with ``remove``, existing nodes (each removed alone).

    Parameters
    ----------
    candidates : nodes to add; with ``remove``, ids (or nodes) of existing nodes, default every live node
    weights : score weights (:class:`ScoreWeights`); default as documented in the module docstring
    rtt : RTT model of the serving check and the router (default: the shipped fit)
    method : ``incremental`` (reuse the compiled baseline) or ``naive`` (a full audit per candidate)
    workers : processes; >1 spreads candidates over a process pool (same result, same order)

    Raises
    ------
    ScenarioError
        A candidate id that collides with a node (adding) or names no node (removing), or a candidate
        that does not validate against the scenario (``candidates.<i>.<field>: ...``).

    Examples
    --------
    Two validators on provider ``p``; a third on ``q`` takes effective providers from 1 to
    1 / ((2/3)² + (1/3)²) = 1.8, a third on ``p`` leaves it at 1:

    >>> from nodeplan.scenario.model import Node, Scenario
    >>> def val(i, p):
    ...     return Node(id=i, lat=0, lon=0, roles={"coordination"}, stake=1.0, provider=p)
    >>> sc = Scenario(nodes=[val("a", "p"), val("b", "p")])
    >>> r = advise(sc, [val("c", "q"), val("d", "p")])
    >>> [(x.node, round(x.gains["providers"], 2)) for x in r.ranked]
    [('c', 0.8), ('d', 0.0)]
    """
    if workers < 1:
        raise ScenarioError(f"workers: must be >= 1 (got {workers})")
    w = weights or ScoreWeights()
    rtt = rtt or default_rtt_model()
    m = as_enum(EvalMethod, method, "method")
    jobs = _jobs(scenario, candidates, remove)
    audit = audit_scenario(scenario, roles=ADVISE_ROLES, rtt=rtt)
    worst = audit.failure_rows[0] if audit.failure_rows else None
    tracked = (worst.dimension, worst.value) if worst is not None and worst.harm > 0 else None
    before = state_from_audit(scenario, tracked, rtt, audit)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(
            workers, initializer=init_worker, initargs=(scenario, rtt, tracked, m)
        ) as pool:
            states = list(pool.map(worker_state, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    else:
        ev = CandidateEvaluator(scenario, rtt, tracked, m)
        states = [ev.state(j) for j in jobs]
    base_a, base_c = compile_with_codes(scenario)
    out: list[Assessment] = []
    for (_, node), after in zip(jobs, states, strict=True):
        g = _gains(before, after, len(scenario.models))
        contrib = {k: getattr(w, k) * v for k, v in g.items()}
        score = float(sum(contrib.values()))
        out.append(
            Assessment(
                node=node.id,
                price_usd_per_hour=node.price_usd_per_hour,
                after=after,
                gains=g,
                contributions=contrib,
                score=score,
                reasons=reasons(node, before, after, contrib, base_a, base_c, remove),
            )
        )
    sign = 1.0 if remove else -1.0
    out.sort(key=lambda x: (sign * round(x.score, 9), x.price_usd_per_hour, x.node))
    ranked = tuple(replace(x, rank=i + 1) for i, x in enumerate(out))
    return AdviceResult(scenario.name, remove, m, w, before, ranked)


def _jobs(scenario: Scenario, candidates: Sequence[Node | str], remove: bool) -> list[tuple[str, Node]]:
    if remove:
        wanted = [c.id if isinstance(c, Node) else str(c) for c in candidates]
        if not wanted:
            wanted = [n.id for n in scenario.nodes if n.status is NodeStatus.UP]
        known = {n.id: n for n in scenario.nodes}
        for i, name in enumerate(wanted):
            if name not in known:
                raise ScenarioError(f"candidates.{i}: unknown node id {name!r} in scenario {scenario.name!r}")
        if len(scenario.nodes) < 2:
            raise ScenarioError("remove: the scenario has a single node; removing it leaves no network")
        return [("remove", known[x]) for x in wanted]
    nodes = list(candidates)
    if not nodes:
        raise ScenarioError("candidates: give at least one node to add (or use remove)")
    ids = {n.id for n in scenario.nodes}
    for i, x in enumerate(nodes):
        if not isinstance(x, Node):
            raise ScenarioError(f"candidates.{i}: expected a Node (got {type(x).__name__})")
        if x.id in ids:
            raise ScenarioError(
                f"candidates.{i}.id: {x.id!r} is already a node of scenario {scenario.name!r} "
                "(give the candidate a new id)"
            )
    _with_nodes(scenario, [*scenario.nodes, *nodes], len(scenario.nodes))  # cross-references, one line
    return [("add", x) for x in nodes if isinstance(x, Node)]
