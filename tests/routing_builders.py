"""Shared builders of the routing tests: city coordinates, an execution-node factory and the shipped RTT fits.

The coordinates are city centres (degrees); the RTT helpers evaluate the shipped fits (``rtt_ms_km``) on the
great-circle distance, as the hand computations in the routing tests do.
"""

from __future__ import annotations

from nodeplan.model.geo import great_circle_km
from nodeplan.model.rtt import default_rtt_model
from nodeplan.scenario.model import Node

__all__ = ["ASHBURN", "FRANKFURT", "PARIS", "backbone_ms", "km", "node", "public_ms"]

PARIS = (48.8566, 2.3522)
FRANKFURT = (50.1109, 8.6821)
ASHBURN = (39.0438, -77.4874)


def node(nid: str, at: tuple[float, float], **kw: object) -> Node:
    """An execution node at ``at`` with 4 slots of an 80 GB GPU; ``kw`` overrides any field."""
    base: dict[str, object] = {
        "roles": {"execution"},
        "capacity": 4,
        "hardware": "gpu",
        "gpu_memory_gb": 80.0,
    }
    base.update(kw)
    return Node(id=nid, lat=at[0], lon=at[1], **base)  # type: ignore[arg-type]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, km."""
    return float(great_circle_km(a[0], a[1], b[0], b[1]))


def public_ms(a: tuple[float, float], b: tuple[float, float]) -> float:
    """RTT of the shipped public-internet fit (fitted on WonderProxy pings, tests/data/latency), ms."""
    return float(default_rtt_model().public.rtt_ms_km(km(a, b)))


def backbone_ms(a: tuple[float, float], b: tuple[float, float]) -> float:
    """RTT of the shipped same-provider backbone fit (AWS inter-region p50 net of overhead), ms."""
    return float(default_rtt_model().backbone.rtt_ms_km(km(a, b)))
