"""Reading the files a batch file brings (itself, its workflow, its variable files), bounded,
and the path strings it names, checked before any file-system call sees them.

``json.loads`` alone raises ``RecursionError`` for deep nesting and ``ValueError`` for an
integer of more than 4,300 digits, and accepts what fails far from the file later: ``NaN``,
lone UTF-16 surrogates, nesting deeper than jsonschema or ``copy.deepcopy`` can follow. A
path may hold a NUL, a lone surrogate or a part longer than the file system takes, and
``/dev/zero`` is a file that never ends. Each of these ends here, in one error that names
the file and the place.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ..errors import BatchFileError

#: Deeper than any batch file or workflow needs, and far below what recursive readers of the
#: parsed value (the schema validator, deep copies) can follow.
MAX_DEPTH = 64
#: The longest file name (one part of a path) common file systems take, in bytes.
NAME_MAX = 255
#: A ``\\uXXXX`` escape of a UTF-16 surrogate, and the backslashes before it (escaped or not).
_SURROGATE = re.compile(r"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")


@dataclass(frozen=True)
class Source:
    """A file being read for a batch file: how errors name it. ``label`` is empty for the
    batch file itself (the place is then where in it); for a file it names, errors read
    ``workflow x.json: ...`` at ``place`` (``parameters.workflow_file``)."""

    shown_as: str
    label: str = ""
    place: str = ""
    error: type[BatchFileError] = BatchFileError

    def fail(self, text: str, where: str = "", hint: str = "") -> NoReturn:
        if not self.label:
            raise self.error(self.shown_as, text, where, hint)
        raise self.error(self.shown_as, f"{self.label}: {text}" + (f" at {where}" if where else ""), self.place, hint)


@dataclass(frozen=True)
class Read:
    text: str
    raw: bytes
    data: Any


def read_bytes(path: Path, source: Source, max_bytes: int) -> bytes:
    """The file's bytes: a regular file of at most ``max_bytes`` (a device or a pipe is never
    read, a file that grows while read is cut at the limit and refused)."""
    problem = path_problem(str(path))
    if problem:
        source.fail(f"cannot read the file: {problem}")
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                source.fail("not a regular file (a device, a folder or a pipe is never read as JSON)")
            if info.st_size > max_bytes:
                _too_big(source, info.st_size, max_bytes)
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        source.fail(f"cannot read the file: {exc.strerror or exc}")
    if len(raw) > max_bytes:
        _too_big(source, len(raw), max_bytes)
    return raw


#: How much of a JSON file outside the batch folders is read to tell whether it may be a batch file.
HEAD_BYTES = 4096
#: A JSON string (unrolled: no step per character).
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
#: The head of a batch file: an object whose first key holding an object or a list is
#: ``parameters`` or ``prompts`` (keys before it hold plain values: ``"$schema": "..."``).
_BATCH_HEAD = re.compile(rb'\s*\{\s*(?:' + _STRING + rb'\s*:\s*(?:' + _STRING + rb'|[-+.\w]+)\s*,\s*)*'
                         rb'"(?:parameters|prompts)"\s*:')


def looks_like_batch(path: Path, head_bytes: int = HEAD_BYTES) -> bool:
    """Whether the file's first ``head_bytes`` may start a batch file: a JSON object (after any
    BOM and white space) whose first key holding an object or a list is ``parameters`` or
    ``prompts``. One bounded read and one anchored match, no parse: a JSON data file fails at
    its first nested value, so a tree of big ones costs almost nothing to walk; a file that
    cannot be read (a device, a pipe, a missing file, a name no file system takes) does not."""
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):  # ValueError: a NUL or a lone surrogate in the name
        return False
    try:  # (no fstat: a pipe without a writer reads as empty, a device gives at most the head)
        head = os.read(fd, head_bytes)
    except OSError:  # a folder
        return False
    finally:
        os.close(fd)
    return _BATCH_HEAD.match(head.removeprefix(b"\xef\xbb\xbf")) is not None


def _too_big(source: Source, size: int, max_bytes: int) -> NoReturn:
    source.fail(f"the file is larger than {max_bytes / 1e6:g} MB ({size / 1e6:.1f} MB)",
                hint="raise the limit with --comfy-max-file-mb (ini comfy_max_file_mb) if it is meant")


def decode(raw: bytes, source: Source) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        source.fail(f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})",
                    hint="save the file as UTF-8")


class _NotJson(ValueError):
    """A constant JSON does not have (``NaN``, ``Infinity``)."""


def _no_constant(name: str) -> Any:
    raise _NotJson(name)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e400: too large for a float
        raise _NotJson(text)
    return value


def parse(text: str, source: Source) -> Any:
    """Strict JSON: no NaN or Infinity, no lone surrogate, at most MAX_DEPTH levels, integers
    Python can read (at most 4,300 digits)."""
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        source.fail(f"invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}")
    except _NotJson as exc:
        source.fail(f"invalid JSON: {exc} is not a number JSON or Python can hold",
                    _where(text, re.search(re.escape(str(exc)), text)),
                    "JSON has no NaN or Infinity, and a float ends near 1.8e308: write a number, or null")
    except RecursionError:
        source.fail(f"invalid JSON: nested too deeply (at most {MAX_DEPTH} levels)")
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        source.fail(f"invalid JSON: {exc}", hint="write so large a number as a string")
    _check_surrogates(text, source)
    depth_place = too_deep(data)
    if depth_place is not None:
        source.fail(f"nested more than {MAX_DEPTH} levels deep", depth_place)
    return data


def read_json(path: Path, source: Source, max_bytes: int) -> Read:
    """Read, decode and parse a JSON file; every fault raises ``source.error``."""
    raw = read_bytes(path, source, max_bytes)
    text = decode(raw, source)
    return Read(text, raw, parse(text, source))


def _where(text: str, match: re.Match[str] | None) -> str:
    if match is None:
        return ""
    start = match.start()
    return f"line {text.count(chr(10), 0, start) + 1}, column {start - text.rfind(chr(10), 0, start)}"


def _check_surrogates(text: str, source: Source) -> None:
    """A ``\\ud83d`` escape not paired with a low half (or a low half alone) makes a string
    no file system, terminal or UTF-8 encoder takes."""
    pending: re.Match[str] | None = None  # a high half waiting for its low half
    for match in _SURROGATE.finditer(text):
        if len(match.group(1)) % 2 == 0:
            continue  # ``\\ud800``: an escaped backslash, then text
        low = int(match.group(2), 16) >= 0xDC00
        if low and pending is not None and pending.end() == match.start():
            pending = None
            continue
        if pending is not None or low:
            _lone(text, pending or match, source)
        pending = match
    if pending is not None:
        _lone(text, pending, source)


def _lone(text: str, match: re.Match[str], source: Source) -> NoReturn:
    source.fail(f"a lone UTF-16 surrogate (\\u{match.group(2)}) is not a character", _where(text, match),
                "write the character itself, or both halves of its surrogate pair")


def too_deep(data: Any) -> str | None:
    """The place of a value nested more than MAX_DEPTH levels deep, or None (iterative: the
    check itself never recurses)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, place = stack.pop()
        if depth > MAX_DEPTH:
            return place if len(place) <= 80 else place[:60] + "..."
        if isinstance(value, dict):
            stack.extend((v, depth + 1, f"{place}.{k}" if place else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{place}[{i}]") for i, v in enumerate(value))
    return None


def path_problem(name: str) -> str:
    """Why no file-system call can take the path ``name`` ("" when one can): a NUL, a lone
    surrogate, or a part longer than NAME_MAX bytes."""
    if "\x00" in name:
        return "the path holds a NUL character"
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        return "the path holds a character that cannot be encoded (a lone UTF-16 surrogate)"
    longest = max((len(part) for part in encoded.replace(b"\\", b"/").split(b"/")), default=0)
    if longest > NAME_MAX:
        return f"a part of the path is {longest} bytes long (at most {NAME_MAX})"
    return ""


def is_file(path: Path) -> bool:
    """``path.is_file()`` for a path a file names: False for one no file system takes."""
    return not path_problem(str(path)) and path.is_file()


def exists(path: Path) -> bool:
    return not path_problem(str(path)) and path.exists()
