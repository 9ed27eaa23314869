"""Which local files a prompt uploads, without a server: every value that names a local file is
noted with the inputs its key writes, and the server's /object_info decides (an input marked
``image_upload``, ``video_upload`` or ``audio_upload``, as ComfyUI 0.3.75 marks LoadImage,
LoadVideo and LoadAudio). LoadAudio needs torchaudio, which the development server lacks, so
its detection is tested here on /object_info as 0.3.75 writes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from comfy_plugin.batchfile.batch import load_batch
from comfy_plugin.run.steps import to_upload, upload_input

#: /object_info entries as ComfyUI 0.3.75 answers them (lists of files shortened).
OBJECT_INFO: dict[str, Any] = {
    "LoadImage": {"input": {"required": {"image": [["a.png"], {"image_upload": True}]}}},
    "LoadVideo": {"input": {"required": {"file": ["COMBO", {"video_upload": True, "options": ["a.mp4"]}]}}},
    "LoadAudio": {"input": {"required": {"audio": [["a.wav"], {"audio_upload": True}]}}},
    "LoadImageOutput": {"input": {"required": {"image": ["COMBO", {"image_upload": True, "image_folder": "output",
                                                                   "remote": {"route": "/internal/files/output"}}]}}},
    "Load3D": {"input": {"required": {"model_file": [["3d/a.glb"], {"file_upload": True}]}}},
    "PrimitiveString": {"input": {"required": {"value": ["STRING", {}]}}},
}

WORKFLOW = {
    "1": {"class_type": "LoadVideo", "inputs": {"file": "a.mp4"}},
    "2": {"class_type": "LoadAudio", "inputs": {"audio": "a.wav"}},
    "3": {"class_type": "PrimitiveString", "inputs": {"value": "text"}},
    "4": {"class_type": "LoadImageOutput", "inputs": {"image": "x.png [output]"}},
}


def test_upload_inputs_are_those_the_server_marks() -> None:
    assert upload_input(OBJECT_INFO, "LoadImage", "image")
    assert upload_input(OBJECT_INFO, "LoadVideo", "file")
    assert upload_input(OBJECT_INFO, "LoadAudio", "audio")
    assert not upload_input(OBJECT_INFO, "LoadImageOutput", "image"), "it reads the output folder"
    assert not upload_input(OBJECT_INFO, "Load3D", "model_file"), "3D models go to a subfolder of their own"
    assert not upload_input(OBJECT_INFO, "PrimitiveString", "value")
    assert not upload_input(OBJECT_INFO, "NoSuchNode", "file") and not upload_input({}, "LoadVideo", "file")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "inputs").mkdir()
    for name in ("clip.mp4", "voice.wav", "notes.txt", "out.png"):
        (tmp_path / "inputs" / name).write_bytes(b"data")
    (tmp_path / "wf.json").write_text(json.dumps(WORKFLOW))
    return tmp_path


def load(folder: Path, prompts: list[dict[str, Any]]) -> Any:
    batch = {"parameters": {"workflow_file": "wf.json",
                            "workflow_items": {"video": "1,inputs,file", "audio": "2,inputs,audio",
                                               "text": "3,inputs,value", "picture": "4,inputs,image"}},
             "prompts": prompts}
    (folder / "b.json").write_text(json.dumps(batch))
    return load_batch(folder / "b.json", "b.json", folder)


def test_video_and_audio_files_go_to_their_loaders_and_a_text_stays_a_text(folder: Path) -> None:
    [spec] = load(folder, [{"video": "./inputs/clip.mp4", "audio": "inputs/voice.wav",
                            "text": "./inputs/notes.txt", "picture": "./inputs/out.png"}]).prompts
    assert spec.error is None
    noted = {f.key: (f.path.name, f.inputs) for f in spec.local_files}
    assert noted == {"video": ("clip.mp4", (("LoadVideo", "file"),)), "audio": ("voice.wav", (("LoadAudio", "audio"),)),
                     "text": ("notes.txt", (("PrimitiveString", "value"),)),
                     "picture": ("out.png", (("LoadImageOutput", "image"),))}
    assert sorted(f.key for f in to_upload(spec, OBJECT_INFO)) == ["audio", "video"]
    assert to_upload(spec, {}) == [], "a server without the loaders gets nothing uploaded"


def test_a_missing_local_file_for_a_loader_fails_its_prompt_and_a_server_name_is_left_alone(folder: Path) -> None:
    gone, named, text = load(folder, [{"video": "./inputs/gone.mp4"}, {"audio": "on-the-server.wav"},
                                      {"text": "./not/a/file.txt"}]).prompts
    assert gone.error is not None and "input file './inputs/gone.mp4' not found" in gone.error.message
    assert named.error is None and named.local_files == (), "a server-side name: the server judges it"
    assert text.error is None and text.local_files == (), "a text input is no loader: its value is a text"


def test_a_prompt_text_is_not_looked_for_on_disk(folder: Path) -> None:
    [spec] = load(folder, [{"text": "a cat in a hat\non two lines.txt"}]).prompts
    assert spec.local_files == ()
