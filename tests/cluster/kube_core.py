"""Core Kubernetes objects in argo/ (Namespace, ServiceAccount, Role, RoleBinding) validated with
kubernetes-validate --strict (unknown keys rejected) at a pinned Kubernetes version, offline: the
schemas ship inside the package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KUBERNETES_VERSION = "1.32.0"  # microk8s 1.32; one of the versions kubernetes-validate ships


def core_errors(doc: Mapping[str, Any], source: str, version: str = KUBERNETES_VERSION) -> list[str]:
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    try:
        kubernetes_validate.validate(dict(doc), version, strict=True)
    except ValidationError as e:
        path = "/".join(str(p) for p in e.path) or "(top level)"
        return [f"{source}: {path}: {e.message}"]
    return []


def namespace_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """A namespace enforces a Pod Security level: restricted for runtime namespaces, baseline (with
    restricted warnings) only for the build namespace, where kaniko runs as root."""
    labels = (doc.get("metadata") or {}).get("labels") or {}
    enforce = labels.get("pod-security.kubernetes.io/enforce")
    build = str((doc.get("metadata") or {}).get("name", "")).endswith("-build")
    expected = "baseline" if build else "restricted"
    lines = []
    if enforce != expected:
        lines.append(f"{source}: metadata.labels: pod-security.kubernetes.io/enforce is {enforce!r}, "
                     f"expected {expected!r}")
    if labels.get("pod-security.kubernetes.io/warn") != "restricted":
        lines.append(f"{source}: metadata.labels: pod-security.kubernetes.io/warn must be 'restricted'")
    return lines
