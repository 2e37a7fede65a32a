"""Scenario layer: the data model, its numpy view, file I/O, node-list importers and provider mapping."""

from nodeplan.scenario.arrays import ScenarioArrays, compile_scenario
from nodeplan.scenario.importers import PRESETS, ColumnMapping, ImportResult, import_nodes
from nodeplan.scenario.io import (
    BUILTIN_SCENARIOS,
    dump_scenario,
    load_builtin,
    load_scenario,
    parse_scenario,
    resolve_scenario,
    save_scenario,
)
from nodeplan.scenario.model import (
    DEPENDENCY_DIMENSIONS,
    DemandClass,
    DemandSource,
    FailureSpec,
    Model,
    Node,
    NodeStatus,
    Policy,
    Role,
    Scenario,
    VerificationMode,
)
from nodeplan.scenario.providers import derive_provider

__all__ = [
    "BUILTIN_SCENARIOS",
    "DEPENDENCY_DIMENSIONS",
    "PRESETS",
    "ColumnMapping",
    "DemandClass",
    "DemandSource",
    "FailureSpec",
    "ImportResult",
    "Model",
    "Node",
    "NodeStatus",
    "Policy",
    "Role",
    "Scenario",
    "ScenarioArrays",
    "VerificationMode",
    "compile_scenario",
    "derive_provider",
    "dump_scenario",
    "import_nodes",
    "load_builtin",
    "load_scenario",
    "parse_scenario",
    "resolve_scenario",
    "save_scenario",
]
