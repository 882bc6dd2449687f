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


def render_validation_error(
    err: ValidationError, source: str, model: type[BaseModel] | None = None, prefix: str = ""
) -> list[str]:
    """One line per problem: ``file: json.path: message (got value)``."""
    lines = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        where = format_loc(loc, prefix)
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
        lines.append(f"{source}: {where}: {msg} (got {_short(e.get('input'))})")
    return lines


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
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        lines = text.splitlines()
        context = lines[e.lineno - 1].strip() if 0 < e.lineno <= len(lines) else ""
        where = f"line {e.lineno} column {e.colno}"
        raise InputError(f"{name}: {where}: invalid JSON: {e.msg} (near {context!r})") from None
    except ValueError as e:
        raise InputError(f"{name}: invalid JSON: {e}") from None


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
        raise InputError(*render_validation_error(e, source, model, prefix)) from None


def config_sha256(config: BaseModel) -> str:
    """sha256 of the config's canonical JSON, defaults included: the config's identity."""
    return sha256_hex(canonical_bytes(config.model_dump(mode="json")))
