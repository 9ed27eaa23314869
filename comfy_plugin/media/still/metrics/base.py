"""The interface every comparison metric implements: observe, measure a distance, describe it.

A metric reduces an image to a few JSON values (its ``fields`` in the baseline entry),
measures how far two such reductions lie apart, and says what that distance means against
its threshold. The comparison, the store and the messages know metrics only through this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..image import DecodedImage
    from ..spec import HashSpec
    from .pixels import ReferencePair

Values = Mapping[str, Any]  # a metric's own fields of one entry


@dataclass(frozen=True)
class Reading:
    """A metric's verdict on one pair: ``figure`` always (for the message), ``problem`` when beyond."""

    figure: str
    problem: str = ""


class Metric(Protocol):
    """One way to compare an image with its baseline. A new metric is a module implementing
    this and one line in ``METRICS`` (``metrics/__init__.py``)."""

    #: names the threshold (``thresholds[name]``) and the distances of a comparison
    name: str
    #: the keys it owns in a baseline entry; an entry recorded before the metric existed lacks them
    fields: tuple[str, ...]
    #: keys it adds when present (a value introduced later: older entries lack it, and are read)
    optional: tuple[str, ...]
    #: the key of a batch file's (or prompt's) ``baseline`` object that overrides the default threshold
    threshold_key: str

    def observe(self, image: DecodedImage, hash_spec: HashSpec) -> dict[str, Any]:
        """The values of ``fields`` for one decoded image."""

    def check(self, values: Values) -> None:
        """Raise BaselineError when stored values cannot be this metric's (read from a file)."""

    def setting(self, values: Values) -> str:
        """How the values were computed (``phash-8``); "" when there is nothing to choose."""

    def default_threshold(self, values: Values) -> float | None:
        """The largest distance that still matches ``values`` (a hash's depends on its length);
        None: the metric is off unless a threshold is given."""

    def distance(self, old: Values, new: Values) -> float:
        """How far two observations of the same setting lie apart."""

    def describe(self, old: Values, new: Values, distance: float, threshold: float | None) -> Reading:
        """The figure for the message, and the problem when the distance is beyond the threshold."""


class ReferenceMetric(Protocol):
    """A comparison of the two reference images themselves (SSIM, CIEDE2000): nothing of it is
    stored in the entry but the reference. A new one is a module implementing this and one line
    in ``REFERENCE_METRICS``; its library is imported when the first comparison runs."""

    #: names the threshold and the distance, as for ``Metric``
    name: str
    #: the key of a batch file's (or prompt's) ``baseline`` object that overrides the default threshold
    threshold_key: str
    #: the largest distance that still matches (None: off unless a threshold is given)
    default_threshold: float | None

    def distance(self, pair: ReferencePair) -> float | None:
        """How far the new reference lies from the baseline's (0: the same pixels); None when
        the references are too small for the metric."""

    def describe(self, pair: ReferencePair, distance: float | None, threshold: float | None) -> Reading:
        """The figure for the message, and the problem when the distance is beyond the threshold."""


def limit(threshold: float | None) -> str:
    """A threshold as messages show it."""
    return "off" if threshold is None else f"{threshold:g}"


def beyond(distance: float | None, threshold: float | None) -> bool:
    return threshold is not None and distance is not None and distance > threshold
