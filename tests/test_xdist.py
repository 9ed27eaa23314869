"""pytest-xdist: prompts of one batch file spread over two workers, merged by the controller."""

from __future__ import annotations

import json
import re

from conftest import Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"


def test_baselines_summary_merges_verdicts_of_prompts_spread_over_workers(project: Project) -> None:
    """Before the fix the controller's baselines section had no counts and no distances: the
    verdicts stayed on the workers (``--dist loadfile`` kept one file on one worker, and hid it)."""
    project.batch("spread.json", noise_batch([{"id": f"p{i}", "seed": i} for i in range(6)]))
    recorded = project.run("batches/", "-n", "2", "--comfy-update-baselines")
    recorded.assert_outcomes(passed=6)
    path = project.path / "baselines" / "spread.json"
    document = json.loads(path.read_text())
    entry = document["baselines"]["p3"][0]
    entry["hash"] = format(int(entry["hash"], 16) ^ 0b11, "016x")  # 2 bits off: within the threshold
    entry.pop("sha256", None)  # of a near picture: its bytes are not the output's
    path.write_text(json.dumps(document))

    result = project.run("batches/", "-n", "2", "-v", FAIL)
    result.assert_outcomes(passed=6)
    out = result.stdout.str()
    workers = set(re.findall(r"\[(gw\d)\] .*PASSED batches/spread\.json::p\d", out))
    assert workers == {"gw0", "gw1"}, f"the prompts of one file ran on both workers: {workers}\n{out}"
    result.stdout.fnmatch_lines(["*- baselines -*", "prompts: 6 match",
                                 "  hash distance 2 (threshold 6)  batches/spread.json::p3"])
    assert "hash distance 0" not in out, "zero distances are not listed"
    servers = [line for line in result.stdout.lines if re.match(r"gw\d: server: ", line)]
    assert sorted(line[:3] for line in servers) == ["gw0", "gw1"], out
