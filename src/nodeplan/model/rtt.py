"""Round-trip time between two points: a fitted function of great-circle km, or a measured matrix that
overrides it.

Two fits ship with the package (``data/rtt_fit.json``, produced by :mod:`nodeplan.model.fit` from
``../shared/data/latency``): ``public`` (WonderProxy city-to-city pings over the public internet) and
``backbone`` (AWS inter-region p50 less the measuring method's own overhead, standing in for any
provider's private backbone between two of its own sites). Both are :class:`StretchRtt`: a small constant
plus the fibre bound ``km / 100`` times a path-stretch factor per distance band (a continuous, piecewise
linear, non-decreasing function of km). No prediction is ever below the fibre floor ``km / 100`` ms.
:class:`LinearRtt` (``a + b·km``) is kept for hand-made models (tests, what-if studies).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nodeplan.exceptions import LatencyModelError
from nodeplan.model.geo import EARTH_RADIUS_KM, FIBER_KM_PER_MS, fiber_rtt_ms, great_circle_km

__all__ = ["LinearRtt", "MeasuredRtt", "RttFit", "RttModel", "StretchRtt", "default_rtt_model"]

#: The least slope a fit may have, ms per km: a round trip over straight fibre (marginal stretch 1).
FIBER_MS_PER_KM = 2.0 / FIBER_KM_PER_MS
#: The longest great-circle distance, km (half the circumference).
_HALF_CIRCUMFERENCE_KM = float(np.pi * EARTH_RADIUS_KM)


class RttFit(Protocol):
    """What the rest of nodeplan needs from an RTT fit: RTT (ms) as a vectorised function of km."""

    @property
    def source(self) -> str:
        """Where the coefficients come from (data set, version), or empty for a hand-made fit."""
        ...

    def rtt_ms_km(self, km: ArrayLike) -> NDArray[np.float64]:
        """Predicted RTT in ms for great-circle distances ``km`` (any shape; the result has that shape)."""
        ...


@dataclass(frozen=True)
class LinearRtt:
    """RTT = ``a_ms + b_ms_per_km · great-circle km``, floored at the fibre bound.

    Examples
    --------
    >>> fit = LinearRtt(a_ms=10.0, b_ms_per_km=0.02)
    >>> float(fit.rtt_ms_km(1000.0))
    30.0
    >>> float(LinearRtt(0.0, 0.005).rtt_ms_km(1000.0))  # below light in fibre: floored at km/100
    10.0
    """

    a_ms: float
    b_ms_per_km: float
    source: str = ""

    def __post_init__(self) -> None:
        if (
            not (np.isfinite(self.a_ms) and np.isfinite(self.b_ms_per_km))
            or self.a_ms < 0
            or self.b_ms_per_km < 0
        ):
            raise LatencyModelError(
                f"rtt fit: coefficients must be finite and >= 0 (got a_ms={self.a_ms}, b_ms_per_km={self.b_ms_per_km})"
            )

    def rtt_ms_km(self, km: ArrayLike) -> NDArray[np.float64]:
        """Predicted RTT in ms for great-circle distances ``km``."""
        d = np.asarray(km, dtype=float)
        return np.maximum(self.a_ms + self.b_ms_per_km * d, fiber_rtt_ms(d))


@dataclass(frozen=True)
class StretchRtt:
    """RTT = ``intercept_ms`` + the fibre bound times a path-stretch factor per distance band.

    Between consecutive ``breaks_km`` the RTT grows by ``ms_per_km[j]`` per km, so the *marginal* stretch
    over straight fibre in band ``j`` is ``ms_per_km[j] · 100`` (``km / 100`` ms is the fibre round trip):

    ``rtt(d) = intercept_ms + Σ_j ms_per_km[j] · clip(d - lo_j, 0, hi_j - lo_j)``,

    bands ``[0, b_0), [b_0, b_1), …, [b_last, ∞)``. Every slope must be at least ``1/100`` ms/km and the
    intercept at least 0, so the function is continuous, increasing and never below ``km / 100``.

    Examples
    --------
    >>> fit = StretchRtt(intercept_ms=1.0, breaks_km=(1000.0,), ms_per_km=(0.02, 0.015))
    >>> fit.rtt_ms_km([0.0, 500.0, 1000.0, 3000.0]).tolist()  # 1 + 0.02 x 500; 21 + 0.015 x 2000
    [1.0, 11.0, 21.0, 51.0]
    >>> fit.marginal_stretch
    (2.0, 1.5)
    """

    intercept_ms: float
    breaks_km: tuple[float, ...]
    ms_per_km: tuple[float, ...]
    source: str = ""
    _knots_km: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _knots_ms: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        brk, slope = tuple(map(float, self.breaks_km)), tuple(map(float, self.ms_per_km))
        c = float(self.intercept_ms)
        if len(slope) != len(brk) + 1:
            raise LatencyModelError(
                f"rtt fit: need one slope per band, {len(brk) + 1} for {len(brk)} breaks (got {len(slope)})"
            )
        if not all(np.isfinite([c, *brk, *slope])):
            raise LatencyModelError("rtt fit: intercept, breaks and slopes must be finite")
        if c < 0:
            raise LatencyModelError(f"rtt fit: intercept_ms must be >= 0 (got {c})")
        edges = (0.0, *brk)
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise LatencyModelError(f"rtt fit: breaks_km must be > 0 and increasing (got {list(brk)})")
        low = [s for s in slope if s < FIBER_MS_PER_KM]
        if low:
            raise LatencyModelError(
                f"rtt fit: every ms_per_km must be >= {FIBER_MS_PER_KM} (light in fibre; got {low[0]})"
            )
        # one more knot at the longest great-circle distance: np.interp then covers every real distance
        knots = np.array([*edges, max(_HALF_CIRCUMFERENCE_KM, edges[-1] + 1.0)])
        values = c + np.concatenate([[0.0], np.cumsum(np.diff(knots) * np.array(slope))])
        object.__setattr__(self, "breaks_km", brk)
        object.__setattr__(self, "ms_per_km", slope)
        object.__setattr__(self, "intercept_ms", c)
        object.__setattr__(self, "_knots_km", knots)
        object.__setattr__(self, "_knots_ms", values)

    @property
    def marginal_stretch(self) -> tuple[float, ...]:
        """Path stretch over straight fibre in each band (``ms_per_km · 100``), dimensionless, >= 1."""
        return tuple(round(s * FIBER_KM_PER_MS / 2.0, 12) for s in self.ms_per_km)

    def rtt_ms_km(self, km: ArrayLike) -> NDArray[np.float64]:
        """Predicted RTT in ms for great-circle distances ``km`` (>= 0; any shape).

        One ``np.interp`` over the knots (the last one at half the Earth's circumference, so every
        great-circle distance is inside); a larger value is extended along the last band's slope.
        Negative distances are treated as 0.
        """
        d = np.asarray(km, dtype=float)
        last = float(self._knots_km[-1])
        out = np.asarray(np.interp(d, self._knots_km, self._knots_ms))
        if d.size and not float(d.max()) <= last:  # beyond the antipode (or NaN): rare, not the hot path
            tail = d - last
            np.maximum(tail, 0.0, out=tail)
            tail *= self.ms_per_km[-1]
            out += tail
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "") -> StretchRtt:
        """Build from the ``intercept_ms``, ``breaks_km``, ``ms_per_km`` entries of ``rtt_fit.json``."""
        try:
            return cls(
                float(raw["intercept_ms"]),
                tuple(float(x) for x in raw["breaks_km"]),
                tuple(float(x) for x in raw["ms_per_km"]),
                source,
            )
        except KeyError as exc:
            raise LatencyModelError(f"rtt fit: missing key {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise LatencyModelError(f"rtt fit: malformed coefficients ({exc})") from None


@dataclass(frozen=True)
class MeasuredRtt:
    """A measured RTT matrix between named points (node ids or demand-source names), ms.

    Pairs present in it override the fit; the matrix is symmetrised by averaging both directions when
    both are given.
    """

    names: tuple[str, ...]
    matrix_ms: NDArray[np.float64]

    def __post_init__(self) -> None:
        k = len(self.names)
        if self.matrix_ms.shape != (k, k):
            raise LatencyModelError(f"rtt matrix: shape {self.matrix_ms.shape} does not match {k} names")
        bad = np.isfinite(self.matrix_ms) & (self.matrix_ms < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise LatencyModelError(
                f"rtt matrix: negative RTT {self.matrix_ms[i, j]} ms for {self.names[i]!r} -> {self.names[j]!r}"
            )
        if len(set(self.names)) != k:
            raise LatencyModelError("rtt matrix: duplicate names")

    @classmethod
    def from_pairs(cls, pairs: Mapping[tuple[str, str], float]) -> MeasuredRtt:
        """Build from ``{(a, b): ms}``; missing pairs are NaN (fall back to the fit)."""
        names = tuple(sorted({x for ab in pairs for x in ab}))
        idx = {n: i for i, n in enumerate(names)}
        m = np.full((len(names), len(names)), np.nan)
        for (a, b), v in pairs.items():
            if not np.isfinite(v):
                raise LatencyModelError(f"rtt matrix: RTT for {a!r} -> {b!r} is not finite (got {v!r})")
            m[idx[a], idx[b]] = v
        both = np.isfinite(m) & np.isfinite(m.T)
        sym = np.where(both, (m + m.T) / 2.0, np.where(np.isfinite(m), m, m.T))
        return cls(names, sym)

    def lookup(self, a: Sequence[str], b: Sequence[str]) -> NDArray[np.float64]:
        """(len(a), len(b)) matrix of measured RTTs, NaN where not measured."""
        idx = {n: i for i, n in enumerate(self.names)}
        ia = np.array([idx.get(x, -1) for x in a], dtype=np.int64)  # int even when empty
        ib = np.array([idx.get(x, -1) for x in b], dtype=np.int64)
        out = np.full((len(ia), len(ib)), np.nan)
        ok_a, ok_b = ia >= 0, ib >= 0
        out[np.ix_(ok_a, ok_b)] = self.matrix_ms[np.ix_(ia[ok_a], ib[ok_b])]
        return out


@dataclass(frozen=True)
class RttModel:
    """The RTT model used everywhere: public fit, backbone fit, optional measured overrides."""

    public: RttFit
    backbone: RttFit
    measured: MeasuredRtt | None = None

    def rtt_ms(
        self,
        lat1: ArrayLike,
        lon1: ArrayLike,
        lat2: ArrayLike,
        lon2: ArrayLike,
        same_provider: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Predicted RTT (ms) between points (degrees); broadcasts like numpy.

        ``same_provider`` (bool, broadcastable) selects the backbone fit where true.
        """
        km = great_circle_km(lat1, lon1, lat2, lon2)
        rtt = self.public.rtt_ms_km(km)
        if same_provider is not None:
            rtt = np.where(np.asarray(same_provider, dtype=bool), self.backbone.rtt_ms_km(km), rtt)
        return rtt

    def rtt_ms_named(
        self,
        names_a: Sequence[str],
        lat_a: ArrayLike,
        lon_a: ArrayLike,
        names_b: Sequence[str],
        lat_b: ArrayLike,
        lon_b: ArrayLike,
        same_provider: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """(len(a), len(b)) RTT matrix, taking measured values where the matrix has them."""
        la, lo = np.asarray(lat_a, dtype=float)[:, None], np.asarray(lon_a, dtype=float)[:, None]
        out = self.rtt_ms(
            la,
            lo,
            np.asarray(lat_b, dtype=float)[None, :],
            np.asarray(lon_b, dtype=float)[None, :],
            same_provider,
        )
        if self.measured is not None:
            meas = self.measured.lookup(names_a, names_b)
            out = np.where(np.isfinite(meas), meas, out)
        return out

    def with_measured(self, measured: MeasuredRtt | None) -> RttModel:
        """A copy that uses ``measured`` as overrides."""
        return RttModel(self.public, self.backbone, measured)


@cache
def default_rtt_model() -> RttModel:
    """The RTT model fitted on ``../shared/data/latency`` (coefficients shipped in ``data/rtt_fit.json``)."""
    raw = json.loads(resources.files("nodeplan.model").joinpath("data", "rtt_fit.json").read_text("utf-8"))
    pub, bb = raw["public"], raw["backbone"]
    return RttModel(
        public=StretchRtt.from_dict(pub, str(pub.get("source", ""))),
        backbone=StretchRtt.from_dict(bb, str(bb.get("source", ""))),
    )
