"""Files on disk: safe, timestamped names for outputs, and the one atomic writer.

Names from batch files and from the server are untrusted; only the sanitised pieces
below reach the file system, always inside the output directory. Every file the plugin
writes (outputs, baselines, references, time baselines, pending results, reports) goes
through ``write_atomically`` or ``write_new``: whole or not at all, with the mode a file
written with ``open()`` gets (0666 less the umask), so a shared folder's readers can read it.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO

from .errors import OutputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")
MAX_PIECE = 80


def safe_piece(text: str, fallback: str = "x") -> str:
    """A file-name fragment: letters, digits, ``._-`` only, no leading dot, bounded length."""
    piece = _UNSAFE.sub("-", text).strip("-.")[:MAX_PIECE].strip("-.")
    return piece or fallback


def extension_of(server_name: str) -> str:
    match = _EXTENSION.search(server_name)
    return match.group(0).lower() if match else ".bin"


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


def output_name(prefix: str, prompt_id: str, stamp: str, index: int, extension: str) -> str:
    """``<prefix>_<prompt id>_<timestamp>_<index>.<ext>``, e.g. ``CFYUI-BP_a-cat_20261124-141500_00.png``."""
    return f"{safe_piece(prefix, 'out')}_{safe_piece(prompt_id, 'prompt')}_{stamp}_{index:02d}{extension}"


def ensure_directory(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"the output path {directory} exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output directory {directory}: {_reason(exc)}") from None
    if not directory.is_dir():
        raise OutputError(f"the output path {directory} exists and is not a directory")


def check_writable(directory: Path, proven: set[str] | None = None) -> None:
    """Create the output directory and prove a file can be made in it (permissions, a
    read-only file system), so a prompt fails before it is queued rather than after it ran.
    ``proven``: folders proven already (a probe file is made once a folder, not once a prompt)."""
    ensure_directory(directory)
    if proven is not None and str(directory) in proven:
        return
    try:
        fd, probe = _new_temporary(directory, ".write-test-")
    except OSError as exc:
        raise OutputError(f"cannot write in the output directory {directory}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)
    if proven is not None:
        proven.add(str(directory))


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror} (the disk is full)"
    if exc.errno == errno.EROFS:
        return f"{exc.strerror} (a read-only file system)"
    return exc.strerror or str(exc)


def _new_temporary(directory: Path, prefix: str = ".part-") -> tuple[int, str]:
    """A new, empty file in ``directory``, open for writing. ``os.open`` with 0666 lets the umask
    decide the mode, as ``open()`` does; ``tempfile.mkstemp`` would make every file 0600."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = os.path.join(directory, prefix + secrets.token_hex(8))
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(directory))


@contextmanager
def _staged(directory: Path, data: bytes) -> Iterator[str]:
    """``data`` complete and on disk under a temporary name in ``directory`` (the target's own
    folder, so a rename or link puts it in place at once); the name is removed on leaving,
    whatever happened, so a failure leaves nothing behind. OSError as the system raises it."""
    fd, tmp = _new_temporary(directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        yield tmp
    finally:
        with suppress(FileNotFoundError):  # renamed into place
            os.unlink(tmp)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole: a reader sees the old file or the new one, never half
    of it, and a failure (a full disk) keeps the old one. The folder must exist; OSError as raised,
    for the caller to say what it was writing."""
    with _staged(path.parent, data) as tmp:
        os.replace(tmp, path)


@contextmanager
def replacing(path: Path) -> Iterator[IO[bytes]]:
    """A file open for writing whose content replaces ``path`` whole when the block ends without
    an error (synced, then renamed into place), and is removed otherwise: ``write_atomically``
    for a file written piece by piece, so that it is never all in memory. OSError as raised."""
    fd, tmp = _new_temporary(path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):  # renamed into place
            os.unlink(tmp)


class StagedWrites:
    """Many files each replaced whole, made durable together: each is written under a temporary
    name at once (memory stays flat), and ``commit`` syncs them all concurrently (a file system
    commits concurrent syncs together, where one after another each waits for its own) before
    renaming each into place. A baseline's side files, before the file that names them."""

    #: Syncs at a time, and files handed to the syncing threads at a time.
    SYNCS, SLICE = 8, 512

    def __init__(self) -> None:
        self._staged: list[tuple[str, str]] = []  # (temporary, final): strings, lighter than paths

    def add(self, path: Path, data: bytes) -> None:
        """``data`` staged for ``path`` (its folder must exist); OSError as raised."""
        fd, tmp = _new_temporary(path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError:
            os.unlink(tmp)
            raise
        self._staged.append((tmp, os.fspath(path)))

    def discard(self) -> None:
        """Remove what was staged and not committed (a failure on the way)."""
        staged, self._staged = self._staged, []
        for tmp, _ in staged:
            with suppress(FileNotFoundError):
                os.unlink(tmp)

    def commit(self) -> None:
        """Every staged file on disk, then in place; OSError as raised (the rest discarded)."""
        from concurrent.futures import ThreadPoolExecutor

        staged, self._staged = self._staged, []
        try:
            with ThreadPoolExecutor(self.SYNCS) as pool:  # a slice at a time: not a future per file at once
                for start in range(0, len(staged), self.SLICE):
                    list(pool.map(_sync, [tmp for tmp, _ in staged[start:start + self.SLICE]]))
            for tmp, path in staged:
                os.replace(tmp, path)
        finally:
            for tmp, _ in staged:
                with suppress(FileNotFoundError):  # renamed into place
                    os.unlink(tmp)


def _sync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` under ``name`` in ``directory`` without ever replacing a file.

    The bytes go to a temporary file first and are linked into place only when complete,
    so a reader never sees half an image, and the temporary file is removed whatever
    happens (a full disk included); if the name is taken, ``-1``, ``-2``... is added.
    ``name`` must be a plain file name (see output_name): nothing is written outside
    ``directory``."""
    _plain(name)
    ensure_directory(directory)
    try:
        with _staged(directory, data) as tmp:
            return _link_free(tmp, directory, name)
    except OSError as exc:
        raise OutputError(f"cannot write {name} in {directory}: {_reason(exc)}") from None


def link_new(directory: Path, name: str, source: Path) -> Path | None:
    """``source`` (a complete file on this machine) hard-linked under ``name`` in ``directory``,
    never replacing a file (``-1``, ``-2``... as ``write_new`` does); None where no link can be
    made (another file system, links refused), for the caller to write a copy."""
    _plain(name)
    ensure_directory(directory)
    try:
        return _link_free(source, directory, name)
    except OSError:
        return None


def _plain(name: str) -> None:
    if name != os.path.basename(name) or name in ("", ".", "..") or "\x00" in name:
        raise OutputError(f"refusing to write {name!r}: not a plain file name")


def _link_free(source: Path | str, directory: Path, name: str) -> Path:
    """``source`` linked into ``directory`` under ``name``, or ``name-1``, ``name-2``... when
    that is taken: a link never replaces a file."""
    stem, ext = os.path.splitext(name)
    for n in range(10_000):
        final = directory / (name if n == 0 else f"{stem}-{n}{ext}")
        try:
            os.link(source, final)
            return final
        except FileExistsError:
            continue
    raise OutputError(f"no free file name for {name} in {directory}")
