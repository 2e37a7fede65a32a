"""Load and save scenarios (YAML or JSON), and turn validation failures into one-line errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nodeplan.exceptions import ScenarioError
from nodeplan.scenario.model import Scenario

__all__ = [
    "BUILTIN_SCENARIOS",
    "dump_scenario",
    "load_builtin",
    "load_scenario",
    "parse_scenario",
    "resolve_scenario",
    "save_scenario",
]

# libyaml's C loader/dumper is ~20x faster on large imported node lists; fall back to pure Python.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: Scenarios shipped inside the package (``src/nodeplan/scenario/data/<name>.yaml``).
BUILTIN_SCENARIOS: tuple[str, ...] = ("opengradient",)


def _loc(err: Mapping[str, Any]) -> str:
    ctx_err = (err.get("ctx") or {}).get("error")
    own = getattr(ctx_err, "loc", None)
    if own:
        return str(own)
    return ".".join(str(p) for p in err["loc"]) or "scenario"


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_line(exc: ValidationError) -> str:
    """The first error of a pydantic validation failure as ``field: message (got value)``."""
    errors = exc.errors()
    # An error on a container caused by a failed child (e.g. "too short" after the bad item was
    # dropped) adds nothing: keep errors whose location is not a prefix of another's.
    locs = [tuple(e["loc"]) for e in errors]
    errors = [
        e for e, lo in zip(errors, locs, strict=True) if not any(o[: len(lo)] == lo and o != lo for o in locs)
    ]
    err = errors[0]
    msg = err["msg"].removeprefix("Value error, ")
    loc = _loc(err)
    got = err.get("input")
    has_own_loc = getattr((err.get("ctx") or {}).get("error"), "loc", None) is not None
    if err["type"] == "missing":
        text = f"{loc}: missing required field"
    elif has_own_loc:
        text = f"{loc}: {msg}"
    else:
        text = f"{loc}: {msg} (got {_short_repr(got)})"
    more = len(errors) - 1
    if more:
        text += f" [+{more} more error{'s' if more > 1 else ''}]"
    return text.replace("\n", " ")


def parse_scenario(data: Any) -> Scenario:
    """Validate a plain mapping (as read from YAML/JSON) into a :class:`Scenario`.

    Raises
    ------
    ScenarioError
        One line naming the field path and the bad value, e.g.
        ``nodes.3.lat: Input should be less than or equal to 90 (got 123.0)``.
    """
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_one_line(exc)) from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"scenario: cannot read {path}: {exc}") from None


def _parse_text(text: str, fmt: str, origin: str) -> Any:
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                f"{origin}: malformed JSON at line {exc.lineno} col {exc.colno}: {exc.msg}"
            ) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} col {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(f"{origin}: malformed YAML{where}: {problem}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a ``.yaml``/``.yml`` or ``.json`` file."""
    p = Path(path)
    fmt = "json" if p.suffix.lower() == ".json" else "yaml"
    return parse_scenario(_parse_text(_read_text(p), fmt, str(p)))


def load_builtin(name: str = "opengradient") -> Scenario:
    """Load a scenario shipped with the package (see :data:`BUILTIN_SCENARIOS`)."""
    if name not in BUILTIN_SCENARIOS:
        raise ScenarioError(
            f"scenario: unknown built-in scenario {name!r} (known: {', '.join(BUILTIN_SCENARIOS)})"
        )
    text = resources.files("nodeplan.scenario").joinpath("data", f"{name}.yaml").read_text(encoding="utf-8")
    return parse_scenario(_parse_text(text, "yaml", f"built-in:{name}"))


def resolve_scenario(spec: str | Path | None) -> Scenario:
    """A built-in name, a file path, or ``None`` (the default ``opengradient`` scenario)."""
    if spec is None:
        return load_builtin()
    if isinstance(spec, str) and not Path(spec).exists():
        if spec in BUILTIN_SCENARIOS:
            return load_builtin(spec)
        if Path(spec).suffix.lower() not in (".yaml", ".yml", ".json"):
            raise ScenarioError(
                f"scenario: {spec!r} is neither a file nor a built-in scenario (built-ins: {', '.join(BUILTIN_SCENARIOS)})"
            )
    return load_scenario(spec)


def dump_scenario(scenario: Scenario) -> dict[str, Any]:
    """A plain, JSON-able mapping that :func:`parse_scenario` turns back into an equal scenario."""
    return scenario.model_dump(mode="json", exclude_defaults=True)


def save_scenario(scenario: Scenario, path: str | Path) -> None:
    """Write ``scenario`` as YAML or JSON (by suffix); loading it back gives an equal scenario."""
    p = Path(path)
    data = dump_scenario(scenario)
    if p.suffix.lower() == ".json":
        text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    else:
        text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(p)
