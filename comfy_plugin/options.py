"""The one option table: command line, environment and ini, with one precedence rule.

Server settings: command line > environment > ini > default. A ``--comfy-url`` given on the
command line (or ``COMFY_URL`` in the environment) means "use that server": an ini
``comfy_launch`` is then ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

DEFAULT_URL = "http://127.0.0.1:8188"
DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Option:
    name: str  # the ini name; the flag is --comfy-<rest> and the env var COMFY_<REST>
    help: str
    default: Any = None
    metavar: str = "VALUE"
    env: bool = True
    ini: bool = True
    convert: Callable[[str], Any] = str
    repeat: bool = False  # may be given several times (several servers for pytest-xdist workers)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env_var(self) -> str:
        return self.name.upper()


OPTIONS: tuple[Option, ...] = (
    Option("comfy_url", "ComfyUI server to use; given on the command line, nothing is launched. "
           "Repeat it (or separate URLs by spaces) to give each pytest-xdist worker its own server",
           DEFAULT_URL, "URL", repeat=True),
    Option("comfy_launch", "start ComfyUI from this folder (the one holding main.py) for the session",
           None, "PATH"),
    Option("comfy_python", "interpreter that runs the launched ComfyUI (default: the development "
           "install's .comfyui/venv, else this Python)", None, "PATH"),
    Option("comfy_launch_args", "extra arguments for the launched ComfyUI, e.g. '--cpu'", "", "ARGS"),
    Option("comfy_model_paths", "extra_model_paths.yaml for the launched ComfyUI "
           "(--extra-model-paths-config): where it finds checkpoints", None, "PATH"),
    Option("comfy_seed", "use this value wherever a batch file says \"random\" (reruns a failure exactly)",
           None, "N", env=False, ini=False, convert=int),
    Option("comfy_missing", "what to do with a prompt whose model or node type the server lacks: "
           "skip (default) or fail", "skip", "skip|fail"),
    Option("comfy_prefetch", "how many prompts to queue ahead of the running test (0: none)", 2, "N",
           convert=int),
    Option("comfy_timeout", "seconds to wait for one prompt's result", DEFAULT_TIMEOUT_S, "SECONDS",
           convert=float),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("comfy", "ComfyUI batch files")
    for opt in OPTIONS:
        group.addoption(opt.flag, dest=opt.name, default=None, metavar=opt.metavar, help=opt.help,
                        action="append" if opt.repeat else "store")
        if opt.ini:
            parser.addini(opt.name, opt.help, default=None)
    parser.addini("comfy_batch_dirs", "folders whose .json files are batch files", type="args",
                  default=["batches"])


@dataclass(frozen=True)
class Settings:
    urls: tuple[str, ...]
    launch: Path | None
    python: str | None
    launch_args: str
    seed: int | None
    model_paths: Path | None
    timeout_s: float
    missing: str
    prefetch: int
    batch_dirs: tuple[str, ...]

    @property
    def url(self) -> str:
        return self.urls[0]

    def url_for_worker(self, worker: int) -> str:
        """pytest-xdist worker N uses the N-th server, round robin."""
        return self.urls[worker % len(self.urls)]


def _layers(config: pytest.Config, opt: Option) -> tuple[Any, Any, Any]:
    """(command line, environment, ini) values, None where unset."""
    cli = config.getoption(opt.name)
    env = os.environ.get(opt.env_var) or None if opt.env else None
    ini = config.getini(opt.name) if opt.ini else None
    return cli, env, ini or None


def _path(value: str | None, base: Path) -> Path | None:
    return None if value is None else (base / os.path.expanduser(value))


def _urls(value: str | list[str] | None) -> list[str]:
    """URLs from a repeated option or a space- or comma-separated string."""
    parts = value if isinstance(value, list) else [value or ""]
    return [u for part in parts for u in part.replace(",", " ").split()]


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        flag = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"{flag}: {value!r} is not one of {', '.join(allowed)}")
    return value


def resolve(config: pytest.Config) -> Settings:
    by_name = {o.name: o for o in OPTIONS}
    invocation = config.invocation_params.dir
    ini_base = config.inipath.parent if config.inipath else config.rootpath

    def value(name: str) -> Any:
        opt = by_name[name]
        for layer in _layers(config, opt):
            if layer is not None:
                try:
                    return opt.convert(layer)
                except ValueError:
                    raise pytest.UsageError(f"{opt.flag}: not a valid value: {layer!r}") from None
        return opt.default

    cli_url, env_url, _ = _layers(config, by_name["comfy_url"])
    cli_launch, env_launch, ini_launch = _layers(config, by_name["comfy_launch"])
    if cli_url and cli_launch:
        raise pytest.UsageError("--comfy-url and --comfy-launch exclude each other: use a server or start one")
    if cli_launch:
        launch = _path(cli_launch, invocation)
    elif cli_url:
        launch = None
    elif env_launch:
        launch = _path(env_launch, invocation)
    elif env_url:
        launch = None
    else:
        launch = _path(ini_launch, ini_base)

    cli_py, env_py, ini_py = _layers(config, by_name["comfy_python"])
    python = cli_py or env_py or (str(_path(ini_py, ini_base)) if ini_py else None)
    cli_mp, env_mp, ini_mp = _layers(config, by_name["comfy_model_paths"])
    model_paths = _path(cli_mp or env_mp, invocation) if (cli_mp or env_mp) else _path(ini_mp, ini_base)
    return Settings(
        urls=tuple(_urls(cli_url) or _urls(env_url) or _urls(config.getini("comfy_url")) or [DEFAULT_URL]),
        launch=launch,
        python=python,
        launch_args=str(value("comfy_launch_args")),
        seed=value("comfy_seed"),
        model_paths=model_paths,
        timeout_s=float(value("comfy_timeout")),
        prefetch=max(0, int(value("comfy_prefetch"))),
        missing=_choice("comfy_missing", str(value("comfy_missing")), ("skip", "fail")),
        batch_dirs=tuple(config.getini("comfy_batch_dirs")),
    )
