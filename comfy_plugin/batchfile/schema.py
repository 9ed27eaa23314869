"""The published JSON Schema of batch files, and its errors as problems a person can act on.

The schema ships in the package (``batch.schema.json``, JSON Schema 2020-12); editors use
it for completion, the harness validates every batch file with it before anything runs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..errors import Problem

if TYPE_CHECKING:  # jsonschema is imported when a validator is built, not by importing this module
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_PATH = Path(__file__).with_name("batch.schema.json")


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with each local ``{"$ref": "#/$defs/x"}`` replaced by its definition: the
    same rules, but validation no longer resolves references (several times faster)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            merged = {**inline_refs(defs[ref[len("#/$defs/"):]], defs),
                      **{k: v for k, v in node.items() if k != "$ref"}}
            return inline_refs(merged, defs)
        return {k: inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [inline_refs(v, defs) for v in node]
    return node


def make_validator() -> Validator:
    """Build (and check) the validator; the plugin does this once per session."""
    from jsonschema import Draft202012Validator

    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(inline_refs(schema, schema.get("$defs", {})))


def schema_digest() -> str:
    return hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()[:16]


def place_of(path: Iterable[Any]) -> str:
    """``["prompts", 3, "seed"]`` -> ``prompts[3].seed``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice a typo of ``word`` most likely meant, if any is close enough."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, choices: Iterable[str]) -> str:
    close = closest(word, choices)
    return f'did you mean "{close}"?' if close else ""


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _rules(error: ValidationError) -> Mapping[str, Any]:
    """The schema object an error is about (jsonschema types it loosely: ``true`` is a schema too)."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _allowed_keys(schema: Mapping[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


def _unexpected(error: ValidationError) -> list[str]:
    allowed = set(_allowed_keys(_rules(error)))
    patterns = [re.compile(p) for p in _rules(error).get("patternProperties", {})]
    keys = error.instance if isinstance(error.instance, Mapping) else {}  # additionalProperties: an object
    return [k for k in keys if k not in allowed and not any(p.search(k) for p in patterns)]


_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _expected(types: str | list[str]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t) for t in ([types] if isinstance(types, str) else types))


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                       (list, "a list"), (dict, "an object")):
        if isinstance(value, kind):
            return f"{name} ({_short(value)})" if kind not in (list, dict) else name
    return "null"


def problems_of(error: ValidationError) -> list[Problem]:  # noqa: PLR0911  (one answer per kind of rule)
    """One schema error as problems: the place, the value, the rule, and a hint."""
    place = place_of(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = _allowed_keys(_rules(error))
        return [Problem(place_of([*error.absolute_path, key]), f"unknown key '{key}'",
                        suggest(key, allowed) or f"allowed here: {', '.join(allowed)}")
                for key in _unexpected(error)]
    if error.validator == "required":
        missing = re.match(r"'([^']+)'", error.message)
        key = missing.group(1) if missing else "?"
        return [Problem(place, f"missing required key '{key}'", "see the batch format in README.md")]
    rule = _rules(error).get("description") if error.validator in ("oneOf", "anyOf") else None
    if rule:
        return [Problem(place, f"{_short(error.instance)} is not valid: expected {rule}")]
    if error.validator == "type":
        expected = _expected(cast("str | list[str]", error.validator_value))  # a "type" rule's value
        return [Problem(place, f"must be {expected}, found {_json_type(error.instance)}")]
    if error.validator == "minLength" and error.instance == "":
        return [Problem(place, "must not be empty")]
    if error.validator == "minItems" and error.instance == []:
        return [Problem(place, "the list is empty: nothing to run" if place == "prompts" else "must not be empty")]
    return [Problem(place, f"{error.message} (rule: {error.validator})")]


def validate(validator: Validator, data: Any) -> list[tuple[list[Any], Problem]]:
    """All problems, each with the path of the error, in document order."""
    found = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        for problem in problems_of(error):
            found.append((list(error.absolute_path), problem))
    return found


class Cache(Protocol):
    """pytest's ``config.cache``: JSON values under string keys, kept between runs."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


def validate_cached(validator: Validator, data: Any, raw: bytes,
                    cache: Cache | None) -> list[tuple[list[Any], Problem]]:
    """``validate``, remembered by the digest of the file's bytes and of the schema."""
    if cache is None:
        return validate(validator, data)
    key = f"comfy_plugin/schema/{schema_digest()}-{hashlib.sha256(raw).hexdigest()[:32]}"
    stored = cache.get(key, None)
    if isinstance(stored, list):
        return [(path, Problem(*problem)) for path, problem in stored]
    found = validate(validator, data)
    cache.set(key, [[path, [p.place, p.message, p.hint]] for path, p in found])
    return found


def prompt_index(path: list[Any] | deque) -> int | None:
    """The prompt an error belongs to, or None for a structural error."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "prompts" and isinstance(parts[1], int):
        return parts[1]
    return None
