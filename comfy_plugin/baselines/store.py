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

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from ..errors import BaselineError
from ..files import safe_piece, write_atomically
from ..media.kind import DEFAULT_KIND, Recordable, Stored
from ..media.kinds import Kinds
from .results import FORMAT_VERSION


def atomic_write(path: Path, data: bytes) -> None:
    """``files.write_atomically`` (never half a file), its folder made first, a failure a BaselineError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
    except OSError as exc:
        raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None


def reference_name(data: bytes, suffix: str = ".png") -> str:
    """``<first 16 hex digits of the sha256>.png``: the same image, the same name."""
    return hashlib.sha256(data).hexdigest()[:16] + suffix


def thumbnail_name(prompt_id: str, index: int, suffix: str = ".png") -> str:
    """``<prompt id>_<index>.png``; an id that needs sanitising gets a digest so names stay distinct."""
    piece = safe_piece(prompt_id, "prompt")
    if piece != prompt_id:
        piece += "-" + hashlib.sha256(prompt_id.encode("utf-8")).hexdigest()[:8]
    return f"{piece}_{index}{suffix}"


class _SideFiles:
    """The files beside one baseline file that a kind writes for its entries."""

    def __init__(self, thumbs: Path, refs: Path) -> None:
        self.thumbs, self.refs = thumbs, refs

    def named(self, prompt_id: str, index: int, suffix: str, data: bytes) -> str:
        name = thumbnail_name(prompt_id, index, suffix)
        atomic_write(self.thumbs / name, data)
        return f"{self.thumbs.name}/{name}"

    def by_digest(self, data: bytes, suffix: str) -> str:
        name = reference_name(data, suffix)
        if not (self.refs / name).is_file():  # the same name holds the same bytes: never rewritten
            atomic_write(self.refs / name, data)
        return f"{self.refs.name}/{name}"


class BaselineStore:
    """Baseline files under ``root`` (``baselines/``), one per batch file, optionally per environment.

    ``rootdir/batches/sub/x.json`` -> ``root[/env]/sub/x.json`` (the folder structure under
    ``batch_dir`` is mirrored); a batch file elsewhere under ``rootdir`` ->
    ``root[/env]/_rootdir/<its path relative to rootdir>``, so the two never collide."""

    def __init__(self, root: Path, rootdir: Path, env: str | None = None, batch_dir: str = "batches",
                 kinds: Kinds | None = None) -> None:
        if env is not None and (not env or safe_piece(env, "") != env or env == "_rootdir"):
            raise BaselineError(f"baseline environment label {env!r}: use letters, digits, '.', '_' and '-' only")
        self.root = Path(root)
        self.rootdir = Path(rootdir).resolve()
        self.env = env
        self.batch_dir = batch_dir
        self.kinds = kinds or Kinds.of()

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

    def side_file(self, batch_file: Path, name: str) -> Path:
        """A file an entry names beside the baseline file (a thumbnail, a reference)."""
        return self.baseline_path(batch_file).parent / name

    def load(self, batch_file: Path) -> dict[str, list[Stored]]:
        """``{prompt id: [entry of output 0, output 1, ...]}``; ``{}`` when nothing was recorded.
        Each entry is read by its kind (its "kind" key; none: a still image)."""
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
            stored[prompt_id] = [self.kinds.of_json(e).read_entry(e, f"{path}: baselines.{prompt_id}[{i}]")
                                 for i, e in enumerate(entries)]
        return stored

    def write(self, batch_file: Path, updates: Mapping[str, list[Recordable]],
              remove: Iterable[str] = ()) -> Path | None:
        """Merge ``updates`` (whole prompts) into the stored file and drop ``remove``; returns its
        path, or None when no file holds entries afterwards (none left: none written, an old one
        removed), so that nobody reports a file that does not exist.

        Thumbnails and references are written first and the JSON last, so the file never names a
        missing one; those nothing refers to any more are deleted afterwards."""
        path = self.baseline_path(batch_file)
        stored = self.load(batch_file)
        for prompt_id in remove:
            stored.pop(prompt_id, None)
        for prompt_id, observations in updates.items():
            if not observations:  # nothing to compare against later: no entry at all
                stored.pop(prompt_id, None)
                continue
            files = _SideFiles(self.thumbs_dir(batch_file), self.refs_dir(batch_file))
            stored[prompt_id] = [self.kinds.named(seen.kind).keep(seen, files, prompt_id, index)
                                 for index, seen in enumerate(observations)]
        if stored:
            document = {
                "format": FORMAT_VERSION,
                "batch_file": self.key(batch_file),
                "environment": self.env,
                "baselines": {pid: [_entry_json(e) for e in entries] for pid, entries in stored.items()},
            }
            text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            atomic_write(path, text.encode("utf-8"))
        elif path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise BaselineError(f"cannot remove {path}: {exc.strerror or exc}") from None
        named = [PurePosixPath(name) for es in stored.values() for e in es for name in e.side_files()]
        for folder in (self.thumbs_dir(batch_file), self.refs_dir(batch_file)):
            _drop_unused(folder, {p.name for p in named if p.parent.name == folder.name})
        return path if stored else None


def _entry_json(entry: Stored) -> dict[str, object]:
    """An entry as the file holds it: the kind named, except for the default kind (older files)."""
    data = entry.to_json()
    return data if entry.kind == DEFAULT_KIND else {"kind": entry.kind, **data}


def _drop_unused(folder: Path, used: set[str]) -> None:
    """Delete the files of ``folder`` that no entry names, and the folder when it is left empty."""
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.is_file() and not item.name.startswith(".") and item.name not in used:
            item.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
