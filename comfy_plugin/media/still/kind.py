"""Still images, the first output kind: PNG, JPEG or WEBP files a node lists under ``images``
(not animations). Each image is decoded once (``image.py``): its entry's metrics, its
reference, the baseline's thumbnail and the report's thumbnails and difference all come from
those pixels (``entries.py``, ``comparison.py``, ``metrics/``)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ...errors import BaselineError
from ..kind import CompareContext, KindVerdict, OutputKind, Readings, Recordable, SavedOutput, SideFiles, Stored

if TYPE_CHECKING:
    import numpy as np

    from ...client import OutputFile
    from .comparison import PromptComparison
    from .entries import BaselineEntry, Observation
    from .spec import HashSpec

REPORT_SIDE = 256  # the long side of the report's thumbnails


def image_size(data: bytes) -> tuple[int, int] | None:
    """The pixel size of a still image, from its header (no decode); None for anything else."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size if not getattr(img, "is_animated", False) else None
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def readings_of(result: PromptComparison) -> Readings:
    """Every metric's distances (one per image, None where it was not measured) and threshold,
    in the order the metrics are named, for a comparison that compared anything."""
    names = [name for name in result.thresholds if any(name in c.distances for c in result.images)]
    return {name: (tuple(c.distances.get(name) for c in result.images), result.thresholds.get(name))
            for name in names}


def unchanged_output(entry: BaselineEntry | None, data: bytes, hash_spec: HashSpec,
                     context: CompareContext) -> Observation | None:
    """The observation of an output whose bytes are the ones its entry recorded (its
    ``sha256``), made from the entry without decoding the output: the prompt's current seed,
    parameters and workflow digest, the stored thumbnail and reference (the files an update
    would write, and the report's pixels). None when it must be decoded: no digest, other
    bytes, another hash setting, no reference (an update adds it from the decoded output), a
    stored file that cannot be read."""
    from dataclasses import replace

    from ..kind import plain
    from .entries import Observation, digest_of
    from .image import load_reference
    from .metrics import HASH, METRICS

    if entry is None or not entry.sha256 or not entry.reference or entry.sha256 != digest_of(data):
        return None
    values = [entry.values(metric) for metric in METRICS]
    if any(v is None for v in values) or HASH.setting(entry.values(HASH) or {}) != str(hash_spec):
        return None
    try:
        thumb = context.stored_file(entry.thumbnail).read_bytes() if context.record and entry.thumbnail else b""
        reference = context.stored_file(entry.reference).read_bytes() if context.record else b""
        pixels = load_reference(context.stored_file(entry.reference)) if context.report else None
    except (OSError, BaselineError):
        return None
    now = replace(entry, seed=context.seed, workflow_digest=context.workflow_digest,
                  params=plain(dict(context.params)), thumbnail="", reference="")
    return Observation(now, thumb, reference, pixels)


def identical(result: PromptComparison, same: list[bool]) -> PromptComparison:
    """Each byte-identical output read 0 by every metric, the reference metrics included
    (its pixels are its baseline's: nothing to measure)."""
    from dataclasses import replace

    from .metrics import REFERENCE_METRICS

    images = []
    for compared in result.images:
        if compared.index < len(same) and same[compared.index] and compared.status == "match":
            zeros = {m.name: 0.0 for m in REFERENCE_METRICS} if not compared.no_reference else {}
            compared = replace(compared, distances={**compared.distances, **zeros},  # noqa: PLW2901
                               message=compared.message + "\n  the same bytes as the recorded output: not decoded")
        images.append(compared)
    return replace(result, images=images)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class StillImages(OutputKind):
    name = "image"
    noun = "image"

    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        if file.kind != "images":
            return None
        size = image_size(data)
        return f"{size[0]}x{size[1]}" if size else None

    def warm_up(self, stored: list[Stored]) -> None:
        """Pillow, numpy and imagehash now; scikit-image only when an entry has a reference to
        compare (a session that records, or has only older baselines, never loads it)."""
        from .entries import warm_up

        warm_up()
        if any(cast("BaselineEntry", e).reference for e in stored):
            from .comparison import warm_up_references

            warm_up_references()

    def settings(self, context: CompareContext) -> tuple[HashSpec, dict[str, float | None]]:
        """The hash and the thresholds a prompt sets (prompt > batch file > command line > ini)."""
        from .metrics import threshold_keys
        from .spec import HashSpec

        hash_text = next((layer["hash"] for layer in context.layers if "hash" in layer), context.settings.hash)
        given: dict[str, float | None] = {}
        if context.settings.threshold is not None:  # --comfy-threshold: the hash's
            given["hash"] = context.settings.threshold
        for name, threshold_key in threshold_keys().items():
            chosen = next((layer for layer in context.layers if threshold_key in layer), None)
            if chosen is not None:
                given[name] = chosen[threshold_key]
        return HashSpec.parse(hash_text), given

    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        from .comparison import compare_all, updated_entries
        from .entries import observe
        from .regions import Ignoring, card_boxes, ignore_regions

        hash_spec, thresholds = self.settings(context)
        regions = ignore_regions(context.layers)  # "baseline": {"ignore": [...]}: left out of the comparison
        entries = cast("list[BaselineEntry] | None", stored)
        same = [unchanged_output(entries[i] if entries and i < len(entries) else None, o.data, hash_spec, context)
                for i, o in enumerate(outputs)]
        observed = [seen or observe(o.data, hash_spec, seed=context.seed, workflow_digest=context.workflow_digest,
                                    params=context.params, thumbnail=False,  # made when written
                                    reference_side=context.reference_side)
                    for seen, o in zip(same, outputs, strict=True)]
        references = [context.stored_file(e.reference) if e.reference else None for e in entries or []]
        compared = Ignoring(regions, hash_spec, [s is not None for s in same]) if regions else compare_all
        result = identical(compared(
            entries, observed, thresholds,
            baseline_images=[str(context.stored_file(e.thumbnail)) if e.thumbnail else "" for e in entries or []],
            new_images=[str(o.path or o.file.filename) for o in outputs], baseline_references=references),
            [seen is not None for seen in same])
        card = self._card(outputs, observed, entries or [], context, result) if context.report else {}
        if card and regions:
            card["ignore"] = card_boxes(regions, observed)  # full-image pixels, hatched by the report
        return KindVerdict(self.name, result.status, result.message, readings_of(result), tuple(result.observed),
                           updated_entries(result) is None, card)

    # -- what a baseline keeps -------------------------------------------------------------

    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        from .entries import BaselineEntry

        return BaselineEntry.from_json(dict(data), where)

    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        from .entries import Observation

        return Observation.from_json(data)

    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        """The thumbnail (named by prompt and index) and the reference (by digest) written, the
        entry naming both. An observation without a reference (kept by an older version) gets
        an entry without one."""
        observation = cast("Observation", seen).recordable()
        if not observation.thumbnail_png:
            raise BaselineError(f"{prompt_id}: image {index} was observed without its thumbnail")
        entry = observation.entry.with_thumbnail(files.named(prompt_id, index, ".png", observation.thumbnail_png))
        reference = files.by_digest(observation.reference_png, ".png") if observation.reference_png else ""
        return entry.with_reference(reference)

    # -- the report ------------------------------------------------------------------------

    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        """The saved outputs, linked by the report: nothing decoded (the size from the header)."""
        return {"images": [_image(o, image_size(o.data) or (0, 0)) for o in outputs], "comparisons": []}

    def _card(self, outputs: list[SavedOutput], observed: Sequence[Observation], entries: list[BaselineEntry],
              context: CompareContext, result: PromptComparison) -> dict[str, Any]:
        """The new images (the saved files) and each compared one's readings and baseline
        (its reference file); a failing one also its amplified difference and worst tile, from
        the pixels the comparison decoded. A passing one costs no decode and no encode."""
        from .card import worst_tile
        from .image import thumbnail_png

        readings = readings_of(result)
        images, comparisons = [], []
        by_index = {c.index: c for c in result.images}
        for index, (output, seen) in enumerate(zip(outputs, observed, strict=True)):
            image = _image(output, (seen.entry.width, seen.entry.height))
            images.append(image)
            compared = by_index.get(index)
            if index >= len(entries) or compared is None:
                continue
            entry = entries[index]
            shown = {"index": index, "status": compared.status,
                     "readings": {name: [values[index], limit] for name, (values, limit) in readings.items()},
                     "baseline_path": str(context.stored_file(entry.reference or entry.thumbnail))
                     if entry.reference or entry.thumbnail else ""}
            new_pixels = seen.reference_pixels() if compared.failed else None
            base_pixels = _baseline_pixels(entry, context.stored_file) if new_pixels is not None else None
            if base_pixels is not None and new_pixels is not None:
                shown.update(diff=_difference(base_pixels, new_pixels), tile=worst_tile(compared.message),
                             baseline_size=[base_pixels.shape[1], base_pixels.shape[0]])
                if output.path is None:  # nothing saved to link: the new image embedded, at the reference's size
                    image["thumb"] = _b64(thumbnail_png(new_pixels, max(new_pixels.shape[:2])))
            comparisons.append(shown)
        return {"images": images, "comparisons": comparisons}

    def thumbnails(self, card: Mapping[str, Any]) -> list[str]:
        """Small PNGs of the saved outputs for pytest-html's extras, decoded only for it."""
        from .image import decode, thumbnail_png

        thumbs = []
        for image in card.get("images", []):
            if image.get("thumb"):
                thumbs.append(image["thumb"])
                continue
            try:
                data = Path(image["path"]).read_bytes()
                thumbs.append(_b64(thumbnail_png(decode(data).reference(REPORT_SIDE), REPORT_SIDE)))
            except (OSError, BaselineError):
                continue
        return thumbs

    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        from .card import card_html

        return card_html(card, link)


def _image(output: SavedOutput, size: tuple[int, int]) -> dict[str, Any]:
    return {"path": str(output.path or output.file.filename), "width": size[0], "height": size[1]}


def _baseline_pixels(entry: BaselineEntry, stored_file: Callable[[str], Path]) -> np.ndarray | None:
    """The baseline's reference pixels, or its thumbnail's for an entry without a reference."""
    from .image import load_reference

    for name in (entry.reference, entry.thumbnail):
        if name:
            try:
                return load_reference(stored_file(name))
            except BaselineError:
                continue
    return None


def _difference(base: np.ndarray, new: np.ndarray) -> str | None:
    """|baseline - new| at the baseline reference's size, amplified 4x so that small changes show."""
    import numpy as np
    from PIL import Image

    from .image import thumbnail_png

    if base.shape != new.shape:
        new = np.asarray(Image.fromarray(new).resize((base.shape[1], base.shape[0]), Image.Resampling.LANCZOS))
    diff = np.minimum(np.abs(base.astype(np.int16) - new.astype(np.int16)) * 4, 255).astype(np.uint8)
    return _b64(thumbnail_png(diff, max(diff.shape[:2])))
