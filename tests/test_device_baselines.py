"""Baselines per device, on the real server (``--comfy-baseline-env=auto``): a device without
entries of its own is compared with the shared set; a result accepted on it is written to its
own set (named after its device identity), and the shared set is left as it was. The suite's
server is given by URL, so its CPU is named ``cpu (remote server)``."""

from __future__ import annotations

import json

from conftest import Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"
AUTO = "--comfy-baseline-env=auto"


def test_a_device_falls_back_to_the_shared_set_and_an_accept_writes_its_own(project: Project) -> None:
    project.batch("dev.json", noise_batch([{"id": "a", "seed": 1}, {"id": "b", "seed": 2}]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=2)
    shared = project.path / "baselines" / "dev.json"
    own = project.path / "baselines" / "cpu-remote-server" / "dev.json"
    project.run("batches/", FAIL, AUTO).assert_outcomes(passed=2)  # none of its own: the shared set
    assert not own.parent.exists()

    document = json.loads(shared.read_text())  # b renders otherwise on this device
    entry = document["baselines"]["b"][0]
    entry["hash"] = format(int(entry["hash"], 16) ^ 0xFFFF, "016x")
    entry.pop("sha256", None)
    shared.write_text(json.dumps(document))
    before = shared.read_bytes()
    project.run("batches/", FAIL, AUTO).assert_outcomes(passed=1, failed=1)

    (project.path / "accepted.json").write_text(json.dumps(["batches/dev.json::b"]))
    accepted = project.pytester.runpytest_subprocess("--comfy-accept=accepted.json", AUTO, "-p", "no:cacheprovider")
    assert accepted.ret == 0, accepted.stdout.str()
    accepted.stdout.fnmatch_lines([f"wrote {own}"])
    assert shared.read_bytes() == before, "the shared set is left as it was"
    written = json.loads(own.read_text())
    assert sorted(written["baselines"]) == ["b"] and written["environment"] == "cpu-remote-server"
    assert written["provenance"]["b"]["device"] == "cpu (remote server)"
    assert (own.parent / written["baselines"]["b"][0]["thumbnail"]).is_file()

    project.run("batches/", FAIL, AUTO).assert_outcomes(passed=2)  # b from its own set, a from the shared
    project.run("batches/", FAIL).assert_outcomes(passed=1, failed=1)  # the shared set alone: b differs
