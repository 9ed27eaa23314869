"""Command: the API-format prompt of a UI-format workflow, as the ComfyUI editor would queue it.

    python -m comfy_plugin convert WORKFLOW.json (--url URL | --object-info FILE) [-o OUT.json]

``FILE`` is the raw JSON of ``GET /object_info``. The prompt goes to stdout (or OUT.json);
an API-format workflow is written back as it is. Exit codes: 0 converted; 2 a bad file, or
a node type the server lacks (one line names the node); 3 the server cannot be reached, or an
unexpected error (one line, no traceback, asking to report it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ComfyError, ServerUnavailable, UIFormatError
from ..files import write_atomically
from ..settings import MAX_UI_NODES
from ..urls import without_credentials
from .prompt import convert, is_api_format, is_ui_format

EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3


class _Failure(Exception):
    def __init__(self, code: int, line: str) -> None:
        super().__init__(line)
        self.code = code
        self.line = line


def one_line(err: BaseException) -> str:
    """An error's message on one line (a hint goes in parentheses)."""
    lines = [part.strip() for part in str(err).splitlines() if part.strip()]
    hints = [line[len("hint:"):].strip() for line in lines if line.startswith("hint:")]
    text = "; ".join(line for line in lines if not line.startswith("hint:"))
    return text + (f" (hint: {'; '.join(hints)})" if hints else "")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise _Failure(EXIT_BAD_INPUT, f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _Failure(EXIT_BAD_INPUT, f"{path}: the {what} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _Failure(EXIT_BAD_INPUT, f"{path}: the {what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                       f"column {exc.colno}") from None
    except RecursionError:
        raise _Failure(EXIT_BAD_INPUT, f"{path}: the {what} nests arrays or objects too deeply to read") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise _Failure(EXIT_BAD_INPUT, f"{path}: the {what} cannot be read: {exc}") from None


def _server_info(url: str, ca_bundle: str | None = None) -> tuple[dict[str, Any], str | None]:
    """The server's /object_info and, when it says, its ComfyUI version."""
    from ..client import ComfyClient  # (only this path talks to a server)

    shown = without_credentials(url)  # user:password@ is sent as basic auth, never printed
    try:
        client = ComfyClient(url, ca_bundle=ca_bundle)
        info = client.object_info()
    except ServerUnavailable as exc:
        raise _Failure(EXIT_UNREACHABLE, f"cannot get /object_info from ComfyUI at {shown}: {exc.what}") from None
    except ComfyError as exc:
        raise _Failure(EXIT_UNREACHABLE, f"{shown}: /object_info did not answer as a ComfyUI does: {one_line(exc)}") \
            from None
    try:
        version = (client.system_stats().get("system") or {}).get("comfyui_version")
    except ComfyError:
        version = None
    return info, str(version) if version else None


def _object_info(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    if args.url:
        return _server_info(args.url, args.ca_bundle)
    info = _read_json(Path(args.object_info), "object info")
    if not isinstance(info, dict) or not all(isinstance(v, dict) for v in info.values()):
        raise _Failure(EXIT_BAD_INPUT, f"{args.object_info}: not the JSON of GET /object_info "
                                       "(an object of node classes)")
    return info, None


def prompt_for(args: argparse.Namespace) -> dict[str, Any]:
    """The prompt to write: converted, or the API-format workflow as it is."""
    path = Path(args.workflow)
    data = _read_json(path, "workflow")
    if is_api_format(data):
        prompt: dict[str, Any] = data  # (JSON: a mapping read is a dict)
        return prompt
    if not is_ui_format(data):
        raise _Failure(EXIT_BAD_INPUT, f"{path}: not a ComfyUI workflow: neither the UI format ('nodes' and "
                                       "'links') nor the API format (nodes with 'class_type')")
    info, version = _object_info(args)
    try:
        return convert(data, info, str(path), server_version=version, max_nodes=args.max_nodes)
    except UIFormatError as exc:
        raise _Failure(EXIT_BAD_INPUT, one_line(exc)) from None


def _write(prompt: dict[str, Any], out: str | None) -> None:
    text = json.dumps(prompt, indent=2, ensure_ascii=False) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate ("\\ud800" in the file) is no Unicode text
        raise _Failure(EXIT_BAD_INPUT, f"the prompt holds text that is not valid Unicode ({text[exc.start]!r}, a "
                                       "lone surrogate, near: "
                                       f"{text[max(0, exc.start - 40):exc.start]!r}); fix that text in the workflow") \
            from None
    if out is None:
        sys.stdout.write(text)
        return
    try:
        write_atomically(Path(out), data)
    except OSError as exc:
        raise _Failure(EXIT_BAD_INPUT, f"{out}: cannot write the prompt: {exc.strerror or exc}") from None


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m comfy_plugin convert",
        description="Write the API-format prompt that the ComfyUI editor would queue for a UI-format "
                    "workflow (an API-format workflow is written back as it is).")
    ap.add_argument("workflow", metavar="WORKFLOW.json", help="a workflow saved by the editor (Workflow > Save)")
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a running ComfyUI, e.g. http://127.0.0.1:8188 (its /object_info is read)")
    source.add_argument("--object-info", metavar="FILE", help="the JSON of GET /object_info, saved to a file")
    ap.add_argument("--ca-bundle", metavar="PATH", help="CA certificates that verify an https --url (default: the "
                    "system's, or SSL_CERT_FILE)")
    ap.add_argument("-o", "--output", metavar="OUT.json", help="write here instead of stdout")
    ap.add_argument("--max-nodes", metavar="N", type=_positive, default=MAX_UI_NODES,
                    help=f"most nodes the workflow may have once its subgraphs are expanded (default {MAX_UI_NODES})")
    return ap


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _write(prompt_for(args), args.output)
    except _Failure as failure:
        print(f"error: {failure.line}", file=sys.stderr)
        return failure.code
    except Exception as exc:  # the safety net: a bug met by some file ends in one line, not a traceback
        print(f"error: internal error converting {args.workflow}: {type(exc).__name__}: {one_line(exc)[:300]}; "
              "please report it", file=sys.stderr)
        return EXIT_UNREACHABLE
    return 0

