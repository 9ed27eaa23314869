"""``python -m comfy_plugin COMMAND``: the plugin's commands beside pytest.

    python -m comfy_plugin convert WORKFLOW.json (--url URL | --object-info FILE) [-o OUT.json]

Each command is a module with a ``main(argv) -> exit code``; this file only dispatches.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = "usage: python -m comfy_plugin {convert} ...\n  convert  the API-format prompt of a UI-format workflow"


def _convert(argv: Sequence[str]) -> int:
    from .uiformat.command import main

    return main(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"convert": _convert}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"error: unknown command {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
