"""Files → frozen config models, and pydantic errors → one line per problem (exit 2)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from trading_runtime.errors import InputError
from trading_runtime.golden.canonical import canonical_bytes, sha256_hex

M = TypeVar("M", bound=BaseModel)


def format_loc(loc: Sequence[int | str], prefix: str = "") -> str:
    """``('sweep', 'params', 'fast', 'values', 2)`` → ``sweep.params.fast.values[2]``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, BaseModel) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """Field names of the model that owns ``loc[-1]`` (for 'did you mean' hints)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


# Parts of a pydantic error location that name a union member or a validator, not a JSON key or index:
# "list[union[int,float,str,bool]]", "function-after[_ordered(), RangeSpec]", "int", "constrained-str".
_TYPE_LABELS = frozenset({"int", "float", "str", "bool", "list", "dict", "none", "tuple", "set", "bytes", "literal"})


def _is_type_label(part: str) -> bool:
    return "[" in part or "(" in part or part in _TYPE_LABELS or part.startswith(("constrained-", "function-"))


def clean_loc(loc: Sequence[int | str], raw: Any = None) -> tuple[tuple[int | str, ...], bool]:
    """The JSON path of an error location: union member labels and discriminator tags (``grid`` of
    ``sweep.kind``) removed by walking the input ``raw``; also whether a union member label was removed."""
    out: list[int | str] = []
    node, known, dropped = raw, raw is not None, False
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
            continue
        if known and isinstance(node, dict) and part in (node.get("kind"), node.get("type")):
            continue  # the tag of a discriminated union: the path continues inside the same object
        if _is_type_label(part) or (known and node is not None and not isinstance(node, dict)):
            dropped = True
            continue
        out.append(part)
        node, known = None, False
    return tuple(out), dropped


# Error types of a union member whose shape (object, list) is not the input's.
_SHAPE_ERRORS = frozenset({"model_type", "dict_type", "list_type", "model_attributes_type", "is_instance_of"})


def _merge_alternatives(messages: list[str]) -> str:
    """One message for the failed members of a union: "a valid integer, number or string"."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    stem = "Input should be a valid "
    if all(m.startswith(stem) for m in unique):
        kinds = [m[len(stem):] for m in unique]
        return stem + ", ".join(kinds[:-1]) + " or " + kinds[-1]
    return "; or ".join(unique)


def render_validation_error(
    err: ValidationError, source: str, model: type[BaseModel] | None = None, prefix: str = "", raw: Any = None
) -> list[str]:
    """One line per problem: ``file: json.path: message (got value)``.

    ``raw`` (the validated input) lets union member labels and discriminator tags be left out of paths.
    """
    lines = []
    pending: dict[tuple[int | str, ...], tuple[list[str], Any]] = {}
    order: list[tuple[int | str, ...]] = []
    errors = [(e, *clean_loc(tuple(e["loc"]), raw)) for e in err.errors(include_url=False)]
    for e, path, union_member in errors:
        loc = tuple(e["loc"])
        if union_member and e["type"] in _SHAPE_ERRORS and any(
                p[:len(path)] == path and (len(p) > len(path) or other["type"] not in _SHAPE_ERRORS)
                for other, p, _ in errors if other is not e):
            continue  # a union member of another shape (a range object for a list): the other member's error says more
        where = format_loc(path, prefix)
        kind = e["type"]
        msg = e["msg"]
        if kind == "extra_forbidden":
            msg = "unknown key"
            if model is not None and loc and isinstance(loc[-1], str):
                close = difflib.get_close_matches(loc[-1], _allowed_keys(model, loc), n=1)
                if close:
                    msg += f" (did you mean '{close[0]}'?)"
            lines.append(f"{source}: {where}: {msg}")
            continue
        if kind == "missing":
            lines.append(f"{source}: {where}: required key is missing")
            continue
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            lines.append(f"{source}: {where}: {msg}")
            continue
        if union_member:  # one line per path for all the members of the union that failed
            if path not in pending:
                pending[path] = ([], e.get("input"))
                order.append(path)
                lines.append(f"\x00{len(order) - 1}")
            pending[path][0].append(msg)
            continue
        if not path and not prefix:  # a rule over the whole document names its own JSON paths
            lines.append(f"{source}: {msg}")
            continue
        got = "" if "(got " in msg else f" (got {_short(e.get('input'))})"
        lines.append(f"{source}: {where}: {msg}{got}")
    out = []
    for line in lines:
        if line.startswith("\x00"):
            path = order[int(line[1:])]
            messages, value = pending[path]
            out.append(f"{source}: {format_loc(path, prefix)}: {_merge_alternatives(messages)} (got {_short(value)})")
        else:
            out.append(line)
    return out


def read_json_file(path: Path, display: str | None = None) -> Any:
    """Parse a JSON file; errors name the file, line and column."""
    name = display or str(path)
    return parse_json_bytes(read_file_bytes(path, name), name)


def read_file_bytes(path: Path, name: str) -> bytes:
    """The bytes of a local config file; a missing or unreadable one is one InputError line naming ``name``."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, expected a JSON file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror}") from None


def parse_json_bytes(content: bytes, name: str) -> Any:
    """Parse JSON text read from ``name`` (a file, a store URI, stdin); errors name it, the line and column."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except DuplicateKeyError as e:
        raise InputError(f"{name}: {e}") from None
    except json.JSONDecodeError as e:
        lines = text.splitlines()
        context = lines[e.lineno - 1].strip() if 0 < e.lineno <= len(lines) else ""
        where = f"line {e.lineno} column {e.colno}"
        raise InputError(f"{name}: {where}: invalid JSON: {e.msg} (near {context!r})") from None
    except ValueError as e:
        raise InputError(f"{name}: invalid JSON: {e}") from None


class DuplicateKeyError(ValueError):
    """A JSON object names a key twice (JSON parsers keep the last silently: ambiguous, refused)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"duplicate key {json.dumps(key, ensure_ascii=False)} in an object with keys "
                                    f"{_short([k for k, _ in pairs])} (each key once: which value was meant?)")
        out[key] = value
    return out


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON (use null)")


def load_model(model: type[M], path: Path, display: str | None = None) -> M:
    """Read ``path`` and validate it as ``model``; every problem becomes one InputError line."""
    name = display or str(path)
    raw = read_json_file(path, name)
    return validate_model(model, raw, name)


def load_model_bytes(model: type[M], content: bytes, name: str) -> M:
    """Validate JSON text read from ``name`` as ``model``; every problem becomes one InputError line."""
    return validate_model(model, parse_json_bytes(content, name), name)


def validate_model(model: type[M], raw: Any, source: str, prefix: str = "") -> M:
    if not isinstance(raw, dict):
        raise InputError(f"{source}: {prefix or '(top level)'}: expected a JSON object (got {_short(raw)})")
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise InputError(*render_validation_error(e, source, model, prefix, raw)) from None


def config_sha256(config: BaseModel) -> str:
    """sha256 of the config's canonical JSON, defaults included: the config's identity."""
    return sha256_hex(canonical_bytes(config.model_dump(mode="json")))
