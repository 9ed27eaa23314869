"""Which machine a result comes from, defined once: the device identity that time baselines and
per-device baseline sets are keyed by, and the provenance each baseline keeps.

- The device identity is the GPU's name from ``/system_stats`` (``NVIDIA H100 80GB HBM3``,
  without ComfyUI's index and allocator). A CPU, which ``/system_stats`` names only ``cpu``,
  is named by its model and core count when the server was launched here
  (``cpu: AMD EPYC 7B13 (2 cores)``), and ``cpu (remote server)`` otherwise: two
  machines' figures are never compared as if one.
- The provenance: ComfyUI's and torch's versions, the device names, the launch flags that
  change how it computes (not where it listens or keeps its files), this plugin's version,
  and for a server launched here the CPU model and a fingerprint of each model file a
  prompt loaded (size and a digest of its first and last megabyte: cheap for a 5 GB file).
  A server given by URL keeps its model files to itself: they are unknown.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..files import safe_piece

#: File names that name a model in a node's inputs (ComfyUI's own list, and GGUF).
MODEL_SUFFIXES = (".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft", ".gguf")
#: Launch flags that say where a server listens or keeps its files, not how it computes.
PLACE_FLAGS = frozenset({
    "--listen", "--port", "--base-directory", "--extra-model-paths-config", "--output-directory",
    "--input-directory", "--temp-directory", "--user-directory", "--front-end-root", "--front-end-version",
    "--database-url", "--tls-keyfile", "--tls-certfile", "--enable-cors-header", "--comfy-api-base",
    "--log-stdout", "--verbose", "--dont-print-server", "--disable-auto-launch", "--auto-launch",
    "--multi-user", "--preview-method", "--preview-size",
})
FINGERPRINT_SPAN = 1 << 20  # a model file's first and last megabyte are digested
_DEVICE_INDEX = re.compile(r"^[a-z]+:\d+\s+")  # "cuda:0 "
_ALLOCATOR = re.compile(r"\s+:\s+\S+$")  # " : cudaMallocAsync"
UNKNOWN_MODELS = "unknown (a server given by URL keeps its model files to itself)"


def _first_device(stats: Mapping[str, Any]) -> Mapping[str, Any]:
    devices = stats.get("devices") if isinstance(stats, Mapping) else None
    first = devices[0] if isinstance(devices, list) and devices else None
    return first if isinstance(first, Mapping) else {}


def cpu_model() -> str:
    """This machine's CPU model (``/proc/cpuinfo``'s "model name", else the platform's word)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip() or "unknown CPU"
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_identity(stats: Mapping[str, Any], here: bool) -> str:
    """The device a server computes on, as time baselines and per-device sets name it.
    ``here``: the server was launched on this machine (a CPU is then named by its model)."""
    device = _first_device(stats)
    name = str(device.get("name") or "")
    if device.get("type") == "cpu" or name == "cpu":
        return f"cpu: {cpu_model()} ({os.cpu_count() or 0} cores)" if here else "cpu (remote server)"
    name = _ALLOCATOR.sub("", _DEVICE_INDEX.sub("", name)).strip()
    return name or "unknown device"


def folder_label(identity: str) -> str:
    """A device identity as a folder name (``--comfy-baseline-env=auto``): ``cpu-AMD-EPYC-2-cores``."""
    return safe_piece(identity.replace(":", " ").replace("(", " ").replace(")", " "), "device")


def launch_flags(argv: Sequence[str]) -> tuple[str, ...]:
    """The server's command-line flags that change how it computes (``--cpu``, ``--fp16-vae``),
    its script and the flags of PLACE_FLAGS (with their values) left out."""
    kept: list[str] = []
    args = [str(a) for a in argv[1:]]
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg.split("=", 1)[0] in PLACE_FLAGS:
            if "=" not in arg and index < len(args) and not args[index].startswith("-"):
                index += 1  # its value
            continue
        kept.append(arg)
    return tuple(kept)


def fingerprint(path: Path) -> str:
    """``<size>:<16 hex digits>``: the sha256 of a file's first and last megabyte, with its size."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(FINGERPRINT_SPAN))
        if size > FINGERPRINT_SPAN:
            handle.seek(max(FINGERPRINT_SPAN, size - FINGERPRINT_SPAN))
            digest.update(handle.read(FINGERPRINT_SPAN))
    return f"{size}:{digest.hexdigest()[:16]}"


def model_inputs(workflow: Mapping[str, Any]) -> dict[str, list[str]]:
    """node id -> the model files its inputs name (``ckpt_name``, ``vae_name``, a custom
    loader's): a node that names one is a loader."""
    found: dict[str, list[str]] = {}
    for node_id, node in workflow.items():
        inputs = node.get("inputs") if isinstance(node, Mapping) else None
        names = [v for v in (inputs or {}).values() if isinstance(v, str) and v.lower().endswith(MODEL_SUFFIXES)]
        if names:
            found[str(node_id)] = names
    return found


def model_loads(workflow: Mapping[str, Any], cached_nodes: Iterable[str]) -> list[str]:
    """The loader nodes that really ran (were not served from the cache): the prompt loaded a
    model, so its time is a cold one."""
    cached = {str(n) for n in cached_nodes}
    return [node_id for node_id in model_inputs(workflow) if node_id not in cached]


@dataclass
class ModelFiles:
    """The model files a launched server reads, found in its model folders; each fingerprinted
    once per session (by path, size and modification time)."""

    folders: list[Path] = field(default_factory=list)
    _known: dict[tuple[str, int, int], str] = field(default_factory=dict)

    def find(self, name: str) -> Path | None:
        """The file a loader's input names, in the first folder that holds it (a link in the
        folder is followed, as ComfyUI does; a name that climbs out of it is not looked up)."""
        parts = Path(name.replace("\\", "/")).parts
        if not parts or Path(name).is_absolute() or ".." in parts:
            return None
        for folder in self.folders:
            path = folder.joinpath(*parts)
            try:
                if path.is_file():
                    return path
            except OSError:
                continue
        return None

    def fingerprints(self, workflow: Mapping[str, Any]) -> dict[str, str]:
        """name -> fingerprint of every model file the workflow names and the folders hold."""
        found: dict[str, str] = {}
        for names in model_inputs(workflow).values():
            for name in names:
                path = self.find(name)
                if path is None or name in found:
                    continue
                try:
                    stat = path.stat()
                    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
                    if key not in self._known:
                        self._known[key] = fingerprint(path)
                except OSError:
                    continue
                found[name] = self._known[key]
        return found


def model_folders(answer: Any) -> list[Path]:
    """The folders of ``/experiment/models`` (``[{"name": "checkpoints", "folders": [...]}]``)."""
    folders: list[Path] = []
    for item in answer if isinstance(answer, list) else []:
        for folder in item.get("folders", []) if isinstance(item, Mapping) else []:
            if isinstance(folder, str) and Path(folder) not in folders:
                folders.append(Path(folder))
    return folders


@dataclass(frozen=True)
class Provenance:
    """Where a result was computed; ``models`` None: unknown (a server given by URL)."""

    comfyui: str = ""
    torch: str = ""
    device: str = ""  # the device identity
    devices: tuple[str, ...] = ()  # every device /system_stats names
    flags: tuple[str, ...] = ()
    plugin: str = ""
    cpu: str = ""  # a server launched here: this machine's CPU model
    models: Mapping[str, str] | None = None  # model file name -> fingerprint

    def with_models(self, models: Mapping[str, str] | None) -> Provenance:
        return replace(self, models=dict(models) if models is not None else None)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"comfyui": self.comfyui, "torch": self.torch, "device": self.device,
                                "devices": list(self.devices), "flags": list(self.flags), "plugin": self.plugin}
        if self.cpu:
            data["cpu"] = self.cpu
        data["models"] = dict(sorted(self.models.items())) if self.models is not None else UNKNOWN_MODELS
        return data

    @classmethod
    def from_json(cls, data: Any) -> Provenance | None:
        """A stored provenance; None when there is none (or it is not one)."""
        if not isinstance(data, Mapping):
            return None
        models = data.get("models")

        def strings(key: str) -> tuple[str, ...]:
            value = data.get(key)
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        return cls(str(data.get("comfyui") or ""), str(data.get("torch") or ""), str(data.get("device") or ""),
                   strings("devices"), strings("flags"), str(data.get("plugin") or ""), str(data.get("cpu") or ""),
                   {str(k): str(v) for k, v in models.items()} if isinstance(models, Mapping) else None)


def server_provenance(stats: Mapping[str, Any], here: bool, plugin: str) -> Provenance:
    """What ``/system_stats`` tells (and, for a server launched here, this machine's CPU)."""
    system = stats.get("system") if isinstance(stats, Mapping) else None
    system = system if isinstance(system, Mapping) else {}
    devices = stats.get("devices") if isinstance(stats, Mapping) else None
    names = tuple(str(d.get("name")) for d in devices if isinstance(d, Mapping) and d.get("name")) \
        if isinstance(devices, list) else ()
    argv = system.get("argv")
    return Provenance(str(system.get("comfyui_version") or ""), str(system.get("pytorch_version") or ""),
                      device_identity(stats, here), names,
                      launch_flags(argv) if isinstance(argv, list) else (), plugin,
                      cpu_model() if here else "")
