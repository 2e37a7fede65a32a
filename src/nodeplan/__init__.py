"""nodeplan: plan and check where a decentralized AI-inference network runs its work.

The public API, layer by layer (data flows one way): scenario -> latency/metrics -> routing -> simulation -> demo.

>>> import nodeplan
>>> sc = nodeplan.load_builtin("opengradient")
>>> len(sc.nodes) > 40
True
"""

from nodeplan.demo import DemoFindings, demo_findings
from nodeplan.exceptions import (
    DataImportError,
    InfeasiblePlacementError,
    LatencyModelError,
    NodeplanError,
    NoRouteError,
    RoutingError,
    ScenarioError,
    SimulationError,
    SolverError,
)
from nodeplan.metrics import AuditResult, Weight, audit_scenario
from nodeplan.model import RttModel, TimeBreakdown, default_rtt_model, load_rtt_matrix
from nodeplan.placement import AdviceResult, PlacementResult, ScenarioPlacement, advise, place
from nodeplan.routing import (
    POLICIES,
    Request,
    Route,
    RouterState,
    register_policy,
    register_scorer,
    route,
    route_batch,
    weighted_policy,
)
from nodeplan.scenario import (
    Model,
    Node,
    Role,
    Scenario,
    VerificationMode,
    compile_scenario,
    import_nodes,
    load_builtin,
    load_scenario,
    parse_scenario,
    resolve_scenario,
    save_scenario,
)
from nodeplan.simulation import MonteCarloResult, monte_carlo_failures

__version__ = "0.1.0"

__all__ = [
    "POLICIES",
    "AdviceResult",
    "AuditResult",
    "DataImportError",
    "DemoFindings",
    "InfeasiblePlacementError",
    "LatencyModelError",
    "Model",
    "MonteCarloResult",
    "NoRouteError",
    "Node",
    "NodeplanError",
    "PlacementResult",
    "Request",
    "Role",
    "Route",
    "RouterState",
    "RoutingError",
    "RttModel",
    "Scenario",
    "ScenarioError",
    "ScenarioPlacement",
    "SimulationError",
    "SolverError",
    "TimeBreakdown",
    "VerificationMode",
    "Weight",
    "advise",
    "audit_scenario",
    "compile_scenario",
    "default_rtt_model",
    "demo_findings",
    "import_nodes",
    "load_builtin",
    "load_rtt_matrix",
    "load_scenario",
    "monte_carlo_failures",
    "parse_scenario",
    "place",
    "register_policy",
    "register_scorer",
    "resolve_scenario",
    "route",
    "route_batch",
    "save_scenario",
    "weighted_policy",
]
