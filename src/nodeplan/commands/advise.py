"""``nodeplan advise``: rank candidate nodes (or existing nodes, with ``--remove``) by marginal value."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nodeplan.exceptions import ScenarioError
from nodeplan.placement.advise import (
    AdviceResult,
    ScoreWeights,
    advise,
    load_builtin_candidates,
    load_candidates,
)
from nodeplan.placement.advise_state import NetworkState, common_expected_ms
from nodeplan.placement.advise_text import pct
from nodeplan.scenario.io import BUILTIN_SCENARIOS, resolve_scenario

__all__ = ["advise_cmd", "print_advice"]


def _arrow(x0: float | None, x1: float | None) -> str:
    """Compact before->after share, e.g. ``62->67%``; one value when they print the same."""
    a, b = pct(x0), pct(x1)
    return b if a == b else f"{a.removesuffix('%')}->{b}"


def _sum_roles(table: dict[str, float | None]) -> float:
    return sum(v or 0.0 for r, v in table.items() if r != "all")


def _tracked_cells(b: NetworkState, a: NetworkState) -> tuple[str, str, str]:
    """Stake alive, consensus halted and consensus fragile in the baseline's worst failure, before -> after."""
    if b.tracked is None:
        return "n/a", "n/a", "n/a"
    if a.tracked is None:
        return "gone", "gone", "gone"
    yes = {True: "yes", False: "no", None: "n/a"}

    def arrow(x0: bool | None, x1: bool | None) -> str:
        return yes[x1] if x0 == x1 else f"{yes[x0]}->{yes[x1]}"

    return (
        _arrow(b.tracked.alive_stake, a.tracked.alive_stake),
        arrow(b.tracked.halted, a.tracked.halted),
        arrow(b.tracked.fragile, a.tracked.fragile),
    )


def print_advice(result: AdviceResult, console: Console, top: int | None = None) -> None:
    """The ranking as a table (one row per candidate) followed by the reasons of each."""
    b = result.baseline
    n = len(result.ranked)
    what = (
        f"{n} node{'s' if n != 1 else ''} removed one at a time from"
        if result.remove
        else f"{n} candidate{'s' if n != 1 else ''} added one at a time to"
    )
    console.print(
        f"[bold]nodeplan advise[/] on scenario [bold]{escape(result.scenario)}[/]: {what} {b.live_nodes} live nodes"
        f" ({'most load-bearing first' if result.remove else 'most valuable first'})."
    )
    tracked = b.tracked.failure if b.tracked else "n/a"
    console.print(
        f"Today: worst single failure [bold]{escape(tracked)}[/] leaves {pct(b.worst_served)} of demand served "
        f"within SLO, {pct(b.worst_verified)} independently verified; expected time "
        f"{b.expected_ms or 0:,.0f} ms; {b.cost_usd_per_hour:,.2f} USD/h."
    )
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))  # two spaces between columns
    for col, just in (
        ("#", "right"),
        ("node", "left"),
        ("score", "right"),
        ("Δdom", "right"),
        ("served", "right"),
        ("verified", "right"),
        ("stake", "right"),
        ("halts", "right"),
        ("fragile", "right"),
        ("Δms", "right"),
    ):
        t.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]
    shown = result.ranked[:top] if top else result.ranked
    for x in shown:
        a = x.after
        t0, t1 = common_expected_ms(b, a)  # over the demand routable in both networks
        dt = (t1 or 0.0) - (t0 or 0.0)
        t.add_row(
            str(x.rank),
            escape(x.node),
            f"{x.score:+.3f}",
            f"{_sum_roles(a.domains) - _sum_roles(b.domains):+.2f}",
            _arrow(b.worst_served, a.worst_served),
            _arrow(b.worst_verified, a.worst_verified),
            *_tracked_cells(b, a),
            f"{dt:+.0f}" if abs(dt) >= 0.5 else "0",
        )
    console.print(t)
    console.print(
        f"Δdom: change in effective independent failure domains, summed over the four roles. served, "
        f"verified: worst case over every single-domain failure. stake, halts, fragile: when {escape(tracked)} "
        "(today's worst failure) fails, the stake alive, whether consensus halts (2/3 or less alive) and "
        "whether it runs but one surviving domain holds 1/3 of the surviving stake. Score: docs/advise.md."
    )
    for x in shown:
        console.print(
            f"[bold]{x.rank}. {escape(x.node)}[/] (score {x.score:+.3f}, {x.price_usd_per_hour:,.2f} USD/h)"
        )
        for r in x.reasons:
            console.print(f"   - {escape(r)}")
    if top and len(result.ranked) > top:
        console.print(f"({len(result.ranked) - top} more; --top to show them)")


def advise_cmd(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario file (.yaml/.json) or built-in name; default: the built-in opengradient."
        ),
    ] = None,
    candidates: Annotated[
        Path | None,
        typer.Option(
            "--candidates",
            "-c",
            help="YAML/JSON list of nodes to add, in the scenario's node format. Default with the built-in "
            "scenario: its shipped example candidates.",
        ),
    ] = None,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove", help="Rank the scenario's own live nodes by what the network loses without each."
        ),
    ] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="Show the N best (or most load-bearing).")] = 10,
    weight: Annotated[
        list[str] | None,
        typer.Option(
            "--weight", help="Override a score weight, NAME=VALUE (e.g. time=0, cost=0.01); repeatable."
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes for the candidates.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranking as JSON only.")] = False,
) -> None:
    """Rank candidate nodes by marginal value: what each one, added alone, does to shared dependencies and to
    the guarantees users get (independent verification, surviving storage, live consensus), latency and cost.

    Each candidate is added to the scenario alone and the network is audited again: effective independent
    failure domains and providers per role, the worst single provider/ASN/country failure (served, verified,
    models without a replica, consensus halted or fragile), expected time and cost. The score and its weights are in
    docs/advise.md; every row says in plain words why it ranks where it does.

    Examples:

      [bold]nodeplan advise[/]  (built-in opengradient scenario and its shipped example candidates)

      [bold]nodeplan advise my-network.yaml --candidates new-nodes.yaml --top 5[/]

      [bold]nodeplan advise --remove[/]  (which existing nodes are load-bearing)

      [bold]nodeplan advise --weight time=0 --weight cost=0.01 --json > advice.json[/]
    """
    scn = resolve_scenario(scenario)
    weights = ScoreWeights.parse(weight or [])
    if remove:
        if candidates is not None:
            raise ScenarioError(
                "--candidates: --remove ranks the scenario's own nodes; candidates are nodes to add (drop one flag)"
            )
        result = advise(scn, remove=True, weights=weights, workers=workers)
    else:
        if candidates is not None:
            nodes = load_candidates(candidates, scn)
        elif scenario is None or (scenario in BUILTIN_SCENARIOS and not Path(scenario).exists()):
            nodes = load_builtin_candidates(scn, scn.name)
        else:
            raise ScenarioError(
                f"--candidates: needed to add nodes to scenario {scn.name!r} (a YAML/JSON list of nodes), "
                "or use --remove to rank its own nodes"
            )
        result = advise(scn, nodes, weights=weights, workers=workers)
    if as_json:
        data = result.to_dict()
        data["ranked"] = data["ranked"][:top]
        import json

        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    print_advice(result, Console(), top)
