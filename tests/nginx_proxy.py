"""Debian's nginx in front of a real ComfyUI, as teams run it on shared GPU machines: HTTPS
with a certificate from a CA made for the test, a path prefix, the WebSocket upgrade, and
credentials the proxy enforces.

Everything nginx needs lies in one folder (config, pid, logs, temp paths); it runs in the
foreground (``daemon off``), bound to 127.0.0.1 on a free port. Three prefixes lead to the
same ComfyUI:

- ``/comfy/``: needs the header ``X-API-Key`` (none: 401, a wrong one: 403);
- ``/idle/``: the same, but its WebSocket is closed after ``idle_s`` without a message, as a
  proxy with a short ``proxy_read_timeout`` does;
- ``/basic/``: needs basic auth (``USER``, ``password``);
- ``/wsdenied/``: HTTP passes without credentials, the WebSocket upgrade is refused (403);
- ``/noupgrade/``: a proxy that does not pass the upgrade on (HTTP/1.0, no Upgrade header);
- ``/moved/``: redirects everything to ``/comfy/`` on another address (localhost).

The certificates are made with Debian's ``openssl`` command: a test CA that signs the
server's certificate (for 127.0.0.1 and localhost), and an unrelated CA that does not.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from comfy_plugin.server.launcher import free_port

USER = "tester"
#: How long nginx may take to listen.
START_TIMEOUT_S = 15.0

CONFIG = """\
daemon off;
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_max_body_size 100m;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream comfyui {{ server {upstream}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        location /comfy/ {{
{key_check}
{proxied}
        }}
        location = /idle/ws {{
{key_check}
{proxied_ws}
            proxy_read_timeout {idle_ms}ms;
        }}
        location /idle/ {{
{key_check}
{proxied}
        }}
        location /basic/ {{
            auth_basic "ComfyUI";
            auth_basic_user_file {d}/htpasswd;
{proxied}
            proxy_set_header Authorization "";
        }}
        location = /wsdenied/ws {{ return 403; }}
        location /wsdenied/ {{
{proxied}
        }}
        location /noupgrade/ {{
            proxy_pass http://comfyui/;
        }}
        location /moved/ {{ return 301 https://localhost:{port}/comfy/; }}
        location /down/ {{ proxy_pass http://127.0.0.1:1/; }}
    }}
}}
"""
#: No key: 401; a wrong key: 403 (both as proxies commonly answer).
KEY_CHECK = """\
            if ($http_x_api_key = "") {{ return 401; }}
            if ($http_x_api_key != "{key}") {{ return 403; }}
            proxy_set_header X-API-Key "";"""
#: proxy_pass with a path replaces the location's: /comfy/ws -> /ws (for an exact location, its whole path).
PROXIED = """\
            proxy_pass http://comfyui{path};
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_buffering off;"""


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the test CA (PEM): the bundle that verifies the proxy
    other_ca: Path  # an unrelated CA: verifies nothing here
    cert: Path  # the server's certificate, signed by ``ca``
    key: Path


def openssl(*args: str, cwd: Path) -> str:
    run = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {run.stderr.strip()}")
    return run.stdout


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key.name, "-out", cert.name, "-days", "2", "-subj", f"/CN=comfy test {name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=folder)
    return cert, key


def make_certificates(folder: Path) -> Certificates:
    """A test CA, a server certificate it signs (127.0.0.1, localhost), and an unrelated CA."""
    ca, ca_key = make_ca(folder, "ca")
    other_ca, _ = make_ca(folder, "other-ca")
    (folder / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    openssl("x509", "-req", "-in", "server.csr", "-CA", ca.name, "-CAkey", ca_key.name, "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=folder)
    return Certificates(ca, other_ca, folder / "server.pem", folder / "server.key")


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which is not on every user's PATH."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class NginxProxy:
    def __init__(self, upstream_url: str, folder: Path, idle_s: float = 1.0) -> None:
        parts = urllib.parse.urlsplit(upstream_url)
        self.upstream = f"{parts.hostname}:{parts.port or 80}"
        self.folder = folder
        self.idle_s = idle_s
        self.api_key = "key-" + secrets.token_hex(12)
        self.password = "pw-" + secrets.token_hex(12)
        self.port = 0
        self.certs: Certificates | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ca(self) -> Path:
        assert self.certs is not None, "start() first"
        return self.certs.ca

    @property
    def other_ca(self) -> Path:
        assert self.certs is not None, "start() first"
        return self.certs.other_ca

    @property
    def error_log(self) -> Path:
        return self.folder / "error.log"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    def url(self, prefix: str = "comfy", userinfo: str = "") -> str:
        """``https://127.0.0.1:PORT/PREFIX/``; ``userinfo`` (``user:password``) goes before the host."""
        at = f"{userinfo}@" if userinfo else ""
        return f"https://{at}127.0.0.1:{self.port}/{prefix}/"

    def start(self) -> NginxProxy:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("no nginx: run scripts/system-packages.sh (make test installs it)")
        (self.folder / "tmp").mkdir(parents=True, exist_ok=True)
        self.certs = make_certificates(self.folder)
        digest = openssl("passwd", "-apr1", self.password, cwd=self.folder).strip()
        (self.folder / "htpasswd").write_text(f"{USER}:{digest}\n")
        self.port = free_port()
        config = self.folder / "nginx.conf"
        config.write_text(self.config())
        with open(self.folder / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen([binary, "-p", str(self.folder), "-c", str(config),
                                             "-e", str(self.error_log)], stdin=subprocess.DEVNULL,
                                            stdout=stderr, stderr=stderr, start_new_session=True)
        self._wait_listening()
        return self

    def config(self) -> str:
        # As root, nginx's workers would switch to an unprivileged user that cannot read this
        # folder (htpasswd, temp paths): they stay root instead; as anyone else nothing switches.
        user = "user root root;" if os.geteuid() == 0 else ""
        return CONFIG.format(d=self.folder, user=user, upstream=self.upstream, port=self.port,
                             idle_ms=round(self.idle_s * 1000), key_check=KEY_CHECK.format(key=self.api_key),
                             proxied=PROXIED.format(path="/"), proxied_ws=PROXIED.format(path="/ws"))

    def _wait_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not listen within {START_TIMEOUT_S:g} s: {self._log_tail()}")
                time.sleep(0.05)

    def _log_tail(self) -> str:
        texts = [p.read_text(errors="replace") for p in (self.folder / "stderr.log", self.error_log) if p.exists()]
        return "\n".join(texts)[-2000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown, workers included
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> NginxProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
