"""Extensions of the seed format against the real server: variables, local input images,
node titles and one value written into several inputs."""

from __future__ import annotations

import re
import shutil

import pytest
from PIL import Image
from tcp_proxy import TcpProxy

from comfy_plugin.server.launcher import LaunchedServer
from conftest import Project, noise_batch

#: LoadImage (titled "Input picture") -> ImageInvert -> SaveImage, with the prompt's id in the file name.
INVERT_WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}, "_meta": {"title": "Input picture"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}},
}


def test_variables_expand_into_one_test_per_combination(project: Project, comfy_server) -> None:
    (project.path / "vars").mkdir()
    (project.path / "vars" / "animals.txt").write_text("cat\n\n  dog  \n")
    (project.path / "vars" / "moods.txt").write_text("happy\nsad\n")
    batch = noise_batch([{"positive_prompt": "a $mood $animal, price $$5", "seed": 1}])
    batch["variables"] = {"animal": "./vars/animals.txt", "mood": "./vars/moods.txt"}
    project.batch("vars.json", batch)
    result = project.run("batches/", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([
        "batches/vars.json::a-mood-animal-price-5[[]happy-cat] PASSED*",
        "batches/vars.json::a-mood-animal-price-5[[]happy-dog] PASSED*",
        "batches/vars.json::a-mood-animal-price-5[[]sad-cat] PASSED*",
        "batches/vars.json::a-mood-animal-price-5[[]sad-dog] PASSED*",
    ])
    server_names = {p.name for p in (comfy_server.workdir / "base" / "output").iterdir()}
    for text in ("a happy cat, price $5", "a sad dog, price $5"):
        assert any(name.startswith(f"noise_{text}_") for name in server_names), text
    assert len(project.images()) == 4

    result = project.run("batches/", "-k", "sad", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*2/4 tests collected (2 deselected)*"])


def test_local_image_is_uploaded_once_per_content_digest_and_used(pytester: pytest.Pytester,
                                                                  comfy_server: LaunchedServer) -> None:
    """Three prompts name two files of the same content, a fourth another picture: the upload
    requests are counted on their way to the server (through tests/tcp_proxy.py), since the
    server's input folder holds one file per name whether it was sent once or three times."""
    red = Image.new("RGB", (16, 8), (255, 0, 0))
    with TcpProxy(comfy_server.url, lifetime_s=120) as proxy:
        project = Project(pytester, proxy.url)
        (project.path / "inputs").mkdir()
        red.save(project.path / "inputs" / "red.png")
        shutil.copy(project.path / "inputs" / "red.png", project.path / "inputs" / "same-red.png")
        Image.new("RGB", (16, 8), (0, 0, 255)).save(project.path / "inputs" / "blue.png")
        project.batch("invert-api.json", INVERT_WORKFLOW, folder="workflows-files")
        project.batch("img2img.json", {
            "parameters": {"workflow_file": "../workflows-files/invert-api.json",
                           "workflow_items": {"image": {"node": "Input picture", "input": "image"}}},
            "prompts": [{"id": "first", "image": "./inputs/red.png"}, {"id": "second", "image": "./inputs/red.png"},
                        {"id": "copy", "image": "./inputs/same-red.png"}, {"id": "blue", "image": "./inputs/blue.png"}],
        })
        result = project.run("batches/")
        sent = b"".join(proxy.sent)
    result.assert_outcomes(passed=4)
    uploads = re.findall(rb"POST /upload/image HTTP/1\.[01]\r\n", sent)
    assert len(uploads) == 2, f"one upload per content digest, not {len(uploads)}"
    names = sorted(set(re.findall(rb'filename="(comfy-plugin-[0-9a-f]{16}\.png)"', sent)))
    assert len(names) == 2, names
    colours = {}
    for path in project.images():
        with Image.open(path) as img:
            assert img.size == (16, 8)
            colours[path.name.split("_")[1]] = img.convert("RGB").getpixel((3, 3))
    assert len(colours) == 4 and sorted(colours.values()) == [(0, 255, 255)] * 3 + [(255, 255, 0)], colours
    on_server = {p.name.encode() for p in (comfy_server.workdir / "base" / "input").iterdir()}
    assert set(names) <= on_server


def test_one_value_into_several_inputs_by_title(project: Project) -> None:
    batch = noise_batch([{"id": "square", "seed": 1, "side": 24}])
    batch["parameters"]["workflow_items"]["side"] = [{"node": "Canvas", "input": "width"}, "1, inputs, height"]
    project.batch("square.json", batch)
    project.run("batches/").assert_outcomes(passed=1)
    [image] = project.images()
    assert Image.open(image).size == (24, 24)
