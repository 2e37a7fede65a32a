"""``nodeplan simulate requests``: discrete-event simulation comparing routing policies on one workload."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nodeplan.exceptions import SimulationError
from nodeplan.scenario.io import resolve_scenario
from nodeplan.simulation.des import DEFAULT_POLICIES, RequestSimResult

__all__ = ["print_requests_result", "requests_cmd"]


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def print_requests_result(r: RequestSimResult, console: Console) -> None:
    """One Rich table, one column per policy."""
    outs = "; ".join(o.label for o in r.outages) or "none"
    console.print(
        f"[bold]{r.scenario}[/]: {r.arrivals:,} requests over {r.duration_s:g} s ({r.workload}, seed {r.seed}); "
        f"outages: {outs}."
    )
    t = Table(title="Requests per routing policy (same arrivals, same outages)", title_justify="left")
    t.add_column("measure", no_wrap=True)
    for s in r.stats:
        t.add_column(s.policy, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("completed", [f"{s.completed:,}" for s in r.stats]),
        ("failed (no route+lost)", [f"{s.failed:,} ({s.no_route:,}+{s.lost:,})" for s in r.stats]),
        ("p50 latency ms", [_ms(s.p50_ms) for s in r.stats]),
        ("p95 latency ms", [_ms(s.p95_ms) for s in r.stats]),
        ("p99 latency ms", [_ms(s.p99_ms) for s in r.stats]),
        ("within SLO", [_pct(s.slo_share) for s in r.stats]),
        ("verified indep.", [_pct(s.verified_share) for s in r.stats]),
        ("cold starts", [f"{s.cold_starts:,}" for s in r.stats]),
        (
            "price/req µUSD",
            ["n/a" if s.mean_price_usd is None else f"{1e6 * s.mean_price_usd:,.0f}" for s in r.stats],
        ),
    ]
    for name, vals in rows:
        t.add_row(name, *vals)
    console.print(t)
    asked = r.stats[0].verify_asked if r.stats else 0
    console.print(
        f"Latency: of completed requests. Within SLO: share of all arrivals. Verified indep.: share of the "
        f"{asked:,} requests asking for verification that completed with verifiers sharing no dependency "
        "(policy's independence dimensions) with the executor. Price: mean over completed requests."
    )


def requests_cmd(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="Scenario file (.yaml/.json) or built-in name; default: the built-in opengradient. Its "
            "'demand' and 'sources' make the workload."
        ),
    ] = None,
    duration: Annotated[
        float, typer.Option("--duration", "-d", help="Simulated seconds of arrivals (a trace is cut there).")
    ] = 60.0,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Seed of arrivals and of the random policy; same seed, same numbers."),
    ] = 0,
    policies: Annotated[
        str,
        typer.Option("--policies", "-p", help="Comma-separated routing policies to compare."),
    ] = ",".join(DEFAULT_POLICIES),
    outage: Annotated[
        list[str] | None,
        typer.Option(
            "--outage",
            help="DIM=VALUE@START+DURATION, e.g. provider=aws@60s+120s (repeatable). DIM: provider, "
            "provider_region, data_center, country, operator, asn, node, or a user dimension.",
        ),
    ] = None,
    trace: Annotated[
        str | None,
        typer.Option(
            "--trace",
            help="Replay arrival times of a CSV with a TIMESTAMP column (e.g. an Azure LLM trace) instead "
            "of Poisson arrivals; classes and sources are drawn by rate share and weight.",
        ),
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", help="With --trace: divide the trace's times by this factor.")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the versioned JSON only.")] = False,
) -> None:
    """Route the same stream of requests under several policies and compare latency, SLO, verification, price.

    Requests arrive (Poisson per demand class, or a real trace's times), are routed by each policy on its own copy of the network state, occupy their slots for the router's expected time (queue + cold start + service + verification), then complete. Outages take nodes down mid-run: requests in flight there are lost, and requests with no live node fail. Models warm up and get evicted as the policies use them. See docs/simulate.md.

    Examples:

      [bold]nodeplan simulate requests --duration 60 --seed 1[/]

      [bold]nodeplan simulate requests --outage provider=aws@20s+20s --policies nodeplan,random[/]

      [bold]nodeplan simulate requests --trace ../shared/data/traces/azure_llm_2023_conv.csv --speed 14 --duration 30 --json[/]
    """
    from nodeplan.simulation.des import parse_outage, simulate_requests
    from nodeplan.simulation.workload import poisson_workload, trace_workload

    if seed < 0:
        raise SimulationError(f"--seed: must be an integer >= 0 (got {seed})")
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if not names:
        raise SimulationError(f"--policies: name at least one policy (got {policies!r})")
    outs = [parse_outage(s) for s in outage or []]
    scn = resolve_scenario(scenario)
    if trace is not None:
        wl = trace_workload(scn, trace, seed, duration_s=duration, speed=speed)
    else:
        wl = poisson_workload(scn, duration, seed)
    result = simulate_requests(scn, wl, names, outs, seed=seed)
    if as_json:
        typer.echo(result.to_json())
        return
    print_requests_result(result, Console())


def _register() -> None:
    from nodeplan.commands.simulate import simulate_app

    simulate_app.command("requests")(requests_cmd)


_register()
