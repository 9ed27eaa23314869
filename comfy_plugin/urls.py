"""Credentials in a server URL (``https://user:password@host/``): sent as basic auth, never shown.

Plain string work with the standard library, so the option layer can use it without
importing the client.
"""

from __future__ import annotations

import base64
import re
import urllib.parse

#: scheme://, then an optional user:password@ in the authority (before the first / ? or #).
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:(?P<userinfo>[^/?#]*)@)?(?P<rest>.*)$", re.S)


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without its ``user:password@`` (the one to show and to connect to), and the
    ``Authorization`` value that sends them as basic auth (None when the URL has none).
    Percent-escapes in the user and password are decoded (``p%40ss`` is ``p@ss``)."""
    match = _USERINFO.match(url)
    if match is None or match["userinfo"] is None:
        return url, None
    if not match["userinfo"]:  # a bare "@": nothing to send
        return match["scheme"] + match["rest"], None
    user, _, password = match["userinfo"].partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    return match["scheme"] + match["rest"], "Basic " + base64.b64encode(pair).decode("ascii")


def without_credentials(url: str) -> str:
    """The URL as it may be shown: any ``user:password@`` removed."""
    return split_credentials(url)[0]
