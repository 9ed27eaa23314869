"""Start a ComfyUI for a test session and stop it afterwards.

The folder given to ``--comfy-launch`` runs as it is: its models, its custom nodes and its
``extra_model_paths.yaml``. What the server writes goes to a temporary folder of the launch:
outputs, inputs, temporary files, the user folder and the database (ComfyUI's
``--output-directory``, ``--input-directory``, ``--temp-directory``, ``--user-directory`` and
``--database-url``), beside the server's log; so the folder is never written to and sessions
never share state. Each launch gets a free port. Stopping removes the launch's folder; only the
log of a server that failed (did not start, crashed, was killed) is kept, for a day.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LaunchFailed

START_TIMEOUT_S = 180.0
WORKDIR_PREFIX = "comfy-session-"
#: The log of a failed server is kept this long; the next launch removes older ones.
KEEP_FAILED_LOG_S = 24 * 3600.0


@dataclass
class LaunchedServer:
    url: str
    process: subprocess.Popen
    workdir: Path  # holds base/ (the server's output/, input/, temp/, user/ with its database) and comfyui.log
    log_path: Path
    #: Where it writes its files on this machine, by /history's ``type``: "output" (its
    #: --output-directory) and "temp" (previews: ``temp`` under its --temp-directory)
    folders: dict[str, Path] = field(default_factory=dict)
    _roots: dict[str, Path] = field(default_factory=dict, repr=False)  # the folders resolved, once each

    def local_file(self, kind: str, subfolder: str, filename: str) -> Path | None:
        """The file /history names, in the server's folder on this machine; None when it is not
        there (another type, a name that leaves the folder, not a regular file). Names are
        untrusted: the path must resolve inside the folder."""
        folder = self.folders.get(kind)
        if folder is None or not filename or "\x00" in subfolder + filename:
            return None
        try:
            root = self._roots.get(kind) or self._roots.setdefault(kind, folder.resolve())
            decided, found = _plain_file(root, subfolder, filename)
            if decided:
                return found
            path = (root / subfolder / filename).resolve()
        except (OSError, RuntimeError, ValueError):
            return None
        return path if root in path.parents and path.is_file() else None

    @property
    def failed(self) -> bool:
        """Whether the server ended by itself (crashed, was killed) before anyone stopped it."""
        return self.process.poll() is not None

    def stop(self, grace_s: float = 10.0, keep_log: bool | None = None) -> None:
        """Stop the server and remove its folder; the log stays when ``keep_log`` (default:
        when the server had already ended by itself)."""
        keep = self.failed if keep_log is None else keep_log
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        remove_workdir(self.workdir, keep_log=keep)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def remove_workdir(workdir: Path, keep_log: bool) -> None:
    """Remove a launch's folder, or everything in it but the log."""
    if not keep_log:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for entry in workdir.iterdir() if workdir.is_dir() else ():
        if entry.name != "comfyui.log":
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def sweep_old_logs(now: float | None = None) -> None:
    """Remove the folders of failed launches (a kept log) older than a day."""
    now = time.time() if now is None else now
    for folder in Path(tempfile.gettempdir()).glob(WORKDIR_PREFIX + "*"):
        try:
            if now - folder.stat().st_mtime > KEEP_FAILED_LOG_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue  # removed meanwhile by another session


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(comfy_dir: Path, python: str, extra_args: Sequence[str] | str = (), *, host: str = "127.0.0.1",
           timeout_s: float = START_TIMEOUT_S, model_paths: Path | Sequence[Path] | None = None,
           model_folders: Mapping[str, Path] | None = None, port: int | None = None,
           workdir: Path | None = None) -> LaunchedServer:
    """Start ``python comfy_dir/main.py`` and wait until ``/system_stats`` answers.

    ``model_paths``: ``extra_model_paths.yaml`` files (``--extra-model-paths-config``), read
    besides the folder's own. ``model_folders``: more model folders by ComfyUI's name
    (``{"checkpoints": cache/checkpoints}``, the fetched models), given through a yaml written in
    the launch's folder. ``port`` and ``workdir`` (default: a free port, a new temporary folder)
    let a caller start a server again where it was, e.g. after killing it. A flag in
    ``extra_args`` wins over the same flag of the launch's own folders."""
    main = comfy_dir / "main.py"
    if not main.is_file():
        raise LaunchFailed(str(comfy_dir), "no main.py in the folder given to --comfy-launch",
                                "give ComfyUI's folder (the one holding main.py); "
                                "in this repository run scripts/install-comfyui.sh first")
    if not (shutil.which(python) or Path(python).is_file()):
        raise LaunchFailed(str(comfy_dir), f"the interpreter '{python}' does not exist",
                                "name ComfyUI's Python with --comfy-python")
    yamls = [Path(model_paths)] if isinstance(model_paths, (str, Path)) else list(model_paths or ())
    for yaml in yamls:
        if not yaml.is_file():
            raise LaunchFailed(str(comfy_dir), f"the model paths file '{yaml}' does not exist",
                               "in this repository run scripts/setup.sh (it writes it with "
                               "scripts/make_checkpoint.py), or name another with --comfy-model-paths")
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    if workdir is None:
        sweep_old_logs()
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    log_path = workdir / "comfyui.log"
    args = shlex.split(extra_args) if isinstance(extra_args, str) else list(extra_args)
    if model_folders:
        yamls.append(_folders_yaml(workdir, model_folders))
    cmd = [python, str(main), "--listen", host, "--port", str(port), *_run_folders(workdir), *args]
    for yaml in yamls:
        cmd += ["--extra-model-paths-config", str(yaml.resolve())]
    try:
        with open(log_path, "ab") as log:
            process = subprocess.Popen(cmd, cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                       start_new_session=True)
    except OSError as exc:  # an interpreter that is not executable, a folder that cannot be entered
        remove_workdir(workdir, keep_log=False)
        raise LaunchFailed(str(comfy_dir), f"cannot run '{python}': {exc.strerror or exc}",
                           "name ComfyUI's Python with --comfy-python") from None
    server = LaunchedServer(url, process, workdir, log_path, _folders(args, workdir, comfy_dir))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            remove_workdir(workdir, keep_log=True)
            raise LaunchFailed(url, f"ComfyUI exited with code {process.returncode} while starting "
                                    f"(log: {log_path})\n{server.log_tail()}",
                                    f"command: {shlex.join(cmd)}")
        if _answers(url):
            return server
        time.sleep(0.25)
    server.stop(keep_log=True)
    raise LaunchFailed(url, f"ComfyUI did not answer within {timeout_s:g} s (log: {log_path})\n{server.log_tail()}")


def _run_folders(workdir: Path) -> list[str]:
    """ComfyUI's flags that send everything it writes into the launch's ``base/`` (its user
    folder must exist; its database would otherwise be ``user/comfyui.db`` in ComfyUI's own
    folder)."""
    base = workdir / "base"
    for name in ("output", "input", "user"):
        (base / name).mkdir(parents=True, exist_ok=True)
    return ["--output-directory", str(base / "output"), "--input-directory", str(base / "input"),
            "--temp-directory", str(base), "--user-directory", str(base / "user"),
            "--database-url", f"sqlite:///{base / 'user' / 'comfyui.db'}"]


def _folders_yaml(workdir: Path, folders: Mapping[str, Path]) -> Path:
    """An extra_model_paths.yaml naming ``folders`` (ComfyUI's folder name -> a directory)."""
    lines = ["# Written by comfy_plugin for this launch: the models fetched into the cache.", "comfy_plugin_models:"]
    for name, folder in sorted(folders.items()):
        Path(folder).mkdir(parents=True, exist_ok=True)
        lines.append(f"    {name}: {json.dumps(str(Path(folder).resolve()))}")
    path = workdir / "fetched_model_paths.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _folders(args: Sequence[str], workdir: Path, cwd: Path) -> dict[str, Path]:
    """ComfyUI's output and temp folders: the launch's (base/), or those the extra arguments name (its
    folder_paths: relative paths from its working directory, ``temp`` under --temp-directory)."""
    def given(flag: str) -> str | None:
        found = None
        for index, arg in enumerate(args):
            if arg == flag and index + 1 < len(args):
                found = args[index + 1]
            elif arg.startswith(flag + "="):
                found = arg.split("=", 1)[1]
        return found

    output, temp = given("--output-directory"), given("--temp-directory")
    return {"output": cwd / output if output else workdir / "base" / "output",
            "temp": cwd / temp / "temp" if temp else workdir / "base" / "temp"}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/system_stats", timeout=2) as resp:
            json.loads(resp.read())
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def default_python(rootdir: Path) -> str:
    """The development install's interpreter when present, else this one."""
    dev = rootdir / ".comfyui" / "venv" / "bin" / "python"
    return str(dev) if dev.exists() else sys.executable


def _plain_file(root: Path, subfolder: str, filename: str) -> tuple[bool, Path | None]:
    """The common case of ``local_file`` with one lstat a name (resolving would lstat every
    folder from /): a relative name of plain parts, no link on the way. (True, the regular
    file or None) when that decides it; (False, None) when the name needs resolving (``..``,
    an absolute name, a link)."""
    names = [*subfolder.split("/"), *filename.split("/")] if subfolder else filename.split("/")
    if any(name in ("", ".", "..") for name in names):
        return False, None
    path = root
    for name in names:
        path = path / name
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return False, None
    return True, path if stat.S_ISREG(mode) else None
