"""Text outputs, a built-in kind: what ``PreviewAny`` ("Preview as Text") and other nodes list
under ``text``. Compared exactly by default, or ignoring whitespace where the batch file or the
prompt says ``"baseline": {"text_whitespace": "ignore"}``; a failure shows a unified diff.

What an entry keeps: the text itself, so that a baseline is reviewable where it lies and a
pending result can be accepted without a rerun. A short one-line text sits in the entry (the
JSON stays readable); a longer one goes to a plain ``.txt`` beside it, named after the prompt
and the output's index (``x.thumbs/<prompt id>_<index>.txt``), so that a changed text shows in
``git diff`` as the lines that changed, not as one escaped JSON string. Either way the entry
keeps the text's sha256, which a side file is checked against.
"""

from __future__ import annotations

import difflib
import hashlib
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..errors import BaselineError
from .kind import (
    CompareContext,
    KindVerdict,
    OutputKind,
    Readings,
    Recordable,
    SavedOutput,
    SideFiles,
    Stored,
    plain,
    worst,
)

if TYPE_CHECKING:
    from ..client import OutputFile

#: The longest text an entry holds itself (one line only); longer ones go to a side file.
INLINE_CHARS = 200
#: The baseline key that chooses the comparison, and its values.
WHITESPACE_KEY = "text_whitespace"
WHITESPACE_MODES = ("exact", "ignore")
#: Lines of a unified diff shown in a failure message (the report shows it whole).
DIFF_LINES = 40
#: Characters of a text the report card holds.
CARD_CHARS = 20_000
#: How a text shows in the report: wrapped, scrolled when long (the page's stylesheet knows only images).
PRE = 'style="white-space: pre-wrap; max-width: 40em; max-height: 24em; overflow: auto"'
UPDATE_HINT = "if the change is intended, record the new text with --comfy-update-baselines"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TextEntry:
    """One text of one prompt: as observed (``text`` always set) and as stored (``text`` None
    until its side file ``file`` is read)."""

    text: str | None
    sha256: str
    node: str = ""
    seed: int | None = None
    workflow_digest: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    file: str = ""  # the side file holding the text, relative to the baseline file's folder
    kind: ClassVar[str] = "text"

    def _fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "sha256": self.sha256, "node": self.node, "seed": self.seed,
                "workflow_digest": self.workflow_digest, "params": self.params}

    def to_json(self) -> dict[str, Any]:
        """Stored: the text inline, or the side file's name; observed (no file): the text."""
        return {**self._fields(), **({"file": self.file} if self.file else {"text": self.text})}

    def settled(self) -> TextEntry:
        return self

    def side_files(self) -> tuple[str, ...]:
        return (self.file,) if self.file else ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> TextEntry:
        try:
            text, file = data.get("text"), str(data.get("file") or "")
            if (text is None) == (not file) or (text is not None and not isinstance(text, str)):
                raise TypeError("expected either 'text' (a string) or 'file'")
            seed = data.get("seed")
            return cls(text, str(data["sha256"]), str(data.get("node", "")),
                       seed if isinstance(seed, int) else None, str(data.get("workflow_digest", "")),
                       dict(data.get("params") or {}), file)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BaselineError(f"{where}: not a text entry ({exc})") from None


def normalised(text: str, mode: str) -> list[str]:
    """The lines compared: as they are, or (``ignore``) each line's words joined by one space,
    blank lines dropped."""
    if mode == "exact":
        return text.splitlines()
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def same(old: str, new: str, mode: str) -> bool:
    return old == new if mode == "exact" else old.split() == new.split()


def changed_lines(old: str, new: str, mode: str) -> int:
    """Lines added, removed or replaced (a replaced block counts its longer side); 0 when the
    texts are the same under ``mode`` (even if only line breaks differ, when ignoring whitespace)."""
    if same(old, new, mode):
        return 0
    a, b = normalised(old, mode), normalised(new, mode)
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    count = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in opcodes if tag != "equal")
    return max(count, 1)  # texts that differ only where lines are not split still differ


def unified(old: str, new: str, limit: int | None = DIFF_LINES) -> list[str]:
    """The unified diff of two texts (``--- baseline``, ``+++ new``), cut to ``limit`` lines."""
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "baseline", "new", lineterm=""))
    if not lines and old != new:  # only a final newline or the kind of line break differs
        lines = ["--- baseline", "+++ new", f"-{old!r}", f"+{new!r}"]
    if limit is not None and len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more line(s) of the diff"]
    return lines


def _what_changed(entry: TextEntry, seen: TextEntry) -> str:
    """The prompt's parameters or workflow changed since the entry was recorded ("" if not)."""
    keys = sorted(k for k in set(entry.params) | set(seen.params) if entry.params.get(k) != seen.params.get(k))
    if keys:
        shown = ", ".join(f"{k}: {entry.params.get(k)!r:.40} -> {seen.params.get(k)!r:.40}" for k in keys[:3])
        return f"the prompt's parameters changed since the baseline was recorded ({shown})"
    if entry.workflow_digest and entry.workflow_digest != seen.workflow_digest:
        return "the workflow changed since the baseline was recorded"
    return ""


@dataclass(frozen=True)
class _One:
    """One text against its entry."""

    status: str
    distance: float | None
    message: str
    old: str | None


class Texts(OutputKind):
    name = "text"
    noun = "text"

    def recognises(self, file: OutputFile, data: bytes) -> str | None:
        if file.kind != "text":
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return f"{len(text)} character(s), {len(text.splitlines())} line(s)"

    @staticmethod
    def mode(context: CompareContext) -> str:
        """``text_whitespace`` of the prompt, else of the batch file, else exact."""
        chosen = next((layer[WHITESPACE_KEY] for layer in context.layers if WHITESPACE_KEY in layer), "exact")
        if chosen not in WHITESPACE_MODES:
            raise BaselineError(f"baseline.{WHITESPACE_KEY} {chosen!r}: expected one of {', '.join(WHITESPACE_MODES)}")
        return str(chosen)

    def compare(self, stored: list[Stored] | None, outputs: list[SavedOutput], context: CompareContext) -> KindVerdict:
        mode = self.mode(context)
        seen = tuple(self._observe(o, context) for o in outputs)
        entries = cast("list[TextEntry] | None", stored)
        if entries is None:
            card = self._card(seen, [], [], context)
            return KindVerdict(self.name, "missing", f"no baseline for {len(seen)} text(s)", observed=seen, card=card)
        results = [self._one(entries[i] if i < len(entries) else None, s, i, mode, context)
                   for i, s in enumerate(seen)]
        messages = [r.message for r in results if r.status != "match"]
        status = worst([r.status for r in results])
        if len(entries) != len(seen):
            status = worst([status, "diff"])
            messages.insert(0, f"the baseline holds {len(entries)} text(s), the prompt produced {len(seen)}")
        if status == "match":
            ignored = " (whitespace ignored)" if mode == "ignore" else ""
            messages = [f"{len(seen)} text(s) match their baseline{ignored}"]
        readings: Readings = {"changed_lines": (tuple(r.distance for r in results), 0.0)} if results else {}
        unchanged = status == "match" and all(_unchanged(e, s) for e, s in zip(entries, seen, strict=False))
        card = self._card(seen, entries, results, context)
        return KindVerdict(self.name, status, "\n".join(messages), readings, seen, unchanged, card)

    @staticmethod
    def _observe(output: SavedOutput, context: CompareContext) -> TextEntry:
        text = output.data.decode("utf-8")
        return TextEntry(text, digest(text), output.file.node_id, context.seed, context.workflow_digest,
                         plain(dict(context.params)))

    def _one(self, entry: TextEntry | None, seen: TextEntry, index: int, mode: str,
             context: CompareContext) -> _One:
        if entry is None:
            return _One("diff", None, f"text {index} has no baseline entry", None)
        old = self.stored_text(entry, context)
        new = seen.text or ""
        distance = changed_lines(old, new, mode)
        if distance == 0:
            return _One("match", 0.0, "", old)
        changed = _what_changed(entry, seen)
        message = f"text {index} differs from its baseline: {distance} line(s) changed" + (
            " (whitespace ignored)" if mode == "ignore" else "")
        if changed:
            message += f"\n  but {changed}: a changed test, not necessarily a regression"
        diff = "\n".join("    " + line for line in unified(old, new))
        return _One("changed-test" if changed else "diff", float(distance),
                    f"{message}\n{diff}\n  {UPDATE_HINT}", old)

    @staticmethod
    def stored_text(entry: TextEntry, context: CompareContext) -> str:
        """The entry's text: inline, or read from its side file and checked against its digest."""
        if entry.text is not None:
            return entry.text
        path = context.stored_file(entry.file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"cannot read the baseline text {path}: {exc}") from None
        if digest(text) != entry.sha256:
            raise BaselineError(f"{path}: the text does not match the digest its entry records (edited by hand?): "
                                "record it again with --comfy-update-baselines")
        return text

    # -- what a baseline keeps -------------------------------------------------------------

    def read_entry(self, data: Mapping[str, Any], where: str) -> Stored:
        return TextEntry.from_json(data, where)

    def read_observed(self, data: Mapping[str, Any]) -> Recordable:
        entry = TextEntry.from_json(data, "a kept text observation")
        if entry.text is None:
            raise BaselineError("a kept text observation holds no text")
        return entry

    def keep(self, seen: Recordable, files: SideFiles, prompt_id: str, index: int) -> Stored:
        """A short one-line text inline; any other written to ``<prompt id>_<index>.txt``."""
        entry = cast("TextEntry", seen)
        text = entry.text or ""
        if len(text) <= INLINE_CHARS and "\n" not in text and "\r" not in text:
            return replace(entry, file="")
        return replace(entry, file=files.named(prompt_id, index, ".txt", text.encode("utf-8")))

    # -- the report ------------------------------------------------------------------------

    def preview(self, outputs: list[SavedOutput]) -> dict[str, Any]:
        return {"texts": [_shown(o.data.decode("utf-8", "replace"), str(o.path or o.file.filename))
                          for o in outputs], "comparisons": []}

    @staticmethod
    def _card(seen: tuple[TextEntry, ...], entries: list[TextEntry], results: list[_One],
              context: CompareContext) -> dict[str, Any]:
        if not context.report:
            return {}
        comparisons = [{"index": i, "distance": r.distance, "baseline": (r.old or "")[:CARD_CHARS],
                        "new": (seen[i].text or "")[:CARD_CHARS],
                        "diff": "\n".join(unified(r.old, seen[i].text or "", None))[:CARD_CHARS]}
                       for i, r in enumerate(results) if r.old is not None and r.status != "match"]
        return {"texts": [_shown(s.text or "", s.node) for s in seen], "comparisons": comparisons}

    def card_html(self, card: Mapping[str, Any], link: Callable[[str, str], str]) -> str:
        e = html.escape
        parts = []
        for c in card.get("comparisons") or []:
            parts.append(
                f'<div class="compare text-compare"><div class="label">text {e(str(c.get("index")))}: '
                f'{e(str(c.get("distance")))} line(s) changed</div><div class="row">'
                f'<figure>{_pre(c.get("baseline"))}<figcaption>baseline</figcaption></figure>'
                f'<figure>{_pre(c.get("new"))}<figcaption>new</figcaption></figure></div>'
                f'{_pre(c.get("diff"), "text diff")}</div>')
        texts = card.get("texts") or []
        if texts and not parts:
            parts.append('<div class="row outputs texts">' + "".join(
                f'<figure>{_pre(t.get("text"))}'
                f'<figcaption>{e(str(t.get("where", "")))}</figcaption></figure>' for t in texts) + "</div>")
        return "\n".join(parts)


def _pre(text: Any, css: str = "text") -> str:
    return f'<pre class="{css}" {PRE}>{html.escape(str(text or ""))}</pre>'


def _shown(text: str, where: str) -> dict[str, str]:
    return {"text": text[:CARD_CHARS], "where": where}


def _unchanged(entry: TextEntry, seen: TextEntry) -> bool:
    """An update keeps the entry: the same text (by digest) and nothing about the test changed."""
    return entry.sha256 == seen.sha256 and not _what_changed(entry, seen)
