"""Write downloaded outputs to disk: safe, timestamped names, never overwriting a file.

Names from batch files and from the server are untrusted; only the sanitised pieces
below reach the file system, always inside the output directory.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path

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


def check_writable(directory: Path) -> None:
    """Create the output directory and prove a file can be made in it (permissions, a
    read-only file system), so a prompt fails before it is queued rather than after it ran."""
    ensure_directory(directory)
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write in the output directory {directory}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror} (the disk is full)"
    if exc.errno == errno.EROFS:
        return f"{exc.strerror} (a read-only file system)"
    return exc.strerror or str(exc)


def write_new(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` under ``name`` in ``directory`` without ever replacing a file.

    The bytes go to a temporary file first and are linked into place only when complete,
    so a reader never sees half an image, and the temporary file is removed whatever
    happens (a full disk included); if the name is taken, ``-1``, ``-2``... is added.
    ``name`` must be a plain file name (see output_name): nothing is written outside
    ``directory``."""
    if name != os.path.basename(name) or name in ("", ".", "..") or "\x00" in name:
        raise OutputError(f"refusing to write {name!r}: not a plain file name")
    ensure_directory(directory)
    stem, ext = os.path.splitext(name)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        for n in range(10_000):
            final = directory / (name if n == 0 else f"{stem}-{n}{ext}")
            try:
                os.link(tmp, final)
                return final
            except FileExistsError:
                continue
        raise OutputError(f"no free file name for {name} in {directory}")
    except OSError as exc:
        raise OutputError(f"cannot write {name} in {directory}: {_reason(exc)}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
