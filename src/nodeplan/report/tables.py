"""Rich terminal tables of an audit: apparent vs effective summary, measures per dimension, failures.

Two layouts. The default (**narrow**) fits a 100-column terminal: short headers stacked on two lines, the
essential columns only, long names wrapped inside their cell, and one legend line under each table saying
what the short headers mean. The **wide** layout (``nodeplan audit --wide``, or automatically when the
terminal has at least :data:`WIDE_MIN_COLUMNS` columns) adds the remaining measures (``2^H``, normalised
entropy, Gini, Theil), the connected components of the summary, and the largest surviving domain and
model names of the failure table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from nodeplan.metrics.audit import ALL_ROLES, AuditResult
from nodeplan.metrics.failure import FailureRow

__all__ = [
    "WIDE_MIN_COLUMNS",
    "attributes_table",
    "failure_table_view",
    "measures_table",
    "print_audit",
    "summary_table",
]

#: Terminal width from which ``print_audit`` uses the wide layout when not told.
WIDE_MIN_COLUMNS = 150
_NAME_MAX = 18  # widest a name column gets before its values wrap (narrow layout)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _yes(x: bool | None, yes: str, no: str) -> str:
    return "–" if x is None else (yes if x else no)


def _domain(r: FailureRow) -> str:
    d = r.largest_surviving
    return "–" if d is None else f"{d.dimension} {d.value} {_pct(d.share)}"


@dataclass(frozen=True)
class _Col:
    header: str
    values: list[str]
    text: bool = False  # a name column: left-aligned, may wrap; numbers never wrap


def _table(title: str, cols: list[_Col], wide: bool, *, tight: bool = False) -> Table:
    """``tight``: narrow layout only, two spaces between columns instead of three (the failure table,
    whose columns would otherwise not fit 100 columns)."""
    t = Table(
        title=title,
        title_justify="left",
        min_width=None if wide else len(title),  # a narrow table is at least as wide as its title
        box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD,
        show_edge=wide,
        pad_edge=wide,
        padding=(0, 1, 0, 0) if tight and not wide else (0, 1),
    )
    for c in cols:
        t.add_column(
            c.header,
            justify="left" if c.text else "right",
            no_wrap=not c.text,
            overflow="fold",
            max_width=None if wide or not c.text else _NAME_MAX,
        )
    for i in range(len(cols[0].values) if cols else 0):
        t.add_row(*(c.values[i] for c in cols))
    return t


def summary_table(result: AuditResult, *, wide: bool = False) -> Table:
    """Apparent (countries, locations) vs effective (independent domains, providers) spread per role."""
    rows = []
    for s in result.summary:
        prov = next(
            (m.measures for m in result.measures if m.dimension == "provider" and m.role == s.role), None
        )
        known = [(n, x) for n, x in (prov.top if prov else ()) if not n.startswith("unknown")]
        rows.append((s, prov, f"{known[0][0]} {_pct(known[0][1])}" if known else "–"))
    cols = [
        _Col("role", [s.role for s, _, _ in rows], text=True),
        _Col("live\nnodes", [str(s.nodes) for s, _, _ in rows]),
        _Col("countries", [str(s.countries) for s, _, _ in rows]),
        _Col("locations", [str(s.locations) for s, _, _ in rows]),
        _Col("eff.\ndomains", [_num(s.effective_domains) for s, _, _ in rows]),
        _Col("eff.\nproviders", [_num(None if p is None else p.effective_hhi) for _, p, _ in rows]),
        _Col("largest\nprovider", [top for _, _, top in rows], text=True),
        _Col(
            "Nakamoto\n1/3 prov.",
            ["–" if p is None or p.nakamoto_33 is None else str(p.nakamoto_33) for _, p, _ in rows],
        ),
    ]
    if wide:
        cols[4] = _Col("eff. independent\nfailure domains", cols[4].values)
        cols += [
            _Col("components", [str(s.components) for s, _, _ in rows]),
            _Col("largest\ncomponent", [_pct(s.largest_component_share) for s, _, _ in rows]),
            _Col("unknown", [_pct(s.unknown_share) for s, _, _ in rows]),
        ]
    return _table("Apparent vs effective decentralization", cols, wide)


def measures_table(result: AuditResult, role: str = ALL_ROLES, *, wide: bool = False) -> Table:
    """The measures of every dimension for ``role`` (HHI on the 0..10000 scale; shares in %)."""
    ms = [dm for dm in result.measures if dm.role == role]
    m = [dm.measures for dm in ms]
    cols = [
        _Col("dimension", [dm.dimension for dm in ms], text=True),
        _Col("entities", [str(x.entities) for x in m]),
        _Col("N\n50%", [str(x.nakamoto_50 or "–") for x in m]),
        _Col("N\n1/3", [str(x.nakamoto_33 or "–") for x in m]),
        _Col("HHI", [_num(x.hhi, 0) for x in m]),
        _Col("eff.\n1/HHI", [_num(x.effective_hhi) for x in m]),
    ]
    if wide:
        cols += [
            _Col("eff.\n2^H", [_num(x.effective_entropy) for x in m]),
            _Col("H\nnorm", [_num(x.entropy_norm, 2) for x in m]),
            _Col("Gini", [_num(x.gini, 2) for x in m]),
            _Col("Theil", [_num(x.theil, 2) for x in m]),
        ]
    cols += [
        _Col(
            "largest\nentity", ["–" if not x.top else f"{x.top[0][0]} {_pct(x.top[0][1])}" for x in m], True
        ),
        _Col("top-3", [_pct(x.top3_share) for x in m]),
        _Col("unknown", [_pct(x.unknown_share) for x in m]),
    ]
    return _table(f"Concentration by dimension (role {role}, weight {result.weight.value})", cols, wide)


def failure_table_view(result: AuditResult, limit: int = 15, *, wide: bool = False) -> Table:
    """The ``limit`` worst single-domain failures (columns without data are left out)."""
    rows = result.failure_rows[:limit]
    base = result.baseline
    weight = result.weight.value
    cols = [
        _Col("dimension", [r.dimension for r in rows], text=True),
        _Col("value", [r.value for r in rows], text=True),
        _Col("nodes", [str(r.nodes) for r in rows]),
    ]
    has_capacity = any(r.capacity_lost for r in result.failure_rows)
    # narrow: with a count weight and a capacity column, the node count already says what is lost
    if wide or weight != "count" or not has_capacity:
        cols.append(_Col(f"{weight}\nlost", [_pct(r.share_lost) for r in rows]))
    if has_capacity and weight != "capacity":
        cols.append(_Col("capacity\nlost", [_pct(r.capacity_lost) for r in rows]))
    if any(r.stake_lost for r in result.failure_rows) and weight != "stake":
        cols.append(_Col("stake\nlost", [_pct(r.stake_lost) for r in rows]))
    if base.demand_served is not None:
        head = "served in SLO\n(base {})" if wide else "served\n{}"
        cols.append(_Col(head.format(_pct(base.demand_served)), [_pct(r.demand_served) for r in rows]))
    if base.verified is not None:
        head = "indep. verified\n(base {})" if wide else "verified\n{}"
        cols.append(_Col(head.format(_pct(base.verified)), [_pct(r.verified) for r in rows]))
    if any(r.models_unreplicated for r in result.failure_rows):
        if wide:
            models = [", ".join(r.models_unreplicated) or "–" for r in rows]
            cols.append(_Col("models without\na replica", models, text=True))
        else:
            cols.append(_Col("no\nreplica", [str(len(r.models_unreplicated) or "–") for r in rows]))
    if any(r.halted is not None for r in rows):
        cols.append(_Col("halted", [_yes(r.halted, "HALTED", "no") for r in rows]))
        cols.append(_Col("fragile", [_yes(r.fragile, "fragile", "no") for r in rows]))
        if wide:
            cols.append(
                _Col("largest surviving\n(share of survivors)", [_domain(r) for r in rows], text=True)
            )
    cols.append(_Col("harm", [f"{r.harm:.2f}" for r in rows]))
    title = f"Single-domain failures, worst {len(rows)} of {len(result.failure_rows)} by harm"
    return _table(title, cols, wide, tight=True)


def attributes_table(result: AuditResult, per_attribute: int = 3, *, wide: bool = False) -> Table:
    """Share of live nodes (and stake) per value of each node attribute, ``per_attribute`` values each."""
    has_stake = any(v.stake_share is not None for a in result.attributes for v in a.values)
    rows: list[tuple[str, str, str, str, str]] = []
    for a in result.attributes:
        for j, v in enumerate(a.values[:per_attribute]):
            text = str(v.value).lower() if isinstance(v.value, bool) else v.value
            rows.append(
                (a.name if j == 0 else "", text, str(v.nodes), _pct(v.node_share), _pct(v.stake_share))
            )
        more = a.distinct - min(per_attribute, len(a.values))
        if more > 0:
            rows.append(("", f"({more} more values)", "", "", ""))
        if a.unknown_nodes:
            rows.append(("", "(unknown)", str(a.unknown_nodes), _pct(a.unknown_share), ""))
    cols = [
        _Col("attribute", [r[0] for r in rows], text=True),
        _Col("value", [r[1] for r in rows], text=True),
        _Col("live\nnodes", [r[2] for r in rows]),
        _Col("node\nshare", [r[3] for r in rows]),
    ]
    if has_stake:
        cols.append(_Col("stake\nshare", [r[4] for r in rows]))
    return _table("Node attributes (not failure domains)", cols, wide)


def _legends(result: AuditResult, limit: int) -> tuple[str, str, str]:
    dims = result.summary[0].dims if result.summary else ()
    shared = ", ".join(d.replace("_", " ") for d in dims) or "no dimension"
    summary = (
        "eff. domains: effective number of independent failure domains (1 / chance that two units of "
        f"weight share a {shared}); eff. providers: 10000/HHI of providers; Nakamoto 1/3 prov.: fewest "
        "providers holding a third."
    )
    measures = (
        "N 50%, N 1/3: Nakamoto coefficient (fewest entities reaching that share); HHI 0-10000; "
        "eff. 1/HHI: effective number of entities; unknown: share with no value."
    )
    rows = result.failure_rows[:limit]
    parts = ["each row: every node of that domain down"]
    if result.baseline.demand_served is not None:
        parts.append("served: share of demand within its SLO (header: with no failure)")
    if result.baseline.verified is not None:
        parts.append("verified: verified demand with an independent verifier")
    if any(r.models_unreplicated for r in result.failure_rows):
        parts.append("no replica: models left without a live storage replica")
    if any(r.halted is not None for r in rows):
        parts.append("halted: consensus stops, 2/3 or less of the stake alive")
        q = "fragile: it runs, but one surviving domain of any dimension holds 1/3 or more of the surviving stake"
        if result.baseline_dominant:
            dom = result.baseline_dominant  # largest first
            shown = [dom[0], *(x for x in dom[1:] if x.dimension == "provider")][:2]
            held = ", ".join(f"{d.dimension} {d.value} {_pct(d.share)}" for d in shown)
            q += f" (already with no failure: {held})"
        parts.append(q)
    parts.append("harm orders the rows")
    return summary, measures, "; ".join(parts) + "."


def print_audit(
    result: AuditResult,
    console: Console | None = None,
    *,
    role: str | None = None,
    limit: int = 15,
    wide: bool | None = None,
) -> None:
    """Print the headline and the three tables.

    ``wide=None`` picks the wide layout when the console has at least :data:`WIDE_MIN_COLUMNS` columns;
    the narrow layout adds a legend line under each table (``--wide`` in the CLI adds the extra columns).
    """
    c = console or Console()
    wide = c.width >= WIDE_MIN_COLUMNS if wide is None else wide
    main = role or (result.roles[0] if result.roles else ALL_ROLES)
    notes = []
    if result.empty_dimensions:
        notes.append(f"no data for: {', '.join(result.empty_dimensions)}")
    if result.clustered_dimensions:
        notes.append(f"clustered by first word: {', '.join(result.clustered_dimensions)}")
    if result.derived_providers:
        n = sum(k for _, k in result.derived_providers)
        which = ", ".join(f"{p} {k}" for p, k in result.derived_providers[:5])
        more = ", ..." if len(result.derived_providers) > 5 else ""
        notes.append(f"provider derived from ASN for {n} node{'s' * (n != 1)} ({which}{more})")
    if result.measured_rtt_pairs:
        notes.append(f"serving check uses {result.measured_rtt_pairs} measured source-node RTTs")
    parts: list[Table | Text] = [
        Text(result.headline, style="bold"),
        Text(
            f"scenario {result.scenario}: {result.live_nodes} of {result.nodes} nodes live; weight "
            f"{result.weight.value}; unknown values: {result.unknown_policy.value}"
            + ("; " + "; ".join(notes) if notes else ""),
            style="dim",
        ),
    ]
    legends = _legends(result, limit)
    tables = (
        summary_table(result, wide=wide),
        measures_table(result, main, wide=wide),
        failure_table_view(result, limit, wide=wide),
    )
    for table, legend in zip(tables, legends, strict=True):
        parts.append(table)
        if not wide:
            parts.append(Text(legend, style="dim"))
    if result.attributes:
        parts.append(attributes_table(result, wide=wide))
        parts.append(
            Text(
                "attributes describe nodes: never measured, failed or checked for independence "
                "(to make one a failure domain, import with --dimension NAME).",
                style="dim",
            )
        )
    if not wide:
        parts.append(Text("More columns (2^H, entropy, Gini, Theil, components, ...): --wide.", style="dim"))
    c.print(Group(*parts))
