#!/usr/bin/env bash
# Sets up a fresh clone, idempotently: the project's venv (.venv, with this plugin
# installed editable) and the development ComfyUI in its own venv (.comfyui/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3.11}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
if ! .venv/bin/python -c 'import comfy_plugin, xdist, pytest_html' 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
fi
bash scripts/install-comfyui.sh >/dev/null
# The SD1.5-shaped checkpoint with seeded random weights (a digest check when already made).
.comfyui/venv/bin/python scripts/make_checkpoint.py
# Headless Chromium renders the HTML report in tests/test_report.py (CI runs as root).
command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
