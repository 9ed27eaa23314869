"""A launched server's output files are taken from its folder on this machine: only a regular
file whose name stays inside the folder (names in /history are untrusted)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from comfy_plugin.server.launcher import LaunchedServer


@pytest.fixture
def server(tmp_path: Path) -> LaunchedServer:
    output = tmp_path / "output"
    (output / "sub" / "deeper").mkdir(parents=True)
    (output / "a.png").write_bytes(b"a")
    (output / "sub" / "deeper" / "b.png").write_bytes(b"b")
    (tmp_path / "secret.txt").write_text("outside")
    (output / "leak.png").symlink_to(tmp_path / "secret.txt")  # a link out of the folder
    (output / "alias").symlink_to(output / "sub")  # a link that stays inside
    (output / "out").symlink_to(tmp_path)  # a folder link out of the folder
    process = subprocess.Popen(["true"])
    process.wait()
    return LaunchedServer("http://127.0.0.1:1", process, tmp_path, tmp_path / "log", {"output": output})


@pytest.mark.parametrize(("subfolder", "filename", "expected"), [
    ("", "a.png", "output/a.png"),
    ("sub/deeper", "b.png", "output/sub/deeper/b.png"),
    ("sub", "deeper/b.png", "output/sub/deeper/b.png"),
    ("alias/deeper", "b.png", "output/sub/deeper/b.png"),  # resolved: still inside
    ("sub/deeper/..", "deeper/b.png", "output/sub/deeper/b.png"),
    ("", "leak.png", None),
    ("out", "secret.txt", None),
    ("..", "secret.txt", None),
    ("", "../secret.txt", None),
    ("/", "etc/passwd", None),
    ("", "/etc/passwd", None),
    ("", "sub", None),  # a folder
    ("", "missing.png", None),
    ("sub", "", None),
    ("", "a.png\x00.txt", None),
])
def test_only_a_regular_file_inside_the_folder_is_taken(server: LaunchedServer, tmp_path: Path, subfolder: str,
                                                        filename: str, expected: str | None) -> None:
    found = server.local_file("output", subfolder, filename)
    assert found == (None if expected is None else (tmp_path / expected).resolve())


def test_another_type_of_file_is_not_looked_for(server: LaunchedServer) -> None:
    assert server.local_file("temp", "", "a.png") is None
