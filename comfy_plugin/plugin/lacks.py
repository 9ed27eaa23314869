"""``--comfy-check``'s closing block: every model and node type the checked prompts need and the
server lacks, once each, with the prompts that need it and whether the manifest lists the model.

Read from the session's reports (skipped, or failed with ``--comfy-missing=fail``), whose text
preflight wrote (``server lacks model 'x' ...``), so it works the same under pytest-xdist.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ComfyError

if TYPE_CHECKING:
    from ..server.models import Manifest
    from .state import ComfyPlugin

LACKED = re.compile(r"server lacks (model|node type) '([^']*)'")


def lacked(reports: list[Any]) -> dict[tuple[str, str], list[str]]:
    """(kind, name) -> the node ids of the prompts that need it, in the order first seen."""
    found: dict[tuple[str, str], list[str]] = {}
    for report in reports:
        longrepr = report.longrepr
        text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
        for kind, name in dict.fromkeys(LACKED.findall(text)):
            found.setdefault((kind, name), []).append(report.nodeid)
    return found


def write(tr: pytest.TerminalReporter, plugin: ComfyPlugin) -> None:
    """The block, after a --comfy-check run against a server, when the server lacks anything."""
    if not (plugin.settings.check and plugin.settings.server_named):
        return
    found = lacked([r for key in ("skipped", "failed") for r in tr.stats.get(key, [])
                    if getattr(r, "when", "") == "call"])
    if not found:
        return
    manifest, problem = _manifest(plugin)
    tr.write_sep("-", "what the server lacks (--comfy-check)")
    for (kind, name), nodeids in sorted(found.items(), key=lambda item: item[0][0] != "node type"):
        tr.write_line(f"{kind} '{name}': needed by {len(nodeids)} prompt(s): {', '.join(nodeids)}", yellow=True)
        if kind == "node type":
            tr.write_line("  a custom node not installed on the server?")
        elif manifest is not None:
            listed = manifest.lists(name)
            tr.write_line(f"  in the manifest ({listed.name} from {listed.url}): --comfy-fetch-models downloads it "
                          "for a launched server" if listed else f"  not in the manifest {manifest.path}")
    if problem:
        tr.write_line(problem, red=True)


def _manifest(plugin: ComfyPlugin) -> tuple[Manifest | None, str]:
    """The manifest (None without one) and why it could not be read."""
    if plugin.settings.models is None:
        return None, ""
    from ..server.models import read_manifest

    try:
        return read_manifest(plugin.settings.models), ""
    except ComfyError as exc:
        return None, str(exc)
