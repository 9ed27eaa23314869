"""A stand-in for VideoHelperSuite's "Video Combine", written for the tests (no core node reports
a video under ``gifs``): it writes its frames as an mp4 with PyAV, which ComfyUI itself ships
with, and reports the file under ``gifs`` with the keys VideoHelperSuite gives (filename,
subfolder, type, format, frame_rate). Loaded only by the test that launches a ComfyUI with
``--whitelist-custom-nodes vhs_like``; it is not part of the plugin."""

from fractions import Fraction
from pathlib import Path

import av
import folder_paths
import numpy as np


class VHSLikeVideoCombine:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",),
                             "frame_rate": ("FLOAT", {"default": 8.0, "min": 1.0, "max": 60.0}),
                             "filename_prefix": ("STRING", {"default": "vhs_like"})}}

    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "combine"
    CATEGORY = "tests"

    def combine(self, images, frame_rate, filename_prefix):
        frames = (images.cpu().numpy() * 255.0).clip(0, 255).astype(np.uint8)
        height, width = frames.shape[1], frames.shape[2]
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, folder_paths.get_output_directory(), width, height)
        filename = f"{name}_{counter:05}.mp4"
        with av.open(str(Path(folder) / filename), mode="w") as container:
            stream = container.add_stream("libx264", rate=Fraction(frame_rate).limit_denominator(1000))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
        return {"ui": {"gifs": [{"filename": filename, "subfolder": subfolder, "type": "output",
                                 "format": "video/h264-mp4", "frame_rate": frame_rate}]}}


NODE_CLASS_MAPPINGS = {"VHSLikeVideoCombine": VHSLikeVideoCombine}
NODE_DISPLAY_NAME_MAPPINGS = {"VHSLikeVideoCombine": "Video Combine (test stand-in for VideoHelperSuite)"}
