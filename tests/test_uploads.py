"""A local video named for ``LoadVideo`` is uploaded and used, as local images are for
``LoadImage``: decided by the server's /object_info (``video_upload``), on the real server."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from PIL import Image

from comfy_plugin.run.steps import upload_input
from comfy_plugin.server.launcher import LaunchedServer
from conftest import Project

#: LoadVideo -> GetVideoComponents -> SaveImage: every frame of the uploaded video saved.
VIDEO_WORKFLOW = {
    "1": {"class_type": "LoadVideo", "inputs": {"file": "none.mp4"}, "_meta": {"title": "Input video"}},
    "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "frames"}},
}


def write_mp4(path: Path, colour: tuple[int, int, int], frames: int = 3, size: tuple[int, int] = (32, 16)) -> None:
    """A small mp4 of ``frames`` frames of one colour, written with PyAV."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        pixels[:] = colour
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_the_server_marks_image_and_video_loaders_for_upload(comfy_server: LaunchedServer) -> None:
    with urllib.request.urlopen(comfy_server.url + "/object_info", timeout=30) as answer:
        info = json.load(answer)
    assert upload_input(info, "LoadImage", "image") and upload_input(info, "LoadImageMask", "image")
    assert upload_input(info, "LoadVideo", "file")
    assert not upload_input(info, "LoadImageOutput", "image"), "it reads the output folder"
    assert not upload_input(info, "SaveImage", "filename_prefix")
    if "LoadAudio" in info:  # it needs torchaudio, which the development install lacks (tests/unit/test_uploads.py)
        assert upload_input(info, "LoadAudio", "audio")


def test_a_local_video_is_uploaded_to_load_video_and_used(project: Project, comfy_server: LaunchedServer) -> None:
    (project.path / "inputs").mkdir()
    write_mp4(project.path / "inputs" / "red.mp4", (255, 0, 0))
    write_mp4(project.path / "inputs" / "blue.mp4", (0, 0, 255), frames=2)
    project.batch("video-api.json", VIDEO_WORKFLOW, folder="workflows-files")
    project.batch("video.json", {
        "parameters": {"workflow_file": "../workflows-files/video-api.json",
                       "workflow_items": {"video": {"node": "Input video", "input": "file"}},
                       "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "V"}},
        "prompts": [{"id": "red", "video": "./inputs/red.mp4"}, {"id": "blue", "video": "./inputs/blue.mp4"}],
    })
    result = project.run("batches/", "-v")
    result.assert_outcomes(passed=2)
    colours: dict[str, list[tuple[int, int, int]]] = {}
    for path in project.images():
        with Image.open(path) as img:
            assert img.size == (32, 16)
            colours.setdefault(path.name.split("_")[1], []).append(img.convert("RGB").getpixel((16, 8)))
    assert sorted(colours) == ["blue", "red"] and len(colours["red"]) == 3 and len(colours["blue"]) == 2
    assert all(r > 200 and g < 60 and b < 60 for r, g, b in colours["red"]), colours
    assert all(b > 200 and r < 60 for r, _g, b in colours["blue"]), colours
    on_server = sorted(p.name for p in (comfy_server.workdir / "base" / "input").iterdir()
                       if p.name.startswith("comfy-plugin-") and p.suffix == ".mp4")
    data = {(project.path / "inputs" / f"{c}.mp4").read_bytes() for c in ("red", "blue")}
    assert {(comfy_server.workdir / "base" / "input" / n).read_bytes() for n in on_server} >= data


def test_a_missing_local_video_fails_its_prompt_alone(project: Project) -> None:
    project.batch("video-api.json", VIDEO_WORKFLOW, folder="workflows-files")
    project.batch("video.json", {
        "parameters": {"workflow_file": "../workflows-files/video-api.json",
                       "workflow_items": {"video": "1,inputs,file"}},
        "prompts": [{"id": "gone", "video": "./inputs/gone.mp4"}],
    })
    result = project.run("batches/", "--comfy-check")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*prompts[[]0[]].video: input file './inputs/gone.mp4' not found; looked at*"])
