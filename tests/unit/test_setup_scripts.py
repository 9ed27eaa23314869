"""The setup scripts, run for real where no ComfyUI is needed: the project venv follows
pyproject.toml, `--venv-only` (make unit, make lint) leaves ComfyUI alone, the system-package step
installs as root or prints the sudo line otherwise, and `make clean` removes only images.

Only apt-get, sudo and chromium are stand-ins (a second install of system packages is not possible
here): executables first on PATH that record each call. `make batches` itself, which sets up
ComfyUI: tests/test_setup.py."""
from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUBBED = ("apt-get", "sudo", "chromium")
BROWSERS = ("chromium", "chromium-browser")
# Records its call; `apt-get install` also puts the named packages on PATH, as the real one would.
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{calls}"
if [ "$(basename "$0")" = apt-get ] && [ "$1" = install ]; then
  for arg in "$@"; do
    case "$arg" in -*|install) ;; *) printf '#!/bin/sh\\n' > "{folder}/$arg"; chmod 755 "{folder}/$arg" ;; esac
  done
fi
"""


class Stubs:
    """A folder of recording stand-ins, readable and writable by every user."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.calls = folder / "calls.txt"
        for name in STUBBED:
            path = folder / name
            path.write_text(STUB.format(calls=self.calls, folder=folder))
            path.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.folder}{os.pathsep}{os.environ['PATH']}", **extra}

    def env_without_browser(self) -> dict[str, str]:
        """PATH as on a machine without a browser: the stubs of apt-get and sudo first, then each
        PATH folder, where one holding chromium is replaced by links to all its other entries."""
        (self.folder / "chromium").unlink()
        entries = [str(self.folder)]
        for number, entry in enumerate(os.environ["PATH"].split(os.pathsep)):
            folder = Path(entry)
            if not any((folder / name).exists() for name in BROWSERS):
                entries.append(entry)
                continue
            shadow = self.folder / f"path-{number}"
            shadow.mkdir()
            for item in folder.iterdir():
                if item.name not in BROWSERS:
                    (shadow / item.name).symlink_to(item)
            entries.append(str(shadow))
        return {**os.environ, "PATH": os.pathsep.join(entries)}

    def called(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@contextmanager
def stubbed() -> Iterator[Stubs]:
    # Not under pytest's tmp_path: that folder is private to this user, and one test runs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="comfy-stubs-"))
    folder.chmod(0o777)
    try:
        yield Stubs(folder)
    finally:
        shutil.rmtree(folder)


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    with stubbed() as made:
        yield made


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dry_run_copy(tmp_path: Path) -> Path:
    """The setup scripts and pyproject.toml in a folder of their own, with a .venv that is the
    repository's interpreter and packages behind a stamp of its own."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "scripts", project / "scripts")
    shutil.copy(ROOT / "pyproject.toml", project)
    venv = project / ".venv"
    venv.mkdir()
    shutil.copy(ROOT / ".venv" / "pyvenv.cfg", venv)
    for name in ("bin", "lib"):
        (venv / name).symlink_to(ROOT / ".venv" / name)
    return project


def dry_run(project: Path, *args: str) -> str:
    run = subprocess.run(["bash", "scripts/setup.sh", *args], cwd=project, capture_output=True, text=True,
                         env={**os.environ, "SETUP_DRY_RUN": "1"}, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "setup dry run: nothing changed"
    return next(line for line in run.stdout.splitlines() if line.startswith("setup: project venv"))


def test_the_project_venv_is_installed_again_when_pyproject_toml_changes(tmp_path: Path) -> None:
    project = dry_run_copy(tmp_path)
    stamp = project / ".venv" / ".pyproject.sha256"
    assert dry_run(project).endswith("would install (no record of the pyproject.toml it was installed from)")

    stamp.write_text(sha256(project / "pyproject.toml") + "\n")
    assert dry_run(project).endswith(": up to date")

    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.example]\nnew = "dependency"\n')
    assert dry_run(project).endswith("would install (pyproject.toml changed)")
    assert not (project / "build").exists()  # a dry run writes no log either


def test_the_venv_only_setup_of_make_unit_and_make_lint_leaves_comfyui_alone(tmp_path: Path) -> None:
    """`make unit` and `make lint` need the project venv only: no ComfyUI step, no checkpoint step
    (the copy has no .comfyui/, so a full setup would say it would install ComfyUI)."""
    project = dry_run_copy(tmp_path)
    run = subprocess.run(["bash", "scripts/setup.sh", "--venv-only"], cwd=project, capture_output=True, text=True,
                         env={**os.environ, "SETUP_DRY_RUN": "1"}, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ["setup: project venv (.venv): would install (no record of the pyproject.toml "
                                       "it was installed from)", "setup dry run: nothing changed"]
    full = subprocess.run(["bash", "scripts/setup.sh"], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "SETUP_DRY_RUN": "1"}, timeout=120, check=False)
    assert "setup: ComfyUI 0.3.75 (.comfyui): would install" in full.stdout, full.stdout + full.stderr
    wrong = subprocess.run(["bash", "scripts/setup.sh", "--venv"], cwd=project, capture_output=True, text=True,
                           timeout=120, check=False)
    assert (wrong.returncode, wrong.stderr) == (2, "usage: scripts/setup.sh [--venv-only]\n")
    assert "--venv-only" in make_recipe("unit") and "--venv-only" in make_recipe("lint")


def make_recipe(target: str) -> str:
    """What `make TARGET` would run (make -n), with its prerequisites."""
    run = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def run_as_non_root(script: Path, stubs: Stubs, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs the script as this user, or as nobody when this is root. The script comes on stdin and
    the folder is the stubs', so nobody needs no access to the checkout."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.fail("running as root, and no user 'nobody' to run the script as", pytrace=False)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root, and no setpriv (util-linux) to drop to user 'nobody'", pytrace=False)
        prefix = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    with script.open() as source:
        return subprocess.run([*prefix, "bash", "-s"], stdin=source, cwd=stubs.folder, env=env,
                              capture_output=True, text=True, timeout=60)


def test_a_missing_package_without_root_prints_the_sudo_line(stubs: Stubs) -> None:
    env = stubs.env(SYSTEM_PACKAGES="comfy-absent-tool=comfy-absent-package chromium=chromium")
    run = run_as_non_root(ROOT / "scripts" / "system-packages.sh", stubs, env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "  sudo apt-get install -y comfy-absent-package\n" in run.stderr
    assert "chromium" not in run.stderr  # present (the stub), so not asked for
    assert run.stdout == ""
    assert stubs.called() == []


def test_a_missing_package_as_root_is_installed_with_apt_get(stubs: Stubs) -> None:
    if os.geteuid() != 0:
        pytest.skip("installs as root only; the non-root path is tested above")
    env = stubs.env(SYSTEM_PACKAGES="comfy-absent-tool,comfy-absent-tool2=comfy-absent-tool")
    run = subprocess.run(["bash", str(ROOT / "scripts" / "system-packages.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert stubs.called() == ["apt-get update -qq", "apt-get install -y -qq comfy-absent-tool"]
    assert run.stdout.startswith("system packages: installing comfy-absent-tool with apt-get ... done")


def test_make_clean_removes_the_generated_images_and_nothing_else(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path)
    images = tmp_path / "images"
    (images / "batch" / "prompt").mkdir(parents=True)
    (images / "batch" / "prompt" / "0001.png").write_bytes(b"png")
    (images / "loose.png").write_bytes(b"png")
    shutil.copy(ROOT / "images" / ".gitignore", images)
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "kept.json").write_text("{}")
    run = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in images.iterdir()) == [".gitignore"]
    assert (tmp_path / "baselines" / "kept.json").is_file()
