"""Options and URLs: precedence (command line, then environment, then ini, then default) of the
server URL, timeout, headers and CA bundle; several URLs shared out to workers; credentials kept out
of every URL shown; http(s) mapped to ws(s). No server: the configuration alone (pytester.parseconfig)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from comfy_plugin.client import ComfyClient, without_credentials
from comfy_plugin.errors import ServerUnavailable
from comfy_plugin.plugin.options import DEFAULT_URL, resolve
from comfy_plugin.urls import split_credentials

CALLERS_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "COMFY_CA_BUNDLE", "COMFY_HEADERS", "COMFY_URL", "COMFY_LAUNCH",
               "COMFY_TIMEOUT")


@pytest.fixture(autouse=True)
def no_callers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's environment sets nothing here: each test sets what it means."""
    for name in CALLERS_ENV:
        monkeypatch.delenv(name, raising=False)


def test_option_precedence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\ncomfy_url = http://ini:1\ncomfy_timeout = 30\ncomfy_launch = ComfyUI\n")
    settings = resolve(pytester.parseconfig())
    assert settings.url == "http://ini:1"
    assert settings.timeout_s == 30
    assert settings.launch == pytester.path / "ComfyUI"

    monkeypatch.setenv("COMFY_URL", "http://env:2")
    settings = resolve(pytester.parseconfig())
    assert (settings.url, settings.launch) == ("http://env:2", None), "environment beats ini; a URL launches nothing"

    settings = resolve(pytester.parseconfig("--comfy-url", "http://cli:3", "--comfy-timeout", "5"))
    assert (settings.url, settings.launch, settings.timeout_s) == ("http://cli:3", None, 5)

    monkeypatch.delenv("COMFY_URL")
    pytester.makeini("[pytest]\n")
    assert resolve(pytester.parseconfig()).url == DEFAULT_URL
    with pytest.raises(pytest.UsageError, match="exclude each other"):
        resolve(pytester.parseconfig("--comfy-url", "http://a:1", "--comfy-launch", "x"))

def test_prefetch_is_auto_unless_a_number_is_given(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """None is "auto" (run/pipeline.py Depth); a negative number queues nothing ahead."""
    monkeypatch.delenv("COMFY_PREFETCH", raising=False)
    assert resolve(pytester.parseconfig()).prefetch is None
    assert resolve(pytester.parseconfig("--comfy-prefetch", "3")).prefetch == 3
    assert resolve(pytester.parseconfig("--comfy-prefetch=-1")).prefetch == 0
    assert resolve(pytester.parseconfig("--comfy-prefetch", " Auto ")).prefetch is None
    pytester.makeini("[pytest]\ncomfy_prefetch = 0\n")
    assert resolve(pytester.parseconfig()).prefetch == 0
    monkeypatch.setenv("COMFY_PREFETCH", "auto")
    assert resolve(pytester.parseconfig()).prefetch is None, "the environment beats the ini"
    with pytest.raises(pytest.UsageError, match=r"--comfy-prefetch: not a valid value: 'two'"):
        resolve(pytester.parseconfig("--comfy-prefetch", "two"))


def test_repeated_and_separated_urls(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = resolve(pytester.parseconfig("--comfy-url", "http://a:1", "--comfy-url", "http://b:2"))
    assert settings.urls == ("http://a:1", "http://b:2")
    assert [settings.url_for_worker(n) for n in range(3)] == ["http://a:1", "http://b:2", "http://a:1"]
    monkeypatch.setenv("COMFY_URL", "http://c:3, http://d:4")
    assert resolve(pytester.parseconfig()).urls == ("http://c:3", "http://d:4")

def test_header_options(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = resolve(pytester.parseconfig("--comfy-header", "X-A: 1", "--comfy-header", "Cookie: a=1; b=2"))
    assert settings.headers == (("X-A", "1"), ("Cookie", "a=1; b=2"))
    assert "X-A" not in repr(settings) and "a=1" not in repr(settings)
    monkeypatch.setenv("COMFY_HEADERS", "X-B: two; X-C: three\nAuthorization: Bearer t")
    assert resolve(pytester.parseconfig()).headers == (("X-B", "two"), ("X-C", "three"), ("Authorization", "Bearer t"))
    assert resolve(pytester.parseconfig("--comfy-header", "X-D: cli")).headers == (("X-D", "cli"),), "cli beats env"
    monkeypatch.delenv("COMFY_HEADERS")
    pytester.makeini("[pytest]\ncomfy_headers =\n    X-E: ini\n    X-F: also\ncomfy_restart_on_crash = true\n")
    settings = resolve(pytester.parseconfig())
    assert settings.headers == (("X-E", "ini"), ("X-F", "also")) and settings.restart_on_crash
    with pytest.raises(pytest.UsageError) as info:
        resolve(pytester.parseconfig("--comfy-header", "Authorization Bearer hunter2"))
    assert "header #1 is not of the form 'Name: value'" in str(info.value) and "hunter2" not in str(info.value)

def test_ca_bundle_option_precedence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Command line > environment > ini > default; an ini path is relative to the ini's folder."""
    assert resolve(pytester.parseconfig()).ca_bundle is None
    pytester.makeini("[pytest]\ncomfy_ca_bundle = certs/ini.pem\n")
    assert resolve(pytester.parseconfig()).ca_bundle == pytester.path / "certs" / "ini.pem"
    monkeypatch.setenv("COMFY_CA_BUNDLE", "/etc/env.pem")
    assert resolve(pytester.parseconfig()).ca_bundle == Path("/etc/env.pem")
    assert resolve(pytester.parseconfig("--comfy-ca-bundle", "/etc/cli.pem")).ca_bundle == Path("/etc/cli.pem")

def test_settings_keep_urls_without_credentials(pytester: pytest.Pytester) -> None:
    settings = resolve(pytester.parseconfig("--comfy-url", "https://u:hunter2@gpu.example/comfy/",
                                            "--comfy-url", "http://127.0.0.1:8188"))
    assert settings.urls == ("https://gpu.example/comfy/", "http://127.0.0.1:8188")
    assert "hunter2" not in repr(settings)
    assert settings.connect_url(settings.urls[0]) == "https://u:hunter2@gpu.example/comfy/"
    assert settings.connect_url(settings.urls[1]) == "http://127.0.0.1:8188"

@pytest.mark.parametrize("url, shown, sent", [
    ("https://u:p%40ss@gpu.example/comfy/", "https://gpu.example/comfy/", "u:p@ss"),
    ("http://user@[::1]:8188", "http://[::1]:8188", "user:"),
    ("http://127.0.0.1:8188/a@b", "http://127.0.0.1:8188/a@b", None),
    ("https://@host/", "https://host/", None),
])
def test_credentials_leave_the_url(url: str, shown: str, sent: str | None) -> None:
    clean, header = split_credentials(url)
    assert clean == shown == without_credentials(url)
    assert (base64.b64decode(header.removeprefix("Basic ")).decode() if header else None) == sent

@pytest.mark.parametrize("url, ws", [
    ("http://127.0.0.1:8188", "ws://127.0.0.1:8188/ws?clientId="),
    ("https://comfy.example.com", "wss://comfy.example.com/ws?clientId="),
    ("https://gpu.example.com:8443/comfy/", "wss://gpu.example.com:8443/comfy/ws?clientId="),
])
def test_https_maps_to_wss(url: str, ws: str) -> None:
    client = ComfyClient(url, headers={"Authorization": "Bearer x"})
    assert client.ws_url.startswith(ws) and client.ws_url == ws + client.client_id

def test_not_an_http_url_is_refused() -> None:
    with pytest.raises(ServerUnavailable, match="not an http"):
        ComfyClient("ftp://example.com")
