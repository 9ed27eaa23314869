"""The models a suite needs (the manifest named by ``comfy_models``), fetched into a cache.

The cache is ``<cache>/<folder>/<file>``, so a launched ComfyUI sees it through one more
``extra_model_paths.yaml`` (the launcher writes it) without a copy. pooch downloads each missing
file to a temporary name beside its final one, checks its sha256 and only then renames it: a
file under its final name is always whole and checked. The downloader given to pooch resumes a
dropped connection with a ``Range`` request where the server honours it, else starts again.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from ..errors import ModelFetchFailed, ModelManifestError
from ..settings import Settings

Say = Callable[[str], None]
#: How often one file's download is tried when the connection drops (each try resumes if it can).
TRIES = 3
CHUNK = 1 << 20
#: Seconds between two progress lines of one download.
PROGRESS_EVERY_S = 5.0
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FOLDER = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ModelFile:
    """One entry of the manifest: ComfyUI's folder name, the file's name in it (``/`` between
    subfolders, as a workflow names it), where to get it and its sha256."""

    folder: str
    file: str
    url: str
    sha256: str

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.file}"

    def path_in(self, cache: Path) -> Path:
        return cache / self.folder / PurePosixPath(self.file)


@dataclass(frozen=True)
class Manifest:
    path: Path
    models: tuple[ModelFile, ...]

    @property
    def folders(self) -> list[str]:
        return sorted({m.folder for m in self.models})

    def lists(self, file: str) -> ModelFile | None:
        """The entry of a file a workflow names (either separator), if the manifest lists it."""
        wanted = file.replace("\\", "/")
        return next((m for m in self.models if m.file == wanted), None)


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/comfy-plugin/models`` (``~/.cache/comfy-plugin/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "comfy-plugin" / "models"


def read_manifest(path: Path) -> Manifest:
    """The manifest, checked entry by entry; every problem in one ModelManifestError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelManifestError(f"model manifest {path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelManifestError(f"model manifest {path}: not JSON ({exc})") from None
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ModelManifestError(f'model manifest {path}: expected {{"models": [...]}}')
    problems: list[str] = []
    models = [m for i, entry in enumerate(entries) if (m := _entry(entry, f"models[{i}]", problems))]
    if problems:
        raise ModelManifestError(f"model manifest {path}:\n" + "\n".join(f"- {p}" for p in problems))
    return Manifest(path, tuple(models))


def _entry(entry: Any, place: str, problems: list[str]) -> ModelFile | None:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("folder", "file", "url",
                                                                                          "sha256")):
        problems.append(f"{place}: needs the strings folder, file, url and sha256")
        return None
    found = len(problems)
    folder, file, url, digest = entry["folder"], entry["file"], entry["url"], entry["sha256"].lower()
    if not _FOLDER.fullmatch(folder) or folder in (".", ".."):
        problems.append(f"{place}.folder: {folder!r} is not a folder name such as checkpoints")
    parts = PurePosixPath(file).parts
    if not file or file.startswith("/") or "\\" in file or any(p in (".", "..") for p in parts) or "\x00" in file:
        problems.append(f"{place}.file: {file!r} must stay inside its folder (subfolders with /)")
    if urlsplit(url).scheme not in ("http", "https"):
        problems.append(f"{place}.url: {url!r} is not an http or https URL")
    if not _SHA256.fullmatch(digest):
        problems.append(f"{place}.sha256: not 64 hexadecimal digits")
    return ModelFile(folder, file, url, digest) if len(problems) == found else None


def manifest_folders(settings: Settings, say: Say = print) -> dict[str, Path]:
    """For a launch: the cache's folders of the manifest's models (none without a manifest),
    its missing models downloaded first with ``--comfy-fetch-models``."""
    if settings.models is None:
        return {}
    manifest = read_manifest(settings.models)
    cache = settings.model_cache or default_cache()
    if settings.fetch_models:
        fetch(manifest.models, cache, say)
    return {folder: cache / folder for folder in manifest.folders}


def fetch(models: Iterable[ModelFile], cache: Path, say: Say = print) -> list[Path]:
    """Every model in the cache with its digest: the missing ones downloaded (a cached file with
    another digest is downloaded again). Raises ModelFetchFailed, one line, for the first that
    cannot be had; nothing of it is left in the cache."""
    import pooch  # only with --comfy-fetch-models
    from requests import RequestException

    pooch.get_logger().setLevel("WARNING")  # its "Downloading data from" lines: ours say more
    paths = []
    for model in models:
        target = model.path_in(cache)
        downloader = ResumingDownload(model, say)
        try:
            fetched = pooch.retrieve(model.url, f"sha256:{model.sha256}", fname=target.name,
                                     path=target.parent, downloader=downloader)
        except ValueError as exc:  # pooch: the downloaded file's digest is another
            got = re.search(r"got:? ?([0-9a-f]{64})", str(exc))
            raise ModelFetchFailed(f"model {model.name} from {model.url}: its sha256 is "
                                   f"{got.group(1) if got else '(another)'}, the manifest says {model.sha256}; "
                                   "not kept") from None
        except (RequestException, OSError) as exc:
            raise ModelFetchFailed(f"model {model.name} from {model.url}: {_reason(exc)}") from None
        paths.append(Path(fetched))
    return paths


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


class ResumingDownload:
    """pooch's downloader: streams the URL into pooch's temporary file with a progress line every
    few seconds; a connection that drops is resumed (``Range: bytes=N-``) if the server answers
    206, else the file is fetched again from its start, TRIES times in all."""

    def __init__(self, model: ModelFile, say: Say, tries: int = TRIES, timeout_s: float = 60.0) -> None:
        self.model, self.say, self.tries, self.timeout_s = model, say, tries, timeout_s
        self.requests = 0  # HTTP requests made (a resumed download makes several)
        self.done = 0

    def __call__(self, url: str, output_file: str, pooch: object = None, check_only: bool = False) -> bool | None:
        import requests

        if check_only:
            return True
        self.done = 0  # bytes in the file so far
        with open(output_file, "w+b") as out:
            for attempt in range(1, self.tries + 1):
                try:
                    if self._get(requests, url, out):
                        return None
                    reason = "the connection closed early"
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                    reason = f"the connection broke ({type(exc).__name__})"
                if attempt == self.tries:
                    raise requests.ConnectionError(f"{reason}; gave up after {self.tries} tries")
                self.say(f"model {self.model.name}: {reason} at {self.done / 1e6:.1f} MB; "
                         + ("resuming" if self.done else "trying again"))
        return None

    def _get(self, requests: Any, url: str, out: Any) -> bool:
        """One request from byte ``done`` on; whether the file is now complete."""
        self.requests += 1
        headers = {"Range": f"bytes={self.done}-"} if self.done else {}
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout_s) as resp:
            resp.raise_for_status()
            if self.done and not resp.headers.get("Content-Range", "").startswith(f"bytes {self.done}-"):
                out.seek(0)  # Range not honoured: the whole file again
                out.truncate()
                self.done = 0
            total = _total(resp.headers, self.done)
            if self.done == 0:
                size = f" ({total / 1e6:.1f} MB)" if total else ""
                self.say(f"downloading model {self.model.name}{size} from {urlsplit(url).netloc}")
            shown = time.monotonic()
            for chunk in resp.iter_content(CHUNK):
                out.write(chunk)
                self.done += len(chunk)
                if time.monotonic() - shown > PROGRESS_EVERY_S:
                    shown = time.monotonic()
                    share = f" ({100 * self.done / total:.0f} %)" if total else ""
                    self.say(f"  {self.model.name}: {self.done / 1e6:.1f} MB{share}")
        return total is None or self.done >= total


def _total(headers: Any, done: int) -> int | None:
    """The whole file's size: from ``Content-Range: bytes a-b/N`` or, from the start, Content-Length."""
    ranged = re.fullmatch(r"bytes \d+-\d+/(\d+)", headers.get("Content-Range", ""))
    if ranged:
        return int(ranged.group(1))
    length = headers.get("Content-Length")
    return done + int(length) if length and length.isdigit() else None
