"""``nodeplan demo``: the four claims of the mission, in numbers, on a scenario (default: built-in)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from nodeplan.demo import EFFECTIVE_DIMS, Choice, DemoFindings, WarmVersusNear, demo_findings
from nodeplan.metrics.audit import ALL_ROLES
from nodeplan.routing import Route
from nodeplan.scenario.io import resolve_scenario

__all__ = ["demo_cmd", "render_demo"]


def _ms(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _breakdown_table(rows: list[tuple[str, Route, float]]) -> Table:
    """Expected time by part (rows) of each choice (columns), ms; fits 80 columns for two choices."""
    t = Table(show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD)
    t.add_column("ms", no_wrap=True)
    for label, r, km in rows:
        t.add_column(f"{label}\n{r.executor}\n{km:,.0f} km away", justify="right", no_wrap=True)
    parts = (
        ("network (RTT)", lambda r: r.time.network_ms),
        ("queue", lambda r: r.time.queue_ms),
        ("cold start", lambda r: r.time.cold_start_ms),
        ("service", lambda r: r.time.service_ms),
        ("verification", lambda r: r.time.verification_ms),
    )
    for name, get in parts:
        t.add_row(name, *[_ms(get(r)) for _, r, _ in rows])
    t.add_row("[bold]total[/]", *[f"[bold]{_ms(r.time.total_ms)}[/]" for _, r, _ in rows])
    return t


def _claim_warm(c: Console, wf: WarmVersusNear | None, cn: WarmVersusNear | None) -> None:
    c.rule("[bold]1. A warm distant node can beat a cold nearby one[/]")
    if wf is None:
        c.print("This scenario has no request where a distant warm node beats the nearest (cold) one.")
    else:
        size = wf.model.size_bytes / 1e9
        c.print(
            f"User in [bold]{wf.source.name}[/] asks for [bold]{wf.model.id}[/] ({size:,.1f} GB of weights). "
            f"The nearest capable node is {wf.other_km:,.0f} km away but cold: it must fetch the weights"
            + (f" from {wf.other.source}" if wf.other.source else "")
            + " and start the engine."
        )
        c.print(
            _breakdown_table(
                [
                    ("nearest (cold)", wf.other, wf.other_km),
                    ("nodeplan (warm)", wf.winner, wf.winner_km),
                ],
            )
        )
        gain = wf.other.time.total_ms / wf.winner.time.total_ms
        c.print(f"-> the node {wf.winner_km:,.0f} km away answers {gain:,.0f}x sooner.\n")
    if cn is None:
        c.print("This scenario has no request where a near cold node beats every warm one.")
        return
    size = cn.model.size_bytes / 1e6
    c.print(
        f"The reverse for a tiny model: [bold]{cn.model.id}[/] ({size:,.0f} MB) from [bold]{cn.source.name}[/]. "
        "Loading it costs less than the trip to the nearest warm node, which a router with a fixed "
        "cold penalty (Petals-style latency-only) would pick."
    )
    c.print(
        _breakdown_table(
            [
                ("latency-only (warm)", cn.other, cn.other_km),
                ("nodeplan (cold, near)", cn.winner, cn.winner_km),
            ],
        )
    )
    c.print()


_ROLE_SHORT = {
    "all": "all",
    "execution": "exec",
    "verification": "verify",
    "storage": "store",
    "coordination": "coord",
}


def _claim_apparent(c: Console, f: DemoFindings) -> None:
    c.rule("[bold]2. Apparent vs effective decentralization[/]")
    a = f.audit
    summaries = list(a.summary)
    t = Table(
        show_edge=False,
        pad_edge=False,
        box=box.SIMPLE_HEAD,
        caption="effective N = 1/HHI of node counts: as concentrated as N equal entities. Independent "
        "domains: nodes sharing any ancestor (data center, provider, ASN, operator, ...) count as one.",
    )
    t.add_column("by role", no_wrap=True)
    for s in summaries:
        t.add_column(_ROLE_SHORT.get(s.role, s.role), justify="right", no_wrap=True)

    def eff(dim: str, role: str) -> str:
        try:
            m = a.measure(dim, role)
        except KeyError:
            return "n/a"
        return "n/a" if m.effective_hhi is None else f"{m.effective_hhi:.1f}"

    def largest(role: str) -> str:
        try:
            top = a.measure("provider", role).top
        except KeyError:
            return "n/a"
        return f"{top[0][0]} {_pct(top[0][1])}" if top else "n/a"

    t.add_row("nodes", *[str(s.nodes) for s in summaries])
    t.add_row("[bold]countries[/] (apparent)", *[f"[bold]{s.countries}[/]" for s in summaries])
    t.add_row(
        "[bold]independent domains[/]",
        *[
            f"[bold]{'n/a' if s.effective_domains is None else f'{s.effective_domains:.1f}'}[/]"
            for s in summaries
        ],
    )
    for dim in EFFECTIVE_DIMS:
        t.add_row(f"effective {dim.replace('_', ' ')}s", *[eff(dim, s.role) for s in summaries])
    t.add_row("largest provider", *[largest(s.role) for s in summaries])
    c.print(t)
    c.print()


def _claim_failure(c: Console, f: DemoFindings) -> None:
    c.rule("[bold]3. When the dominant provider fails[/]")
    row = f.dominant
    if row is None:
        c.print("No provider is known for any node: nothing to fail.")
        return
    base = f.audit.baseline
    t = Table(show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD)
    t.add_column("measure")
    t.add_column("before", justify="right")
    t.add_column(f"without {row.value}", justify="right")
    t.add_row("nodes", str(f.audit.live_nodes), str(f.audit.live_nodes - row.nodes))
    t.add_row("execution capacity", "100%", _pct(1.0 - row.capacity_lost))
    t.add_row("demand served within SLO", _pct(base.demand_served), _pct(row.demand_served))
    t.add_row("verified demand with an independent verifier", _pct(base.verified), _pct(row.verified))
    t.add_row("models with no live storage replica", "0", str(len(row.models_unreplicated)))
    bc = f.audit.baseline_consensus
    if row.halted is not None and bc is not None:
        t.add_row(
            "consensus halted (2/3 or less of the stake alive)", _halted(bc.halted), _halted(row.halted)
        )
        t.add_row(
            "consensus fragile (a surviving domain holds >= 1/3)", _fragile(bc.fragile), _fragile(row.fragile)
        )
        t.add_row("stake alive", _pct(bc.alive_share), _pct(row.alive_stake_share))
    c.print(t)
    if row.halted is None or bc is None:
        c.print()
        return
    if bc.fragile and bc.largest is not None:
        d = bc.largest
        same = [x for x in f.audit.baseline_dominant if x.dimension == row.dimension and x != d]
        also = "".join(f" and {x.dimension} {x.value} {_pct(x.share)}" for x in same)
        c.print(
            f"-> even before any failure, {d.dimension} {d.value} holds {_pct(d.share)} of the stake{also}: "
            f"{'any one of them' if same else 'that domain'} failing halts consensus (fragile)."
        )
    if row.halted and not bc.halted:
        c.print(
            f"-> one provider outage halts coordination: losing {row.value} ({_pct(row.stake_lost)} of the "
            f"stake) leaves {_pct(row.alive_stake_share)} alive, and BFT needs more than 2/3."
        )
    elif row.fragile and row.largest_surviving is not None:
        d = row.largest_surviving
        c.print(
            f"-> after losing {row.value}, consensus runs, but {d.dimension} {d.value} holds {_pct(d.share)} of "
            "the surviving stake: one more failure there halts it."
        )
    c.print()


def _halted(x: bool | None) -> str:
    return "[bold red]HALTED[/]" if x else "[green]no[/]"


def _fragile(x: bool | None) -> str:
    return "[yellow]fragile[/]" if x else "[green]no[/]"


def _claim_choices(c: Console, f: DemoFindings) -> None:
    c.rule("[bold]4. Fastest, most independent, cheapest: four different answers[/]")
    req, src = f.choice_request, f.choice_source
    if req is None or src is None or not f.choices:
        c.print("The scenario has no demand that asks for verification.")
        return
    c.print(
        f"One request: [bold]{req.model}[/] from [bold]{src.name}[/], verification "
        f"{req.verification.value} by {req.verifiers} verifier(s), SLO {_ms(req.slo_ms or 0)} ms."
    )
    t = Table(show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD)
    t.add_column("choice", no_wrap=True)
    t.add_column("executor -> verifier(s)", no_wrap=True)
    t.add_column("total ms", justify="right", no_wrap=True)
    t.add_column("USD/req", justify="right", no_wrap=True)
    t.add_column("shared with verifier", overflow="fold")
    for ch in f.choices:
        t.add_row(
            ch.label,
            ch.route.executor + "".join(f"\n-> {v}" for v in ch.route.verifiers),
            _ms(ch.route.time.total_ms),
            f"{ch.route.price_usd:.6f}",
            _shared(ch),
        )
    c.print(t)
    for line in _choice_notes(f.choices):
        c.print(f"-> {line}")


def _choice_notes(choices: tuple[Choice, ...]) -> list[str]:
    """Plain-words conclusions drawn from the four choices (only what the numbers show)."""
    by = {ch.label: ch for ch in choices}
    notes = []
    dependent = [ch.label for ch in choices if ch.shared_dims]
    if dependent:
        notes.append(
            f"{' and '.join(dependent)}: the verifier shares a failure or trust domain with the executor, "
            "so one outage or one compromised root takes both."
        )
    fast, ours = by.get("fastest"), by.get("nodeplan")
    if fast and ours and fast.shared_dims and not ours.shared_dims:
        extra = ours.route.time.total_ms - fast.route.time.total_ms
        notes.append(
            f"nodeplan pays {_ms(extra)} ms over the fastest choice for a fully independent verifier."
        )
    cheap = by.get("cheapest")
    if cheap and ours and cheap.route.price_usd < ours.route.price_usd:
        saved = 1 - cheap.route.price_usd / ours.route.price_usd
        notes.append(
            f"cheapest saves {_pct(saved)} of the price and is {_ms(cheap.route.time.total_ms - ours.route.time.total_ms)} ms slower."
        )
    return notes


def _shared(ch: Choice) -> str:
    return "[green]nothing[/]" if not ch.shared_dims else "[red]" + ", ".join(ch.shared_dims) + "[/]"


def render_demo(f: DemoFindings, console: Console | None = None) -> None:
    """Print the four claims."""
    c = console or Console()
    a = f.audit
    c.print(f"[bold]nodeplan demo[/] on scenario [bold]{f.scenario}[/]: {a.live_nodes} live nodes.\n")
    c.print(f"[italic]{a.headline}[/]\n")
    _claim_warm(c, f.warm_far, f.cold_near)
    _claim_apparent(c, f)
    _claim_failure(c, f)
    _claim_choices(c, f)
    if ALL_ROLES in a.roles:
        c.print(
            "\nNext: [bold]nodeplan audit --html report.html[/] for the full audit, "
            "[bold]nodeplan route --compare -m MODEL --from CITY[/] for any request."
        )


def demo_cmd(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Scenario file or built-in name.")
    ] = "opengradient",
    seed: Annotated[int, typer.Option(help="Seed of the router's random choices.")] = 0,
) -> None:
    """Show, in numbers, why placement is not a coverage problem (no input, no network needed).

    On the built-in OpenGradient-like network: (1) a warm distant node beats a cold nearby one, and the reverse for a tiny model; (2) many countries but few effective providers; (3) what the dominant provider's failure does to served demand, verification and consensus; (4) the fastest, most independent and cheapest choices for one request differ.

    Example: [bold]nodeplan demo[/]   or   [bold]nodeplan demo -s my-network.yaml[/]
    """
    render_demo(demo_findings(resolve_scenario(scenario), seed=seed))
