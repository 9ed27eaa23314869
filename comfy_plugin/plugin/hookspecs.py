"""Hooks this plugin offers to a project's conftest.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..media.kind import OutputKind, SavedOutput


@pytest.hookspec
def pytest_comfy_check_images(item: pytest.Item, images: list[SavedOutput]) -> None:
    """Add your own checks on a prompt's output images, after they are saved and compared.

    ``images`` are ``comfy_plugin.media.kind.SavedOutput`` objects of the still images: ``path``
    (None when saving is disabled), ``data`` (the PNG bytes as ComfyUI produced them) and
    ``detail`` (``"512x512"``). Raise ``AssertionError`` (or call ``pytest.fail``) to fail the test, e.g. when
    an image is too dark. ``item.spec.values`` holds the prompt's values."""


@pytest.hookspec
def pytest_comfy_output_kinds() -> list[OutputKind] | None:
    """Output kinds of your own (``comfy_plugin.media.kind.OutputKind`` objects), beside the
    built-in ones: each recognises its outputs, and is recorded, compared, summarised, shown
    in the report and accepted like a still image. Return a list (the lists of every
    implementation are joined)."""
