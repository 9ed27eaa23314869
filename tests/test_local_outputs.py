"""A launched server's outputs are taken from its output folder on this machine (a hard link to
the server's own file, never a second transfer over /view); a server given by URL still
downloads them. Real ComfyUI: one launched by the run (about 10 s), and the suite's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from comfy_plugin.client.endpoints import Endpoints
from comfy_plugin.run import steps
from comfy_plugin.server.launcher import default_python
from conftest import COMFY_DIR, CPU_ARGS, ROOT, Project, noise_batch


@pytest.fixture
def transfers(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Each /view download, and each link made: (the server's file, the saved one, the same file then)."""
    seen: dict[str, list] = {"downloads": [], "links": []}
    download, link = Endpoints.download, steps.link_new

    def counting_download(self: Endpoints, file: object) -> bytes:
        seen["downloads"].append(file)
        return download(self, file)  # type: ignore[arg-type]

    def counting_link(directory: Path, name: str, source: Path) -> Path | None:
        saved = link(directory, name, source)
        seen["links"].append((source, saved, saved is not None and os.path.samefile(source, saved)))
        return saved

    monkeypatch.setattr(Endpoints, "download", counting_download)
    monkeypatch.setattr(steps, "link_new", counting_link)
    return seen


def test_a_launched_servers_outputs_are_linked_not_downloaded(offline_project: Project,
                                                              transfers: dict[str, list]) -> None:
    p = offline_project
    p.batch("two.json", noise_batch([{"positive_prompt": "one", "seed": 1}, {"positive_prompt": "two", "seed": 2}]))
    result = p.pytester.runpytest("batches/", "-p", "no:cacheprovider", f"--comfy-launch={COMFY_DIR}",
                                  f"--comfy-python={default_python(ROOT)}", "--comfy-launch-args", " ".join(CPU_ARGS))
    result.assert_outcomes(passed=2)
    assert transfers["downloads"] == []
    assert len(transfers["links"]) == 2 and all(same for _, _, same in transfers["links"]), transfers["links"]
    assert sorted(saved for _, saved, _ in transfers["links"]) == p.images()
    for source, saved, _ in transfers["links"]:
        assert source.parent.name == "output" and source.parents[2].name.startswith("comfy-session-")
        assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_server_given_by_url_is_downloaded_from(project: Project, transfers: dict[str, list]) -> None:
    project.batch("one.json", noise_batch([{"positive_prompt": "one", "seed": 1}]))
    project.run("batches/").assert_outcomes(passed=1)
    assert len(transfers["downloads"]) == 1 and transfers["links"] == []
    assert len(project.images()) == 1
