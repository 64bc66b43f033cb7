"""Percentiles and medians of measured values."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (``q`` in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median of the values that are not NaN; NaN when there are none."""
    real = [v for v in values if not math.isnan(v)]
    return statistics.median(real) if real else math.nan


def round_sig(value: float, digits: int = 2) -> float:
    """``value`` rounded to ``digits`` significant digits; NaN for 0, NaN and infinity."""
    if not value or math.isnan(value) or math.isinf(value):
        return math.nan
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))
