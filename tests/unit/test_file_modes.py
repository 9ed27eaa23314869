"""Every file the plugin writes gets the mode a file written with ``open()`` gets (0666 less the
umask): 0644 under umask 022, so a shared results folder or a web server can read it; 0600 under 077."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from comfy_plugin.baselines.pending import Pending, PendingStore
from comfy_plugin.baselines.perf import PerfBaselines, perf_path
from comfy_plugin.baselines.store import BaselineStore
from comfy_plugin.files import write_atomically, write_new
from comfy_plugin.media.still.entries import observe
from comfy_plugin.report.html import Recorder
from comfy_plugin.settings import BaselineSettings
from comfy_plugin.uiformat.command import main as convert_main


@pytest.fixture(params=[(0o022, 0o644), (0o077, 0o600)], ids=["umask-022", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Sets the process's umask for the test and gives the mode a new file must have under it."""
    mask, mode = request.param
    before = os.umask(mask)
    try:
        yield mode
    finally:
        os.umask(before)


def png() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def every_writer(root: Path) -> dict[str, Path]:
    """Each kind of file the plugin writes, written the way the plugin writes it."""
    written = {"output image": write_new(root / "images", "T_a_00.png", png())}
    batch = root / "batches" / "x.json"
    batch.parent.mkdir()
    batch.write_text("{}")
    store = BaselineStore(root / "baselines", root)
    written["baseline file"] = store.write(batch, {"a": [observe(png())]})
    written["thumbnail"], = store.thumbs_dir(batch).iterdir()
    written["reference image"], = store.refs_dir(batch).iterdir()
    settings = BaselineSettings(update=True, prune=False, root=root / "baselines", env=None, missing="write",
                                hash="phash", threshold=None, fresh=False)
    perf = PerfBaselines(settings, store)
    perf.check("batches/x.json::a", batch, "a", "cpu", {"execution_s": 1.0})
    perf.finish()
    assert perf.error == ""
    written["time baseline"] = perf_path(store.baseline_path(batch))
    pending = PendingStore(root / "images" / "comfy-pending")
    pending.put(Pending("batches/x.json::a", "batches/x.json", "a", "missing", "no baseline", []))
    written["pending result"] = pending.path("batches/x.json", "a")
    report = Recorder(root / "reports" / "report.html")
    report.outcome("batches/x.json::a", "passed")
    written["HTML report"] = report.write()
    (root / "api.json").write_text(json.dumps({"1": {"class_type": "EmptyImage", "inputs": {}}}))
    out = root / "converted.json"
    assert convert_main([str(root / "api.json"), "--object-info", str(root / "unused.json"), "-o", str(out)]) == 0
    written["converted prompt"] = out
    return written


def test_written_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    written = every_writer(tmp_path)
    modes = {what: oct(path.stat().st_mode & 0o777) for what, path in written.items()}
    assert modes == {what: oct(umask) for what in written}
    assert list(tmp_path.rglob(".*")) == [], "no temporary file is left behind"


def test_a_replaced_file_gets_the_new_mode_and_a_failed_write_keeps_the_old_one(
        tmp_path: Path, umask: int, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.json"
    path.write_text("old")
    path.chmod(0o600 if umask == 0o644 else 0o644)
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == umask

    def no_space(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"newer")
    monkeypatch.undo()
    assert path.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
