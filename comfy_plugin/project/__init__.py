"""A new project in one command: ``python -m comfy_plugin init`` (init.py) writes its files from
what a ComfyUI offers (offer.py), and ``python -m comfy_plugin schema`` prints the batch schema."""
