"""The tables of bench/baseline_study.py: how each case was judged, by each metric, by
combinations of metrics and by reference side. No server and no pixels here: samples in,
printed tables (and their markdown, for docs/baselines-study.md) out."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from comfy_plugin.media.still.metrics import REFERENCE_METRICS
from comfy_plugin.media.still.spec import DEFAULT_REFERENCE_SIDE


@dataclass(frozen=True)
class Case:
    name: str
    expect: str  # pass | fail | info
    server: str = ""  # "config:" (a harmless server) or "variant" (the reference server's)
    client: Callable[[np.ndarray, Any], np.ndarray] | None = None
    trials: int = 1


#: candidates measured here, not metrics of the plugin (with the thresholds they are judged at):
#: PSNR; the 1st percentile of the SSIM map and the 99th of the CIEDE2000 map (instead of tiles);
#: SSIM of the luma only; CIEDE2000 of references of half the side (both cost less)
EXTRA = {"psnr": 40.0, "ssim_p1": 0.1, "ciede2000_p99": 5.0, "ssim_luma": 0.02, "ssim_luma_tile": 0.1,
         "ciede2000_half": 1.0, "ciede2000_half_tile": 3.0}
SIDES = (32, 64, 128, 256)  # reference sides the 256 px images are also judged with


@dataclass
class Sample:
    base: Any  # baseline_study.Base: .side, .key
    distances: dict[str, float]
    same_size: bool
    max_change: int | None
    verdicts: dict[int, str] = field(default_factory=dict)  # reference side -> status
    by_side: dict[int, dict[str, float]] = field(default_factory=dict)  # reference side -> distances


# -- judging and reporting ---------------------------------------------------------------------------

DEFAULT_METRICS = ("hash", "colour", "sharpness", "ssim", "ssim_tile", "ciede2000", "ciede2000_tile")
SHOWN = (*DEFAULT_METRICS, "psnr")
LOWER_IS_WORSE = {"psnr"}  # the others: a larger distance is a larger difference
#: A regression whose output moves no pixel by more than this is within rerun noise: not counted.
INVISIBLE = 2


def thresholds() -> dict[str, float | None]:
    limits = {m.name: m.default_threshold for m in REFERENCE_METRICS}
    return {"hash": 6, "colour": 2.0, "sharpness": 3.0, **limits, **EXTRA}


def beyond(name: str, value: float | None, limit: float | None) -> bool:
    if value is None or limit is None:
        return False
    return value < limit if name in LOWER_IS_WORSE else value > limit


def counted(case: Case, sample: Sample) -> bool:
    return case.expect == "pass" or (case.expect == "fail" and not (
        sample.max_change is not None and sample.max_change <= INVISIBLE))


def fails(sample: Sample, metrics: tuple[str, ...], limits: dict[str, float | None]) -> bool:
    return not sample.same_size or any(beyond(m, sample.distances.get(m), limits.get(m)) for m in metrics)


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:.3g}" if low == high else f"{low:.3g}–{high:.3g}"


class Out:
    """Prints each table and keeps it as markdown for --markdown."""

    def __init__(self) -> None:
        self.markdown: list[str] = []

    def table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print(f"\n== {title}")
        for row in [header, *rows]:
            print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
        self.markdown += [f"### {title}", "", "| " + " | ".join(header) + " |",
                          "|" + "|".join(" --- " for _ in header) + "|",
                          *("| " + " | ".join(str(c) for c in row) + " |" for row in rows), ""]

    def line(self, text: str) -> None:
        print(text)
        self.markdown += [text, ""]


def case_rows(cases: list[Case], samples: dict[str, list[Sample]]) -> list[list[str]]:
    rows = []
    for case in cases:
        got = samples[case.name]
        failed = sum(1 for s in got if s.verdicts.get(DEFAULT_REFERENCE_SIDE) != "match")
        visible = [s for s in got if counted(case, s)]
        verdict = f"fail {failed}/{len(got)}"
        if case.expect == "fail" and len(visible) < len(got):
            verdict += f" ({len(got) - len(visible)} invisible: no pixel moves by more than {INVISIBLE})"
        moved = [s.max_change for s in got if s.max_change is not None]
        rows.append([case.name, case.expect, str(len(got)), spread(moved),
                     *(spread([s.distances[m] for s in got if m in s.distances]) for m in SHOWN), verdict])
    return rows


def metric_rows(cases: list[Case], samples: dict[str, list[Sample]]) -> list[list[str]]:
    limits = thresholds()
    harmless = [s for c in cases if c.expect == "pass" for s in samples[c.name]]
    regressions = [s for c in cases if c.expect == "fail" for s in samples[c.name] if counted(c, s) and s.same_size]
    rows = []
    for name in (*DEFAULT_METRICS, *EXTRA):
        values = [s.distances[name] for s in harmless if name in s.distances]
        worst = (min if name in LOWER_IS_WORSE else max)(values) if values else None
        limit = limits.get(name)
        alone = sum(1 for s in regressions if beyond(name, s.distances.get(name), limit)
                    and not any(beyond(m, s.distances.get(m), limits[m]) for m in DEFAULT_METRICS if m != name))
        rows.append([name, "-" if limit is None else f"{limit:g}", "-" if worst is None else f"{worst:.3g}",
                     f"{sum(1 for v in values if beyond(name, v, limit))}/{len(values)}",
                     f"{sum(1 for s in regressions if beyond(name, s.distances.get(name), limit))}/{len(regressions)}",
                     str(alone) + (" (candidate)" if name in EXTRA else ""),
                     f"{sum(1 for s in regressions if beyond(name, s.distances.get(name), worst))}/{len(regressions)}"])
    return rows


COMBINATIONS: list[tuple[str, tuple[str, ...], dict[str, float]]] = [
    ("defaults: hash, colour, sharpness, ssim, ssim_tile, ciede2000, ciede2000_tile", DEFAULT_METRICS, {}),
    ("before this study: hash, colour, sharpness", ("hash", "colour", "sharpness"), {}),
    ("ssim and ciede2000 (means, tiles)", ("ssim", "ssim_tile", "ciede2000", "ciede2000_tile"), {}),
    ("means only: ssim, ciede2000", ("ssim", "ciede2000"), {}),
    ("tiles only: ssim_tile, ciede2000_tile", ("ssim_tile", "ciede2000_tile"), {}),
    ("ComfyUI's test criterion: mean SSIM > 0.95", ("ssim",), {"ssim": 0.05}),
    ("PSNR > 40 dB", ("psnr",), {"psnr": 40.0}),
]


def redundancy(cases: list[Case], samples: dict[str, list[Sample]]) -> str:
    """How many of the default metrics catch each same-size regression, at the fewest."""
    limits = thresholds()
    hits = [(sum(beyond(m, s.distances.get(m), limits[m]) for m in DEFAULT_METRICS), c.name)
            for c in cases if c.expect == "fail" for s in samples[c.name] if counted(c, s) and s.same_size]
    fewest = min(n for n, _ in hits)
    cases = sorted({name for n, name in hits if n == fewest})
    return (f"Every same-size regression is caught by at least {fewest} of the {len(DEFAULT_METRICS)} metrics "
            f"(that few: {', '.join(cases)}); median {statistics.median(n for n, _ in hits):g}.")


def combination_rows(cases: list[Case], samples: dict[str, list[Sample]]) -> list[list[str]]:
    rows = []
    for title, metrics, override in COMBINATIONS:
        limits = {**thresholds(), **override}
        harmless = [fails(s, metrics, limits) for c in cases if c.expect == "pass" for s in samples[c.name]]
        caught = [(c.name, fails(s, metrics, limits)) for c in cases if c.expect == "fail"
                  for s in samples[c.name] if counted(c, s)]
        missed = sorted({name for name, hit in caught if not hit})
        rows.append([title, f"{len(harmless) - sum(harmless)}/{len(harmless)}",
                     f"{sum(hit for _, hit in caught)}/{len(caught)} ({sum(hit for _, hit in caught) / len(caught):.1%})",
                     ", ".join(missed) or "-"])
    return rows


REFERENCE_NAMES = ("ssim", "ssim_tile", "ciede2000", "ciede2000_tile")


def side_rows(cases: list[Case], samples: dict[str, list[Sample]]) -> list[list[str]]:
    """The 256x256 images judged with smaller references: by the defaults, and by the
    reference metrics alone (what the downscale itself keeps)."""
    limits = thresholds()
    rows = []
    for side in (*SIDES[:-1], DEFAULT_REFERENCE_SIDE):
        def judged(expect: str) -> list[tuple[str, Sample]]:
            return [(c.name, s) for c in cases if c.expect == expect for s in samples[c.name]
                    if side in s.verdicts and s.base.side > 64 and counted(c, s)]
        harmless, regressions = judged("pass"), judged("fail")
        alone = [(name, not s.same_size or any(beyond(m, s.by_side[side].get(m), limits[m]) for m in REFERENCE_NAMES))
                 for name, s in regressions]
        label = f"{side}" + (" (the image itself)" if side >= 256 else f" ({256 // side}x down)")
        rows.append([label, f"{sum(s.verdicts[side] == 'match' for _, s in harmless)}/{len(harmless)}",
                     f"{sum(s.verdicts[side] != 'match' for _, s in regressions)}/{len(regressions)}",
                     f"{sum(hit for _, hit in alone)}/{len(alone)}",
                     ", ".join(sorted({name for name, hit in alone if not hit})) or "-"])
    return rows


def wrong(cases: list[Case], samples: dict[str, list[Sample]]) -> list[tuple[Case, Sample]]:
    """Counted samples the defaults got wrong: a harmless variant that failed, a regression that passed."""
    return [(case, s) for case in cases if case.expect != "info" for s in samples[case.name]
            if counted(case, s) and (s.verdicts.get(DEFAULT_REFERENCE_SIDE) == "match") != (case.expect == "pass")]


def summary(cases: list[Case], samples: dict[str, list[Sample]], errors: list[tuple[Case, Sample]]) -> str:
    harmless = sum(len(samples[c.name]) for c in cases if c.expect == "pass")
    regressions = sum(1 for c in cases if c.expect == "fail" for s in samples[c.name] if counted(c, s))
    false_fails = sum(1 for case, _ in errors if case.expect == "pass")
    caught = regressions - (len(errors) - false_fails)
    return (f"With the defaults: harmless variants passed {harmless - false_fails}/{harmless}, "
            f"regressions caught {caught}/{regressions} ({caught / regressions:.1%}).")
