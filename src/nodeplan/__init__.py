"""nodeplan: plan and check where a decentralized AI-inference network runs its work.

The public API, layer by layer (data flows one way): scenario -> model -> metrics/routing ->
placement/advise/simulation -> demo. Everything in :data:`__all__` is a record (frozen dataclass or
pydantic model), an option type, an entry-point function or an exception of the one tree; internals and
the global policy/scorer registries (``nodeplan.routing.POLICIES``, ``SCORERS``) are not exported here.
Register a policy or scorer of your own with :func:`register_policy` / :func:`register_scorer`; nodeplan
itself never changes those registries at run time (the demo passes its own policy objects to the router).

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
from nodeplan.metrics.audit import AuditResult, DimensionMeasures, Weight, audit_scenario
from nodeplan.metrics.failure import FailureRow
from nodeplan.metrics.measures import DistributionMeasures, UnknownPolicy
from nodeplan.model import (
    LinearRtt,
    MeasuredRtt,
    RttModel,
    TimeBreakdown,
    TimingParams,
    default_rtt_model,
    load_rtt_matrix,
)
from nodeplan.model.codes import compile_network
from nodeplan.model.consensus import Consensus, SurvivingDomain
from nodeplan.placement.advise import (
    AdviceResult,
    Assessment,
    EvalMethod,
    ScoreWeights,
    advise,
    load_candidates,
)
from nodeplan.placement.place import ModelPlacement, ParetoPoint, ScenarioPlacement, pareto, place
from nodeplan.placement.problem import DiversityRule, PlacementSpec, ShareOf, SolverChoice
from nodeplan.placement.result import PlacementResult, SolveStatus
from nodeplan.routing import (
    IndependenceReport,
    PairShare,
    Request,
    Route,
    RouteBatch,
    RouterState,
    RoutingPolicy,
    complete,
    get_policy,
    register_policy,
    register_scorer,
    route,
    route_batch,
    weighted_policy,
)
from nodeplan.scenario import (
    ColumnMapping,
    DemandClass,
    DemandSource,
    FailureSpec,
    ImportResult,
    Model,
    Node,
    NodeStatus,
    Policy,
    Role,
    Scenario,
    ScenarioArrays,
    VerificationMode,
    compile_scenario,
    dump_scenario,
    import_nodes,
    load_builtin,
    load_scenario,
    parse_scenario,
    resolve_scenario,
    save_scenario,
)
from nodeplan.service.errors import ServiceError
from nodeplan.simulation import MonteCarloResult, monte_carlo_failures
from nodeplan.simulation.des import Outage, PolicyStats, RequestSimResult, parse_outage, simulate_requests
from nodeplan.simulation.workload import Workload, fixed_workload, poisson_workload, trace_workload

__version__ = "0.1.0"

__all__ = [
    "AdviceResult",
    "Assessment",
    "AuditResult",
    "ColumnMapping",
    "Consensus",
    "DataImportError",
    "DemandClass",
    "DemandSource",
    "DemoFindings",
    "DimensionMeasures",
    "DistributionMeasures",
    "DiversityRule",
    "EvalMethod",
    "FailureRow",
    "FailureSpec",
    "ImportResult",
    "IndependenceReport",
    "InfeasiblePlacementError",
    "LatencyModelError",
    "LinearRtt",
    "MeasuredRtt",
    "Model",
    "ModelPlacement",
    "MonteCarloResult",
    "NoRouteError",
    "Node",
    "NodeStatus",
    "NodeplanError",
    "Outage",
    "PairShare",
    "ParetoPoint",
    "PlacementResult",
    "PlacementSpec",
    "Policy",
    "PolicyStats",
    "Request",
    "RequestSimResult",
    "Role",
    "Route",
    "RouteBatch",
    "RouterState",
    "RoutingError",
    "RoutingPolicy",
    "RttModel",
    "Scenario",
    "ScenarioArrays",
    "ScenarioError",
    "ScenarioPlacement",
    "ScoreWeights",
    "ServiceError",
    "ShareOf",
    "SimulationError",
    "SolveStatus",
    "SolverChoice",
    "SolverError",
    "SurvivingDomain",
    "TimeBreakdown",
    "TimingParams",
    "UnknownPolicy",
    "VerificationMode",
    "Weight",
    "Workload",
    "advise",
    "audit_scenario",
    "compile_network",
    "compile_scenario",
    "complete",
    "default_rtt_model",
    "demo_findings",
    "dump_scenario",
    "fixed_workload",
    "get_policy",
    "import_nodes",
    "load_builtin",
    "load_candidates",
    "load_rtt_matrix",
    "load_scenario",
    "monte_carlo_failures",
    "pareto",
    "parse_outage",
    "parse_scenario",
    "place",
    "poisson_workload",
    "register_policy",
    "register_scorer",
    "resolve_scenario",
    "route",
    "route_batch",
    "save_scenario",
    "simulate_requests",
    "trace_workload",
    "weighted_policy",
]
