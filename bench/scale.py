"""Scale figures of issue 22, each a ratio of medians of three runs, the compared runs interleaved.

  collection   `pytest --co -q` of a project with 2,000 JSON data files (100 MB) under tests/,
               with the plugin ÷ without it (-p no:comfy_plugin)            target <= 1.10
  COMFY_URL    `pytest -q` of a plain two-test project with COMFY_URL exported minus
               without it, in ms                                             target <= 30 ms
  span         (--span) 30 prompts of the 1024x1024 noise graph through pytest ÷ the
               queue-all floor: bench/client_cpu.py --rounds 3               target <= 1.08
               (it gives the server by URL, so outputs are downloaded, not linked: not yet
               the launched-server path of point 4)

Not a test: run it by hand.   .venv/bin/python bench/scale.py [--runs 3] [--span]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMFY_", "PYTEST_"))}
    return {**env, **extra}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 5):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def data_project(folder: Path, files: int = 2000, size: int = 50_000) -> None:
    """2,000 JSON data files of about 50 KB (100 MB) under tests/data, and one test file."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    data = folder / "tests" / "data"
    data.mkdir(parents=True)
    (folder / "tests" / "test_data.py").write_text("def test_one():\n    assert True\n")
    rows = [{"id": i, "name": f"row {i}", "values": [i, i * 2, i * 3], "parameters": {"a": i}}
            for i in range(size // 80)]
    text = json.dumps({"rows": rows})
    for n in range(files):
        (data / f"d{n:04}.json").write_text(text)


def plain_project(folder: Path) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_plain.py").write_text("def test_adds():\n    assert 1 + 1 == 2\n\n\n"
                                          "def test_joins():\n    assert 'a' + 'b' == 'ab'\n")


def interleaved(runs: int, first: list[str], second: list[str], cwd: Path, *,
                env_first: dict[str, str], env_second: dict[str, str]) -> tuple[float, float]:
    timed(first, cwd, env_first), timed(second, cwd, env_second)  # warm-up: bytecode, page cache
    a, b = [], []
    for _ in range(runs):
        a.append(timed(first, cwd, env_first))
        b.append(timed(second, cwd, env_second))
    return statistics.median(a), statistics.median(b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--span", action="store_true", help="also the 1024x1024 span (minutes)")
    args = parser.parse_args(argv)
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory(prefix="comfy-scale-") as tmp:
        data, plain = Path(tmp) / "data", Path(tmp) / "plain"
        data.mkdir(), plain.mkdir()
        data_project(data)
        plain_project(plain)
        on, off = interleaved(args.runs, [*pytest, "--co", "-q"], [*pytest, "--co", "-q", "-p", "no:comfy_plugin"],
                              data, env_first=clean_env(), env_second=clean_env())
        ratio = on / off
        print(f"collection, 2,000 JSON files (100 MB): {on:.2f} s with the plugin, {off:.2f} s without "
              f"= {ratio:.2f} x (target <= 1.10: {'met' if ratio <= 1.10 else 'NOT met'})")
        url, bare = interleaved(args.runs, [*pytest, "-q"], [*pytest, "-q"], plain,
                                env_first=clean_env(COMFY_URL="http://127.0.0.1:9"), env_second=clean_env())
        extra = (url - bare) * 1000
        print(f"plain two-test project, COMFY_URL exported: {url * 1000:.0f} ms, not exported {bare * 1000:.0f} ms "
              f"= {extra:+.0f} ms (target <= 30 ms: {'met' if extra <= 30 else 'NOT met'})")
    if args.span:
        print("span, 30 prompts at 1024x1024 against the queue-all floor (bench/client_cpu.py --rounds 3):")
        subprocess.run([sys.executable, str(HERE / "client_cpu.py"), "--n", "30", "--rounds", "3"], check=False)
    else:
        print("span: not measured (give --span; bench/client_cpu.py --rounds 3, target <= 1.08)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
