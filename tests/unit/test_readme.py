"""docs/options.md's table keeps up with the option table in comfy_plugin/plugin/options.py, and the
README (which shows the options used most) stays short and names only options that exist."""

from __future__ import annotations

import re
from pathlib import Path

from comfy_plugin.plugin.options import OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"
OPTIONS_DOC = README.parent / "docs" / "options.md"


def test_every_option_is_in_the_options_table() -> None:
    rows = [line for line in OPTIONS_DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    table = "\n".join(rows)
    missing = [opt.flag for opt in OPTIONS if f"`{opt.flag}" not in table]
    assert missing == [], f"add these options to docs/options.md's table: {missing}"


def test_every_documented_comfy_flag_exists() -> None:
    known = {opt.flag for opt in OPTIONS}
    for page in (README, OPTIONS_DOC):
        documented = set(re.findall(r"--comfy-[a-z-]+[a-z]", page.read_text(encoding="utf-8")))
        assert documented <= known, f"{page.name} names options that do not exist: {sorted(documented - known)}"


def test_the_readme_stays_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines: move details to docs/"
