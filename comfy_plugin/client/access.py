"""What it takes to reach a server behind a proxy: credentials taken out of the URL (sent as
basic auth, never shown), the TLS context that verifies an https server, and the errors that
say which of the two failed, without a secret in them.

There is deliberately no way to turn certificate verification off: a server with its own CA
is reached by passing that CA (``--comfy-ca-bundle``).
"""

from __future__ import annotations

import http
import os
import ssl
from collections.abc import Iterable

from ..errors import AuthenticationFailed, ServerUnavailable, TlsVerificationFailed

#: Answers that mean "these credentials are not good enough" (from ComfyUI or a proxy).
AUTH_STATUSES = (401, 403)
CA_HINT = ("pass the certificate of the CA that signed the server's certificate (a PEM file) with "
           "--comfy-ca-bundle PATH (environment COMFY_CA_BUNDLE, ini comfy_ca_bundle; SSL_CERT_FILE is used "
           "when none is given); certificate verification cannot be turned off")
AUTH_HINT = ("check the credentials: a header with --comfy-header 'NAME: VALUE' (environment COMFY_HEADERS, "
             "ini comfy_headers), or https://USER:PASSWORD@HOST/ in --comfy-url for basic auth")
#: OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH.
HOSTNAME_MISMATCH = 62


def tls_context(url: str, ca_bundle: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """The context that verifies an https server: against ``ca_bundle`` when given, else
    against the system's store (OpenSSL reads SSL_CERT_FILE and SSL_CERT_DIR for it)."""
    try:
        return ssl.create_default_context(cafile=os.fspath(ca_bundle) if ca_bundle else None)
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ServerUnavailable(url, f"cannot use the CA bundle {ca_bundle} ({reason})", CA_HINT) from None


def trust_source(ca_bundle: str | os.PathLike[str] | None) -> str:
    """What the certificate was checked against, for a message."""
    if ca_bundle:
        return f"the CA bundle {os.fspath(ca_bundle)}"
    if os.environ.get("SSL_CERT_FILE"):
        return f"SSL_CERT_FILE={os.environ['SSL_CERT_FILE']}"
    return "this machine's CA store"


def tls_failure(url: str, exc: ssl.SSLCertVerificationError,
                ca_bundle: str | os.PathLike[str] | None) -> TlsVerificationFailed:
    """A failed certificate check as one clear message: why, against what, and what to pass."""
    why = exc.verify_message or exc.reason or "certificate verify failed"
    hint = CA_HINT
    if exc.verify_code == HOSTNAME_MISMATCH:
        hint = "the certificate was made for another name: use that host name in --comfy-url; " + CA_HINT
    return TlsVerificationFailed(url, f"TLS verification failed: {why} (checked against {trust_source(ca_bundle)})",
                                 hint)


def auth_failure(url: str, request: str, status: int, header_names: Iterable[str]) -> AuthenticationFailed:
    """A 401/403 as an authentication failure that names the headers sent, never their values."""
    try:
        phrase = " " + http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    names = list(header_names)
    sent = f"sent: {', '.join(names)} (values not shown)" if names else "no credentials were sent"
    return AuthenticationFailed(url, f"authentication failed: {request} was answered HTTP {status}{phrase} by the "
                                     f"server or a proxy in front of it; {sent}", AUTH_HINT)
