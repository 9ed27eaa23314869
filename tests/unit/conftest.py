"""Fixtures the unit tests of the baseline store share."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfy_plugin.baselines.store import BaselineStore


@pytest.fixture
def store(tmp_path: Path) -> tuple[BaselineStore, Path]:
    """A store under ``tmp_path`` and a batch file ``batches/x.json`` it keeps baselines of."""
    (tmp_path / "batches").mkdir()
    batch = tmp_path / "batches" / "x.json"
    batch.write_text("{}")
    return BaselineStore(tmp_path / "baselines", tmp_path), batch
