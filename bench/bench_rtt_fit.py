"""How well does the fitted RTT line predict held-out measured pairs, against the fibre-bound baseline?

For WonderProxy (public internet) and AWS cloudping (provider backbone): a seeded 80/20 split of the
cleaned pairs; fit on 80% with least squares (LS) and with L1 (median regression); report the median and
p90 absolute percentage error on the held-back 20%, next to the naive baseline RTT = fibre lower bound
(great-circle km / 100 ms, light at 2/3 c), and the ratio baseline / ours (> 1: ours is better).
Accuracy, not speed, is the figure of merit here: fitting a line takes milliseconds.

Run: ``python bench/bench_rtt_fit.py [--data DIR] [--seed 0]`` (default data: ``tests/data/latency``)
"""

from __future__ import annotations

import argparse
import time

from benchdata import data_path
from nodeplan.model.fit import (
    Estimator,
    HoldoutScore,
    PairSample,
    holdout_score,
    load_aws_cloudping,
    load_wonderproxy,
)

DEFAULT_DATA = data_path("latency")


def _row(label: str, s: HoldoutScore, base: HoldoutScore) -> str:
    ratio_med = base.median_ape_pct / s.median_ape_pct
    ratio_p90 = base.p90_ape_pct / s.p90_ape_pct
    return (
        f"  {label:<22} median APE {s.median_ape_pct:6.1f}%  p90 APE {s.p90_ape_pct:6.1f}%"
        f"   baseline/ours: median {ratio_med:5.2f}x  p90 {ratio_p90:5.2f}x"
    )


def _report(sample: PairSample, seed: int) -> None:
    base = holdout_score(sample, None, seed)
    print(f"{sample.name}: {sample.n_pairs} pairs, test {base.n_test} (seed {seed})")
    print(
        f"  {'baseline km/100 ms':<22} median APE {base.median_ape_pct:6.1f}%  p90 APE {base.p90_ape_pct:6.1f}%"
    )
    for est, label in ((Estimator.LEAST_SQUARES, "ours: least squares"), (Estimator.L1, "ours: L1 (median)")):
        t0 = time.perf_counter()
        score = holdout_score(sample, est, seed)
        ms = (time.perf_counter() - t0) * 1e3
        print(_row(label, score, base) + f"   ({ms:.0f} ms)")


def main() -> None:
    """Print the held-out accuracy table for both data sets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="folder with the latency data files")
    ap.add_argument("--seed", type=int, default=0, help="seed of the 80/20 split")
    args = ap.parse_args()
    _report(load_wonderproxy(args.data), args.seed)
    _report(load_aws_cloudping(args.data), args.seed)


if __name__ == "__main__":
    main()
