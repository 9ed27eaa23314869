"""``python -m comfy_plugin COMMAND``: the plugin's commands beside pytest.

    python -m comfy_plugin convert WORKFLOW.json (--url URL | --object-info FILE) [-o OUT.json]
    python -m comfy_plugin init [DIR] [--url URL] [--launch COMFYUI_DIR]
    python -m comfy_plugin schema

Each command is a module with a ``main(argv) -> exit code``; this file only dispatches.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

USAGE = ("usage: python -m comfy_plugin {convert,init,schema} ...\n"
         "  convert  the API-format prompt of a UI-format workflow\n"
         "  init     start a project: pytest.ini, example batches, the schema, a CI workflow (never overwrites)\n"
         "  schema   print the JSON Schema of batch files")


def _convert(argv: Sequence[str]) -> int:
    from .uiformat.command import main

    return main(argv)


def _init(argv: Sequence[str]) -> int:
    from .project.init import main

    return main(argv)


def _schema(argv: Sequence[str]) -> int:
    """The batch files' JSON Schema on stdout, as the package ships it."""
    if argv:
        print("usage: python -m comfy_plugin schema  (prints the batch files' JSON Schema)", file=sys.stderr)
        return 2
    from .batchfile.schema import SCHEMA_PATH

    sys.stdout.write(SCHEMA_PATH.read_text(encoding="utf-8"))
    return 0


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"convert": _convert, "init": _init, "schema": _schema}


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
