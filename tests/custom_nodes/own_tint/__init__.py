"""A project's own custom node, written for tests/test_own_project.py: it tints an image towards
a colour. It ships an example workflow (example_workflows/tint.json), which ComfyUI lists at
/api/workflow_templates and `python -m comfy_plugin init --url` turns into an example batch.
Not part of the plugin."""

import torch


class OwnTint:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",),
                             "red": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0}),
                             "green": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0}),
                             "blue": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0}),
                             "strength": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "tint"
    CATEGORY = "tests"

    def tint(self, image, red, green, blue, strength):
        colour = torch.tensor([red, green, blue], dtype=image.dtype, device=image.device)
        return (image * (1.0 - strength) + colour * strength,)


NODE_CLASS_MAPPINGS = {"OwnTint": OwnTint}
NODE_DISPLAY_NAME_MAPPINGS = {"OwnTint": "Tint (a project's own node, for tests)"}
