"""hera's round trip: a manifest parsed by hera's generated Argo models and dumped again must equal the
YAML (hera drops keys Argo does not know, so a misspelled key shows up as missing)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def hera_roundtrip_diff(doc: Mapping[str, Any]) -> list[str]:
    """Keys and values that change when hera's models parse and dump ``doc`` (unknown keys are dropped)."""
    from hera.workflows import models

    model = getattr(models, str(doc.get("kind")), None)
    if model is None:
        return [f"kind: hera has no model {doc.get('kind')!r}"]
    try:
        parsed = model.model_validate(doc)
    except Exception as e:  # pydantic.ValidationError: report it as a difference, one line
        return [f"(top level): hera cannot parse it: {str(e).splitlines()[0]}"]
    dumped = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    return _diff(doc, dumped, "")


def _diff(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            here = f"{path}/{key}" if path else str(key)
            if key not in b:
                out.append(f"{here}: unknown to Argo's models (dropped by the round trip)")
            elif key not in a:
                out.append(f"{here}: added by the round trip ({json.dumps(b[key])[:80]})")
            else:
                out.extend(_diff(a[key], b[key], here))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} item(s) became {len(b)}"]
        return [line for i, (x, y) in enumerate(zip(a, b, strict=True)) for line in _diff(x, y, f"{path}[{i}]")]
    if a != b and _scalar_text(a) != _scalar_text(b):
        return [f"{path}: {a!r} became {b!r}"]
    return []


def _scalar_text(x: Any) -> Any:
    return str(x) if isinstance(x, (int, float, str)) and not isinstance(x, bool) else x
