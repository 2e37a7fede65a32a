"""One exception tree for nodeplan.

Every error a user can cause derives from :class:`NodeplanError`; its message is one line that names the
field or constraint and the bad value, so the CLI can print it as is and exit non-zero.
"""

from __future__ import annotations

__all__ = [
    "DataImportError",
    "InfeasiblePlacementError",
    "LatencyModelError",
    "NoRouteError",
    "NodeplanError",
    "RoutingError",
    "ScenarioError",
    "SimulationError",
    "SolverError",
]


class NodeplanError(Exception):
    """Base class of every error nodeplan raises on purpose."""


class ScenarioError(NodeplanError, ValueError):
    """A scenario file or object is malformed: the message names the field and the bad value."""


class DataImportError(NodeplanError, ValueError):
    """A node list (CSV) cannot be imported: missing column, unreadable file, bad mapping."""


class LatencyModelError(NodeplanError, ValueError):
    """A latency input (RTT matrix, fit data, coefficient) is unusable."""


class NoRouteError(NodeplanError):
    """No live node can serve the request (no executor holds or can fetch the model)."""


class RoutingError(NodeplanError, ValueError):
    """A route request or a router state change is invalid (unknown model or node, bad field)."""


class InfeasiblePlacementError(NodeplanError):
    """The placement constraints cannot all hold; the message names the binding constraint."""


class SimulationError(NodeplanError, ValueError):
    """A simulation parameter is invalid (number of trials, workers, seed, quantile)."""


class SolverError(NodeplanError):
    """The MILP solver stopped with a status other than optimal/feasible."""
