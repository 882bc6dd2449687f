"""Every container command line in the templates, and placeholders to parse them with the real CLI."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.cluster.argo_manifests import VAR


@dataclass(frozen=True)
class ContainerCommand:
    source: str
    template: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]


def container_commands(docs: Mapping[str, Mapping[str, Any]]) -> list[ContainerCommand]:
    out = []
    for source, doc in docs.items():
        for t in (doc.get("spec") or {}).get("templates") or []:
            c = t.get("container") or t.get("script")
            if c is not None:
                out.append(ContainerCommand(source, t.get("name", ""), str(c.get("image", "")),
                                            tuple(c.get("command") or ()), tuple(map(str, c.get("args") or ()))))
    return out


def placeholder_args(args: Sequence[str]) -> list[str]:
    """Arguments with every ``{{…}}`` replaced by a plausible value (for parsing, not running)."""
    def fill(m: re.Match[str]) -> str:
        name = m.group(2)
        return {"inputs.parameters.generation": "0003", "workflow.parameters.retries": "3"}.get(
            name, "x-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-"))
    return [VAR.sub(fill, a) for a in args]
