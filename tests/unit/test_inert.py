"""The installed plugin stays inert where it is not used: JSON data files outside the batch
folders cost one small read and one anchored match each (never a parse), and exported
``COMFY_*`` variables alone build nothing. Plugin runs (pytester) whose server URL points at a closed port."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from comfy_plugin.batchfile import reading
from comfy_plugin.batchfile.reading import HEAD_BYTES, looks_like_batch
from conftest import Project, noise_batch

#: A conftest that writes, at the end of the run, whether the plugin built its parts.
BUILT = ("from comfy_plugin.plugin.registry import comfy_state\n"
         "def pytest_unconfigure(config):\n"
         "    open('built.txt', 'w').write(str(comfy_state(config).parts is not None))\n")
PLAIN_TEST = "def test_adds():\n    assert 1 + 1 == 2\n\n\ndef test_joins():\n    assert 'a' + 'b' == 'ab'\n"


@pytest.mark.parametrize(("head", "expected"), [
    ('{"parameters": {}, "prompts": []}', True),
    ('\ufeff\n  {\n "prompts" : [], "parameters": {}}', True),
    ('{"description": "x", "parameters": {"workflow_file": "w.json"}}', True),  # parsed in full next
    ('{"$schema": "../s.json", "version": 1.5, "ok": true, "parameters": {}}', True),  # plain values first
    ('{"meta": {"a": 1}, "parameters": {}, "prompts": []}', False),  # an object first: not a batch file here
    ('{"tags": ["a"], "prompts": []}', False),  # a list first
    ('[{"parameters": 1}]', False),  # not an object
    ('{"rows": [{"parameters": 1, "prompts": 2}]}', False),  # keys of a nested object
    ('{"a": "{[\\"", "parameters": {}}', True),  # brackets and quotes inside a string
    ('{"name": "data", "values": [1, 2, 3]}', False),
    ('{"text": "parameters and prompts, in words only"}', False),
    ("", False),
])
def test_a_cheap_look_at_the_head(tmp_path: Path, head: str, expected: bool) -> None:
    path = tmp_path / "x.json"
    path.write_text(head, encoding="utf-8")
    assert looks_like_batch(path) is expected


def test_the_head_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "late.json"
    path.write_text(json.dumps({"data": "x" * HEAD_BYTES, "parameters": {}, "prompts": []}))
    assert not looks_like_batch(path)
    assert looks_like_batch(path, head_bytes=2 * HEAD_BYTES)


def test_what_cannot_be_read_is_not_a_batch(tmp_path: Path) -> None:
    assert not looks_like_batch(tmp_path)  # a folder
    assert not looks_like_batch(tmp_path / "missing.json")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert not looks_like_batch(fifo)  # returns at once: no writer is waited for


def test_data_files_elsewhere_are_never_parsed(offline_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    p = offline_project
    for number in range(20):
        p.batch(f"d{number}.json", {"rows": [{"id": i, "parameters": i} for i in range(50)]}, folder="tests/data")
    p.batch("broken.json", '{"values": [1, 2', folder="tests/data")  # not JSON: not a batch file, quietly
    p.batch("good.json", noise_batch([{"positive_prompt": "one", "seed": 1}]))
    p.batch("elsewhere.json", noise_batch([{"positive_prompt": "two", "seed": 2}],
                                          workflow_file="../workflows-files/noise-image-api.json"), folder="more")
    parsed: list[str] = []
    real = reading.read_json

    def counting(path: Path, *args: object, **kwargs: object) -> reading.Read:
        parsed.append(Path(path).name)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reading, "read_json", counting)
    result = p.run("--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["batches/good.json::one", "more/elsewhere.json::two", "2 tests collected*"])
    assert not [name for name in parsed if name.startswith("d") or name == "broken.json"], parsed


def test_a_batch_file_named_late_in_its_head_is_found_only_by_name(offline_project: Project) -> None:
    p = offline_project
    batch = {"description": "x" * HEAD_BYTES, **noise_batch([{"positive_prompt": "late", "seed": 1}],
                                                          workflow_file="../workflows-files/noise-image-api.json")}
    p.batch("late.json", batch, folder="more")
    assert "late.json" not in p.run("--collect-only", "-q").stdout.str()
    p.run("--collect-only", "-q", "more/late.json").stdout.fnmatch_lines(["more/late.json::late"])


def test_exported_variables_alone_build_nothing(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COMFY_TIMEOUT", "5")
    pytester.makeconftest(BUILT)
    pytester.makepyfile(test_plain=PLAIN_TEST)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert (pytester.path / "built.txt").read_text() == "False"


def test_an_option_on_the_command_line_or_in_the_ini_still_activates(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(BUILT)
    pytester.makepyfile(test_plain=PLAIN_TEST)
    pytester.runpytest("-p", "no:cacheprovider", "--comfy-timeout", "5").assert_outcomes(passed=2)
    assert (pytester.path / "built.txt").read_text() == "True"
    pytester.makeini("[pytest]\ncomfy_timeout = 5\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    assert (pytester.path / "built.txt").read_text() == "True"


def test_an_exported_variable_sets_its_option_once_the_fixture_activates(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFY_URL", "http://127.0.0.1:9")
    pytester.makeconftest(BUILT)
    pytester.makepyfile(test_fixture="def test_url(comfy):\n    assert comfy.session.url == 'http://127.0.0.1:9'\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert (pytester.path / "built.txt").read_text() == "True"
