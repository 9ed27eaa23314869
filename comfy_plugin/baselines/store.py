"""Baseline files on disk, one per batch file, optionally per environment label.

``baselines/[<env>/]x.json`` mirrors ``batches/x.json``: ``{"baselines": {prompt id: [entry of
image 0, image 1, ...]}}`` with sorted keys and indent 2, ``x.thumbs/<prompt id>_<index>.png``
holds a thumbnail of each accepted image for a reviewer, and ``x.refs/<digest>.png`` the
reference image that SSIM and CIEDE2000 compare (a lossless downscale, or the original PNG),
named by the sha256 of its bytes: an unchanged baseline never changes a file, and a file once
written is never rewritten. A write removes the thumbnails and references no entry names.
Every file is written to a temporary name and renamed into place, so a file is never half written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping

from ..errors import BaselineError
from ..files import safe_piece, write_atomically
from .entries import BaselineEntry, Observation
from .results import FORMAT_VERSION


def atomic_write(path: Path, data: bytes) -> None:
    """``files.write_atomically`` (never half a file), its folder made first, a failure a BaselineError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
    except OSError as exc:
        raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None


def reference_name(data: bytes) -> str:
    """``<first 16 hex digits of the sha256>.png``: the same image, the same name."""
    return hashlib.sha256(data).hexdigest()[:16] + ".png"


def thumbnail_name(prompt_id: str, index: int) -> str:
    """``<prompt id>_<index>.png``; an id that needs sanitising gets a digest so names stay distinct."""
    piece = safe_piece(prompt_id, "prompt")
    if piece != prompt_id:
        piece += "-" + hashlib.sha256(prompt_id.encode("utf-8")).hexdigest()[:8]
    return f"{piece}_{index}.png"


class BaselineStore:
    """Baseline files under ``root`` (``baselines/``), one per batch file, optionally per environment.

    ``rootdir/batches/sub/x.json`` -> ``root[/env]/sub/x.json`` (the folder structure under
    ``batch_dir`` is mirrored); a batch file elsewhere under ``rootdir`` ->
    ``root[/env]/_rootdir/<its path relative to rootdir>``, so the two never collide."""

    def __init__(self, root: Path, rootdir: Path, env: str | None = None, batch_dir: str = "batches") -> None:
        if env is not None and (not env or safe_piece(env, "") != env or env == "_rootdir"):
            raise BaselineError(f"baseline environment label {env!r}: use letters, digits, '.', '_' and '-' only")
        self.root = Path(root)
        self.rootdir = Path(rootdir).resolve()
        self.env = env
        self.batch_dir = batch_dir

    @property
    def base(self) -> Path:
        return self.root / self.env if self.env else self.root

    def key(self, batch_file: Path) -> str:
        """The batch file's path relative to the rootdir, in POSIX form: the same on every worker."""
        path = Path(batch_file).resolve()
        try:
            return path.relative_to(self.rootdir).as_posix()
        except ValueError:
            raise BaselineError(f"{batch_file}: baselines mirror batch files under the rootdir {self.rootdir}, "
                                f"and this one lies outside it") from None

    def baseline_path(self, batch_file: Path) -> Path:
        rel = PurePosixPath(self.key(batch_file))
        prefix = PurePosixPath(self.batch_dir)
        if rel.parts[: len(prefix.parts)] == prefix.parts and len(rel.parts) > len(prefix.parts):
            return self.base.joinpath(*rel.parts[len(prefix.parts):])
        return self.base.joinpath("_rootdir", *rel.parts)

    def thumbs_dir(self, batch_file: Path) -> Path:
        path = self.baseline_path(batch_file)
        return path.with_name(path.stem + ".thumbs")

    def refs_dir(self, batch_file: Path) -> Path:
        path = self.baseline_path(batch_file)
        return path.with_name(path.stem + ".refs")

    def thumbnail_path(self, batch_file: Path, entry: BaselineEntry) -> Path | None:
        return self.baseline_path(batch_file).parent / entry.thumbnail if entry.thumbnail else None

    def reference_path(self, batch_file: Path, entry: BaselineEntry) -> Path | None:
        """The entry's reference image; None for an entry recorded before references existed."""
        return self.baseline_path(batch_file).parent / entry.reference if entry.reference else None

    def load(self, batch_file: Path) -> dict[str, list[BaselineEntry]]:
        """``{prompt id: [entry of image 0, image 1, ...]}``; ``{}`` when nothing was recorded."""
        path = self.baseline_path(batch_file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"cannot read {path}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not isinstance(data.get("baselines"), dict):
            raise BaselineError(f"{path}: not a baseline file (no 'baselines' object)")
        if data.get("format") != FORMAT_VERSION:
            raise BaselineError(f"{path}: baseline format {data.get('format')!r}, this version reads {FORMAT_VERSION}")
        stored = {}
        for prompt_id, entries in data["baselines"].items():
            if not isinstance(entries, list):
                raise BaselineError(f"{path}: baselines.{prompt_id}: expected a list of entries, one per image")
            stored[prompt_id] = [BaselineEntry.from_json(e, f"{path}: baselines.{prompt_id}[{i}]")
                                 for i, e in enumerate(entries)]
        return stored

    def write(self, batch_file: Path, updates: Mapping[str, list[Observation]],
              remove: Iterable[str] = ()) -> Path:
        """Merge ``updates`` (whole prompts) into the stored file and drop ``remove``; returns its path.

        Thumbnails and references are written first and the JSON last, so the file never names a
        missing one; those nothing refers to any more are deleted afterwards. No entries left: no file."""
        path = self.baseline_path(batch_file)
        stored = self.load(batch_file)
        for prompt_id in remove:
            stored.pop(prompt_id, None)
        for prompt_id, observations in updates.items():
            if not observations:  # nothing to compare against later: no entry at all
                stored.pop(prompt_id, None)
                continue
            stored[prompt_id] = [self._keep_images(batch_file, prompt_id, index, seen.recordable())
                                 for index, seen in enumerate(observations)]
        if stored:
            document = {
                "format": FORMAT_VERSION,
                "batch_file": self.key(batch_file),
                "environment": self.env,
                "baselines": {pid: [e.to_json() for e in entries] for pid, entries in stored.items()},
            }
            text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            atomic_write(path, text.encode("utf-8"))
        elif path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise BaselineError(f"cannot remove {path}: {exc.strerror or exc}") from None
        _drop_unused(self.thumbs_dir(batch_file), {PurePosixPath(e.thumbnail).name for es in stored.values() for e in es})
        _drop_unused(self.refs_dir(batch_file), {PurePosixPath(e.reference).name for es in stored.values() for e in es})
        return path

    def _keep_images(self, batch_file: Path, prompt_id: str, index: int, seen: Observation) -> BaselineEntry:
        """Write an observation's thumbnail and reference; its entry, naming both. An observation
        without a reference (kept by an older version) gets an entry without one."""
        if not seen.thumbnail_png:
            raise BaselineError(f"{prompt_id}: image {index} was observed without its thumbnail")
        thumbs = self.thumbs_dir(batch_file)
        name = thumbnail_name(prompt_id, index)
        atomic_write(thumbs / name, seen.thumbnail_png)
        entry = seen.entry.with_thumbnail(f"{thumbs.name}/{name}").with_reference("")
        if seen.reference_png:
            refs = self.refs_dir(batch_file)
            reference = reference_name(seen.reference_png)
            if not (refs / reference).is_file():  # the same name holds the same bytes: never rewritten
                atomic_write(refs / reference, seen.reference_png)
            entry = entry.with_reference(f"{refs.name}/{reference}")
        return entry


def _drop_unused(folder: Path, used: set[str]) -> None:
    """Delete the PNGs of ``folder`` that no entry names, and the folder when it is left empty."""
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.suffix == ".png" and item.name not in used:
            item.unlink(missing_ok=True)
    try:
        folder.rmdir()  # only when empty
    except OSError:
        pass
