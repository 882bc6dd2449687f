"""Argo's two schemas, vendored in tests/cluster/schemas/ (SOURCE.md: argo-workflows v4.1.2).

- :func:`crd_errors`: the **full CRD** OpenAPI v3 schema (what the API server and ``argo submit``
  enforce on typed fields), converted to JSON Schema: ``x-kubernetes-int-or-string`` → integer or
  string (a string keeps the field's ``pattern``: the Kubernetes quantity pattern rejects
  ``cpu: "{{workflow.parameters.x}}"``), ``nullable`` → also null, objects listing ``properties``
  reject unknown keys (kubectl's default strict field validation) unless
  ``x-kubernetes-preserve-unknown-fields``. CEL rules (``x-kubernetes-validations``) are not evaluated.
- :func:`schema_errors`: Argo's JSON schema made strict (``additionalProperties: false`` on every
  object definition that lists properties; IntOrString also accepting integers).
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "argo-workflows-schema.json"
CRD_PATHS = {
    "Workflow": SCHEMA_DIR / "argoproj.io_workflows.full-crd.yaml.gz",
    "WorkflowTemplate": SCHEMA_DIR / "argoproj.io_workflowtemplates.full-crd.yaml.gz",
}
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


# ---------------------------------------------------------------------------------------------- strict JSON schema

def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of Argo's schema that rejects unknown keys and takes integers where Kubernetes does."""
    strict = copy.deepcopy(dict(schema))
    for definition in strict["definitions"].values():
        if definition.get("type") == "object" and "properties" in definition \
                and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    strict["definitions"][INT_OR_STRING] = {"type": ["string", "integer"]}
    return strict


@cache
def load_strict_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    return strict_schema(json.loads(path.read_text(encoding="utf-8")))


def schema_errors(doc: Mapping[str, Any], schema: Mapping[str, Any] | None = None, source: str = "") -> list[str]:
    """One line per strict-schema violation: ``source: json/path: message``."""
    from jsonschema import Draft202012Validator

    schema = schema if schema is not None else load_strict_schema()
    kind = doc.get("kind")
    name = f"io.argoproj.workflow.v1alpha1.{kind}"
    if name not in schema["definitions"]:
        return [f"{source}: kind: unknown kind {kind!r}"]
    validator = Draft202012Validator({"$ref": f"#/definitions/{name}", "definitions": schema["definitions"]})
    return _lines(validator, doc, source)


# ---------------------------------------------------------------------------------------------- full CRD

def openapi_to_jsonschema(node: Any) -> Any:
    """The OpenAPI v3 subset of a CRD's structural schema as JSON Schema (see the module docstring)."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("description", "nullable", "format"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {k: openapi_to_jsonschema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = openapi_to_jsonschema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi_to_jsonschema(v) for v in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        string = {"type": "string", **({"pattern": out.pop("pattern")} if "pattern" in out else {})}
        out.pop("anyOf", None)
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, string]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("additionalProperties", None)
    elif out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of ``kind`` (Workflow or WorkflowTemplate) from its vendored full CRD."""
    crd = yaml.safe_load(gzip.decompress(CRD_PATHS[kind].read_bytes()))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    converted: dict[str, Any] = openapi_to_jsonschema(version["schema"]["openAPIV3Schema"])
    return converted


def crd_errors(doc: Mapping[str, Any], source: str = "") -> list[str]:
    """One line per violation of the kind's full CRD schema: ``source: json/path: message``."""
    from jsonschema import Draft202012Validator

    kind = str(doc.get("kind"))
    if kind not in CRD_PATHS:
        return [f"{source}: kind: no vendored CRD for {kind!r}"]
    return _lines(Draft202012Validator(crd_schema(kind)), doc, source)


def _lines(validator: Any, doc: Mapping[str, Any], source: str) -> list[str]:
    lines = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        lines.append(f"{source}: {path}: {error.message}")
    return lines
