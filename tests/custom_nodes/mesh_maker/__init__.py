"""A mesh made from its inputs, written for the tests: no model-free core node makes a mesh
(``SaveGLB`` takes one from ``VoxelToMesh``, which needs a Hunyuan3D VAE). A box of the given
size with its first corner moved along x by ``move``, written as a binary glTF (.glb) by the
few lines below (positions and triangle indices in one buffer) and reported under ``3d`` with
the keys ``SaveGLB`` gives (filename, subfolder, type). Loaded only by the test that launches a
ComfyUI with ``--whitelist-custom-nodes mesh_maker``; it is not part of the plugin."""

import json
import struct
from pathlib import Path

import folder_paths
import numpy as np

CORNERS = [(x, y, z) for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
# two triangles on each side of the box, by corner index (x is the index's 4s bit, y 2s, z 1s)
TRIANGLES = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
             (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3)]


def glb_bytes(vertices, triangles):
    """A binary glTF 2.0 holding one mesh: a JSON chunk and a BIN chunk, each 4-byte aligned."""
    positions = np.asarray(vertices, dtype="<f4").tobytes()
    indices = np.asarray(triangles, dtype="<u4").tobytes()
    binary = positions + indices
    low, high = np.min(vertices, axis=0).tolist(), np.max(vertices, axis=0).tolist()
    doc = {"asset": {"version": "2.0", "generator": "tests/custom_nodes/mesh_maker"},
           "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
           "buffers": [{"byteLength": len(binary)}],
           "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions), "target": 34962},
                           {"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices), "target": 34963}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": len(vertices), "type": "VEC3",
                          "min": low, "max": high},
                         {"bufferView": 1, "componentType": 5125, "count": len(triangles) * 3, "type": "SCALAR"}]}
    text = json.dumps(doc).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary += b"\0" * (-len(binary) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


class TestMeshBox:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"size": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 100.0, "step": 0.01}),
                             "move": ("FLOAT", {"default": 0.0, "min": -10.0, "max": 10.0, "step": 0.001}),
                             "filename_prefix": ("STRING", {"default": "mesh/ComfyUI"})}}

    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save"
    CATEGORY = "tests"

    def save(self, size, move, filename_prefix):
        vertices = [[c * size for c in corner] for corner in CORNERS]
        vertices[0][0] += move
        folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, folder_paths.get_output_directory())
        filename = f"{name}_{counter:05}_.glb"
        (Path(folder) / filename).write_bytes(glb_bytes(vertices, TRIANGLES))
        return {"ui": {"3d": [{"filename": filename, "subfolder": subfolder, "type": "output"}]}}


NODE_CLASS_MAPPINGS = {"TestMeshBox": TestMeshBox}
NODE_DISPLAY_NAME_MAPPINGS = {"TestMeshBox": "Mesh box (test stand-in for SaveGLB)"}
