"""Project-local settings. The plugin itself is registered by the ``pytest11`` entry point
(``pip install -e .``), so it is not listed in ``pytest_plugins`` here."""
