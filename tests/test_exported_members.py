"""Every package's ``__all__`` is sorted, names only what exists, and the top level covers each layer."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import nodeplan

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(nodeplan.__path__, "nodeplan.") if not m.name.endswith("__main__")
)


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


def test_public_functions_are_documented() -> None:
    for name in nodeplan.__all__:
        obj = getattr(nodeplan, name)
        if callable(obj) and not isinstance(obj, type(nodeplan.POLICIES)):
            assert (obj.__doc__ or "").strip(), f"nodeplan.{name} has no docstring"
