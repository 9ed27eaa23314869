"""Run ComfyUI batch files as pytest tests. The pytest plugin is ``comfy_plugin.plugin``
(docs/layout.md maps the folders)."""

__version__ = "0.1.0"
