"""An IMAGE of noise drawn from ``os.urandom``, written for the tests of
``--comfy-confirm-failures``: no model-free core node draws unseeded randomness. It has no
``IS_CHANGED``, so ComfyUI serves a second identical prompt from its cache (the same noise):
only a rerun that really bypasses the cache draws new noise. Each execution is counted in
``executions.txt`` of the output folder. Loaded only by the test that launches a ComfyUI with
``--whitelist-custom-nodes unseeded_noise``; it is not part of the plugin."""

import os
from pathlib import Path

import folder_paths
import numpy as np
import torch


class TestUnseededNoise:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": ("INT", {"default": 64, "min": 8, "max": 1024}),
                             "height": ("INT", {"default": 64, "min": 8, "max": 1024})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "draw"
    CATEGORY = "tests"

    def draw(self, width, height):
        counter = Path(folder_paths.get_output_directory()) / "executions.txt"
        count = int(counter.read_text()) if counter.is_file() else 0
        counter.write_text(str(count + 1))
        noise = np.frombuffer(os.urandom(width * height * 3), dtype=np.uint8).reshape(1, height, width, 3)
        return (torch.from_numpy(noise.astype(np.float32) / 255.0),)


NODE_CLASS_MAPPINGS = {"TestUnseededNoise": TestUnseededNoise}
NODE_DISPLAY_NAME_MAPPINGS = {"TestUnseededNoise": "Unseeded noise (tests)"}
