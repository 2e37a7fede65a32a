"""Terminal tables of the audit: readable at 100 columns (no header cut), wide layout with every column."""

from __future__ import annotations

import pytest
from rich.console import Console

from nodeplan.cli import main
from nodeplan.metrics.audit import audit_scenario
from nodeplan.model.rtt import LinearRtt, RttModel
from nodeplan.report.tables import failure_table_view, measures_table, print_audit, summary_table
from nodeplan.scenario.io import load_builtin
from nodeplan.scenario.model import Scenario

FLAT_RTT = RttModel(public=LinearRtt(10.0, 0.0), backbone=LinearRtt(10.0, 0.0))

# Long names as real lists have them (Solana data-center keys, Ethereum ISP strings), stake on validators.
LONG_NAMES = {
    "name": "long-names",
    "nodes": [
        {
            "id": f"v{i}",
            "lat": 50.0,
            "lon": 8.0 + i,
            "roles": ["coordination"],
            "stake": 10.0 + i,
            "provider": prov,
            "data_center": dc,
            "asn": asn,
            "country": cc,
            "operator": op,
            "software_client": client,
        }
        for i, (prov, dc, asn, cc, op, client) in enumerate(
            [
                ("teraswitch", "20326-DE-Frankfurt am Main", 20326, "DE", "Hetzner Online GmbH", "JitoLabs"),
                ("latitude-sh", "396356-NL-Amsterdam", 396356, "NL", "Some Staking Co.", "Firedancer"),
                ("microsoft-azure", "8075-US-Ashburn", 8075, "US", "Validator Operations Ltd", "Agave"),
            ]
        )
    ],
}


def _render(renderable, width: int) -> str:
    console = Console(width=width, record=True)
    console.print(renderable)
    return console.export_text()


def _header_words(table) -> list[str]:
    return [w for col in table.columns for w in str(col.header).split()]


@pytest.fixture(scope="module")
def og_audit():
    return audit_scenario(load_builtin("opengradient"))


@pytest.fixture(scope="module")
def long_audit():
    return audit_scenario(Scenario.model_validate(LONG_NAMES), "stake", rtt=FLAT_RTT)


@pytest.mark.parametrize("which", ["og", "long"])
def test_default_tables_keep_full_headers_at_100_columns(which, og_audit, long_audit):
    result = og_audit if which == "og" else long_audit
    tables = [
        summary_table(result),
        measures_table(result, result.roles[0]),
        failure_table_view(result, 15),
    ]
    for table in tables:
        text = _render(table, 100)
        assert "…" not in text
        lines = text.splitlines()
        assert max(len(line.rstrip()) for line in lines) <= 100
        # header lines are those above the rule; every header word is printed whole there
        rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
        header = " ".join(lines[:rule]).split()
        for word in _header_words(table):
            assert word in header, (word, header)


def test_og_default_failure_table_has_the_issue_columns(og_audit):
    text = _render(failure_table_view(og_audit, 15), 100)
    for word in ("capacity", "stake", "served", "verified", "halted", "fragile", "harm"):
        assert word in text
    # the baseline shares are in the headers of served and verified
    assert f"{100 * og_audit.baseline.demand_served:.1f}%" in text


def test_narrow_layout_has_legends_and_wide_layout_the_extra_measures(og_audit):
    console = Console(width=100, record=True)
    print_audit(og_audit, console, limit=5)  # wide=None: 100 < 150 columns, narrow
    narrow = console.export_text()
    assert "Nakamoto coefficient" in narrow  # legend line
    assert "Gini" not in narrow.replace("Gini, Theil", "")  # only named in the --wide hint
    console = Console(width=200, record=True)
    print_audit(og_audit, console, limit=5)  # wide by terminal width
    wide = console.export_text()
    for word in ("Gini", "Theil", "2^H", "components", "surviving"):
        assert word in wide
    assert "Nakamoto coefficient (fewest" not in wide


def test_legend_names_the_domain_that_already_holds_a_third(og_audit):
    # every validator runs cometbft (100% of the stake), and AWS runs 3 of the 8 equal-stake validators:
    # 37.5% >= 1/3 before anything fails
    console = Console(width=100, record=True)
    print_audit(og_audit, console, limit=5)
    text = " ".join(console.export_text().split())
    assert "(already with no failure: software_client cometbft 100.0%, provider aws 37.5%)" in text


def test_cli_wide_flag(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["audit", "--rows", "3"]) == 0
    assert "Theil" not in capsys.readouterr().out.replace("Gini, Theil", "")
    assert main(["audit", "--rows", "3", "--wide"]) == 0
    assert "Theil" in capsys.readouterr().out


def test_attributes_table_after_the_failure_table():
    data = {
        "nodes": [
            {
                "id": "a",
                "lat": 0,
                "lon": 0,
                "roles": ["coordination"],
                "stake": 3,
                "attributes": {"dz": True},
            },
            {
                "id": "b",
                "lat": 0,
                "lon": 1,
                "roles": ["coordination"],
                "stake": 1,
                "attributes": {"dz": False},
            },
        ]
    }
    text = _render_audit(audit_scenario(Scenario.model_validate(data), "stake", rtt=FLAT_RTT))
    assert text.index("Single-domain failures") < text.index("Node attributes (not failure domains)")
    rows = [ln.split() for ln in text.splitlines() if ln.split()[:1] in (["dz"], ["false"])]
    assert rows == [["dz", "true", "1", "50.0%", "75.0%"], ["false", "1", "50.0%", "25.0%"]]
    assert "attributes describe nodes: never measured, failed or checked for independence" in text


def _render_audit(result) -> str:
    console = Console(width=100, record=True)
    print_audit(result, console)
    return console.export_text()
