"""outputs.py: safe names and never-overwriting writes."""

from __future__ import annotations

import errno
import os
import re
from datetime import datetime

import pytest

from comfy_plugin.errors import OutputError
from comfy_plugin.files import (
    MAX_PIECE,
    check_writable,
    extension_of,
    output_name,
    safe_piece,
    timestamp,
    write_new,
)

# -- safe_piece ------------------------------------------------------------------------


@pytest.mark.parametrize("text, piece", [
    ("a-cat", "a-cat"),
    ("a/b", "a-b"),
    ("../../etc/passwd", "etc-passwd"),
    ("..", "x"),
    ("...hidden", "hidden"),
    (".bashrc", "bashrc"),
    ("nul\x00byte", "nul-byte"),
    ("a\\b:c*d?e", "a-b-c-d-e"),
    ("  spaced out  ", "spaced-out"),
    ("", "x"),
    ("///", "x"),
    ("Café", "Caf"),
    ("v1.5_model", "v1.5_model"),
])
def test_safe_piece(text, piece):
    assert safe_piece(text) == piece


def test_safe_piece_result_is_always_a_plain_name():
    for text in ["../x", "/abs/path", "a/../b", "\x00", ".", "-.-", "a\nb", "C:\\Windows\\x"]:
        piece = safe_piece(text)
        assert piece
        assert "/" not in piece and "\\" not in piece and "\x00" not in piece
        assert not piece.startswith(".")
        assert piece not in (".", "..")
        assert re.fullmatch(r"[A-Za-z0-9._-]+", piece)


def test_safe_piece_fallback():
    assert safe_piece("..", "prompt") == "prompt"


def test_safe_piece_bounds_length():
    assert len(safe_piece("a" * 500)) == MAX_PIECE == 80
    # a cut that would end on a separator is trimmed
    piece = safe_piece("b" * 79 + "/" + "c" * 50)
    assert piece == "b" * 79


# -- extension_of / timestamp / output_name --------------------------------------------


@pytest.mark.parametrize("name, ext", [
    ("ComfyUI_00001_.png", ".png"),
    ("clip.MP4", ".mp4"),
    ("AnimateDiff_00001.gif", ".gif"),
    ("archive.tar.gz", ".gz"),
    ("noext", ".bin"),
    ("weird.ext/with/slash", ".bin"),
    ("bad.p*g", ".bin"),
    ("toolong.abcdefghij", ".bin"),
    ("a.webp", ".webp"),
])
def test_extension_of(name, ext):
    assert extension_of(name) == ext


def test_timestamp_format():
    assert timestamp(datetime(2026, 11, 24, 14, 15, 0)) == "20261124-141500"
    assert re.fullmatch(r"\d{8}-\d{6}", timestamp())


def test_output_name_format():
    assert output_name("CFYUI-BP", "a-cat", "20261124-141500", 0, ".png") == "CFYUI-BP_a-cat_20261124-141500_00.png"
    assert output_name("ZIT", "p", "20261124-141500", 12, ".webp") == "ZIT_p_20261124-141500_12.webp"


def test_output_name_sanitises_pieces():
    name = output_name("../up", "a/b\x00c", "20261124-141500", 3, ".png")
    assert name == "up_a-b-c_20261124-141500_03.png"
    assert output_name("..", "..", "20261124-141500", 1, ".png") == "out_prompt_20261124-141500_01.png"
    assert re.fullmatch(r"[^_/]+_[^_/]+_\d{8}-\d{6}_\d{2}\.[a-z0-9]+", name)


# -- write_new -------------------------------------------------------------------------


def test_write_new_writes_bytes(tmp_path):
    path = write_new(tmp_path, "a.png", b"first")
    assert path == tmp_path / "a.png"
    assert path.read_bytes() == b"first"


def test_write_new_never_overwrites(tmp_path):
    first = write_new(tmp_path, "img_00.png", b"one")
    second = write_new(tmp_path, "img_00.png", b"two")
    third = write_new(tmp_path, "img_00.png", b"three")
    assert first == tmp_path / "img_00.png"
    assert second == tmp_path / "img_00-1.png"
    assert third == tmp_path / "img_00-2.png"
    assert first.read_bytes() == b"one"
    assert second.read_bytes() == b"two"
    assert third.read_bytes() == b"three"


def test_write_new_does_not_replace_a_foreign_file(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"keep me")
    path = write_new(tmp_path, "x.txt", b"new")
    assert path.name == "x-1.txt"
    assert (tmp_path / "x.txt").read_bytes() == b"keep me"


def test_write_new_leaves_no_temp_files(tmp_path):
    write_new(tmp_path, "a.png", b"1")
    write_new(tmp_path, "a.png", b"2")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a-1.png", "a.png"]
    assert not any(n.startswith(".part-") for n in names)


def test_write_new_creates_missing_directory(tmp_path):
    directory = tmp_path / "images" / "nested" / "deeper"
    path = write_new(directory, "a.png", b"data")
    assert directory.is_dir()
    assert path == directory / "a.png"
    assert path.read_bytes() == b"data"


def test_write_new_directory_is_a_file(tmp_path):
    blocker = tmp_path / "images"
    blocker.write_bytes(b"not a dir")
    with pytest.raises(OutputError) as info:
        write_new(blocker, "a.png", b"data")
    assert str(blocker) in str(info.value)
    assert blocker.read_bytes() == b"not a dir"


def test_write_new_parent_is_a_file(tmp_path):
    blocker = tmp_path / "images"
    blocker.write_bytes(b"not a dir")
    with pytest.raises(OutputError, match="cannot create the output directory"):
        write_new(blocker / "sub", "a.png", b"data")


def test_write_new_empty_bytes(tmp_path):
    path = write_new(tmp_path, "empty.txt", b"")
    assert path.read_bytes() == b""


# -- faults: a full disk, an unwritable directory, names that are not plain ----------------


class _FillsDisk:
    """A file object that writes part of the data, then fails as a full disk does."""

    def __init__(self, real):
        self.real = real

    def write(self, data):
        self.real.write(data[: len(data) // 2])
        self.real.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def test_write_new_on_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FillsDisk(real_fdopen(fd, *a, **k)))
    with pytest.raises(OutputError) as info:
        write_new(tmp_path, "a.png", b"x" * 1000)
    monkeypatch.undo()
    assert str(info.value) == f"cannot write a.png in {tmp_path}: No space left on device (the disk is full)"
    assert list(tmp_path.iterdir()) == [], "no half-written image, no temporary file"


def test_write_new_when_the_link_fails_leaves_nothing(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "link", no_link)
    with pytest.raises(OutputError, match=r"Read-only file system \(a read-only file system\)"):
        write_new(tmp_path, "a.png", b"data")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../a.png", "/etc/a.png", "sub/a.png", "..", ".", "", "a\x00.png"])
def test_write_new_refuses_names_that_are_not_plain(tmp_path, name):
    with pytest.raises(OutputError, match="not a plain file name"):
        write_new(tmp_path / "out", name, b"data")
    assert list(tmp_path.iterdir()) == []


def test_check_writable_creates_the_directory_and_leaves_no_probe(tmp_path):
    directory = tmp_path / "images" / "batch"
    check_writable(directory)
    assert directory.is_dir() and list(directory.iterdir()) == []


def test_check_writable_a_file_in_place_of_the_directory(tmp_path):
    (tmp_path / "images").write_bytes(b"a file")
    with pytest.raises(OutputError, match=r"the output path .*images exists and is not a directory"):
        check_writable(tmp_path / "images")
    with pytest.raises(OutputError, match=r"cannot create the output directory .*images/sub"):
        check_writable(tmp_path / "images" / "sub")


def test_check_writable_a_read_only_file_system(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if os.path.dirname(path) == str(tmp_path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(OutputError) as info:
        check_writable(tmp_path)
    assert str(info.value) == (f"cannot write in the output directory {tmp_path}: "
                               "Read-only file system (a read-only file system)")


def test_check_writable_probes_a_folder_once_a_session_and_recreates_it_always(tmp_path, monkeypatch):
    probes = []
    real_open = os.open

    def counted(path, *args, **kwargs):
        if os.path.basename(path).startswith(".write-test-"):
            probes.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counted)
    proven: set[str] = set()
    directory = tmp_path / "images"
    for _ in range(3):
        check_writable(directory, proven)
    assert len(probes) == 1 and proven == {str(directory)}
    directory.rmdir()  # a folder removed mid-session is made again, without a second probe
    check_writable(directory, proven)
    assert directory.is_dir() and len(probes) == 1
    check_writable(tmp_path / "other", proven)
    assert len(probes) == 2 and list(directory.iterdir()) == []
