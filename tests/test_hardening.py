"""Files that stopped the whole session at collection before the hardening (issue 25) fail
alone, with one message each, beside a good batch file whose prompt runs on the real server.
Each case's own rules: tests/unit/test_hardening_batch.py."""

from __future__ import annotations

from conftest import Project, noise_batch


def test_files_that_crashed_collection_fail_alone_beside_a_good_one(project: Project) -> None:
    project.batch("good.json", noise_batch([{"positive_prompt": "still runs", "seed": 1}]))
    # RecursionError in the JSON sniffing: pytest printed "Interrupted: 1 error during collection"
    project.batch("deep.json", '{"parameters": {"workflow_file": "x.json"}, "prompts": '
                  + "[" * 3000 + "]" * 3000 + "}")
    # ValueError (an integer of more than 4,300 digits) when the batch file was loaded
    project.batch("huge.json", '{"parameters": {"workflow_file": "x.json"}, "prompts": [{"seed": 1'
                  + "0" * 5000 + "}]}")
    result = project.run("batches/")
    result.assert_outcomes(passed=1, failed=2)
    assert result.ret == 1
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*batches/deep.json: invalid JSON: nested too deeply (at most 64 levels)",
                                 "*batches/huge.json: invalid JSON: Exceeds the limit (4300 digits)*"])
    assert "Interrupted" not in out and "error during collection" not in out
    assert "Traceback" not in out and "internal error" not in out
    assert len(project.images()) == 1
