"""The metrics an image is compared by, in the order messages name them.

Each module implements ``base.Metric``; adding a metric is one module and one line in
``METRICS``. The defaults were measured by ``bench/baseline_study.py`` (see the package's
docstring): each metric is blind where another sees.
"""

from __future__ import annotations

from typing import Any

from ...errors import BaselineError
from .base import Metric, Reading, Values, beyond, limit
from .colour import COLOUR
from .hash import HASH
from .sharpness import SHARPNESS

METRICS: tuple[Metric, ...] = (HASH, COLOUR, SHARPNESS)

__all__ = ["METRICS", "Metric", "Reading", "Values", "beyond", "by_name", "default_thresholds", "limit"]


def by_name(name: str) -> Metric:
    for metric in METRICS:
        if metric.name == name:
            return metric
    raise BaselineError(f"no metric named {name!r}: expected one of {', '.join(m.name for m in METRICS)}")


def default_thresholds(entry: Any) -> dict[str, float | None]:
    """Each metric's default threshold for an observed entry (a ``BaselineEntry``)."""
    limits = {}
    for metric in METRICS:
        values = entry.values(metric)
        if values is not None:
            limits[metric.name] = metric.default_threshold(values)
    return limits
