"""The README's options table keeps up with the option table in comfy_plugin/options.py."""

from __future__ import annotations

import re
from pathlib import Path

from comfy_plugin.plugin.options import OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_option_is_in_the_readme_table() -> None:
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    table = "\n".join(rows)
    missing = [opt.flag for opt in OPTIONS if f"`{opt.flag}" not in table]
    assert missing == [], f"add these options to README.md's options table: {missing}"


def test_every_documented_comfy_flag_exists() -> None:
    known = {opt.flag for opt in OPTIONS}
    documented = set(re.findall(r"--comfy-[a-z-]+[a-z]", README.read_text(encoding="utf-8")))
    assert documented <= known, f"README.md names options that do not exist: {sorted(documented - known)}"


def test_the_readme_stays_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines: move details to docs/"
