"""Many files made durable together (files.StagedWrites): a baseline's thumbnails and
references, synced concurrently before the baseline file that names them is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfy_plugin.files import StagedWrites


def test_nothing_is_in_place_before_the_commit_and_everything_after(tmp_path: Path) -> None:
    (tmp_path / "old.png").write_bytes(b"old")
    staged = StagedWrites()
    for n in range(20):
        staged.add(tmp_path / f"{n}.png", bytes([n]) * 100)
    staged.add(tmp_path / "old.png", b"new")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".part-")) == ["old.png"]
    assert (tmp_path / "old.png").read_bytes() == b"old"
    staged.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(f"{n}.png" for n in range(20)), "old.png"])
    assert (tmp_path / "7.png").read_bytes() == bytes([7]) * 100
    assert (tmp_path / "old.png").read_bytes() == b"new"


def test_a_discarded_or_failed_set_leaves_no_temporary_file(tmp_path: Path) -> None:
    staged = StagedWrites()
    staged.add(tmp_path / "a.png", b"a")
    staged.discard()
    assert list(tmp_path.iterdir()) == []
    staged.add(tmp_path / "b.png", b"b")
    (tmp_path / "target").mkdir()
    staged.add(tmp_path / "target" / "x.png", b"x")
    (tmp_path / "target" / "x.png").mkdir()  # a folder where the file goes: os.replace fails
    with pytest.raises(OSError):
        staged.commit()
    assert not [p for p in tmp_path.rglob(".part-*")]
