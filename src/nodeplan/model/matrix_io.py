"""Read a measured RTT matrix (CSV ``from,to,rtt_ms``) that overrides the fitted RTT line.

Names are node ids or demand-source names of the scenario. One row per measured direction; when both
directions of a pair are given they are averaged (:meth:`MeasuredRtt.from_pairs`). Pairs that are not
in the file fall back to the fit. Extra columns are ignored.

Example file::

    from,to,rtt_ms
    og-frankfurt-1,og-virginia-1,88.4
    og-virginia-1,og-frankfurt-1,89.0
    Berlin,og-frankfurt-1,12.5
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from nodeplan.exceptions import LatencyModelError
from nodeplan.model.rtt import MeasuredRtt

__all__ = ["RTT_MATRIX_COLUMNS", "load_rtt_matrix"]

#: Required header of a measured RTT matrix file.
RTT_MATRIX_COLUMNS: tuple[str, str, str] = ("from", "to", "rtt_ms")


def load_rtt_matrix(path: str | Path) -> MeasuredRtt:
    """Load a measured RTT matrix from a CSV file with columns ``from,to,rtt_ms`` (ms).

    Raises
    ------
    LatencyModelError
        One line naming the file, the row (line number, header = 1), the column and the bad value:
        missing column, empty name, RTT that is not a number, NaN/infinite or negative, or the same
        directed pair twice.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rtt.csv"
    >>> _ = p.write_text("from,to,rtt_ms\\na,b,10\\nb,a,12\\na,c,30\\n")
    >>> m = load_rtt_matrix(p)
    >>> m.names, m.lookup(["a"], ["b", "c"]).tolist()
    (('a', 'b', 'c'), [[11.0, 30.0]])
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            if not header:
                raise LatencyModelError(f"{p}: empty file (need a header {','.join(RTT_MATRIX_COLUMNS)})")
            for col in RTT_MATRIX_COLUMNS:
                if col not in header:
                    raise LatencyModelError(
                        f"{p}: missing column {col!r} (need {','.join(RTT_MATRIX_COLUMNS)}; header is {','.join(header)!r})"
                    )
            reader.fieldnames = header
            pairs: dict[tuple[str, str], float] = {}
            first_row: dict[tuple[str, str], int] = {}
            for row in reader:
                line = reader.line_num
                a, b = (row.get("from") or "").strip(), (row.get("to") or "").strip()
                for col, name in (("from", a), ("to", b)):
                    if not name:
                        raise LatencyModelError(f"{p}: row {line} column {col!r}: empty name")
                raw = (row.get("rtt_ms") or "").strip()
                try:
                    v = float(raw)
                except ValueError:
                    raise LatencyModelError(
                        f"{p}: row {line} column 'rtt_ms': not a number (got {raw!r})"
                    ) from None
                if not math.isfinite(v):
                    raise LatencyModelError(f"{p}: row {line} column 'rtt_ms': must be finite (got {raw!r})")
                if v < 0:
                    raise LatencyModelError(f"{p}: row {line} column 'rtt_ms': must be >= 0 ms (got {raw!r})")
                if (a, b) in pairs:
                    raise LatencyModelError(
                        f"{p}: row {line}: pair {a!r} -> {b!r} already given at row {first_row[(a, b)]}"
                    )
                pairs[(a, b)] = v
                first_row[(a, b)] = line
    except OSError as exc:
        raise LatencyModelError(f"{p}: cannot read RTT matrix ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LatencyModelError(f"{p}: not a readable CSV file ({exc})") from None
    if not pairs:
        raise LatencyModelError(f"{p}: no rows after the header (need {','.join(RTT_MATRIX_COLUMNS)})")
    return MeasuredRtt.from_pairs(pairs)
