"""Hooks this plugin offers to a project's conftest.py."""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_comfy_check_images(item: pytest.Item, images: list) -> None:
    """Add your own checks on a prompt's output images, after they are saved and compared.

    ``images`` are ``comfy_plugin.runner.SavedOutput`` objects of the still images: ``path``
    (None when saving is disabled), ``data`` (the PNG bytes as ComfyUI produced them) and
    ``size``. Raise ``AssertionError`` (or call ``pytest.fail``) to fail the test, e.g. when
    an image is too dark. ``item.spec.values`` holds the prompt's values."""
