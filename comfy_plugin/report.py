"""The terminal summary: the server, what was saved, seeds drawn, and a server failure once."""

from __future__ import annotations

from .session import ComfySession


def summary(tr, session: ComfySession) -> None:
    if not session.records and session.failure is None and not session.cancelled:
        return
    tr.write_sep("-", "ComfyUI")
    if session.server is not None:
        tr.write_line(f"server: {session.url} (launched; log: {session.server.log_path})")
    elif session.settings.launch is not None:
        tr.write_line(f"server: to be launched from {session.settings.launch}")
    else:
        tr.write_line(f"server: {session.url}")
    saved = [p for r in session.records for p in r.saved]
    if saved:
        folders = sorted({str(p.parent) for p in saved})
        tr.write_line(f"{len(saved)} file(s) saved in {', '.join(folders)}")
    drawn = [r for r in session.records if r.drawn_seed is not None]
    if drawn:
        tr.write_line("random seeds drawn:")
        for r in drawn:
            tr.write_line(f"  {r.nodeid}  seed {r.drawn_seed}")
    busy = [r.execution_s for r in session.records if r.execution_s is not None]
    if busy:
        tr.write_line(f"server execution time: {sum(busy):.2f} s over {len(busy)} prompt(s)")
    if session.cancelled:
        tr.write_line(f"removed {len(session.cancelled)} prompt(s) queued ahead for tests that did not run: "
                      + ", ".join(session.cancelled))
    if session.failure is not None:
        tr.write_line("")
        tr.write_line(str(session.failure), red=True, bold=True)
