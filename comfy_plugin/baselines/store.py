"""Baseline files on disk, one per batch file, optionally per environment label.

``baselines/[<env>/]x.json`` mirrors ``batches/x.json``: ``{"baselines": {prompt id: [entry of
image 0, image 1, ...]}}`` with sorted keys and indent 2, ``x.thumbs/<prompt id>_<index>.png``
holds a thumbnail of each accepted image for a reviewer, and ``x.refs/<digest>.png`` the
reference image that SSIM and CIEDE2000 compare (a lossless downscale, or the original PNG),
named by the sha256 of its bytes: an unchanged baseline never changes a file, and a file once
written is never rewritten. A write removes the thumbnails and references no entry names.
Every file is written to a temporary name and renamed into place, so a file is never half written.

Each prompt's entries keep the provenance of the run that recorded them (``"provenance": {prompt
id: {...}}``, server/identity.py), written only together with its entries. ``env`` "auto" keeps
a set per device (``baselines/<device identity as a folder name>/``) that holds only what was
recorded on that device: a prompt it has no entry for is read from the shared set.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, TypeVar

from ..errors import BaselineError
from ..files import StagedWrites, replacing, safe_piece, write_atomically
from ..media.kind import DEFAULT_KIND, Recordable, Stored
from ..media.kinds import Kinds
from ..server.identity import folder_label
from .results import FORMAT_VERSION, Spill, SpilledMap
from .walk import WALKED, refused, walk

AUTO_ENV = "auto"  # --comfy-baseline-env=auto: a set per device, the shared set where it has none
Entries = Mapping[str, list[Stored]]
Origins = Mapping[str, dict[str, object]]
V = TypeVar("V")


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
    """The files beside one baseline file that a kind writes for its entries: staged, and made
    durable together (``files.StagedWrites``) before the baseline file that names them."""

    def __init__(self, thumbs: Path, refs: Path, staged: StagedWrites) -> None:
        self.thumbs, self.refs, self.staged = thumbs, refs, staged
        self._references: set[str] = set()  # staged already: prompts that agree share one reference

    def named(self, prompt_id: str, index: int, suffix: str, data: bytes) -> str:
        name = thumbnail_name(prompt_id, index, suffix)
        self._stage(self.thumbs / name, data)
        return f"{self.thumbs.name}/{name}"

    def by_digest(self, data: bytes, suffix: str) -> str:
        name = reference_name(data, suffix)
        if name not in self._references and not (self.refs / name).is_file():  # same name, same bytes
            self._stage(self.refs / name, data)
            self._references.add(name)
        return f"{self.refs.name}/{name}"

    def _stage(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.staged.add(path, data)
        except OSError as exc:
            raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None


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
        self.device: str | None = None  # env "auto": the device identity of the session's server
        self._spill = Spill()  # what was read, a prompt at a time: memory flat in the number of prompts
        self._keys: dict[str, str] = {}  # batch file path -> key

    @property
    def auto(self) -> bool:
        return self.env == AUTO_ENV

    def use_device(self, identity: str) -> None:
        """env "auto": the device whose set is read first and written (known on connecting)."""
        self.device = identity or None

    def set_of(self, identity: str | None) -> str | None:
        """The label of the set a device's results are written to: its own with env "auto"
        (the shared set while no device is known), else the one ``env`` names."""
        if not self.auto:
            return self.env
        return folder_label(identity) if identity else None

    def _sets(self) -> list[str | None]:
        """The sets read, the shared one first: a later one's entries win, prompt by prompt."""
        own = self.set_of(self.device)
        return [None, own] if self.auto and own else [own]

    @property
    def base(self) -> Path:
        return self._base(self.set_of(self.device))

    def _base(self, label: str | None) -> Path:
        return self.root / label if label else self.root

    def key(self, batch_file: Path) -> str:
        """The batch file's path relative to the rootdir, in POSIX form: the same on every worker.
        Remembered per path: asked several times a prompt, and resolving walks every folder."""
        found = self._keys.get(str(batch_file))
        if found is not None:
            return found
        path = Path(batch_file).resolve()
        try:
            key = path.relative_to(self.rootdir).as_posix()
        except ValueError:
            raise BaselineError(f"{batch_file}: baselines mirror batch files under the rootdir {self.rootdir}, "
                                f"and this one lies outside it") from None
        if Path(batch_file).is_absolute():  # (a relative one depends on the working folder)
            self._keys[str(batch_file)] = key
        return key

    def baseline_path(self, batch_file: Path, label: str | None = AUTO_ENV) -> Path:
        """The baseline file in the set ``label`` (default: the one this session writes)."""
        base = self.base if label == AUTO_ENV else self._base(label)
        rel = PurePosixPath(self.key(batch_file))
        prefix = PurePosixPath(self.batch_dir)
        if rel.parts[: len(prefix.parts)] == prefix.parts and len(rel.parts) > len(prefix.parts):
            return base.joinpath(*rel.parts[len(prefix.parts):])
        return base.joinpath("_rootdir", *rel.parts)

    def shared_path(self, batch_file: Path) -> Path:
        """The baseline file in the set every device shares (env "auto"), or the one env names."""
        return self.baseline_path(batch_file, None if self.auto else self.env)

    def thumbs_dir(self, batch_file: Path, label: str | None = AUTO_ENV) -> Path:
        path = self.baseline_path(batch_file, label)
        return path.with_name(path.stem + ".thumbs")

    def refs_dir(self, batch_file: Path, label: str | None = AUTO_ENV) -> Path:
        path = self.baseline_path(batch_file, label)
        return path.with_name(path.stem + ".refs")

    def side_file(self, batch_file: Path, name: str) -> Path:
        """A file an entry names beside the baseline file (a thumbnail, a reference): in the
        set the entry was read from (the device's own first, with env "auto")."""
        paths = [self.baseline_path(batch_file, label).parent / name for label in reversed(self._sets())]
        return next((path for path in paths if path.exists()), paths[0])

    def load(self, batch_file: Path) -> Entries:
        """``{prompt id: [entry of output 0, output 1, ...]}``; ``{}`` when nothing was recorded.
        Each entry is read by its kind (its "kind" key; none: a still image)."""
        return self.load_all(batch_file)[0]

    def load_all(self, batch_file: Path) -> tuple[Entries, Origins]:
        """The entries and, per prompt, the provenance stored with them (from the set they
        come from: env "auto" reads the device's own set over the shared one). Both wait in a
        spill file, each prompt read back when looked at."""
        entries: dict[str, Entries] = {}  # prompt id -> the set's entries it is read from
        provenance: dict[str, Origins] = {}
        for label in self._sets():
            found, origins = self._read(self.baseline_path(batch_file, label))
            for prompt_id in found:
                entries[prompt_id] = found
                provenance.pop(prompt_id, None)
                if prompt_id in origins:
                    provenance[prompt_id] = origins
        return _Picked(entries), _Picked(provenance)

    def _read(self, path: Path) -> tuple[SpilledMap[list[Stored]], SpilledMap[dict[str, object]]]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return SpilledMap(self._spill), SpilledMap(self._spill)
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"cannot read {path}: {exc}") from None
        stored: SpilledMap[list[Stored]] = SpilledMap(self._spill)
        origins: SpilledMap[dict[str, object]] = SpilledMap(self._spill)
        head: dict[str, object] = {}
        wrong: BaselineError | None = None  # the first bad entry: said after the format is known
        try:
            for name, key, value in walk(text):
                if name is None:
                    head[key] = value
                elif name == "provenance" and isinstance(value, dict):
                    origins.put(key, value)
                elif name == "baselines" and wrong is None:
                    try:
                        stored.put(key, self._entries_of(path, key, value))
                    except BaselineError as exc:
                        wrong = exc
        except ValueError:
            refused(path, text)
        if head.get("baselines") is not WALKED:
            raise BaselineError(f"{path}: not a baseline file (no 'baselines' object)")
        if head.get("format") != FORMAT_VERSION:
            raise BaselineError(f"{path}: baseline format {head.get('format')!r}, this version reads {FORMAT_VERSION}")
        if wrong is not None:
            raise wrong
        return stored, origins

    def _entries_of(self, path: Path, prompt_id: str, entries: object) -> list[Stored]:
        if not isinstance(entries, list):
            raise BaselineError(f"{path}: baselines.{prompt_id}: expected a list of entries, one per image")
        return [self.kinds.of_json(e).read_entry(e, f"{path}: baselines.{prompt_id}[{i}]")
                for i, e in enumerate(entries)]

    def sets_of(self, updates: Mapping[str, Sequence[Recordable]],
                provenance: Mapping[str, Mapping[str, object]]) -> dict[str | None, dict[str, Sequence[Recordable]]]:
        """The updates by the set each is written to: with env "auto" the set of the device
        that produced it (its provenance's device), else the one set ``env`` names."""
        sets: dict[str | None, dict[str, Sequence[Recordable]]] = {}
        for prompt_id, observations in updates.items():
            device = provenance.get(prompt_id, {}).get("device") if self.auto else None
            label = self.set_of(str(device)) if device else self.set_of(self.device)
            sets.setdefault(label, {})[prompt_id] = observations
        return sets or {self.set_of(self.device): {}}

    def write(self, batch_file: Path, updates: Mapping[str, Sequence[Recordable]],
              remove: Iterable[str] = (), provenance: Mapping[str, Mapping[str, object]] | None = None,
              label: str | None = AUTO_ENV) -> Path | None:
        """Merge ``updates`` (whole prompts, each with its ``provenance`` if known) into the file
        of the set ``label`` (default: the one this session writes) and drop ``remove``; returns
        its path, or None when no file holds entries afterwards (none left: none written, an old
        one removed), so that nobody reports a file that does not exist.

        Thumbnails and references are written first and the JSON last, so the file never names a
        missing one; those nothing refers to any more are deleted afterwards."""
        path = self.baseline_path(batch_file, label)
        thumbs, refs = self.thumbs_dir(batch_file, label), self.refs_dir(batch_file, label)
        stored, origins = self._read(path)
        gone = {*remove, *updates}  # replaced, or (no observations: nothing to compare) dropped
        kept_ids = [pid for pid in stored if pid not in gone]
        fresh = frozenset(pid for pid, observations in updates.items()  # a new entry's provenance is its own
                          if observations and provenance and pid in provenance)
        ids = sorted({*kept_ids, *(pid for pid, observations in updates.items() if observations)})
        named: set[str] = set()
        if ids:
            head = {"format": FORMAT_VERSION, "batch_file": self.key(batch_file),
                    "environment": self.env if label == AUTO_ENV else label}
            kept = _Origins(origins, frozenset(pid for pid in kept_ids if pid in origins), provenance or {}, fresh)
            entries = self._entries(path, ids, stored, updates, files=_SideFiles(thumbs, refs, StagedWrites()),
                                   named=named)
            try:
                _stream(path, entries, head, kept)
            finally:
                entries.close()  # what was staged and not committed removed
        elif path.exists():
            try:
                path.unlink()
            except OSError as exc:
                raise BaselineError(f"cannot remove {path}: {exc.strerror or exc}") from None
        for folder in (thumbs, refs):
            _drop_unused(folder, _names_in(named, folder.name))
        return path if ids else None

    def _entries(self, path: Path, ids: list[str], stored: Entries, updates: Mapping[str, Sequence[Recordable]],
                 *, files: _SideFiles, named: set[str]) -> Generator[tuple[str, list[Stored]], None, None]:
        """Each prompt's entries in order, an update's side files staged as it is made; once all
        are made, the side files made durable (before the baseline file that names them is)."""
        try:
            for prompt_id in ids:
                observations = updates.get(prompt_id)
                entries = ([self.kinds.named(seen.kind).keep(seen, files, prompt_id, index)
                            for index, seen in enumerate(observations)] if observations else stored[prompt_id])
                named.update(name for e in entries for name in e.side_files())
                yield prompt_id, entries
            files.staged.commit()
        except OSError as exc:
            raise BaselineError(f"cannot write the files beside {path}: {exc.strerror or exc}") from None
        finally:
            files.staged.discard()  # (nothing left once committed)


class _Origins(Mapping[str, object]):
    """The provenance a written file keeps: a new entry's as the session recorded it, the kept
    entries' as the file had it; each read back from its spill file when written."""

    def __init__(self, kept: Origins, kept_ids: frozenset[str], fresh: Mapping[str, Mapping[str, object]],
                 fresh_ids: frozenset[str]) -> None:
        self.kept, self.fresh, self.fresh_ids = kept, fresh, fresh_ids
        self.ids = fresh_ids | kept_ids

    def __getitem__(self, prompt_id: str) -> object:
        return dict(self.fresh[prompt_id]) if prompt_id in self.fresh_ids else self.kept[prompt_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


class _Picked(Mapping[str, V]):
    """Prompt id -> its value in the set it is read from (``load_all``: a later set wins)."""

    def __init__(self, sources: dict[str, Mapping[str, V]]) -> None:
        self.sources = sources

    def __getitem__(self, prompt_id: str) -> V:
        return self.sources[prompt_id][prompt_id]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.sources

    def __iter__(self) -> Iterator[str]:
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)


def _stream(path: Path, entries: Iterable[tuple[str, list[Stored]]], head: Mapping[str, object],
            provenance: Mapping[str, object]) -> None:
    """The baseline file written a prompt at a time (never the whole document, nor all its
    provenance, in memory) and replaced whole: ``json.dumps(document, sort_keys=True, indent=2,
    ensure_ascii=False)`` to the byte ("baselines" sorts first, "provenance" last)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as f:
            f.write(b'{\n  "baselines": {\n')
            _members(f, ((pid, [_entry_json(e) for e in stored]) for pid, stored in entries))
            f.write(("\n  },\n" + _dumps(dict(head))[2:-2]).encode("utf-8"))
            if provenance:
                f.write(b',\n  "provenance": {\n')
                _members(f, ((pid, provenance[pid]) for pid in sorted(provenance)))
                f.write(b"\n  }")
            f.write(b"\n}\n")
    except OSError as exc:
        raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


def _members(f: IO[bytes], items: Iterable[tuple[str, object]]) -> None:
    """The members of an object two levels deep, one at a time, as ``_dumps`` of it would write them."""
    for n, (key, value) in enumerate(items):
        member = _dumps({key: value})[2:-2]  # without the braces
        text = "\n".join("  " + line for line in member.split("\n"))  # one level deeper
        f.write((",\n" if n else "").encode("utf-8") + text.encode("utf-8"))


def _entry_json(entry: Stored) -> dict[str, object]:
    """An entry as the file holds it: the kind named, except for the default kind (older files)."""
    data = entry.to_json()
    return data if entry.kind == DEFAULT_KIND else {"kind": entry.kind, **data}


def _names_in(named: Iterable[str], folder: str) -> set[str]:
    """The names of the files of ``named`` (paths as entries hold them: "folder/file") in a
    folder called ``folder``; plain string work, as ten thousand path objects would weigh."""
    return {base for parent, _, base in (name.rpartition("/") for name in named) if parent.rpartition("/")[2] == folder}


def _drop_unused(folder: Path, used: set[str]) -> None:
    """Delete the files of ``folder`` that no entry names, and the folder when it is left empty."""
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.is_file() and not item.name.startswith(".") and item.name not in used:
            item.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty
