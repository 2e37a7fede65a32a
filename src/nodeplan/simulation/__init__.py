"""Simulation: Monte Carlo over correlated failures of the dependency graph (``nodeplan simulate``).

>>> from nodeplan.scenario import load_builtin
>>> r = monte_carlo_failures(load_builtin("opengradient"), 2048, seed=1)
>>> r.trials, 0.0 <= r.served.mean <= 1.0
(2048, True)
"""

from nodeplan.simulation.montecarlo import MAX_TRIALS, TrialEvaluator, monte_carlo_failures, run_trials
from nodeplan.simulation.result import (
    SCHEMA_VERSION,
    DomainAttribution,
    MonteCarloResult,
    ShareStats,
    TrialOutcomes,
    summarise,
)
from nodeplan.simulation.sampling import CHUNK_TRIALS, FailureDomains, failure_domains, seed_sequence

__all__ = [
    "CHUNK_TRIALS",
    "MAX_TRIALS",
    "SCHEMA_VERSION",
    "DomainAttribution",
    "FailureDomains",
    "MonteCarloResult",
    "ShareStats",
    "TrialEvaluator",
    "TrialOutcomes",
    "failure_domains",
    "monte_carlo_failures",
    "run_trials",
    "seed_sequence",
    "summarise",
]
