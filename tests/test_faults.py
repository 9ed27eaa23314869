"""Faults and hostile input: nothing lost, nothing run twice, nothing written outside the
output directory, no secret shown.

A dropped WebSocket, a killed server, an unwritable output directory and headers are
tested against the real ComfyUI (through tests/tcp_proxy.py where the network must fail);
names chosen by a hostile server and malformed socket messages, which a real ComfyUI
cannot be made to send, through the small fake server of tests/fake_server.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fake_server import FakeComfy, TextBytes
from tcp_proxy import TcpProxy

from comfy_plugin.server.launcher import LaunchedServer, default_python
from conftest import COMFY_DIR, CPU_ARGS, ROOT, Project, noise_batch

SAVED_NAME = re.compile(r"^[A-Za-z0-9.-]+_[A-Za-z0-9._-]+_\d{8}-\d{6}_\d\d(-\d+)?\.[a-z0-9]{1,8}$")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def prompt_ids(junit: Path) -> dict[str, list[str]]:
    """{test name: [prompt ids]} from a junit XML file (a retried prompt has two)."""
    return {case.get("name"): [p.get("value") for p in case.iter("property") if p.get("name") == "prompt_id"]
            for case in ET.parse(junit).iter("testcase")}


def blur_batch(prompts: list[dict[str, Any]]) -> dict[str, Any]:
    """EmptyImage -> ImageAddNoise -> ImageBlur -> SaveImage: at 1536x1536 with radius 31 a
    prompt keeps a CPU busy for about 3 s, long enough to break something while it runs."""
    batch = noise_batch(prompts)
    batch["parameters"]["workflow_file"] = "../workflows-files/blend-subgraph-api.json"
    batch["parameters"]["workflow_items"] = {
        "seed": "21:11,inputs,seed", "width": "21:10,inputs,width", "height": "21:10,inputs,height",
        "blur": "21:12,inputs,blur_radius",
    }
    return batch


def files_under(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """{relative path: (size, mtime)} of every file under root, outside the ``skip`` folders."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__",)]
        for name in filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if not rel.startswith(skip):
                stat = path.lstat()
                found[rel] = (stat.st_size, stat.st_mtime_ns)
    return found


# -- a dropped WebSocket --------------------------------------------------------------------


def cut_while_running(server_url: str, proxy: TcpProxy, after_s: float, refuse_ws_s: float,
                      stop: threading.Event, record: dict[str, Any]) -> None:
    """Watch the server's queue (directly, not through the proxy); once a prompt has run for
    ``after_s``, cut every connection through the proxy and refuse the socket a while."""
    running_since: dict[str, float] = {}
    while not stop.is_set():
        running = [entry[1] for entry in get_json(server_url + "/queue")["queue_running"]]
        now = time.monotonic()
        for prompt_id in running:
            running_since.setdefault(prompt_id, now)
            if now - running_since[prompt_id] >= after_s:
                record.update(prompt_id=prompt_id, at=time.time(), cut=proxy.cut(refuse_ws_s=refuse_ws_s))
                return
        stop.wait(0.05)


def test_socket_drop_mid_execution_recovers_from_history(pytester: pytest.Pytester,
                                                         comfy_server: LaunchedServer) -> None:
    """The connection is cut while the long prompt runs, and the socket is refused for 5 s
    (longer than RECONNECT_WINDOW_S, while HTTP still answers): the prompt ends while the
    socket is down, so its result can only come from /history; nothing runs twice."""
    with TcpProxy(comfy_server.url, lifetime_s=120) as proxy:
        project = Project(pytester, proxy.url)
        project.batch("drop.json", blur_batch([
            {"id": "before", "seed": "random"},
            {"id": "long", "seed": "random", "width": 1536, "height": 1536, "blur": 31},
            {"id": "after", "seed": "random"},
        ]))
        stop, record = threading.Event(), {}
        cutter = threading.Thread(target=cut_while_running, args=(comfy_server.url, proxy, 0.6, 5.0, stop, record))
        cutter.start()
        try:
            result = project.run("batches/", "--junitxml=r.xml")
        finally:
            stop.set()
            cutter.join()
        refused = proxy.refused_ws
    result.assert_outcomes(passed=3)
    assert record.get("cut", 0) >= 1, f"the proxy never cut a connection: {record}"
    assert refused >= 1, "the client tried to reconnect while the socket was refused"
    ids = prompt_ids(project.path / "r.xml")
    assert record["prompt_id"] == ids["long"][0], "the cut came while the long prompt ran"
    history = get_json(comfy_server.url + "/history")
    entry = history[ids["long"][0]]
    success = dict(entry["status"]["messages"])["execution_success"]["timestamp"] / 1000
    assert success > record["at"], "the long prompt ended after the cut"
    # No second run: the session's client submitted exactly the three prompts.
    client_id = entry["prompt"][3]["client_id"]
    ours = [pid for pid, e in history.items() if e["prompt"][3].get("client_id") == client_id]
    assert sorted(ours) == sorted(i for v in ids.values() for i in v) and len(ours) == 3
    assert sorted(f.name.split("_")[1] for f in project.images()) == ["after", "before", "long"]


# -- a server killed mid-run, relaunched -----------------------------------------------------

KILL_CONFTEST = """
import json, os, signal, threading, urllib.request
from comfy_plugin.plugin.registry import comfy_state

def pytest_runtest_call(item):
    server = comfy_state(item.config).activate().session.server
    if item.name == "long" and not os.path.exists("killed.txt"):
        with open("killed.txt", "w") as f:
            f.write(server.url)
        threading.Timer(1.0, os.kill, (server.process.pid, signal.SIGKILL)).start()

def pytest_sessionfinish(session):
    url = comfy_state(session.config).activate().session.url
    with urllib.request.urlopen(url + "/history") as r, open("history.json", "wb") as f:
        f.write(r.read())
"""


def test_restart_on_crash_relaunches_and_retries_the_interrupted_prompt(pytester: pytest.Pytester) -> None:
    project = Project(pytester, "")
    pytester.makeconftest(KILL_CONFTEST)
    project.batch("crash.json", blur_batch([
        {"id": "first", "seed": 1},
        {"id": "long", "seed": "random", "width": 1536, "height": 1536, "blur": 31},
        {"id": "after-1", "seed": 3},
        {"id": "after-2", "seed": 4},
    ]))
    result = pytester.runpytest(
        "batches/", "-p", "no:cacheprovider", "--junitxml=r.xml", "--comfy-restart-on-crash",
        f"--comfy-launch={COMFY_DIR}", f"--comfy-python={default_python(ROOT)}",
        f"--comfy-launch-args={' '.join(CPU_ARGS)}")
    result.assert_outcomes(passed=4)
    out = result.stdout.str()
    first_url = (project.path / "killed.txt").read_text()
    launched = re.findall(r"ComfyUI launched at (http://127\.0\.0\.1:\d+)", out)
    assert len(launched) == 2 and launched[0] == first_url != launched[1], out
    assert out.count(f"ComfyUI at {first_url} died during the run") == 1
    ids = prompt_ids(project.path / "r.xml")
    assert len(ids["first"]) == 1 and len(ids["long"]) == 2, "the interrupted prompt was queued once more"
    assert len(ids["after-1"]) == len(ids["after-2"]) == 2, "queued ahead on the dead server, then on the new one"
    history = json.loads((project.path / "history.json").read_text())
    assert sorted(history) == sorted(ids[name][1] for name in ("long", "after-1", "after-2")), "each ran once there"
    seed = {p.get("name"): p.get("value") for c in ET.parse(project.path / "r.xml").iter("testcase")
            if c.get("name") == "long" for p in c.iter("property")}["seed"]
    assert str(history[ids["long"][1]]["prompt"][2]["21:11"]["inputs"]["seed"]) == seed, "the retry keeps its seed"
    assert sorted(f.name.split("_")[1] for f in project.images()) == ["after-1", "after-2", "first", "long"]


REMOVING_CONFTEST = """
import json, threading, urllib.request

def _remove_pending():
    with urllib.request.urlopen("{url}/queue") as r:
        pending = [entry[1] for entry in json.loads(r.read())["queue_pending"]]
    body = json.dumps({{"delete": pending}}).encode()
    urllib.request.urlopen(urllib.request.Request("{url}/queue", data=body, method="POST")).read()

def pytest_runtest_call(item):
    if item.name == "long":
        threading.Timer(0.5, _remove_pending).start()
"""


def test_prompt_removed_from_the_server_queue_fails_instead_of_waiting_forever(
        pytester: pytest.Pytester, comfy_server: LaunchedServer) -> None:
    """Someone else empties the queue (or the server restarted): a prompt that is neither
    queued, running nor in /history fails at the next poll, naming the server."""
    project = Project(pytester, comfy_server.url)
    pytester.makeconftest(REMOVING_CONFTEST.format(url=comfy_server.url))
    project.batch("gone.json", blur_batch([
        {"id": "long", "seed": "random", "width": 1536, "height": 1536, "blur": 31},
        {"id": "removed-1", "seed": "random"},
        {"id": "removed-2", "seed": "random"},
        {"id": "after", "seed": "random"},
    ]))
    result = project.run("batches/", "--junitxml=r.xml")
    result.assert_outcomes(passed=2, failed=2)
    lost = re.compile(rf"prompt [0-9a-f-]+ is no longer on the server at {re.escape(comfy_server.url)}: not queued, "
                      r"not running and not in /history \(the server restarted, or the prompt was removed from its queue\)")
    assert len([line for line in result.stdout.lines if lost.fullmatch(line)]) == 2, result.stdout.str()
    times = {m[0]: float(m[1]) for m in re.findall(r'name="([\w-]+)" time="([\d.]+)"', (project.path / "r.xml").read_text())}
    assert times["removed-1"] < 5 and times["removed-2"] < 5, times
    assert sorted(f.name.split("_")[1] for f in project.images()) == ["after", "long"]


# -- the output directory -------------------------------------------------------------------


def test_unwritable_output_directory_fails_before_anything_is_queued(project: Project,
                                                                     comfy_server: LaunchedServer) -> None:
    (project.path / "images").mkdir()
    (project.path / "images" / "blocked").write_text("a regular file where the folder should be")
    project.batch("blocked.json", noise_batch([{"id": "one", "seed": 1}, {"id": "two", "seed": 2}],
                                              save_images={"output_directory": "./images/blocked/",
                                                           "filename_prefix": "B"}))
    project.batch("fine.json", noise_batch([{"id": "fine", "seed": "random"}]))
    before = len(get_json(comfy_server.url + "/history"))
    result = project.run("batches/", "--junitxml=r.xml")
    after = len(get_json(comfy_server.url + "/history"))
    queue = get_json(comfy_server.url + "/queue")
    result.assert_outcomes(failed=2, passed=1)
    message = f"the output path {project.path / 'images' / 'blocked'} exists and is not a directory"
    assert result.stdout.lines.count(message) == 2, result.stdout.str()
    ids = prompt_ids(project.path / "r.xml")
    assert ids["one"] == ids["two"] == [], "neither prompt of the blocked batch was queued"
    assert after == before + 1 and queue["queue_running"] == queue["queue_pending"] == [], "only 'fine' was queued"
    assert (project.path / "images" / "blocked").read_text().startswith("a regular file")


# -- hostile input ------------------------------------------------------------------------

HOSTILE_NAMES = ["../../evil.png", "/etc/passwd", "a\x00b.png", "n" * 300 + ".png", "CON.png",
                 "..\\..\\win.png", "", ".", "..", "sub/../../../x.webp"]
HOSTILE_SUBFOLDERS = ["../..", "/etc", "..\\..", "a/../../..", "\x00"]
HOSTILE_IDS = ["../../x", "/abs", "nul\x00id", "l" * 300, "CON", "..", "a/../../b"]


def hostile_outputs() -> list[dict[str, str]]:
    return [{"filename": name, "subfolder": HOSTILE_SUBFOLDERS[i % len(HOSTILE_SUBFOLDERS)],
             "type": "../output" if i % 2 else "output"} for i, name in enumerate(HOSTILE_NAMES)]


def assert_only_output_directory_changed(base: Path, before: dict, project: Project) -> list[Path]:
    """Every new or changed file under ``base`` lies in the project's images/ folder (or in
    its baselines/ folder, where fixed-seed prompts get their baselines recorded)."""
    after = files_under(base)
    changed = {rel for rel, stat in after.items() if before.get(rel) != stat}
    allowed = [(project.path / folder).resolve() for folder in ("images", "baselines")]
    outside = [rel for rel in changed
               if not any((base / rel).resolve().is_relative_to(folder) for folder in allowed)
               and not rel.endswith(("r.xml", ".pyc"))]
    assert outside == [], outside
    assert not any(p.name.startswith(".part-") for p in project.images())
    return project.images()


def test_hostile_names_from_the_server_stay_in_the_output_directory(pytester: pytest.Pytester) -> None:
    etc_passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    base = pytester.path.parent
    with FakeComfy(hostile_outputs()) as fake:
        project = Project(pytester, fake.url)
        project.batch("hostile.json", noise_batch(
            [{"id": pid, "seed": n} for n, pid in enumerate(HOSTILE_IDS)],
            save_images={"output_directory": "./images/", "filename_prefix": "../../up"}))
        before = files_under(base)
        result = project.run("batches/", "--junitxml=r.xml")
        views = [path for method, path in fake.requests if path.startswith("/view")]
    result.assert_outcomes(passed=len(HOSTILE_IDS))
    assert len(views) == len(HOSTILE_IDS) * len(HOSTILE_NAMES), "every file was fetched"
    saved = assert_only_output_directory_changed(base, before, project)
    assert len(saved) == len(HOSTILE_IDS) * len(HOSTILE_NAMES)
    assert all(p.parent == project.path / "images" for p in saved)
    assert all(SAVED_NAME.match(p.name) and len(p.name) < 255 for p in saved), [p.name for p in saved]
    assert {p.suffix for p in saved} == {".png", ".bin", ".webp"}, "only the server name's extension is used"
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == etc_passwd
    assert not [p for p in base.parent.rglob("*") if p.name in ("evil.png", "win.png", "x.webp")]


def test_hostile_batch_files_stay_in_the_output_directory(project: Project) -> None:
    base = project.path.parent
    prefixes = ["../../up", "/abs/prefix", "..", "C:\\Windows\\up", "nul\x00prefix", "p" * 300]
    for n, prefix in enumerate(prefixes):
        project.batch(f"hostile-{n}.json", noise_batch(
            [{"id": pid, "seed": "random"} for pid in HOSTILE_IDS[n::len(prefixes)]],
            save_images={"output_directory": "./images/", "filename_prefix": prefix}))
    before = files_under(base)
    result = project.run("batches/", "--junitxml=r.xml")
    result.assert_outcomes(passed=len(HOSTILE_IDS))
    saved = assert_only_output_directory_changed(base, before, project)
    assert len(saved) == len(HOSTILE_IDS)
    assert all(p.parent == project.path / "images" and SAVED_NAME.match(p.name) for p in saved), saved
    assert not Path("/abs").exists()


def test_malformed_socket_messages_do_not_stop_the_reader(pytester: pytest.Pytester) -> None:
    """Garbage (a text frame that is not UTF-8 included) arrives before the prompt's end. The
    end comes on the socket as an execution_error, while /history says success: the test fails
    with that error only if the reader survived the garbage (a dead reader, or one that
    reconnected, would leave the poll to find success)."""
    garbage = ["not json", "[1, 2]", '"a string"', '{"data": {}}', '{"type": "executing"}',
               '{"type": "executing", "data": "text"}', '{"type": "executing", "data": {"prompt_id": ["list"]}}',
               '{"type": "execution_cached", "data": {"prompt_id": "PROMPT_ID", "nodes": 5}}',
               '{"type": "execution_start", "data": {"prompt_id": "PROMPT_ID", "timestamp": "soon"}}',
               b"\x00\x00\x00\x01binary preview", "{" * 10_000, TextBytes(b'{"type": "status", "\xff\xfe": 1}')]
    error = {"node_id": "2", "node_type": "ImageAddNoise", "exception_type": "ValueError",
             "exception_message": "sent over the socket", "traceback": "not a list"}
    with FakeComfy([{"filename": "ok.png", "subfolder": "", "type": "output"}], extra_messages=garbage,
                   socket_error=error) as fake:
        project = Project(pytester, fake.url)
        project.batch("garbage.json", noise_batch([{"id": "g", "seed": 1}]))
        result = project.run("batches/")
    result.assert_outcomes(failed=1)
    assert "node 2 (ImageAddNoise) failed: ValueError: sent over the socket" in result.stdout.lines
    assert "Traceback" not in result.stdout.str()


def test_download_cut_short_is_an_error_and_leaves_nothing(pytester: pytest.Pytester) -> None:
    with FakeComfy([{"filename": "half.png", "subfolder": "", "type": "output"}], truncate_view=True) as fake:
        project = Project(pytester, fake.url)
        project.batch("half.json", noise_batch([{"id": "half", "seed": 1}, {"id": "next", "seed": 2}]))
        result = project.run("batches/")
        views = [path for method, path in fake.requests if path.startswith("/view")]
    result.assert_outcomes(failed=2)
    assert len(views) == 4, "each download was tried twice"
    message = re.compile(r"downloading 'half\.png' broke off twice \(IncompleteRead\(\d+ bytes read, \d+ more "
                         r"expected\)\); nothing was saved")
    assert len([line for line in result.stdout.lines if message.fullmatch(line)]) == 2, result.stdout.str()
    assert list((project.path / "images").iterdir()) == [], "no half image, no temporary file"


# -- headers and URLs -----------------------------------------------------------------------


def test_header_reaches_http_and_websocket_and_is_never_shown(pytester: pytest.Pytester,
                                                              comfy_server: LaunchedServer) -> None:
    """Two prompts fail on the server itself (every offline and /object_info check passes):
    ComfyUI rejects one with a 400 and fails the other while it runs. The server's messages
    reach the output, the junit file and the HTML report; the header values never do."""
    secret = f"s3cret-{uuid.uuid4().hex}"
    token = f"tok-{uuid.uuid4().hex}"
    with TcpProxy(comfy_server.url, lifetime_s=60) as proxy:
        project = Project(pytester, proxy.url)
        batch = noise_batch([
            {"id": "ok", "seed": "random"},
            {"id": "wrong-link", "seed": 1, "image_source": ["3", 0]},  # a string where an image goes: a 400
        ])
        batch["parameters"]["workflow_items"]["image_source"] = "2,inputs,image"
        project.batch("h.json", batch)
        project.batch("boom.json", blur_batch([{"id": "too-much-blur", "seed": 1, "width": 8, "height": 8,
                                                "blur": 31}]))  # fails while it runs: an execution error
        result = project.run("batches/", "-rA", "-v", "--junitxml=r.xml", "--comfy-report=r.html",
                             "--comfy-header", f"X-Comfy-Secret: {secret}",
                             "--comfy-header", f"Authorization: Bearer {token}")
        streams = list(proxy.sent)
    result.assert_outcomes(passed=1, failed=2)
    junit = (project.path / "r.xml").read_text()
    failures = {case.get("name"): (failure.get("message") or "") + "\n" + (failure.text or "")
                for case in ET.parse(project.path / "r.xml").iter("testcase")
                if (failure := case.find("failure")) is not None}
    assert sorted(failures) == ["too-much-blur", "wrong-link"], failures
    assert "ComfyUI rejected the prompt: Prompt outputs failed validation" in failures["wrong-link"]
    assert "Return type mismatch between linked nodes" in failures["wrong-link"], "the server's own words"
    assert "node 21:12 (ImageBlur) failed: RuntimeError" in failures["too-much-blur"], failures["too-much-blur"]
    shown = result.stdout.str() + result.stderr.str() + junit + (project.path / "r.html").read_text()
    assert "Return type mismatch" in result.stdout.str() and "Padding size" in result.stdout.str()
    assert secret not in shown and token not in shown
    assert secret[7:19] not in shown and token[4:16] not in shown, "not even in part"
    paths = {b" ".join(s.split(b"\r\n", 1)[0].split(b" ")[:2]).split(b"?")[0] for s in streams}
    assert {b"GET /ws", b"POST /prompt", b"GET /view", b"GET /system_stats"} <= paths, paths
    assert any(p.startswith(b"GET /history/") for p in paths)
    assert all(f"X-Comfy-Secret: {secret}".encode() in s and f"Authorization: Bearer {token}".encode() in s
               for s in streams), "every request and the WebSocket upgrade carry the headers"

