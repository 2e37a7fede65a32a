"""Rich rendering of a placement (:func:`~nodeplan.placement.place.place`): the solver status line, one node
table per model, today vs placed, what binds; and the latency/price trade-off of ``--pareto``."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nodeplan.placement.place import ParetoPoint, ScenarioPlacement
from nodeplan.placement.result import PlacementResult, SolveStatus

__all__ = ["print_pareto", "print_placement", "status_line"]

#: What each status means for the printed objective, in one line (a stop on a limit shows the best
#: placement found).
_STATUS_MEANING = {
    SolveStatus.OPTIMAL: "proven optimal (gap <= 1e-9)",
    SolveStatus.GAP_LIMIT: "stopped at --rel-gap, not proven optimal",
    SolveStatus.TIME_LIMIT: "stopped at --time-limit, not proven optimal",
    SolveStatus.ITERATION_LIMIT: "stopped at --node-limit, not proven optimal",
    SolveStatus.INTERRUPTED: "interrupted (Ctrl-C), not proven optimal",
    SolveStatus.INFEASIBLE: "no placement meets the constraints",
    SolveStatus.HEURISTIC: "greedy + swap: no lower bound, so no gap; --solver milp proves optimality",
}


def _fmt_ms(v: float | None) -> str:
    """``n/a`` when no demand is served."""
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _ms_unit(v: float | None) -> str:
    return "n/a" if v is None else f"{_fmt_ms(v)} ms"


def _queue_ms(v: float | None) -> str:
    """An expected time that may be unbounded (a saturated queue)."""
    if v is not None and not math.isfinite(v):
        return "unbounded"
    return _ms_unit(v)


def _fmt_gap(gap: float | None) -> str:
    """Relative gap as a percentage with 3 significant digits; ``n/a`` without a bound."""
    return "n/a" if gap is None else f"{100 * gap:.3g}%"


def status_line(r: PlacementResult) -> tuple[str, str]:
    """Two lines on how the solve stopped: ``status S, T s; bound B, gap G`` and what S means for the
    objective (with a bound and no proof, the interval that holds the optimum).

    >>> import numpy as np
    >>> r = PlacementResult(777.74, 768.38, 0.012034, SolveStatus.GAP_LIMIT, (0,), np.ones((1, 1)), solve_s=1.0)
    >>> for line in status_line(r):
    ...     print(line)
    status gap_limit, 1.00 s; bound 768.38, gap 1.2%
    stopped at --rel-gap, not proven optimal; the optimum lies in [768.38, 777.74]
    """
    bound = "n/a" if r.bound is None else f"{r.bound:,.2f}"
    head = f"status {r.status.value}, {r.solve_s:.2f} s; bound {bound}, gap {_fmt_gap(r.gap)}"
    meaning = _STATUS_MEANING[r.status]
    if r.bound is not None and r.status is not SolveStatus.OPTIMAL:
        meaning += f"; the optimum lies in [{r.bound:,.2f}, {r.objective:,.2f}]"
    return head, meaning


def print_placement(sp: ScenarioPlacement, console: Console) -> None:
    """Rich tables: chosen nodes per model, the before/after comparison and what binds."""
    r = sp.result
    console.print(
        f"[bold]nodeplan place[/]: scenario [bold]{escape(sp.scenario)}[/], {len(sp.models)} model(s)"
    )
    head, meaning = status_line(r)
    console.print(f"solver {sp.solver}, {escape(head)}")
    console.print(f"  {escape(meaning)}")
    console.print(
        f"objective {r.objective:,.2f} = mean time {sp.latency_ms:,.1f} ms"
        f" + {sp.price_weight_ms_per_usd_hour:g} ms/(USD/h) x {sp.usd_per_hour:,.2f} USD/h"
    )
    console.print(
        f"router's expected time on the plan (queue at its load): {_queue_ms(sp.expected_ms)} "
        f"(today {_queue_ms(sp.before_expected_ms)})"
    )
    if sp.expected_ms is not None and not math.isfinite(sp.expected_ms):
        console.print(
            "  unbounded: a node at 100% of its slots never drains its queue; use --max-utilisation < 1"
        )
    elif sp.before_expected_ms is not None and not math.isfinite(sp.before_expected_ms):
        console.print(
            "  today unbounded: today's warm replicas would run some node at 100% of its slots or more"
        )
    for m in sp.models:
        t = Table(
            title=f"{escape(m.model)}: {m.replicas} warm replica(s), mean {_ms_unit(m.after.mean_ms)} "
            f"(today {_ms_unit(m.before.mean_ms)})",
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        for col, just in (
            ("node", "left"),
            ("provider", "left"),
            ("country", "left"),
            ("demand", "right"),
            ("latency ms", "right"),
            ("USD/h", "right"),
            ("today", "center"),
        ):
            t.add_column(col, justify=just)  # type: ignore[arg-type]
        order = sorted(range(len(m.after.nodes)), key=lambda i: -m.demand_share[i])
        for i in order:
            t.add_row(
                escape(m.after.nodes[i]),
                m.provider[i],
                m.country[i],
                f"{100 * m.demand_share[i]:.1f}%",
                f"{m.contribution_ms[i]:.1f}",
                f"{m.usd_per_hour[i]:.2f}",
                "warm" if m.after.nodes[i] in m.before.nodes else "new",
            )
        console.print(t)
    c = Table(title="today vs placed", box=box.SIMPLE_HEAD, title_justify="left")
    c.add_column("model", no_wrap=True)
    c.add_column("")
    for col in ("repl", "mean ms", "SLO miss", "prov", "top prov", "ctry", "USD/h"):
        c.add_column(col, justify="right")
    for m in sp.models:
        for label, side in (("today", m.before), ("placed", m.after)):
            c.add_row(
                m.model if label == "today" else "",
                label,
                str(len(side.nodes)),
                _fmt_ms(side.mean_ms),
                f"{100 * side.slo_miss_share:.0f}%",
                str(side.providers),
                f"{100 * side.max_provider_share:.0f}%",
                str(side.countries),
                f"{side.usd_per_hour:.2f}",
                end_section=label == "placed",
            )
    for label, lat, usd in (
        ("today", sp.before_latency_ms, sp.before_usd_per_hour),
        ("placed", sp.latency_ms, sp.usd_per_hour),
    ):
        c.add_row(
            "all placed demand" if label == "today" else "",
            label,
            "",
            _fmt_ms(lat),
            "",
            "",
            "",
            "",
            f"{usd:.2f}",
        )
    console.print(c)
    console.print(
        "repl = warm replicas, prov = distinct providers, top prov = largest provider's share of the replicas, "
        "ctry = distinct countries, USD/h = price of the nodes holding the model"
    )
    binding = list(r.binding)
    shown = ", ".join(binding[:12]) + (f", +{len(binding) - 12} more" if len(binding) > 12 else "")
    console.print(f"binding constraints: {escape(shown) or 'none (replica counts only)'}")
    for note in sp.notes:
        console.print(f"note: {escape(note)}")


def print_pareto(points: tuple[ParetoPoint, ...], console: Console) -> None:
    """One row per price weight: mean time and price of the placement it gives."""
    t = Table(
        title="latency / price trade-off (objective = mean ms + weight x USD/h)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for col in ("weight ms per USD/h", "mean time ms", "USD/h", "status", "gap"):
        t.add_column(col, justify="right")
    for p in points:
        t.add_row(
            f"{p.price_weight_ms_per_usd_hour:g}",
            f"{p.latency_ms:,.1f}",
            f"{p.usd_per_hour:,.2f}",
            p.status.value,
            _fmt_gap(p.gap),
        )
    console.print(t)
