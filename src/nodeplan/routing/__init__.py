"""Routing: choose executor, verifiers and model source per request (see ``docs/routing.md``).

>>> sorted(POLICIES)[:3]
['cheapest', 'latency-only', 'least-loaded']
"""

from nodeplan.model.independence import IndependenceReport, PairShare, independence_report, select_independent
from nodeplan.routing.batch import RouteBatch, route_batch
from nodeplan.routing.policies import (
    BASELINES,
    POLICIES,
    RoutingPolicy,
    get_policy,
    register_policy,
    weighted_policy,
)
from nodeplan.routing.router import complete, route
from nodeplan.routing.scorers import SCORERS, ScoreContext, VerifierContext, register_scorer
from nodeplan.routing.state import RouterState
from nodeplan.routing.types import Request, Route

__all__ = [
    "BASELINES",
    "POLICIES",
    "SCORERS",
    "IndependenceReport",
    "PairShare",
    "Request",
    "Route",
    "RouteBatch",
    "RouterState",
    "RoutingPolicy",
    "ScoreContext",
    "VerifierContext",
    "complete",
    "get_policy",
    "independence_report",
    "register_policy",
    "register_scorer",
    "route",
    "route_batch",
    "select_independent",
    "weighted_policy",
]
