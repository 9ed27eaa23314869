"""UI-format workflows (what the ComfyUI editor saves) converted to the API-format prompt that
the editor itself would queue (its ``graphToPrompt().output``), using the server's
``/object_info``. Pure functions: no network, no files, no pytest.

The rules are the editor's (frontend 1.32.9, the version ComfyUI 0.3.75 pins), written
down in ``shared/design/ui-format.md``; ``tests/test_ui_oracle.py`` checks them against
the editor itself. Two deliberate differences: prompt text is sent as written (no
``{a|b}`` choices, comments or ``%date%`` expansion), and integers beyond 2**53 keep
their exact value.
"""

from .catalog import Catalog
from .prompt import Sources, convert, convert_read, is_api_format, is_ui_format
from .visible import Visible, convert_visible, visible_nodes

__all__ = ["Catalog", "Sources", "Visible", "convert", "convert_read", "convert_visible", "is_api_format",
           "is_ui_format", "visible_nodes"]
