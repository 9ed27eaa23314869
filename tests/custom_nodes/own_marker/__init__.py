"""A custom node that lives in a user's own ComfyUI folder, written for tests/test_own_comfyui.py:
it paints an 8x8 magenta square in one corner of an image, and takes the name of a checkpoint
the server must list (so a prompt that names one proves the server sees that folder).
Not part of the plugin."""

import folder_paths


class OwnMarker:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",),
                             "ckpt_name": (folder_paths.get_filename_list("checkpoints"),),
                             "corner": ("INT", {"default": 0, "min": 0, "max": 3})}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "mark"
    CATEGORY = "tests"

    def mark(self, image, ckpt_name, corner):
        if folder_paths.get_full_path("checkpoints", ckpt_name) is None:
            raise FileNotFoundError(ckpt_name)
        marked = image.clone()
        rows = slice(0, 8) if corner in (0, 1) else slice(-8, None)
        cols = slice(0, 8) if corner in (0, 2) else slice(-8, None)
        marked[:, rows, cols, 0] = 1.0
        marked[:, rows, cols, 1] = 0.0
        marked[:, rows, cols, 2] = 1.0
        return (marked,)


NODE_CLASS_MAPPINGS = {"OwnMarker": OwnMarker}
