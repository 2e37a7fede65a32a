"""Great-circle distance and the physical lower bound on round-trip time: the one implementation.

Every distance in nodeplan goes through :func:`central_angle` on unit vectors (the chord form of the
haversine formula: ``angle = 2 asin(|u1 - u2| / 2)``, exact for any separation and numerically stable
for short ones). :func:`great_circle_km` wraps it for points in degrees; the router keeps the nodes'
unit vectors (:func:`unit_vectors`) and calls :func:`central_angle` directly on its hot path, so both
give the same float for the same pair.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EARTH_RADIUS_KM",
    "FIBER_KM_PER_MS",
    "central_angle",
    "fiber_rtt_ms",
    "great_circle_km",
    "unit_vectors",
]

#: Mean Earth radius (IUGG), km — the convention of ``../shared/data/latency/README``.
EARTH_RADIUS_KM = 6371.0
#: Light in optical fibre travels at about 2/3 c: ~200 km per ms one way.
FIBER_KM_PER_MS = 200.0


def unit_vectors(lat: ArrayLike, lon: ArrayLike) -> NDArray[np.float64]:
    """Unit vectors of points given in degrees, shape ``(3, *broadcast shape)``.

    x points to (0°, 0°), y to (0°, 90°E), z to the north pole. One point given as two Python floats is
    computed with :mod:`math` (the router's per-request path); arrays with numpy.

    >>> unit_vectors(0.0, 90.0).round(12).tolist()
    [0.0, 1.0, 0.0]
    """
    if isinstance(lat, int | float) and isinstance(lon, int | float):  # one point: math is 30x faster
        p, q = math.radians(lat), math.radians(lon)
        c = math.cos(p)
        return np.array([c * math.cos(q), c * math.sin(q), math.sin(p)])
    la = np.radians(np.asarray(lat, dtype=float))
    lo = np.radians(np.asarray(lon, dtype=float))
    la, lo = np.broadcast_arrays(la, lo)
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)])


def central_angle(u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Central angle, radians, between unit vectors ``u`` and ``v`` (axis 0 holds x, y, z; broadcasts).

    ``2 asin(min(1, |u - v| / 2))``; computed element by element (no BLAS reduction), so a value does
    not depend on what else is computed with it.

    >>> float(central_angle(unit_vectors(0, 0), unit_vectors(0, 180))) == float(np.pi)
    True
    """
    d2 = np.asarray(np.subtract(u[0], v[0]))  # an array even for one pair, so the steps below work in place
    np.multiply(d2, d2, out=d2)
    t = np.asarray(np.subtract(u[1], v[1]))
    np.multiply(t, t, out=t)
    d2 += t
    np.subtract(u[2], v[2], out=t)
    np.multiply(t, t, out=t)
    d2 += t
    np.sqrt(d2, out=d2)
    d2 *= 0.5
    np.minimum(d2, 1.0, out=d2)
    np.arcsin(d2, out=d2)
    d2 *= 2.0
    return d2


def great_circle_km(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in km between points given in degrees; broadcasts like numpy.

    Examples
    --------
    >>> round(float(great_circle_km(51.5074, -0.1278, 40.7128, -74.0060)))  # London - New York
    5570
    >>> float(great_circle_km(0.0, 0.0, 0.0, 0.0))
    0.0
    """
    return EARTH_RADIUS_KM * central_angle(unit_vectors(lat1, lon1), unit_vectors(lat2, lon2))


def fiber_rtt_ms(km: ArrayLike) -> NDArray[np.float64]:
    """Round trip over a straight fibre of length ``km``: the physical floor, ms (= km / 100).

    >>> float(fiber_rtt_ms(5570.0))
    55.7
    """
    return 2.0 * np.asarray(km, dtype=float) / FIBER_KM_PER_MS
