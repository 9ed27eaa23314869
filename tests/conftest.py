"""Fixtures for the test suite: one real ComfyUI per session, and pytester projects that
drive batch files through the plugin against it."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

# imagehash imports these on first use. Loaded here, in the outer process, they survive
# pytester's in-process runs (which drop modules first imported inside a run, and numpy's
# C extensions cannot be loaded twice in one process).
import pywt  # noqa: F401  (whash)
import scipy.fftpack  # noqa: F401  (phash)

from comfy_plugin.server.launcher import LaunchedServer, default_python, launch

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
COMFY_DIR = ROOT / ".comfyui" / "ComfyUI"
CPU_ARGS = ["--cpu", "--disable-all-custom-nodes"]
#: Points ComfyUI at .comfyui/models (tiny-sd15.safetensors); written by scripts/make_checkpoint.py.
MODEL_PATHS = ROOT / ".comfyui" / "extra_model_paths.yaml"


def start_with_custom_node(workdir: Path, node: str) -> LaunchedServer:
    """The development ComfyUI whose one custom node is ``tests/custom_nodes/<node>``. It runs
    from a folder of links to the install without the extra_model_paths.yaml beside its main.py
    (that file names a custom_nodes folder which does not exist, and ComfyUI fails listing it as
    soon as any custom node is allowed); main.py is copied, since ComfyUI finds its folder from
    main.py's real path. Nothing of ComfyUI is kept in the repository."""
    shutil.copytree(ROOT / "tests" / "custom_nodes" / node, workdir / "base" / "custom_nodes" / node)
    comfy_dir = workdir / "ComfyUI"
    comfy_dir.mkdir()
    for entry in COMFY_DIR.resolve().iterdir():
        if entry.name not in ("main.py", "extra_model_paths.yaml"):
            (comfy_dir / entry.name).symlink_to(entry)
    shutil.copy2(COMFY_DIR / "main.py", comfy_dir / "main.py")
    base = ["--base-directory", str(workdir / "base")]  # its custom_nodes/: the node's copy, nothing else
    return launch(comfy_dir, default_python(ROOT), [*CPU_ARGS, *base, "--whitelist-custom-nodes", node],
                  model_paths=MODEL_PATHS, workdir=workdir)


def start_comfyui(extra_args: tuple[str, ...] = (), workdir: Path | None = None) -> LaunchedServer:
    if not (COMFY_DIR / "main.py").exists():
        pytest.fail(f"no ComfyUI at {COMFY_DIR}: run scripts/setup.sh (or make test) first", pytrace=False)
    if not MODEL_PATHS.is_file():
        pytest.fail(f"no {MODEL_PATHS}: run scripts/setup.sh (or make test) first", pytrace=False)
    return launch(COMFY_DIR, default_python(ROOT), [*CPU_ARGS, *extra_args], model_paths=MODEL_PATHS,
                  workdir=workdir)


@pytest.fixture(autouse=True)
def record_missing_baselines(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's throw-away projects have no baselines: record them instead of failing.
    Tests of the baselines themselves say --comfy-missing-baseline on the command line."""
    monkeypatch.setenv("COMFY_MISSING_BASELINE", "write")


@pytest.fixture(autouse=True)
def launched_servers_in_pytests_tmp(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """Servers launched by a test's in-process pytest runs (pytester) keep their folders, and the
    logs of the ones a test kills on purpose, under pytest's temporary folders, not in /tmp."""
    if "pytester" in request.fixturenames:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("launched-servers")))


@pytest.fixture(scope="session")
def comfy_server() -> LaunchedServer:
    """The real ComfyUI that the whole suite shares."""
    server = start_comfyui()
    yield server
    server.stop()


class Project:
    """A pytester folder with the repository's workflows and batch files written by a test."""

    def __init__(self, pytester: pytest.Pytester, url: str) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.url = url
        shutil.copytree(ROOT / "workflows-files", self.path / "workflows-files")
        (self.path / "batches").mkdir()

    def batch(self, name: str, data: dict[str, Any] | str, folder: str = "batches") -> Path:
        path = self.path / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
        return path

    def copy_batch(self, name: str) -> Path:
        return Path(shutil.copy(ROOT / "batches" / name, self.path / "batches" / name))

    def run(self, *args: str, url: str | None = None) -> pytest.RunResult:
        return self.pytester.runpytest("--comfy-url", url or self.url, "-p", "no:cacheprovider",
                                       "-W", "ignore::pytest.PytestAssertRewriteWarning", *args)

    def images(self, folder: str = "images") -> list[Path]:
        root = self.path / folder
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def project(pytester: pytest.Pytester, comfy_server: LaunchedServer) -> Project:
    return Project(pytester, comfy_server.url)


@pytest.fixture
def offline_project(pytester: pytest.Pytester) -> Project:
    """A project whose server URL points at a closed port: for what must not need a server."""
    from comfy_plugin.server.launcher import free_port

    return Project(pytester, f"http://127.0.0.1:{free_port()}")


def noise_batch(prompts: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    """A batch on workflows-files/noise-image-api.json (EmptyImage -> ImageAddNoise -> SaveImage)."""
    parameters = {
        "workflow_file": "../workflows-files/noise-image-api.json",
        "workflow_items": {
            "positive_prompt": "3,inputs,value",
            "seed": "2,inputs,seed",
            "width": "1,inputs,width",
            "height": "1,inputs,height",
            "batch_size": "1,inputs,batch_size",
        },
        "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "T"},
        "generic_prompts": {"width": 32, "height": 24},
    }
    parameters.update(params)
    return {"parameters": parameters, "prompts": prompts}


def signal_during(pytester: pytest.Pytester, item_name: str, signame: str, pid: int | None = None) -> None:
    """Write a conftest that sends ``signame`` to ``pid`` (default: the pytest process running
    the project) one second into the test ``item_name``: a server killed, or Ctrl-C, mid-prompt."""
    target = "os.getpid()" if pid is None else str(pid)
    pytester.makeconftest(
        "import os, signal, threading\n"
        "def pytest_runtest_call(item):\n"
        f"    if item.name == {item_name!r}:\n"
        f"        threading.Timer(1.0, os.kill, ({target}, signal.{signame})).start()\n"
    )
