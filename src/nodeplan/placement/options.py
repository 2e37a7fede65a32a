"""Checks of placement and solver options: enums from strings, numbers in range, solver limits.

Every check raises a one-line error that names the field and the bad value, e.g.
``solver: unknown value 'mlip' (choose: milp, heuristic, auto)`` or ``rel_gap: must be in [0, 1) (got -1)``.
The records of :mod:`nodeplan.placement.problem` call them in ``__post_init__``; the generic solvers
(:func:`~nodeplan.placement.pmedian.solve_pmedian`, ...) call :func:`check_limits` through the HiGHS
wrapper.
"""

from __future__ import annotations

import math
import numbers
from enum import Enum
from typing import TypeVar

from nodeplan.exceptions import NodeplanError, ScenarioError

__all__ = ["as_enum", "check_int", "check_limits", "check_real"]

E = TypeVar("E", bound=Enum)


def as_enum(cls: type[E], value: object, field: str, error: type[NodeplanError] = ScenarioError) -> E:
    """``value`` as a member of ``cls``: a member passes through, a string is looked up by value.

    >>> from nodeplan.placement.problem import SolverChoice
    >>> as_enum(SolverChoice, "milp", "solver")
    <SolverChoice.MILP: 'milp'>
    >>> as_enum(SolverChoice, "mlip", "solver")
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.ScenarioError: solver: unknown value 'mlip' (choose: milp, heuristic, auto)
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        for member in cls:
            if member.value == value:
                return member
    choices = ", ".join(str(m.value) for m in cls)
    raise error(f"{field}: unknown value {value!r} (choose: {choices})")


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_real(
    value: object,
    field: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    error: type[NodeplanError] = ScenarioError,
) -> float:
    """``value`` as a finite float within the interval, else a one-line error naming ``field``.

    ``low``/``high`` of ``None`` leave that side unbounded; ``*_open`` excludes the end point.

    >>> check_real(0.02, "rel_gap", low=0.0, high=1.0, high_open=True)
    0.02
    >>> check_real(-1, "rel_gap", low=0.0, high=1.0, high_open=True)
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.ScenarioError: rel_gap: must be in [0, 1) (got -1)
    """
    if low is not None and high is not None:
        want = f"must be in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        want = f"must be {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        want = f"must be {'<' if high_open else '<='} {high:g}"
    else:
        want = "must be a finite number"
    if not _is_real(value):
        raise error(f"{field}: {want} (got {value!r})")
    x = float(value)  # type: ignore[arg-type]
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        shown = f"{x:g}" if math.isfinite(x) else str(x)
        raise error(f"{field}: {want}{'' if math.isfinite(x) else ' and finite'} (got {shown})")
    return x


def check_int(
    value: object, field: str, *, low: int | None = None, error: type[NodeplanError] = ScenarioError
) -> int:
    """``value`` as an int >= ``low`` (an integral float such as ``3.0`` is accepted; ``True`` is not).

    >>> check_int(3, "replicas", low=1)
    3
    >>> check_int(2.5, "replicas", low=1)
    Traceback (most recent call last):
    ...
    nodeplan.exceptions.ScenarioError: replicas: must be an integer >= 1 (got 2.5)
    """
    want = "must be an integer" + (f" >= {low}" if low is not None else "")
    if isinstance(value, bool) or not (
        isinstance(value, numbers.Integral) or (_is_real(value) and float(value).is_integer())  # type: ignore[arg-type]
    ):
        raise error(f"{field}: {want} (got {value!r})")
    n = int(value)  # type: ignore[call-overload]
    if low is not None and n < low:
        raise error(f"{field}: {want} (got {n})")
    return n


def check_limits(
    time_limit_s: object,
    rel_gap: object,
    node_limit: object = None,
    *,
    error: type[NodeplanError] = ScenarioError,
) -> tuple[float, float, int | None]:
    """The three limits of a MILP solve, checked: ``time_limit_s`` > 0 and finite (s), ``rel_gap`` in
    [0, 1), ``node_limit`` ``None`` (no limit) or an integer >= 1 (branch-and-bound nodes)."""
    return (
        check_real(time_limit_s, "time_limit_s", low=0.0, low_open=True, error=error),
        check_real(rel_gap, "rel_gap", low=0.0, high=1.0, high_open=True, error=error),
        None if node_limit is None else check_int(node_limit, "node_limit", low=1, error=error),
    )
