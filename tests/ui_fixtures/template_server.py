"""A ComfyUI that defines the node types of the local templates, for the UI-format tests that
compare or validate every template.

Its API nodes are defined (``--disable-api-nodes`` is not given): defining them needs no
network, only running one calls a web service. Its audio nodes are defined too: ComfyUI imports
torchaudio in the modules that define them (comfy_extras/nodes_audio.py, comfy/audio_encoders/)
but calls it only when one runs, and the development install leaves torchaudio out
(scripts/install-comfyui.sh); so, like the empty files these tests put in place of models, an
empty stand-in package (standins/torchaudio) goes on the server's PYTHONPATH when the venv
lacks the real one. The tests that use this server never run an audio node.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from comfy_plugin.server.launcher import LaunchedServer

from . import COMFY_PYTHON

STANDINS = Path(__file__).resolve().parent / "standins"
_HAS_TORCHAUDIO = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torchaudio') is None)"


def has_torchaudio() -> bool:
    """Whether ComfyUI's venv has the real torchaudio."""
    return subprocess.run([str(COMFY_PYTHON), "-c", _HAS_TORCHAUDIO], timeout=60, check=False).returncode == 0


def start_template_server() -> LaunchedServer:
    """A ComfyUI with its API nodes and its audio nodes (the stand-in where needed)."""
    from conftest import start_comfyui  # tests/conftest.py: the suite's way to launch ComfyUI

    with pytest.MonkeyPatch.context() as env:
        if COMFY_PYTHON.exists() and not has_torchaudio():
            env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(STANDINS), os.environ.get("PYTHONPATH")])))
        return start_comfyui()
