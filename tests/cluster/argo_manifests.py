"""The manifests in ``argo/``: loading, and the pieces every Argo check shares (variables, parameters)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ARGO_DIR = ROOT / "argo"
ARGO_KINDS = frozenset({"Workflow", "WorkflowTemplate"})
VAR = re.compile(r"\{\{\s*(=?)\s*([^}]*?)\s*\}\}")


def load_manifests(directory: Path = ARGO_DIR) -> dict[str, dict[str, Any]]:
    """``file name → document`` for every ``*.yaml`` in ``directory`` (one document per file)."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        if len(loaded) != 1 or not isinstance(loaded[0], dict):
            raise ValueError(f"{path.name}: expected exactly one YAML mapping, got {len(loaded)} document(s)")
        docs[path.name] = loaded[0]
    return docs


def argo_documents(docs: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Argo objects (Workflow, WorkflowTemplate) among ``docs``."""
    return {n: d for n, d in docs.items() if d.get("apiVersion", "").startswith("argoproj.io/")}


def core_documents(docs: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The core Kubernetes objects (Namespace, ServiceAccount, Role, RoleBinding) among ``docs``."""
    return {n: d for n, d in docs.items() if not d.get("apiVersion", "").startswith("argoproj.io/")}


def templates_by_name(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """WorkflowTemplate ``metadata.name`` → document."""
    return {d["metadata"]["name"]: d for d in docs.values() if d.get("kind") == "WorkflowTemplate"}


def variables(value: Any) -> Iterator[tuple[str, bool]]:
    """Every ``{{name}}`` in the strings of ``value``, as (name, is_expression)."""
    if isinstance(value, str):
        for m in VAR.finditer(value):
            yield m.group(2), m.group(1) == "="
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from variables(v)
    elif isinstance(value, list):
        for v in value:
            yield from variables(v)


def params(section: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The ``parameters`` list of an ``arguments``/``inputs``/``outputs`` section (empty when absent)."""
    return list((section or {}).get("parameters") or [])


def duplicates(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def container_templates(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [t for t in (doc.get("spec") or {}).get("templates") or [] if "container" in t or "script" in t]
