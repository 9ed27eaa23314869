"""``python -m comfy_plugin init`` without a server, and ``python -m comfy_plugin schema``: the
files a new project gets, that none is ever overwritten, that the example batch validates and
the ini is the one pytest reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from comfy_plugin.__main__ import main
from comfy_plugin.batchfile.schema import SCHEMA_PATH, make_validator
from comfy_plugin.project.offer import Workflow, bundled, choose_model, txt2img_items

FILES = ["pytest.ini", "batch.schema.json", "workflows/txt2img.json", "batches/txt2img.json",
         ".github/workflows/comfy.yml", ".gitignore"]


def _init(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["init", *args])
    return code, capsys.readouterr().out.splitlines()


def test_init_writes_a_project_whose_example_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _init(capsys, str(tmp_path / "proj"))
    assert code == 0
    root = tmp_path / "proj"
    assert [line for line in lines if line.startswith("wrote ")] == [f"wrote {root / name}" for name in FILES]
    assert any("v1-5-pruned-emaonly-fp16.safetensors" in line and line.startswith("note:") for line in lines)
    batch = json.loads((root / "batches" / "txt2img.json").read_text())
    assert list(make_validator().iter_errors(batch)) == []
    assert (root / batch["$schema"].replace("../", "")).read_text() == SCHEMA_PATH.read_text()
    workflow = json.loads((root / "workflows" / "txt2img.json").read_text())
    for key, target in batch["parameters"]["workflow_items"].items():
        node, _, name = target.split(",")
        assert name in workflow[node]["inputs"], key
    assert batch["parameters"]["generic_prompts"]["ckpt_name"] == workflow["4"]["inputs"]["ckpt_name"]
    assert [p["seed"] for p in batch["prompts"]] == [1, 2]
    assert "comfy_url = http://127.0.0.1:8188" in (root / "pytest.ini").read_text()


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "txt2img.json").write_text("mine")
    (tmp_path / ".gitignore").write_text("mine too")
    code, lines = _init(capsys, str(tmp_path))
    assert code == 0
    assert f"kept existing {tmp_path / 'batches' / 'txt2img.json'}" in lines
    assert f"kept existing {tmp_path / '.gitignore'}" in lines
    assert (tmp_path / "batches" / "txt2img.json").read_text() == "mine"
    written = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, again = _init(capsys, str(tmp_path))
    assert code == 0
    assert [line for line in again if line.startswith(("wrote", "kept"))] == \
        [f"kept existing {tmp_path / name}" for name in FILES]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == written


@pytest.mark.parametrize(("name", "text"), [
    ("pyproject.toml", "[project]\nname = 'x'\n\n[tool.pytest.ini_options]\naddopts = '-q'\n"),
    ("tox.ini", "[tox]\n\n[pytest]\naddopts = -q\n"),
    ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -q\n"),
])
def test_init_writes_no_pytest_ini_where_another_file_configures_pytest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    code, lines = _init(capsys, str(tmp_path))
    assert code == 0
    assert not (tmp_path / "pytest.ini").exists()
    assert (tmp_path / name).read_text() == text
    kept = next(line for line in lines if line.startswith(f"kept existing {tmp_path / name}"))
    assert "testpaths = batches" in kept and "comfy_url = http://127.0.0.1:8188" in kept


def test_a_pyproject_without_pytest_keys_gets_a_pytest_ini(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert _init(capsys, str(tmp_path))[0] == 0
    assert (tmp_path / "pytest.ini").is_file()


def test_pytest_reads_the_ini_and_collects_the_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The ini is the one pytest takes: with no path given, its testpaths collect the example."""
    launch = tmp_path / "ComfyUI"
    assert _init(capsys, str(tmp_path / "proj"), "--launch", str(launch), "--launch-args", "--cpu")[0] == 0
    ini = (tmp_path / "proj" / "pytest.ini").read_text()
    assert f"comfy_launch = {launch}" in ini and "comfy_launch_args = --cpu" in ini and "comfy_url" not in ini
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          check=False, cwd=tmp_path / "proj", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "batches/txt2img.json::a-lighthouse-on-a-cliff-at-dusk-oil-painting" in done.stdout
    assert "batches/txt2img.json::a-bowl-of-fruit-on-a-wooden-table" in done.stdout
    assert "2 tests collected" in done.stdout  # from testpaths: no path was given


def test_python_and_launch_args_need_launch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path), "--launch-args", "--cpu"]) == 2
    assert "go with --launch" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_url_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from comfy_plugin.server.launcher import free_port

    assert main(["init", str(tmp_path), "--url", f"http://127.0.0.1:{free_port()}"]) == 3
    assert "cannot read what ComfyUI at" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_keys_of_a_ui_format_default_graph() -> None:
    """The editor's default graph (UI format): the keys are found through its links, whatever the ids."""
    nodes = [{"id": 30, "type": "KSampler", "inputs": [
                {"name": "model", "link": 1}, {"name": "positive", "link": 2}, {"name": "negative", "link": 3},
                {"name": "latent_image", "link": 4}], "widgets_values": [5, "randomize", 20, 8, "euler", "normal", 1]},
             {"id": 40, "type": "CheckpointLoaderSimple", "widgets_values": ["sd.safetensors"]},
             {"id": 61, "type": "CLIPTextEncode", "widgets_values": ["a cat"]},
             {"id": 72, "type": "CLIPTextEncode", "widgets_values": ["blurry"]},
             {"id": 55, "type": "EmptyLatentImage", "widgets_values": [512, 512, 1]},
             {"id": 9, "type": "MarkdownNote", "widgets_values": ["notes"]}]
    links = [[1, 40, 0, 30, 0, "MODEL"], [2, 61, 0, 30, 1, "CONDITIONING"], [3, 72, 0, 30, 2, "CONDITIONING"],
             [4, 55, 0, 30, 3, "LATENT"]]
    graph = {"nodes": nodes, "links": links}
    items = txt2img_items(graph)
    assert items == {"seed": "30,inputs,seed", "steps": "30,inputs,steps", "positive_prompt": "61,inputs,text",
                     "negative_prompt": "72,inputs,text", "width": "55,inputs,width",
                     "height": "55,inputs,height", "ckpt_name": "40,inputs,ckpt_name"}
    notes: list[str] = []
    workflow = Workflow("txt2img", graph, items)
    choose_model(workflow, ["mine.safetensors", "other.safetensors"], notes)
    assert workflow.values == {"ckpt_name": "mine.safetensors"}
    assert notes == ["the example runs on mine.safetensors (the server lacks sd.safetensors)"]
    kept = Workflow("txt2img", graph, items)
    choose_model(kept, ["other.safetensors", "sd.safetensors"], notes)
    assert kept.values == {"ckpt_name": "sd.safetensors"}
    assert txt2img_items({"nodes": [{"id": 1, "type": "SaveImage"}], "links": []}) == {}


def test_the_bundled_graph_fits_comfyui_0_3_75() -> None:
    """Offline, init writes the bundled txt2img graph: each node a class of ComfyUI 0.3.75's
    /object_info (workflows-files/object-info.json) given exactly its declared inputs."""
    info = json.loads((Path(__file__).resolve().parents[2] / "workflows-files" / "object-info.json").read_text())
    graph = bundled().graph
    for node_id, node in graph.items():
        declared = info[node["class_type"]]["input"]
        assert set(node["inputs"]) == set(declared["required"]) | set(declared.get("optional", {})), node_id
        for value in node["inputs"].values():
            assert not isinstance(value, list) or value[0] in graph, node_id


def test_schema_prints_the_batch_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == json.loads(SCHEMA_PATH.read_text())
    assert main(["schema", "extra"]) == 2
