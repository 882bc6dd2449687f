"""Every offline check of argo/ at once, by hand: ``python -m tests.cluster.argo_check`` (exit 1 on a problem).

The checks live in their own modules: argo_schema (full CRD + strict JSON schema), argo_hera (round
trip), argo_references (references), argo_semantics (what Argo does with the manifests), kube_core
(core objects with kubernetes-validate). The local executor is argo_local_run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.cluster.argo_hera import hera_roundtrip_diff
from tests.cluster.argo_manifests import ARGO_DIR, argo_documents, core_documents, load_manifests, templates_by_name
from tests.cluster.argo_references import reference_errors
from tests.cluster.argo_schema import crd_errors, schema_errors
from tests.cluster.argo_semantics import all_semantic_errors
from tests.cluster.kube_core import core_errors, namespace_errors


def all_problems(directory: Path = ARGO_DIR) -> list[str]:
    docs = load_manifests(directory)
    argo, core = argo_documents(docs), core_documents(docs)
    wfts = templates_by_name(argo)
    lines: list[str] = []
    for source, doc in argo.items():
        lines += crd_errors(doc, source)
        lines += schema_errors(doc, None, source)
        lines += [f"{source}: {line}" for line in hera_roundtrip_diff(doc)]
        lines += reference_errors(doc, source, wfts)
    for source, doc in core.items():
        lines += core_errors(doc, source)
        if doc.get("kind") == "Namespace":
            lines += namespace_errors(doc, source)
    return lines + all_semantic_errors(argo, core)


if __name__ == "__main__":
    problems = all_problems()
    print("\n".join(problems) or f"argo_check: {len(load_manifests())} manifests, no problems", file=sys.stderr)
    raise SystemExit(1 if problems else 0)
