"""``python -m comfy_plugin.convert``: the older spelling of ``python -m comfy_plugin convert``."""

from __future__ import annotations

import sys

from .uiformat.command import main

if __name__ == "__main__":
    sys.exit(main())
