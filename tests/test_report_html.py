"""The offline HTML report: content checks, and a real headless Chromium load (``-m browser``)."""

from __future__ import annotations

import json
import re

import pytest

from nodeplan.cli import main
from nodeplan.metrics.audit import audit_scenario
from nodeplan.metrics.schema import AUDIT_JSON_SCHEMA, SCHEMA_VERSION
from nodeplan.report.html import render_html, world_topojson
from nodeplan.scenario.io import load_builtin

from .browser import WAIT_MS, chromium_page, needs_chromium


@pytest.fixture(scope="module")
def page_html():
    scn = load_builtin("opengradient")
    return render_html(audit_scenario(scn), scn)


def test_vendored_base_map_is_the_world():
    topo = world_topojson()
    assert topo["type"] == "Topology"
    # Natural Earth 1:110m admin-0 has ~177 countries
    assert len(topo["objects"]["countries"]["geometries"]) > 150


def test_page_is_self_contained(page_html):
    # no external script, stylesheet or image: everything is inlined
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?://", page_html)
    assert "window.PlotlyGeoAssets.topojson.world_110m" in page_html
    assert page_html.count('class="plotly-graph-div"') == 3


def test_page_states_both_consensus_facts(page_html):
    # built-in: with no failure consensus runs but is fragile (one client, cometbft, runs every validator)
    note = re.search(r'<p class="consensus">(.*?)</p>', page_html)
    assert note is not None
    assert note.group(1).startswith(
        "Consensus with no failure: runs but is fragile (100.0% of the stake alive"
    )
    assert "The heat map shows halts." in note.group(1)
    assert '"consensus halted"' in page_html  # the heat map column
    assert "quorum" not in page_html


def test_cli_writes_html_and_json(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "og.html"
    assert main(["audit", "--json", "--html", str(out)]) == 0
    assert out.stat().st_size > 1_000_000  # plotly.js alone is ~4.8 MB
    assert "plotly-graph-div" in out.read_text(encoding="utf-8")
    data = json.loads(capsys.readouterr().out)  # stdout is the JSON document and nothing else
    jsonschema.validate(data, AUDIT_JSON_SCHEMA)
    assert data["schema_version"] == SCHEMA_VERSION
    # on the built-in scenario the worst single-domain failure is losing AWS (42% of the nodes)
    worst = data["failure_rows"][0]
    assert (worst["dimension"], worst["value"]) == ("provider", "aws")


def test_cli_bad_arguments_exit_2(capsys):
    assert main(["audit", "--role", "miner"]) == 2
    assert "role: unknown role 'miner'" in capsys.readouterr().err
    assert main(["audit", "--nodes", "x.csv"]) == 2
    assert "--preset: needed with --nodes" in capsys.readouterr().err
    assert main(["audit", "opengradient", "--preset", "solana"]) == 2


@pytest.mark.browser
@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path, page_html):
    n_nodes = len(load_builtin("opengradient").nodes)
    path = tmp_path / "audit.html"
    path.write_text(page_html, encoding="utf-8")
    with chromium_page(1280, 1600) as session:
        page, errors, requests = session.page, session.errors, session.requests
        page.goto(path.as_uri())
        # wait for what each figure draws (generous: the 2-core machine is shared), never a fixed sleep
        wait = WAIT_MS
        page.wait_for_function(
            "() => ['countries', 'land'].every(c => "
            "(document.querySelector('#fig-map g.' + c + ' path')?.getAttribute('d') || '').length > 0)",
            timeout=wait,
        )
        page.wait_for_function(
            "n => document.querySelectorAll('#fig-map .scattergeo path.point').length >= n",
            arg=n_nodes,
            timeout=wait,
        )
        page.wait_for_function(
            "() => document.querySelectorAll('#fig-concentration .bars path').length > 20", timeout=wait
        )
        page.wait_for_function(
            "() => document.querySelector('#fig-failures .hm image') !== null", timeout=wait
        )
        # plotly draws the country borders as one mesh path and the land as one path: their geometry
        # is only there when the vendored topojson was found (without it plotly fetches the CDN)
        lengths = page.evaluate(
            "() => ['countries', 'land'].map(c => "
            "(document.querySelector('#fig-map g.' + c + ' path')?.getAttribute('d') || '').length)"
        )
        assert min(lengths) > 50_000, lengths
        n_points = page.locator("#fig-map .scattergeo path.point").count()
        assert n_points == n_nodes  # every node of the built-in scenario, no more
        assert page.locator("#fig-concentration .bars path").count() > 20
        assert page.locator("#fig-failures .hm image").count() == 1
        assert errors == []
        assert [u for u in requests if not u.startswith("file://")] == []
        stats = session.screenshot_stats("audit_report.png")
        assert stats["width"] == 1280
        assert stats["variance"] > 100.0, stats  # a blank page has variance 0
