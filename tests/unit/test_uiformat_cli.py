"""``python -m comfy_plugin convert`` (and its older spelling ``python -m comfy_plugin.convert``): the
command, run as people and other tools run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ui_fixtures import EXAMPLES, HERE, OBJECT_INFO, ROOT, load

from comfy_plugin.server.launcher import free_port
from comfy_plugin.uiformat import convert


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "comfy_plugin", "convert", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_a_ui_workflow_is_written_to_stdout_as_the_api_prompt() -> None:
    example = EXAMPLES[0]
    done = run(str(example), "--object-info", str(OBJECT_INFO))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == convert(load(example), load(OBJECT_INFO), str(example))
    assert done.stderr == ""


def test_output_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "prompt.json"
    done = run(str(HERE / "nested-subgraphs.json"), "--object-info", str(OBJECT_INFO), "-o", str(out))
    assert done.returncode == 0 and done.stdout == ""
    assert "10:5:1" in json.loads(out.read_text())


def test_an_api_workflow_is_written_back_with_the_same_content() -> None:
    api = ROOT / "workflows-files" / "tiny-sd15-txt2img-api.json"
    done = run(str(api), "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 0
    assert json.loads(done.stdout) == load(api)


def test_a_node_type_the_server_lacks_exits_2_with_one_line_naming_the_node() -> None:
    bad = HERE / "bad" / "unknown-type.json"
    done = run(str(bad), "--object-info", str(OBJECT_INFO))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: {bad}: node 4 (FancyUpscaler): the server has no node type 'FancyUpscaler'")


def test_a_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"nodes": [', encoding="utf-8")
    done = run(str(broken), "--object-info", str(OBJECT_INFO))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: {broken}: the workflow is not valid JSON: ")
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}', encoding="utf-8")
    done = run(str(other), "--object-info", str(OBJECT_INFO))
    assert done.returncode == 2 and "not a ComfyUI workflow" in done.stderr
    done = run(str(HERE / "bad" / "group-node.json"), "--object-info", str(OBJECT_INFO))
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "legacy group node" in done.stderr and "(hint: open the file" in done.stderr


def test_a_bad_object_info_file_exits_2(tmp_path: Path) -> None:
    info = tmp_path / "info.json"
    info.write_text("[1, 2]", encoding="utf-8")
    done = run(str(EXAMPLES[0]), "--object-info", str(info))
    assert done.returncode == 2 and "not the JSON of GET /object_info" in done.stderr


def test_an_unreachable_server_exits_3_with_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run(str(EXAMPLES[0]), "--url", url)
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: cannot get /object_info from ComfyUI at {url}: cannot connect")


def test_the_server_source_is_required() -> None:
    done = run(str(EXAMPLES[0]))
    assert done.returncode == 2 and "--url" in done.stderr


def test_an_unreachable_url_never_shows_its_credentials(capsys) -> None:
    from comfy_plugin.server.launcher import free_port
    from comfy_plugin.uiformat.command import main

    workflow = Path(__file__).resolve().parents[2] / "workflows-files" / "tiny-sd15-txt2img-ui.json"
    code = main([str(workflow), "--url", f"http://user:s3cret@127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 3 and "s3cret" not in err and "user:" not in err and "cannot get /object_info" in err, err


def test_the_older_spelling_gives_the_same_prompt() -> None:
    example = EXAMPLES[0]
    new = run(str(example), "--object-info", str(OBJECT_INFO))
    old = subprocess.run([sys.executable, "-m", "comfy_plugin.convert", str(example), "--object-info",
                          str(OBJECT_INFO)], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert old.returncode == 0 and old.stdout == new.stdout


def test_the_command_line_names_its_commands() -> None:
    bare = subprocess.run([sys.executable, "-m", "comfy_plugin"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False)
    assert bare.returncode == 2 and "convert" in bare.stdout
    unknown = subprocess.run([sys.executable, "-m", "comfy_plugin", "frobnicate"], capture_output=True, text=True,
                             cwd=ROOT, timeout=60, check=False)
    assert unknown.returncode == 2 and "unknown command 'frobnicate'" in unknown.stderr
