"""`make batches` for real: it sets up the project venv, ComfyUI and the checkpoint, and never touches
system packages (apt-get, sudo and chromium are recording stand-ins first on PATH). The batch file it
collects is the test's own, never one of batches/: a user's broken batch file there fails as its own
item of `make test`, not this test. The setup scripts' other tests: tests/unit/test_setup_scripts.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from unit.test_setup_scripts import ROOT, Stubs, sha256, stubbed


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    with stubbed() as made:
        yield made


@pytest.fixture
def own_batch() -> Iterator[Path]:
    """A batch file of this test's own, for `make batches BATCHES=...`. It lies under the repository's
    build/ (which pytest never collects: norecursedirs) so that the repository's ini applies to it."""
    (ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="setup-test-", dir=ROOT / "build"))
    batch = {"parameters": {"workflow_file": os.path.relpath(ROOT / "workflows-files" / "noise-image-api.json", folder),
                            "workflow_items": {"seed": "2,inputs,seed"}},
             "prompts": [{"id": "setup-check", "seed": 1}]}
    path = folder / "setup-check.json"
    path.write_text(json.dumps(batch), encoding="utf-8")
    try:
        yield path
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("browser", ["stubbed", "missing"])
def test_make_batches_never_calls_apt_get_sudo_or_the_browser(stubs: Stubs, browser: str, own_batch: Path) -> None:
    """With the browser missing, as on a fresh machine, a setup that installs it calls apt-get;
    with it stubbed, a setup that runs it is caught."""
    if shutil.which("make") is None:
        pytest.fail("no make on PATH: the README's commands need GNU make", pytrace=False)
    env = stubs.env() if browser == "stubbed" else stubs.env_without_browser()
    run = subprocess.run(["make", "batches", f"BATCHES={own_batch.relative_to(ROOT)}",
                          "ARGS=--collect-only -q -p no:cacheprovider"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert stubs.called() == []
    assert "setup OK" in run.stdout
    assert f"{own_batch.relative_to(ROOT)}::setup-check" in run.stdout.splitlines(), run.stdout
    # The run left the stamp that ties the project venv to today's pyproject.toml.
    assert (ROOT / ".venv" / ".pyproject.sha256").read_text().strip() == sha256(ROOT / "pyproject.toml")
