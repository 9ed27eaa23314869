"""The one option table: command line, environment and ini, with one precedence rule.

Server settings: command line > environment > ini > default. A ``--comfy-url`` given on the
command line (or ``COMFY_URL`` in the environment) means "use that server": an ini
``comfy_launch`` is then ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ..settings import MAX_UI_NODES, BaselineSettings, BatchLimits, Settings

DEFAULT_URL = "http://127.0.0.1:8188"
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_QUEUE_TIMEOUT_S = 1800.0


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
    switch: bool = False  # a command-line flag without a value (ini/environment: true or false)
    cli_name: str = ""  # the flag, when it is not derived from the name

    @property
    def flag(self) -> str:
        return self.cli_name or "--" + self.name.replace("_", "-")

    @property
    def env_var(self) -> str:
        return self.name.upper()


def _boolean(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


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
    Option("comfy_models", "JSON manifest of the model files the suite needs (folder, file, url, sha256; "
           "docs/own-comfyui.md): a launched ComfyUI sees the cached ones, --comfy-check names the missing ones",
           None, "PATH"),
    Option("comfy_model_cache", "folder of the models downloaded from the manifest (default: "
           "~/.cache/comfy-plugin/models)", None, "DIR"),
    Option("comfy_fetch_models", "with a launched ComfyUI: download the manifest's models missing from the cache "
           "(hash-checked) before the launch", False, switch=True, convert=_boolean),
    Option("comfy_seed", "use this value wherever a batch file says \"random\" (reruns a failure exactly)",
           None, "N", env=False, ini=False, convert=int),
    Option("comfy_missing", "what to do with a prompt whose model or node type the server lacks: "
           "skip (default) or fail", "skip", "skip|fail"),
    Option("comfy_prefetch", "how many prompts to queue ahead of the running test (0: none); auto (the default): "
           "2, more while prompts are short (as many as the server runs in 0.1 s, at most 16)", None, "N|auto",
           convert=lambda text: None if text.strip().lower() == "auto" else max(0, int(text))),
    Option("comfy_timeout", "seconds to wait for one prompt's result", DEFAULT_TIMEOUT_S, "SECONDS",
           convert=float),
    Option("comfy_queue_timeout", "seconds a prompt may wait in the server's queue behind prompts that are not "
           "this run's (a shared or stuck server); then it is removed and fails. 0: no bound",
           DEFAULT_QUEUE_TIMEOUT_S, "SECONDS", convert=float),
    Option("comfy_restart_on_crash", "with --comfy-launch: when the launched ComfyUI dies during the run, "
           "launch it again and retry the interrupted prompt once", False, switch=True,
           convert=_boolean),
    Option("comfy_headers", "an HTTP header sent with every request and the WebSocket upgrade, "
           "'Name: value' (repeatable; environment/ini: several separated by newlines or ';'); "
           "values are never shown", None, "'NAME: VALUE'", repeat=True, cli_name="--comfy-header"),
    Option("comfy_ca_bundle", "PEM file of the CA certificates that verify an https server (a proxy with its own "
           "CA); default: the system's store, or SSL_CERT_FILE. Verification cannot be turned off", None, "PATH"),
    # Baselines: perceptual-hash comparison of fixed-seed prompts (see baselines.py).
    Option("comfy_update_baselines", "record or refresh the baselines of the selected prompts", False,
           switch=True, convert=_boolean, env=False, ini=False),
    Option("comfy_prune_baselines", "with --comfy-update-baselines: remove baselines whose prompt no longer "
           "exists", False, switch=True, convert=_boolean, env=False, ini=False),
    Option("comfy_baselines", "folder of the baseline files (mirrors batches/)", "baselines", "DIR"),
    Option("comfy_baseline_env", "label of a separate baseline set for machines that render differently, "
           "e.g. cpu or cuda; auto: a set per device (its name), the shared set where it has none", None, "LABEL"),
    Option("comfy_missing_baseline", "a compared prompt without a baseline: pass (default: the prompt passes "
           "and the summary says how to record it), fail (for CI), skip or write", "pass", "pass|fail|skip|write"),
    Option("comfy_ci", "the CI form: a run that compares nothing cannot pass. Implies --comfy-missing=fail and "
           "--comfy-missing-baseline=fail (a missing model, node type or baseline fails its prompt), and fails "
           "the session when no prompt was compared with a baseline; the summary lists what was missing",
           False, switch=True, convert=_boolean),
    Option("comfy_hash", "perceptual hash for baselines: phash (default), ahash, dhash, whash, colorhash, "
           "optionally with a size: phash-16", "phash-8", "ALGO[-SIZE]"),
    Option("comfy_threshold", "largest hash distance that still matches (default: 6 for phash-8, scaled "
           "to other hash sizes)", None, "N", convert=int),
    Option("comfy_reference_side", "long side in pixels of the reference image kept beside each baseline entry "
           "(a lossless downscale that SSIM and CIEDE2000 compare), or full for the original image", "256",
           "PIXELS|full"),
    Option("comfy_accept", "write the baselines of the prompts listed in FILE (a JSON array of test ids, as the "
           "HTML report's review button downloads it) from their last run's pending results; runs nothing",
           None, "FILE", env=False, ini=False),
    Option("comfy_pending", "folder of the results waiting for review (what --comfy-accept reads)",
           "images/comfy-pending", "DIR"),
    Option("comfy_perf", "time baselines (execution time and peak memory per prompt and device): warn (default: "
           "list regressions in the summary), fail (fail the prompt) or off", "warn", "warn|fail|off"),
    Option("comfy_time_tolerance", "a prompt slower than this factor of its time baseline (and at least 1 s "
           "slower) is a regression", 1.5, "FACTOR", convert=float),
    Option("comfy_mem_tolerance", "a prompt whose peak memory exceeds this factor of its baseline is a regression",
           1.25, "FACTOR", convert=float),
    Option("comfy_fresh", "clear the server's cache at session start (POST /free), so reruns really run",
           False, switch=True, convert=_boolean),
    Option("comfy_confirm_failures", "run a prompt that differs from its baseline again, uncached, up to N times: "
           "a rerun that differs from the first run makes it nondeterministic, else the regression is confirmed",
           0, "N", convert=int),
    Option("comfy_nondeterministic", "a prompt whose uncached reruns differ from each other: fail (default), "
           "skip or pass", "fail", "fail|skip|pass"),
    Option("comfy_check", "check every selected prompt (schema, workflow and, when a server is named or "
           "launched, its /object_info) and queue nothing", False, switch=True, convert=_boolean, env=False,
           ini=False),
    Option("comfy_max_file_mb", "largest batch, workflow or variable file read, in MB (it must also be a regular "
           "file): a bigger one fails its batch file", BatchLimits.file_mb, "MB", convert=float),
    Option("comfy_max_prompts", "most prompts one batch file may expand to (variables multiply them): more fail "
           "the batch file before any is built", BatchLimits.prompts, "N", convert=int),
    Option("comfy_max_nodes", "most nodes a UI-format workflow may have once its subgraph instances are expanded "
           "(each instance copies its subgraph): a bigger one fails its batch file", MAX_UI_NODES, "N", convert=int),
    Option("comfy_report", "write an HTML report of the prompts (failures first, each failing image beside its "
           "baseline, seeds and parameters) to this file, and its cards and pictures to a folder beside it "
           "(PATH's stem + _files), at the end of the session", None, "PATH"),
)


def baseline_settings(config: pytest.Config) -> BaselineSettings:
    """The baseline options, command line > environment > ini > default."""
    value = partial(_value, config)
    root = _defaulted_path(config, "comfy_baselines")
    return BaselineSettings(
        update=bool(value("comfy_update_baselines")),
        prune=bool(value("comfy_prune_baselines")),
        root=root,
        env=value("comfy_baseline_env"),
        missing="fail" if ci_form(config) else _choice("comfy_missing_baseline", str(value("comfy_missing_baseline")),
                                                       ("pass", "fail", "skip", "write")),
        hash=str(value("comfy_hash")),
        threshold=value("comfy_threshold"),
        fresh=bool(value("comfy_fresh")),
        pending=_defaulted_path(config, "comfy_pending"),
        perf=_choice("comfy_perf", str(value("comfy_perf")), ("warn", "fail", "off")),
        time_tolerance=float(value("comfy_time_tolerance")),
        mem_tolerance=float(value("comfy_mem_tolerance")),
        reference_side=str(value("comfy_reference_side")),
        confirm_failures=_at_least_zero("comfy_confirm_failures", int(value("comfy_confirm_failures"))),
        nondeterministic=_choice("comfy_nondeterministic", str(value("comfy_nondeterministic")),
                                 ("fail", "skip", "pass")),
    )


def ci_form(config: pytest.Config) -> bool:
    """``--comfy-ci`` (``COMFY_CI``, ini ``comfy_ci``): it overrides both missing policies with fail."""
    return bool(_value(config, "comfy_ci"))


def any_given(config: pytest.Config) -> bool:
    """Whether any comfy option is set on the command line or in the ini: then the plugin
    builds its parts at start (and a bad value fails at once). An exported ``COMFY_*``
    variable alone is not: a CI job that exports ``COMFY_URL`` for its batch files also runs
    other pytest projects, which must not pay for the plugin (the variable still sets its
    option once something activates it: a batch file, the ``comfy`` fixture)."""
    return any(config.getoption(opt.name) is not None or (opt.ini and config.getini(opt.name))
               for opt in OPTIONS)


def report_path(config: pytest.Config) -> Path | None:
    """--comfy-report: relative to the working directory (command line, environment) or the ini's folder."""
    return _path_setting(config, "comfy_report")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("comfy", "ComfyUI batch files")
    for opt in OPTIONS:
        if opt.switch:
            group.addoption(opt.flag, dest=opt.name, default=None, action="store_true", help=opt.help)
        elif opt.flag in DASHED_VALUES:  # nargs "?": its dashed value waits for join_dashed_values
            group.addoption(opt.flag, dest=opt.name, default=None, metavar=opt.metavar, help=opt.help, nargs="?")
        else:
            group.addoption(opt.flag, dest=opt.name, default=None, metavar=opt.metavar, help=opt.help,
                            action="append" if opt.repeat else "store")
        if opt.ini:
            parser.addini(opt.name, opt.help, default=None)
    parser.addini("comfy_batch_dirs", "folders whose .json files are batch files", type="args",
                  default=["batches"])


#: Options whose value is itself a command line that may start with a dash: ``--comfy-launch-args "--cpu"``.
DASHED_VALUES = ("--comfy-launch-args",)


def join_dashed_values(args: list[str]) -> None:
    """``--comfy-launch-args --cpu`` becomes ``--comfy-launch-args=--cpu``, in place.

    argparse takes a lone value that starts with ``-`` (and has no space) for an option of its own,
    so ``--comfy-launch-args "--cpu"`` would fail with "expected one argument". pytest parses its
    arguments in two passes: such an option is registered with ``nargs="?"`` so that the early
    pass lets it through, and this joins the value to it before the final pass
    (``pytest_load_initial_conftests`` comes between them)."""
    index = 0
    while index < len(args) - 1:
        if args[index] == "--":
            return  # what follows is positional
        if args[index] in DASHED_VALUES and args[index + 1].startswith("-"):
            args[index:index + 2] = [f"{args[index]}={args[index + 1]}"]
        index += 1


def _layers(config: pytest.Config, opt: Option) -> tuple[Any, Any, Any]:
    """(command line, environment, ini) values, None where unset."""
    cli = config.getoption(opt.name)
    env = os.environ.get(opt.env_var) or None if opt.env else None
    ini = config.getini(opt.name) if opt.ini else None
    return cli, env, ini or None


def _value(config: pytest.Config, name: str) -> Any:
    """The first of command line, environment and ini that is set, converted; else the default."""
    opt = next(o for o in OPTIONS if o.name == name)
    for layer in _layers(config, opt):
        if layer is not None:
            try:
                return opt.convert(layer)
            except ValueError:
                raise pytest.UsageError(f"{opt.flag}: not a valid value: {layer!r}") from None
    return opt.default


def _path(value: str | None, base: Path) -> Path | None:
    return None if value is None else (base / os.path.expanduser(value))


def _path_setting(config: pytest.Config, name: str) -> Path | None:
    """A path option: relative to the working directory when it comes from the command line or
    the environment, to the ini file's folder when it comes from the ini (or is the default)."""
    opt = next(o for o in OPTIONS if o.name == name)
    cli, env, ini = _layers(config, opt)
    if cli or env:
        return _path(cli or env, config.invocation_params.dir)
    ini_base = config.inipath.parent if config.inipath else config.rootpath
    return _path(ini if ini is not None else opt.default, ini_base)


def _defaulted_path(config: pytest.Config, name: str) -> Path:
    """A path option that has a default, so always a path."""
    path = _path_setting(config, name)
    assert path is not None, f"{name} has a default"
    return path


def _urls(value: str | list[str] | None) -> list[str]:
    """URLs from a repeated option or a space- or comma-separated string."""
    parts = value if isinstance(value, list) else [value or ""]
    return [u for part in parts for u in part.replace(",", " ").split()]


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers given together are separated by newlines, or by ';' before the next 'Name:'
#: (so a value such as a cookie, 'a=1; b=2', stays whole).
_HEADER_SPLIT = re.compile(r"\r?\n|;\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*:)")


def _headers(value: str | list[str] | None) -> tuple[tuple[str, str], ...]:
    """``Name: value`` pairs. A malformed one is a usage error that names its position, never
    its text (which may hold a secret)."""
    texts = value if isinstance(value, list) else [value or ""]
    headers: list[tuple[str, str]] = []
    for piece in (p.strip() for text in texts for p in _HEADER_SPLIT.split(text)):
        if not piece:
            continue
        name, colon, content = piece.partition(":")
        if not colon or not _HEADER_NAME.fullmatch(name.strip()) or any(c in content for c in "\r\n\x00"):
            raise pytest.UsageError(f"--comfy-header: header #{len(headers) + 1} is not of the form 'Name: value' "
                                    "(its text is not shown: it may hold a secret)")
        headers.append((name.strip(), content.strip()))
    return tuple(headers)


def _at_least_zero(name: str, value: int) -> int:
    if value < 0:
        raise pytest.UsageError(f"--{name.replace('_', '-')}: {value} is less than 0")
    return value


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        flag = "--" + name.replace("_", "-")
        raise pytest.UsageError(f"{flag}: {value!r} is not one of {', '.join(allowed)}")
    return value


def resolve(config: pytest.Config) -> Settings:
    by_name = {o.name: o for o in OPTIONS}
    invocation = config.invocation_params.dir
    ini_base = config.inipath.parent if config.inipath else config.rootpath

    value = partial(_value, config)

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
    _not_comfyuis_ini(config, launch)
    if value("comfy_fetch_models") and _path_setting(config, "comfy_models") is None:
        raise pytest.UsageError("--comfy-fetch-models: no model manifest to fetch from: name one with "
                                "--comfy-models PATH (ini comfy_models; docs/own-comfyui.md)")

    cli_py, env_py, _ = _layers(config, by_name["comfy_python"])
    python_path = _path_setting(config, "comfy_python")
    python = cli_py or env_py or (str(python_path) if python_path else None)  # a bare name stays on PATH
    model_paths = _path_setting(config, "comfy_model_paths")
    return Settings(
        urls=tuple(_urls(cli_url) or _urls(env_url) or _urls(config.getini("comfy_url")) or [DEFAULT_URL]),
        launch=launch,
        python=python,
        launch_args=str(value("comfy_launch_args")),
        seed=value("comfy_seed"),
        model_paths=model_paths,
        timeout_s=float(value("comfy_timeout")),
        queue_timeout_s=max(0.0, float(value("comfy_queue_timeout"))),
        prefetch=value("comfy_prefetch"),
        missing="fail" if ci_form(config) else _choice("comfy_missing", str(value("comfy_missing")), ("skip", "fail")),
        batch_dirs=tuple(config.getini("comfy_batch_dirs")),
        restart_on_crash=bool(value("comfy_restart_on_crash")),
        check=bool(value("comfy_check")),
        server_named=bool(cli_url or env_url or config.getini("comfy_url")) or launch is not None,
        headers=_headers(next((layer for layer in _layers(config, by_name["comfy_headers"]) if layer), None)),
        ca_bundle=_path_setting(config, "comfy_ca_bundle"),
        limits=_limits(config),
        models=_path_setting(config, "comfy_models"),
        model_cache=_path_setting(config, "comfy_model_cache"),
        fetch_models=bool(value("comfy_fetch_models")),
    )


def _not_comfyuis_ini(config: pytest.Config, launch: Path | None) -> None:
    """The net under ``joined.py`` (which runs a command whose two-word path option misled
    pytest's search again, joined): a configuration file above neither the working directory
    nor a test path that is still taken (ComfyUI's ``pytest.ini``) is refused, never used."""
    from .joined import foreign_ini

    inipath = config.inipath
    if inipath is None or config.option.inifilename or not foreign_ini(config):
        return
    folder = inipath.resolve().parent
    inside = launch is not None and launch.resolve() in (folder, *folder.parents)
    raise pytest.UsageError(
        f"pytest took {inipath} for this project's configuration file"
        + (" (it is in the ComfyUI folder given to --comfy-launch)" if inside else "")
        + ": before the plugin is loaded, pytest reads a comfy option's separate value as a test path. "
        "Add a pytest.ini (or a pyproject.toml with [tool.pytest.ini_options]) at the project's root, "
        "or join such values with '=': --comfy-launch=DIR --comfy-python=PATH")


def _at_least_one(name: str, number: int) -> int:
    if number < 1:
        raise pytest.UsageError(f"--{name.replace('_', '-')}: must be at least 1, not {number!r}")
    return number


def _limits(config: pytest.Config) -> BatchLimits:
    file_mb, prompts = _value(config, "comfy_max_file_mb"), _value(config, "comfy_max_prompts")
    if not file_mb > 0 or file_mb == float("inf"):
        raise pytest.UsageError(f"--comfy-max-file-mb: must be a positive number of MB, not {file_mb!r}")
    if prompts < 1:
        raise pytest.UsageError(f"--comfy-max-prompts: must be at least 1, not {prompts!r}")
    return BatchLimits(float(file_mb), int(prompts), _at_least_one("comfy_max_nodes",
                                                                   int(_value(config, "comfy_max_nodes"))))
