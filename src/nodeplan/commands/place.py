"""``nodeplan place``: which nodes should keep each model warm, under SLO, capacity and diversity rules.

Options are parsed and checked here; the tables are drawn by :mod:`nodeplan.report.placement`.
"""

from __future__ import annotations

import difflib
import json
from typing import Annotated

import typer
from rich.console import Console

from nodeplan.exceptions import ScenarioError
from nodeplan.placement.options import as_enum
from nodeplan.placement.place import pareto, place
from nodeplan.placement.problem import DiversityRule, PlacementSpec, ShareOf, SolverChoice
from nodeplan.report.placement import print_pareto, print_placement
from nodeplan.scenario.io import resolve_scenario
from nodeplan.scenario.model import Scenario

__all__ = ["parse_rules", "place_cmd"]

#: Price weights (ms of mean time per USD/hour) of ``--pareto``: 0 = latency only; on the built-in
#: scenario the price of the chosen nodes stops falling past ~10.
PARETO_WEIGHTS: tuple[float, ...] = (0.0, 0.3, 1.0, 3.0, 10.0)

#: The flag that sets each :class:`PlacementSpec` field, so that a spec error names what the user typed.
_FLAG_OF_FIELD = {
    "replicas": "--replicas",
    "budget_usd_per_hour": "--budget",
    "price_weight_ms_per_usd_hour": "--price-weight",
    "max_utilisation": "--max-utilisation",
    "time_limit_s": "--time-limit",
    "rel_gap": "--rel-gap",
    "node_limit": "--node-limit",
    "seed": "--seed",
}


def _dim_value(text: str, flag: str, dims: tuple[str, ...]) -> tuple[str, str]:
    if "=" not in text:
        raise ScenarioError(f"{flag}: expected DIM=VALUE, e.g. asn=0.5 (got {text!r})")
    dim, val = (s.strip() for s in text.split("=", 1))
    if dim not in dims:
        raise ScenarioError(f"{flag}: unknown dimension {dim!r} (known: {', '.join(dims)})")
    return dim, val


def parse_rules(
    scenario: Scenario,
    *,
    min_providers: int | None,
    max_provider_share: float | None,
    share_of: ShareOf,
    max_share: list[str],
    min_distinct: list[str],
) -> tuple[DiversityRule, ...]:
    """Diversity rules from the CLI flags, each bad value named with its flag.

    >>> from nodeplan.scenario.io import load_builtin
    >>> parse_rules(load_builtin(), min_providers=3, max_provider_share=None, share_of=ShareOf.REPLICAS,
    ...             max_share=["country=0.5"], min_distinct=[])
    (DiversityRule(dim='provider', max_share=None, min_distinct=3, share_of=<ShareOf.REPLICAS: 'replicas'>), DiversityRule(dim='country', max_share=0.5, min_distinct=None, share_of=<ShareOf.REPLICAS: 'replicas'>))
    """
    if max_provider_share is not None and not (0.0 < max_provider_share <= 1.0):
        raise ScenarioError(f"--max-provider-share: must be in (0, 1] (got {max_provider_share})")
    if min_providers is not None and min_providers < 1:
        raise ScenarioError(f"--min-providers: must be >= 1 (got {min_providers})")
    rules: list[DiversityRule] = []
    if min_providers is not None or max_provider_share is not None:
        rules.append(DiversityRule("provider", max_provider_share, min_providers, share_of))
    dims = scenario.dimensions()
    for text in max_share:
        dim, val = _dim_value(text, "--max-share", dims)
        try:
            x = float(val)
        except ValueError:
            raise ScenarioError(f"--max-share: {val!r} is not a number (in {text!r})") from None
        if not (0.0 < x <= 1.0):
            raise ScenarioError(f"--max-share: share must be in (0, 1] (got {x} for {dim})")
        rules.append(DiversityRule(dim, max_share=x, share_of=share_of))
    for text in min_distinct:
        dim, val = _dim_value(text, "--min-distinct", dims)
        if not val.isdigit() or int(val) < 1:
            raise ScenarioError(f"--min-distinct: count must be an integer >= 1 (got {val!r} for {dim})")
        rules.append(DiversityRule(dim, min_distinct=int(val)))
    return tuple(rules)


def place_cmd(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario file (.yaml/.json) or built-in name; default: the built-in opengradient."
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Model to place (repeat for several); default: every demanded model."
        ),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas", "-k", help="Warm replicas per model; default: today's count for each model."
        ),
    ] = None,
    min_providers: Annotated[
        int | None,
        typer.Option("--min-providers", help="Replicas of each model in at least this many providers."),
    ] = None,
    max_provider_share: Annotated[
        float | None,
        typer.Option(
            "--max-provider-share",
            help="Largest share of a model's replicas one provider may hold, in (0, 1].",
        ),
    ] = None,
    share_of: Annotated[
        str, typer.Option("--share-of", help="What the share caps measure: replicas or capacity (req/s).")
    ] = ShareOf.REPLICAS.value,
    max_share: Annotated[
        list[str] | None,
        typer.Option(
            "--max-share", help="Share cap on another dimension, DIM=x, e.g. asn=0.5 or country=0.4."
        ),
    ] = None,
    min_distinct: Annotated[
        list[str] | None,
        typer.Option(
            "--min-distinct", help="Distinct values of a dimension, DIM=k, e.g. country=3 or operator=2."
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget", help="USD/hour cap on the nodes that host a placed model; frees the replica count."
        ),
    ] = None,
    price_weight: Annotated[
        float,
        typer.Option(
            "--price-weight",
            help="ms of mean time that 1 USD/hour is worth in the objective (0 = latency only).",
        ),
    ] = 0.0,
    max_utilisation: Annotated[
        float,
        typer.Option(
            "--max-utilisation",
            help="Share of a node's slots the plan may fill, in (0, 1]; at 1 a node's queue never drains.",
        ),
    ] = 0.8,
    time_limit: Annotated[
        float,
        typer.Option("--time-limit", help="MILP time limit, s; past it: best placement, status time_limit."),
    ] = 60.0,
    rel_gap: Annotated[
        float,
        typer.Option(
            "--rel-gap",
            help="Stop the MILP once (objective - bound) / objective is at most this, in [0, 1); "
            "status gap_limit unless the gap is <= 1e-9 (optimal).",
        ),
    ] = PlacementSpec.rel_gap,
    node_limit: Annotated[
        int | None,
        typer.Option(
            "--node-limit", help="MILP branch-and-bound node limit; past it: status iteration_limit."
        ),
    ] = None,
    solver: Annotated[
        str,
        typer.Option(
            "--solver", help="milp (exact), heuristic (greedy + swap) or auto (MILP up to 50,000 pairs)."
        ),
    ] = SolverChoice.AUTO.value,
    pareto_sweep: Annotated[
        bool,
        typer.Option(
            "--pareto", help="Solve for several price weights and print the latency/price trade-off."
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the heuristic's restarts.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Choose which nodes keep each model warm: minimise the demand-weighted expected time (RTT + service)
    under GPU memory, capacity, SLO and dependency-diversity rules, and compare with today's warm placement.

    The status line says how the solve stopped: optimal (proven, gap <= 1e-9), gap_limit, time_limit,
    iteration_limit, interrupted (Ctrl-C keeps the best placement found) or heuristic (no bound).

    Example: [bold]nodeplan place --model llama-3-70b-q4 --replicas 4 --min-providers 3 --max-provider-share 0.5[/]
    """
    solver_choice = as_enum(SolverChoice, solver, "--solver")
    share = as_enum(ShareOf, share_of, "--share-of")
    sc = resolve_scenario(scenario)
    known = [m.id for m in sc.models]
    for mid in model or []:
        if mid not in known:
            near = difflib.get_close_matches(mid, known, n=3, cutoff=0.4)
            raise ScenarioError(
                f"--model: unknown model {mid!r} in scenario {sc.name!r} (close matches: {', '.join(near) or 'none'})"
            )
    rules = parse_rules(
        sc,
        min_providers=min_providers,
        max_provider_share=max_provider_share,
        share_of=share,
        max_share=max_share or [],
        min_distinct=min_distinct or [],
    )
    try:
        spec = PlacementSpec(
            models=tuple(model) if model else None,
            replicas=replicas,
            budget_usd_per_hour=budget,
            rules=rules,
            price_weight_ms_per_usd_hour=price_weight,
            max_utilisation=max_utilisation,
            time_limit_s=time_limit,
            rel_gap=rel_gap,
            node_limit=node_limit,
            solver=solver_choice,
            seed=seed,
        )
    except ScenarioError as exc:
        field, sep, rest = str(exc).partition(": ")
        if sep and field in _FLAG_OF_FIELD:
            raise ScenarioError(f"{_FLAG_OF_FIELD[field]}: {rest}") from None
        raise
    console = Console()
    if pareto_sweep:
        points = pareto(sc, spec, PARETO_WEIGHTS)
        if as_json:
            typer.echo(json.dumps([p.to_dict() for p in points], indent=2))
        else:
            print_pareto(points, console)
        return
    sp = place(sc, spec)
    if as_json:
        typer.echo(json.dumps(sp.to_dict(), indent=2))
    else:
        print_placement(sp, console)
