"""Fuzzing in the unit suite: mutated batch files of the repository (bench/fuzz_batch.py)
end in a documented error or pass, never in another exception. A small, fixed budget
(derandomized: the same cases every run); ``python bench/fuzz.py`` runs the long campaign."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import fuzz_batch  # noqa: E402


@pytest.fixture(scope="module")
def project() -> Iterator[fuzz_batch.Project]:
    made = fuzz_batch.Project.create()
    yield made
    made.close()


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rng=st.randoms(use_true_random=False))
def test_a_mutated_batch_file_ends_in_a_documented_error_or_passes(project: fuzz_batch.Project,
                                                                    rng: random.Random) -> None:
    _, batch, workflow = fuzz_batch.make_case(rng)
    assert fuzz_batch.run_case(project, batch, workflow) in ("error", "accepted")


def test_the_fuzzer_reaches_both_outcomes(project: fuzz_batch.Project) -> None:
    """A fuzzer whose cases all fail at the first check tests nothing deeper."""
    rng = random.Random(7)
    outcomes = {fuzz_batch.run_case(project, *fuzz_batch.make_case(rng)[1:]) for _ in range(60)}
    assert outcomes == {"error", "accepted"}
