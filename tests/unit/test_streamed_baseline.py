"""The baseline file written a prompt at a time (store._stream): the same bytes the whole
document dumped at once gave, and a write that fails half way leaves the old file as it was."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comfy_plugin.baselines.store import BaselineStore
from comfy_plugin.errors import BaselineError
from comfy_plugin.media.still.entries import Observation, observe


def _png(seed: int) -> bytes:
    pixels = (np.random.default_rng(seed).random((16, 16, 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _whole(path: Path) -> str:
    """The file as the writer that built the whole document in memory wrote it."""
    return json.dumps(json.loads(path.read_text("utf-8")), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_the_streamed_file_is_the_document_dumped_whole(store: tuple[BaselineStore, Path]) -> None:
    baselines, batch = store
    first = {f"p{n}": [observe(_png(n), seed=n, params={"ключ": "значение", "n": n})] for n in range(5)}
    first["два"] = [observe(_png(7)), observe(_png(8))]
    path = baselines.write(batch, first, provenance={"p1": {"device": "cpu", "ünï": [1, 2]}})
    assert path is not None
    assert path.read_text("utf-8") == _whole(path)
    again = baselines.write(batch, {"p0": [observe(_png(9))], "p2": [], "a": [observe(_png(10))]},
                            remove=["p3"], provenance={"a": {"device": "gpu"}})
    assert again == path
    assert path.read_text("utf-8") == _whole(path)
    entries, origins = baselines.load_all(batch)
    assert sorted(entries) == ["a", "p0", "p1", "p4", "два"]
    assert origins == {"p1": {"device": "cpu", "ünï": [1, 2]}, "a": {"device": "gpu"}}
    assert len(entries["два"]) == 2
    assert all(baselines.side_file(batch, e.thumbnail).is_file() for es in entries.values() for e in es)


def test_a_write_failing_half_way_leaves_the_old_file_and_no_new_file(store: tuple[BaselineStore, Path]) -> None:
    baselines, batch = store
    path = baselines.write(batch, {"m": [observe(_png(1))]})
    assert path is not None
    before = path.read_text("utf-8")
    thumbs = sorted(p.name for p in baselines.thumbs_dir(batch).iterdir())
    broken = Observation(observe(_png(2)).entry)  # no thumbnail, no pixels to make one from
    with pytest.raises(BaselineError, match="without its thumbnail"):
        baselines.write(batch, {"a": [observe(_png(3))], "z": [broken]})  # "a" streamed first
    assert path.read_text("utf-8") == before
    assert sorted(p.name for p in baselines.thumbs_dir(batch).iterdir()) == thumbs
    assert not list(path.parent.rglob(".part-*"))
