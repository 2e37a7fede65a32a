"""The dashboard in real headless Chromium, served by the running service on loopback (``-m browser``).

Checks: no console errors, no request leaves 127.0.0.1, the map draws country geometry and one point per
live node, the what-if control shows the failure-table row of the chosen domain after a click, and the
screenshot is not blank.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from nodeplan.scenario.io import load_builtin
from nodeplan.service import ServerThread, ServiceSettings, create_app

from .browser import WAIT_MS, chromium_page, needs_chromium

ADMIN = "admin-token-for-tests-0123456789"


def test_dashboard_page_is_self_contained(tmp_path: Path) -> None:
    st = ServiceSettings(db_path=tmp_path / "d.db", admin_token=ADMIN, clock=lambda: 1.0e9)
    with ServerThread(create_app(st)) as srv, httpx.Client(base_url=srv.url) as c:
        page = c.get("/").text
    assert "https://" not in page.split("<script>", 1)[0]  # no external stylesheet or script in the head
    assert '<script src="http' not in page
    assert "PlotlyGeoAssets" in page
    assert 'id="whatif-run"' in page


@pytest.mark.browser
@needs_chromium
def test_dashboard_in_headless_chromium(tmp_path: Path) -> None:
    sc = load_builtin()
    n_aws = sum(n.provider == "aws" for n in sc.nodes)
    n_de = sum(n.country == "DE" for n in sc.nodes)
    st = ServiceSettings(db_path=tmp_path / "d.db", admin_token=ADMIN, clock=lambda: 1.0e9)
    with ServerThread(create_app(st)) as srv:
        with httpx.Client(base_url=srv.url) as c:  # one node down: the map shows live nodes only
            r = c.put(
                "/v1/nodes/cpu-hetzner-fsn-1/status",
                json={"status": "down"},
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            assert r.status_code == 200
        n_live = len(sc.nodes) - 1
        with chromium_page(1280, 1400) as session:
            page, errors, requests = session.page, session.errors, session.requests
            page.goto(srv.url + "/")
            wait = WAIT_MS
            page.wait_for_function("() => document.body.dataset.ready === '1'", timeout=wait)
            page.wait_for_function(
                "() => ['countries', 'land'].every(c => "
                "(document.querySelector('#fig-map g.' + c + ' path')?.getAttribute('d') || '').length > 0)",
                timeout=wait,
            )
            lengths = page.evaluate(
                "() => ['countries', 'land'].map(c => "
                "(document.querySelector('#fig-map g.' + c + ' path')?.getAttribute('d') || '').length)"
            )
            assert min(lengths) > 50_000, lengths  # real country geometry from the vendored topojson
            assert page.locator("#fig-map .scattergeo path.point").count() == n_live
            assert page.locator("#fig-concentration .bars path").count() > 10
            assert page.locator("#live").inner_text() == f"{n_live} of {len(sc.nodes)} nodes live"

            page.select_option("#whatif-dimension", "provider")
            page.select_option("#whatif-value", "aws")
            page.click("#whatif-run")
            page.wait_for_function(
                "() => document.getElementById('whatif-row').dataset.domain === 'provider=aws'",
                timeout=wait,
            )
            cells = page.locator("#whatif-row td").all_inner_texts()
            assert cells[0] == "provider=aws"
            assert cells[1] == str(n_aws)
            assert cells[2] == f"{100 * n_aws / n_live:.1f}%"  # weight = node count of live nodes
            # consensus, two separate cells: AWS runs 3 of 8 equal validators, 5/8 alive <= 2/3 halts it
            assert cells[7:] == ["HALTED", "no"]

            page.select_option("#whatif-dimension", "country")
            page.select_option("#whatif-value", "DE")
            page.click("#whatif-run")
            page.wait_for_function(
                "() => document.getElementById('whatif-row').dataset.domain === 'country=DE'",
                timeout=wait,
            )
            cells = page.locator("#whatif-row td").all_inner_texts()
            assert cells[1] == str(n_de - 1)  # the downed Hetzner node is in DE
            # DE hosts 3 of 8 validators too: halted; the fragile cell names the largest surviving domain
            assert cells[7] == "HALTED"
            assert cells[8] == "no"

            assert errors == []
            assert [u for u in requests if not u.startswith(srv.url)] == []
            stats = session.screenshot_stats("service_dashboard.png")
            assert stats["width"] == 1280
            assert stats["variance"] > 100.0, stats  # a blank page has variance 0
