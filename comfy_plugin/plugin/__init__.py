"""The pytest layer: the only folder that imports pytest.

pytest's entry point (``-p no:comfy_plugin``) is this package: it re-exports the hooks and the
``comfy`` fixture of ``hooks.py``. Everything heavy waits in ``state.py`` until it is needed.
"""

from .hooks import (
    comfy,
    pytest_addhooks,
    pytest_addoption,
    pytest_cmdline_main,
    pytest_collect_file,
    pytest_configure,
    pytest_load_initial_conftests,
)

__all__ = ["comfy", "pytest_addhooks", "pytest_addoption", "pytest_cmdline_main", "pytest_collect_file",
           "pytest_configure", "pytest_load_initial_conftests"]
