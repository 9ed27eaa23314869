"""The metrics an image is compared by, in the order messages name them.

``METRICS`` reduce each image to a few values kept in its baseline entry (``base.Metric``);
``REFERENCE_METRICS`` compare the two reference images themselves (``base.ReferenceMetric``).
Adding a metric is one module and one line in its tuple. The defaults were measured by
``bench/baseline_study.py`` (docs/baselines-study.md): each metric is blind where another sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ....errors import BaselineError
from .base import Metric, Reading, ReferenceMetric, Values, beyond, limit
from .ciede2000 import CIEDE2000, CIEDE2000_TILE
from .colour import COLOUR
from .hash import HASH
from .sharpness import SHARPNESS
from .ssim import SSIM, SSIM_TILE

if TYPE_CHECKING:
    from ..entries import BaselineEntry

METRICS: tuple[Metric, ...] = (HASH, COLOUR, SHARPNESS)
REFERENCE_METRICS: tuple[ReferenceMetric, ...] = (SSIM, SSIM_TILE, CIEDE2000, CIEDE2000_TILE)
_ALL: tuple[Metric | ReferenceMetric, ...] = (*METRICS, *REFERENCE_METRICS)

__all__ = ["METRICS", "REFERENCE_METRICS", "Metric", "Reading", "ReferenceMetric", "Values", "beyond", "by_name",
           "default_thresholds", "limit", "threshold_keys"]


def by_name(name: str) -> Metric | ReferenceMetric:
    for metric in _ALL:
        if metric.name == name:
            return metric
    names = ", ".join(m.name for m in _ALL)
    raise BaselineError(f"no metric named {name!r}: expected one of {names}")


def threshold_keys() -> dict[str, str]:
    """Metric name -> the key of a batch file's ``baseline`` object that sets its threshold."""
    return {m.name: m.threshold_key for m in _ALL}


def default_thresholds(entry: BaselineEntry) -> dict[str, float | None]:
    """Each metric's default threshold for an observed entry (a ``BaselineEntry``)."""
    limits: dict[str, float | None] = {}
    for metric in METRICS:
        values = entry.values(metric)
        if values is not None:
            limits[metric.name] = metric.default_threshold(values)
    for reference_metric in REFERENCE_METRICS:
        limits[reference_metric.name] = reference_metric.default_threshold
    return limits
