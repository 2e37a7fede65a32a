"""Great-circle distance and the physical lower bound on round-trip time."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EARTH_RADIUS_KM", "FIBER_KM_PER_MS", "fiber_rtt_ms", "great_circle_km"]

#: Mean Earth radius (IUGG), km — the convention of ``../shared/data/latency/README``.
EARTH_RADIUS_KM = 6371.0
#: Light in optical fibre travels at about 2/3 c: ~200 km per ms one way.
FIBER_KM_PER_MS = 200.0


def great_circle_km(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Haversine distance in km between points given in degrees; broadcasts like numpy.

    Examples
    --------
    >>> round(float(great_circle_km(51.5074, -0.1278, 40.7128, -74.0060)))  # London - New York
    5570
    >>> float(great_circle_km(0.0, 0.0, 0.0, 0.0))
    0.0
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def fiber_rtt_ms(km: ArrayLike) -> NDArray[np.float64]:
    """Round trip over a straight fibre of length ``km``: the physical floor, ms (= km / 100).

    >>> float(fiber_rtt_ms(5570.0))
    55.7
    """
    return 2.0 * np.asarray(km, dtype=float) / FIBER_KM_PER_MS
