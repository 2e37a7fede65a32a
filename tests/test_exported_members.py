"""The public API: every package's ``__all__`` is sorted and names only what exists; the top level covers
each layer and everything README.md and docs/ use, and exports no mutable registry; nodeplan never
changes its global registries at run time."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import nodeplan
import nodeplan.exceptions

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(nodeplan.__path__, "nodeplan.") if not m.name.endswith("__main__")
)

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: The global registries (name -> object dicts). Reachable from their subpackage, never from the top level.
REGISTRIES = {
    "POLICIES": "nodeplan.routing",
    "SCORERS": "nodeplan.routing",
    "PRESETS": "nodeplan.scenario",
}


def _isort_key(name: str) -> tuple[int, str]:
    """ruff RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", ["nodeplan", *MODULES])
def test_all_is_sorted_and_resolves(name: str) -> None:
    mod = importlib.import_module(name)
    exported = getattr(mod, "__all__", None)
    if name.startswith("nodeplan.commands") and exported is None:
        return
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    for attr in exported:
        assert hasattr(mod, attr), f"{name}.__all__ names {attr!r}, which does not exist"


def test_top_level_reexports_each_subpackage_api() -> None:
    # The subpackage entry points a user reaches for first are importable from the top level.
    for sub, names in {
        "nodeplan.scenario": ["Scenario", "load_builtin", "import_nodes"],
        "nodeplan.metrics": ["audit_scenario"],
        "nodeplan.routing": ["route", "Request", "RouterState"],
        "nodeplan.model": ["default_rtt_model"],
    }.items():
        mod = importlib.import_module(sub)
        for n in names:
            assert getattr(nodeplan, n) is getattr(mod, n)


def test_top_level_exports_the_entry_points_and_their_option_types() -> None:
    # Issue 8, point 9: the records, the entry points and their option types, and the exception tree.
    wanted = {
        # option types
        "PlacementSpec": "nodeplan.placement.problem",
        "DiversityRule": "nodeplan.placement.problem",
        "SolverChoice": "nodeplan.placement.problem",
        "RoutingPolicy": "nodeplan.routing.policies",
        "DemandClass": "nodeplan.scenario.model",
        "FailureSpec": "nodeplan.scenario.model",
        "Outage": "nodeplan.simulation.des",
        "Workload": "nodeplan.simulation.workload",
        # entry points
        "audit_scenario": "nodeplan.metrics.audit",
        "route": "nodeplan.routing.router",
        "route_batch": "nodeplan.routing.batch",
        "place": "nodeplan.placement.place",
        "advise": "nodeplan.placement.advise",
        "monte_carlo_failures": "nodeplan.simulation.montecarlo",
        "simulate_requests": "nodeplan.simulation.des",
        "poisson_workload": "nodeplan.simulation.workload",
        "load_scenario": "nodeplan.scenario.io",
        "save_scenario": "nodeplan.scenario.io",
        "load_builtin": "nodeplan.scenario.io",
        "import_nodes": "nodeplan.scenario.importers",
        # results
        "AuditResult": "nodeplan.metrics.audit",
        "Route": "nodeplan.routing.types",
        "ScenarioPlacement": "nodeplan.placement.place",
        "AdviceResult": "nodeplan.placement.advise",
        "MonteCarloResult": "nodeplan.simulation.result",
        "RequestSimResult": "nodeplan.simulation.des",
    }
    for name, module in wanted.items():
        assert name in nodeplan.__all__, name
        assert getattr(nodeplan, name) is getattr(importlib.import_module(module), name), name
    for exc in [*nodeplan.exceptions.__all__, "ServiceError"]:
        assert exc in nodeplan.__all__, exc
        assert issubclass(getattr(nodeplan, exc), nodeplan.NodeplanError)


def test_top_level_exports_no_registry_and_no_internal() -> None:
    for name in nodeplan.__all__:
        obj = getattr(nodeplan, name)
        assert not name.startswith("_"), name
        assert not isinstance(obj, dict | list | set), f"nodeplan.{name} is a mutable {type(obj).__name__}"
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("nodeplan."), f"nodeplan.{name} comes from {obj.__module__}"
    for name, home in REGISTRIES.items():
        assert name not in nodeplan.__all__, name
        assert not hasattr(nodeplan, name), name
        assert isinstance(getattr(importlib.import_module(home), name), dict)


def test_public_functions_are_documented() -> None:
    for name in nodeplan.__all__:
        obj = getattr(nodeplan, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert (obj.__doc__ or "").strip(), f"nodeplan.{name} has no docstring"


# -- what the docs use -------------------------------------------------------------------------------------
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
#: ``nodeplan.a.b`` in prose or code, not part of a path or a file name (``./nodeplan.db``).
_DOTTED = re.compile(r"(?<![\w./-])nodeplan(?:\.[A-Za-z_]\w*)+")
_FROM_TOP = re.compile(r"\bfrom nodeplan import ([\w, ]+)")


def _python_blocks(text: str) -> list[str]:
    """The ```python blocks of a markdown text; doctest blocks (``>>>``) reduced to their source."""
    out = []
    for lang, body in _FENCE.findall(text):
        if lang not in ("python", "py", "pycon"):
            continue
        if any(line.startswith(">>>") for line in body.splitlines()):
            body = "\n".join(line[4:] for line in body.splitlines() if line.startswith((">>> ", "... ")))
        out.append(body)
    return out


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    return None


def _code_uses(source: str) -> tuple[set[tuple[str, str]], set[str]]:
    """``(module, name)`` of each ``from nodeplan... import name`` and each dotted ``nodeplan.x.y`` use."""
    tree = ast.parse(source)
    imports: set[tuple[str, str]] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nodeplan":
            imports.update((node.module or "", a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "nodeplan":
                    # `import nodeplan.x` binds nodeplan; `import nodeplan.x as y` binds y to nodeplan.x
                    aliases[a.asname or "nodeplan"] = a.name if a.asname else "nodeplan"
    dotted = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            path = _dotted(node, aliases)
            if path is not None:
                dotted.add(path)
    return imports, dotted


def _resolve(path: str) -> tuple[ModuleType, list[str]]:
    """The longest importable module prefix of ``path`` and the attribute names after it."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            return importlib.import_module(".".join(parts[:cut])), parts[cut:]
        except ModuleNotFoundError:
            continue
    raise AssertionError(f"{path}: no such module")


def _check_public(module: ModuleType, name: str, where: str) -> object:
    """``module.name`` exists and is public: in the module's ``__all__``, or a submodule."""
    assert hasattr(module, name), f"{where}: {module.__name__}.{name} does not exist"
    obj = getattr(module, name)
    if isinstance(obj, ModuleType):
        return obj
    exported = getattr(module, "__all__", ())
    assert name in exported, f"{where}: {module.__name__}.{name} is not in its __all__"
    return obj


def _check_dotted(path: str, where: str) -> None:
    module, rest = _resolve(path)
    if not rest or rest[0].startswith("__"):  # a module, or a module's __all__, __version__, ...
        return
    obj = _check_public(module, rest[0], f"{where}: {path}")
    for attr in rest[1:]:
        assert hasattr(obj, attr), f"{where}: {path} does not resolve ({attr!r})"
        obj = getattr(obj, attr)


def _doc_id(p: Path) -> str:
    return str(p.relative_to(REPO))


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_docs_python_examples_use_the_public_api(doc: Path) -> None:
    """Each name a Python example takes from nodeplan is public. The API (``nodeplan.__all__``) is
    imported from the top level; a name imported from a subpackage or module is a building block that is
    public there and not part of the top-level API (one import path per name in the docs)."""
    top = set(nodeplan.__all__)
    for i, block in enumerate(_python_blocks(doc.read_text(encoding="utf-8"))):
        where = f"{_doc_id(doc)} python block {i + 1}"
        imports, dotted = _code_uses(block)
        for module, name in imports:
            if module == "nodeplan":
                assert name in top, (
                    f"{where}: `from nodeplan import {name}`: {name} is not in nodeplan.__all__"
                )
                continue
            _check_public(importlib.import_module(module), name, where)
            assert name not in top, (
                f"{where}: `from {module} import {name}`: {name} is top-level API, import it from nodeplan"
            )
        for path in dotted:
            _check_dotted(path, where)


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_docs_mentions_of_nodeplan_names_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    where = _doc_id(doc)
    for names in _FROM_TOP.findall(text):
        for name in (n.strip() for n in names.split(",") if n.strip()):
            assert name in nodeplan.__all__, (
                f"{where}: `from nodeplan import {name}`: not in nodeplan.__all__"
            )
    for path in set(_DOTTED.findall(text)):
        _check_dotted(path.rstrip("."), where)


def test_the_docs_checks_see_the_examples() -> None:
    # Not vacuous: the README's example and the docs' imports are found and parsed.
    readme = _python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    uses = set().union(*(_code_uses(b)[1] for b in readme))
    assert {"nodeplan.load_builtin", "nodeplan.route", "nodeplan.Request"} <= uses
    routing = (REPO / "docs" / "routing.md").read_text(encoding="utf-8")
    assert any(("nodeplan", "register_policy") in _code_uses(b)[0] for b in _python_blocks(routing))
    assert "nodeplan.routing.route" in _DOTTED.findall(routing)
    assert _python_blocks("```pycon\n>>> import nodeplan\n>>> nodeplan.route\n<function>\n```\n") == [
        "import nodeplan\nnodeplan.route"
    ]


# -- registries --------------------------------------------------------------------------------------------
_REGISTRY_PROBE = """
import json

class Frozen(dict):
    def _refuse(self, *args, **kwargs):
        raise RuntimeError("a global registry was changed at run time")
    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _refuse

import nodeplan
from nodeplan.routing import policies, scorers

def snapshot():
    return {"policies": {k: id(v) for k, v in policies.POLICIES.items()},
            "scorers": {k: id(v) for k, v in scorers.SCORERS.items()}}

after_import = snapshot()
policies.POLICIES = Frozen(policies.POLICIES)
scorers.SCORERS = Frozen(scorers.SCORERS)
nodeplan.demo_findings(nodeplan.load_builtin("opengradient"))
from nodeplan.cli import main
code = main(["demo"])
print(json.dumps({"code": code, "after_import": after_import, "after_demo": snapshot()}))
"""


def test_import_and_demo_leave_the_registries_unchanged() -> None:
    # A fresh interpreter: importing nodeplan registers nothing beyond the built-ins, and the demo (its
    # function and its command) runs with registries that raise on any change, and leaves them as they were.
    proc = subprocess.run(
        [sys.executable, "-c", _REGISTRY_PROBE], capture_output=True, text=True, check=False, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["code"] == 0
    from nodeplan.routing import BASELINES

    assert list(got["after_import"]["policies"]) == ["nodeplan", *BASELINES]
    # the scorer table of nodeplan.routing.scorers' docstring
    assert sorted(got["after_import"]["scorers"]) == sorted(
        ["latency", "time", "cold_start", "queue", "service", "load", "price", "reliability", "independence"]
    )
    assert got["after_demo"] == got["after_import"]
