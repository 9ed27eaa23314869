"""Where the plugin's one state object is found: registered with pytest under ``STATE_NAME``.

Collection and items reach the state through here, so that ``state.py`` (which builds and
drives them) is imported by them only for its type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest

if TYPE_CHECKING:
    from .state import ComfyPlugin

STATE_NAME = "comfy-state"  # the name the state object is registered under


def comfy_state(config: pytest.Config) -> ComfyPlugin:
    """The plugin's state object of a pytest run (for a project's conftest.py)."""
    return cast("ComfyPlugin", config.pluginmanager.get_plugin(STATE_NAME))
