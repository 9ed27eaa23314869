"""The plugin through a real reverse proxy: Debian's nginx (tests/nginx_proxy.py) in front of
the session's ComfyUI, with HTTPS from a CA made for the test, a path prefix, the WebSocket
upgrade and credentials the proxy enforces (an X-API-Key header, or basic auth).

A batch runs through it (prompts, images, sampler progress over the socket, /upload/image and
/view under the prefix); each failure is one clear line without a traceback or a secret: a
wrong key, an unknown CA; a proxy that closes an idle socket is recovered from. One nginx
serves the whole file.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_proxy import USER, NginxProxy
from PIL import Image

from comfy_plugin.client import ComfyClient, OutputFile
from comfy_plugin.errors import (
    AuthenticationFailed,
    OutputError,
    ServerUnavailable,
    SocketUnavailable,
    TlsVerificationFailed,
    UpstreamUnavailable,
)
from comfy_plugin.server.launcher import LaunchedServer
from conftest import ROOT, Project, noise_batch

#: LoadImage -> ImageInvert -> SaveImage: the local image goes up through /upload/image.
INVERT = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}, "_meta": {"title": "Input picture"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "inv"}},
}
#: 1024x1024 noise blurred with radius 31: 2 to 4 s on a CPU without a socket message, so a
#: proxy that closes a socket after 0.5 s idle closes it mid-prompt.
BLUR = json.loads((ROOT / "workflows-files" / "blend-subgraph-api.json").read_text())
SECRET_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "COMFY_CA_BUNDLE", "COMFY_HEADERS", "COMFY_URL", "COMFY_LAUNCH")


@pytest.fixture(scope="module")
def proxy(comfy_server: LaunchedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxProxy]:
    with NginxProxy(comfy_server.url, tmp_path_factory.mktemp("nginx"), idle_s=0.5) as nginx:
        yield nginx


@pytest.fixture(autouse=True)
def no_outside_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the caller's environment decides what is trusted or sent."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)


def key_header(proxy: NginxProxy, key: str | None = None) -> tuple[str, str]:
    return "--comfy-header", f"X-API-Key: {key or proxy.api_key}"


def one_line_failure(output: str, needle: str) -> str:
    """The one line that holds ``needle``; no traceback anywhere."""
    assert "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if needle in line]
    assert lines, f"no line with {needle!r} in:\n{output[-3000:]}"
    return lines[0]


def test_a_batch_runs_through_the_proxy(pytester: pytest.Pytester, proxy: NginxProxy) -> None:
    project = Project(pytester, proxy.url("comfy"))
    (project.path / "inputs").mkdir()
    Image.new("RGB", (16, 8), (255, 0, 0)).save(project.path / "inputs" / "red.png")
    project.batch("invert-api.json", INVERT, folder="workflows-files")
    project.batch("invert.json", {
        "parameters": {"workflow_file": "../workflows-files/invert-api.json",
                       "workflow_items": {"image": {"node": "Input picture", "input": "image"}},
                       "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "I"}},
        "prompts": [{"id": "red", "image": "./inputs/red.png"}],
    })
    project.batch("noise.json", noise_batch([{"id": "n", "seed": uuid.uuid4().int % 2**40}]))
    result = project.run("batches/", "-v", *key_header(proxy), "--comfy-ca-bundle", str(proxy.ca))
    result.assert_outcomes(passed=2)
    assert proxy.api_key not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([f"server: {proxy.url('comfy')}"])
    images = {p.name.split("_")[0]: p for p in project.images()}
    with Image.open(images["I"]) as inverted, Image.open(images["T"]) as noise:
        assert inverted.convert("RGB").getpixel((3, 3)) == (0, 255, 255), "the uploaded red came back inverted"
        assert noise.size == (32, 24)
    log = proxy.access_log.read_text()
    for request in (r'"POST /comfy/upload/image HTTP/1\.1" 200', r'"GET /comfy/view\?\S+ HTTP/1\.1" 200',
                    r'"GET /comfy/ws\?clientId=\w+ HTTP/1\.1" 101', r'"POST /comfy/prompt HTTP/1\.1" 200'):
        assert re.search(request, log), f"no {request} in nginx's access log"


def test_the_socket_brings_each_prompts_messages_through_the_proxy(proxy: NginxProxy) -> None:
    client = ComfyClient(proxy.url("comfy"), {"X-API-Key": proxy.api_key}, ca_bundle=proxy.ca)
    seen: list[tuple[str, str, object]] = []
    client.listeners.append(lambda prompt_id, kind, data: seen.append((prompt_id, kind, data.get("node"))))
    try:
        workflow = json.loads((ROOT / "workflows-files" / "noise-image-api.json").read_text())
        workflow["2"]["inputs"]["seed"] = uuid.uuid4().int % 2**40
        prompt_id = client.submit(workflow)
        result = client.wait(prompt_id, timeout=60)
    finally:
        client.close()
    assert result.status == "success" and client.drops == 0
    executed = [node for pid, kind, node in seen if pid == prompt_id and kind == "executing" and node is not None]
    assert "5" in executed and set(executed) | set(result.cached_nodes) == set(workflow), \
        "an executing message for each node that ran, over the socket"
    assert [kind for pid, kind, _ in seen if kind.startswith("execution_s")] == ["execution_start", "execution_success"]


def test_a_wrong_key_is_an_authentication_failure_without_the_key(pytester: pytest.Pytester,
                                                                   proxy: NginxProxy) -> None:
    project = Project(pytester, proxy.url("comfy"))
    project.batch("noise.json", noise_batch([{"id": "a", "seed": 1}, {"id": "b", "seed": 2}]))
    wrong = "wrong-" + proxy.api_key
    result = project.run("batches/", *key_header(proxy, wrong), "--comfy-ca-bundle", str(proxy.ca))
    result.assert_outcomes(failed=2)
    output = result.stdout.str() + result.stderr.str()
    assert wrong not in output and proxy.api_key not in output
    line = one_line_failure(output, "authentication failed: GET /system_stats")
    assert f"ComfyUI at {proxy.url('comfy').rstrip('/')}: " in line
    assert "HTTP 403 Forbidden by the server or a proxy in front of it; sent: X-API-Key (values not shown)" in line
    assert output.count("authentication failed (details in the session summary)") == 2, "each test: one line"


def test_no_key_is_a_401_that_says_nothing_was_sent(proxy: NginxProxy) -> None:
    with pytest.raises(AuthenticationFailed, match=r"answered HTTP 401 Unauthorized .*; no credentials were sent"):
        ComfyClient(proxy.url("comfy"), ca_bundle=proxy.ca).system_stats()


def test_a_refused_upgrade_is_an_authentication_failure_and_a_dropped_one_names_the_proxy(
        proxy: NginxProxy) -> None:
    denied = ComfyClient(proxy.url("wsdenied"), ca_bundle=proxy.ca)
    assert denied.system_stats()  # HTTP passes
    with pytest.raises(AuthenticationFailed, match=r"the WebSocket upgrade \(GET /ws\) was answered HTTP 403"):
        denied.submit({})
    with pytest.raises(SocketUnavailable) as info:
        ComfyClient(proxy.url("noupgrade"), ca_bundle=proxy.ca).submit({})
    assert "the upgrade was answered with HTTP 400" in str(info.value) and "proxy_http_version 1.1" in str(info.value)


def test_a_redirect_is_not_followed_with_the_credentials(proxy: NginxProxy) -> None:
    client = ComfyClient(proxy.url("moved"), {"X-API-Key": proxy.api_key}, ca_bundle=proxy.ca)
    with pytest.raises(ServerUnavailable) as info:
        client.system_stats()
    assert f"GET /system_stats was redirected (HTTP 301) to https://localhost:{proxy.port}/comfy/" in str(info.value)
    assert "use the address it redirects to in --comfy-url" in str(info.value)
    assert not re.search(r'"GET /comfy/ HTTP', proxy.access_log.read_text()), "the redirect was not followed"
    with pytest.raises(SocketUnavailable, match=r"cannot open the WebSocket \(Redirect limit exhausted\)"):
        client.submit({})  # followed, the upgrade would have succeeded at /comfy/ws with the key


def test_comfyuis_own_403_on_view_is_a_failed_download(proxy: NginxProxy) -> None:
    client = ComfyClient(proxy.url("comfy"), {"X-API-Key": proxy.api_key}, ca_bundle=proxy.ca)
    with pytest.raises(OutputError, match="answered HTTP 403"):
        client.download(OutputFile("1", "images", "a.png", "../../..", "output"))


def test_an_unreadable_ca_bundle_is_named(proxy: NginxProxy, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ServerUnavailable, match=f"cannot use the CA bundle {re.escape(str(missing))} "
                                                r"\(No such file or directory\)"):
        ComfyClient(proxy.url("comfy"), ca_bundle=missing)
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    with pytest.raises(ServerUnavailable, match="cannot use the CA bundle"):
        ComfyClient(proxy.url("comfy"), ca_bundle=tmp_path / "empty.pem")


def test_an_unknown_ca_names_the_url_and_the_ca_bundle_option(pytester: pytest.Pytester, proxy: NginxProxy) -> None:
    project = Project(pytester, proxy.url("comfy"))
    project.batch("noise.json", noise_batch([{"id": "a", "seed": 1}]))
    result = project.run("batches/", *key_header(proxy))
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    line = one_line_failure(output, "TLS verification failed: unable to get local issuer certificate")
    assert line.startswith(f"ComfyUI at {proxy.url('comfy').rstrip('/')}: ") and "this machine's CA store" in line
    hint = output.splitlines()[output.splitlines().index(line) + 1]
    assert "--comfy-ca-bundle PATH" in hint and "cannot be turned off" in hint


def test_the_ca_bundle_beats_ssl_cert_file_which_is_used_when_none_is_given(
        proxy: NginxProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {"X-API-Key": proxy.api_key}
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.ca))
    assert "comfyui_version" in ComfyClient(proxy.url("comfy"), headers).system_stats()["system"]
    with pytest.raises(TlsVerificationFailed, match=f"checked against the CA bundle {re.escape(str(proxy.other_ca))}"):
        ComfyClient(proxy.url("comfy"), headers, ca_bundle=proxy.other_ca).system_stats()
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.other_ca))
    with pytest.raises(TlsVerificationFailed, match=f"checked against SSL_CERT_FILE={re.escape(str(proxy.other_ca))}"):
        ComfyClient(proxy.url("comfy"), headers).system_stats()


def test_a_proxy_that_closes_idle_sockets_is_recovered(pytester: pytest.Pytester, proxy: NginxProxy) -> None:
    project = Project(pytester, proxy.url("idle"))
    blur = copy.deepcopy(BLUR)
    blur["21:10"]["inputs"].update(width=1024, height=1024)
    blur["21:12"]["inputs"]["blur_radius"] = 31
    project.batch("blur-api.json", blur, folder="workflows-files")
    project.batch("blur.json", {
        "parameters": {"workflow_file": "../workflows-files/blur-api.json", "workflow_items": {"seed": "21:11,inputs,seed"},
                       "save_images": {"enabled": True, "output_directory": "./images/", "filename_prefix": "B"}},
        "prompts": [{"id": "one", "seed": uuid.uuid4().int % 2**40}],
    })
    closed_before = idle_closes(proxy)
    result = project.run("batches/", *key_header(proxy), "--comfy-ca-bundle", str(proxy.ca))
    result.assert_outcomes(passed=1)
    assert len(project.images()) == 1
    assert idle_closes(proxy) > closed_before, "nginx closed the idle socket during the run"


def idle_closes(proxy: NginxProxy) -> int:
    """How often nginx has closed a WebSocket of /idle/ for lack of messages."""
    return len(re.findall(r"upstream timed out .* while proxying upgraded connection.*GET /idle/ws",
                          proxy.error_log.read_text()))


def test_credentials_in_the_url_are_basic_auth_and_never_shown(pytester: pytest.Pytester, proxy: NginxProxy,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    secret_url = proxy.url("basic", f"{USER}:{proxy.password.replace('-', '%2D', 1)}")  # percent-escapes decoded
    project = Project(pytester, secret_url)
    project.batch("noise.json", noise_batch([{"id": "a", "seed": uuid.uuid4().int % 2**40}]))
    monkeypatch.setenv("COMFY_CA_BUNDLE", str(proxy.ca))
    result = project.run("batches/", "-v", "-rA")
    result.assert_outcomes(passed=1)
    output = result.stdout.str() + result.stderr.str()
    assert proxy.password.split("-", 1)[1] not in output and f"{USER}:" not in output
    result.stdout.fnmatch_lines([f"server: {proxy.url('basic')}"])
    assert re.search(r'"GET /basic/ws\?clientId=\w+ HTTP/1\.1" 101', proxy.access_log.read_text()), \
        "the WebSocket upgrade carried the basic auth too"

    with pytest.raises(AuthenticationFailed) as info:
        ComfyClient(proxy.url("basic", f"{USER}:not-{proxy.password}"), ca_bundle=proxy.ca).system_stats()
    assert "HTTP 401 Unauthorized" in str(info.value) and "Authorization (user:password from the URL)" in str(info.value)
    assert proxy.password not in str(info.value) and USER not in str(info.value)


def test_a_proxy_whose_comfyui_is_down_fails_the_run_once(pytester: pytest.Pytester, proxy: NginxProxy) -> None:
    """nginx answers 502 when nothing listens behind it: a server failure, recorded once."""
    with pytest.raises(UpstreamUnavailable, match=r"GET /system_stats was answered HTTP 502 Bad Gateway: a proxy"):
        ComfyClient(proxy.url("down"), ca_bundle=proxy.ca).system_stats()
    project = Project(pytester, proxy.url("down"))
    project.batch("noise.json", noise_batch([{"id": "a", "seed": 1}, {"id": "b", "seed": 2}]))
    result = project.run("batches/", "--comfy-ca-bundle", str(proxy.ca))
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert output.count("is not available (details in the session summary)") == 2, output
    assert output.count("a proxy in front of ComfyUI cannot reach it") == 1, output

