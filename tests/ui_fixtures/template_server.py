"""A ComfyUI that defines the node types of the local templates, for the UI-format tests that
compare or validate every template.

Its API nodes are defined (``--disable-api-nodes`` is not given): defining them needs no
network, only running one calls a web service. Its audio nodes need torchaudio, which
scripts/install-comfyui.sh installs; an older install lacks it, and these tests say so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from comfy_plugin.server.launcher import WORKDIR_PREFIX, LaunchedServer

#: Node types of the local templates that only torchaudio brings.
AUDIO_NODES = ("LoadAudio", "SaveAudioMP3", "VAEDecodeAudio", "AudioEncoderLoader")


def start_template_server() -> LaunchedServer:
    """A ComfyUI with its API nodes, whose base folder (``workdir/base``: its ``models/``) is the
    launch's own, so a test may place the model files a template names there (a plain launch
    runs with the install's own models folder, which a test must not write into)."""
    from conftest import start_comfyui  # tests/conftest.py: the suite's way to launch ComfyUI

    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    return start_comfyui(("--base-directory", str(workdir / "base")), workdir=workdir)


def require_audio_nodes(object_info: dict[str, Any]) -> None:
    """Fail, with the way out, where the server lacks its audio nodes."""
    missing = [name for name in AUDIO_NODES if name not in object_info]
    if missing:
        pytest.fail(f"ComfyUI lacks its audio nodes ({', '.join(missing)}): its venv has no torchaudio; "
                    "run scripts/setup.sh", pytrace=False)
