"""Offline checks of the Argo manifests in ``argo/`` (DESIGN §8), reusable by tests and by hand.

- :func:`schema_errors`: Argo's JSON schema made strict (``additionalProperties: false`` on every
  object definition that lists properties; IntOrString also accepting integers).
- :func:`reference_errors`: what the schema cannot see: entrypoint and onExit exist; every template,
  task and step reference, dependency and argument resolves; every ``{{inputs.parameters.x}}``,
  ``{{workflow.parameters.x}}``, ``{{tasks.t.outputs.…}}`` and ``{{steps.s.outputs.…}}`` is defined
  (and the task is an upstream dependency); no duplicate names; launchers reference a template and
  pass only its parameters.
- :func:`hera_roundtrip_diff`: the document parsed by hera's generated models and dumped again must
  equal the YAML (hera ignores unknown keys, so a misspelled key shows up as missing) — works from
  the project alone, without ``../shared/schemas``.
- :func:`container_commands`: every trading-runtime command line in the templates.
- :class:`LocalArgoRun`: walks a workflow's DAG and steps in dependency order, substitutes
  parameters, expands ``withParam`` from the previous step's output, runs each container's command as
  a local process, runs the exit handler; enough Argo semantics to execute our templates for real.

Usage by hand: ``python -m tests.cluster.argo_check`` prints every problem (exit 1 if any).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ARGO_DIR = ROOT / "argo"
# Beside the checkout only (DESIGN §8): absent in a user's clone.
SCHEMA_PATH = ROOT.parent / "shared" / "schemas" / "argo-workflows-schema.json"
RUNTIME_COMMAND = ["trading-runtime"]
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

# Argo's global variables our templates may use (beyond workflow.parameters.* / outputs.parameters.*).
WORKFLOW_BUILTINS = frozenset({
    "workflow.name", "workflow.namespace", "workflow.uid", "workflow.serviceAccountName",
    "workflow.creationTimestamp", "workflow.priority", "workflow.mainEntrypoint",
    "workflow.status", "workflow.duration", "workflow.failures",
})
EXIT_ONLY_BUILTINS = frozenset({"workflow.status", "workflow.duration", "workflow.failures"})
_VAR = re.compile(r"\{\{\s*(=?)\s*([^}]*?)\s*\}\}")
_DEPENDS_TOKEN = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z]+)?|&&|\|\||!|\(|\)")


# ---------------------------------------------------------------------------------------------- loading

def load_manifests(directory: Path = ARGO_DIR) -> dict[str, dict[str, Any]]:
    """``file name → document`` for every ``*.yaml`` in ``directory`` (one document per file)."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        if len(loaded) != 1 or not isinstance(loaded[0], dict):
            raise ValueError(f"{path.name}: expected exactly one YAML mapping, got {len(loaded)} document(s)")
        docs[path.name] = loaded[0]
    return docs


def templates_by_name(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """WorkflowTemplate ``metadata.name`` → document."""
    return {d["metadata"]["name"]: d for d in docs.values() if d.get("kind") == "WorkflowTemplate"}


# ---------------------------------------------------------------------------------------------- schema

def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of Argo's schema that rejects unknown keys and takes integers where Kubernetes does."""
    strict = copy.deepcopy(dict(schema))
    for definition in strict["definitions"].values():
        if definition.get("type") == "object" and "properties" in definition \
                and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    strict["definitions"][INT_OR_STRING] = {"type": ["string", "integer"]}
    return strict


def load_strict_schema(path: Path = SCHEMA_PATH) -> dict[str, Any] | None:
    """The strict schema, or None when the schema file is absent (a clone without ../shared)."""
    if not path.is_file():
        return None
    return strict_schema(json.loads(path.read_text(encoding="utf-8")))


def schema_errors(doc: Mapping[str, Any], schema: Mapping[str, Any], source: str = "") -> list[str]:
    """One line per schema violation: ``source: json/path: message``, validated against the kind's definition."""
    from jsonschema import Draft202012Validator

    kind = doc.get("kind")
    name = f"io.argoproj.workflow.v1alpha1.{kind}"
    if name not in schema["definitions"]:
        return [f"{source}: kind: unknown kind {kind!r}"]
    validator = Draft202012Validator({"$ref": f"#/definitions/{name}", "definitions": schema["definitions"]})
    lines = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        lines.append(f"{source}: {path}: {error.message}")
    return lines


# ---------------------------------------------------------------------------------------------- hera

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


# ---------------------------------------------------------------------------------------------- references

def variables(value: Any) -> Iterator[tuple[str, bool]]:
    """Every ``{{name}}`` in the strings of ``value``, as (name, is_expression)."""
    if isinstance(value, str):
        for m in _VAR.finditer(value):
            yield m.group(2), m.group(1) == "="
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from variables(v)
    elif isinstance(value, list):
        for v in value:
            yield from variables(v)


def depends_names(expression: str) -> list[str]:
    """Task names in a ``depends`` expression (``A && (B.Succeeded || C.Failed)`` → A, B, C)."""
    names = []
    for token in _DEPENDS_TOKEN.findall(expression):
        if token in ("&&", "||", "!", "(", ")"):
            continue
        names.append(token.split(".", 1)[0])
    return names


def _duplicates(names: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def _params(section: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list((section or {}).get("parameters") or [])


@dataclass
class _Scope:
    """What a template's variables may name."""

    source: str
    workflow_params: set[str]
    global_outputs: set[str]
    templates: Mapping[str, Mapping[str, Any]]
    exit_templates: set[str]
    lines: list[str] = field(default_factory=list)

    def error(self, where: str, message: str) -> None:
        self.lines.append(f"{self.source}: {where}: {message}")


def reference_errors(doc: Mapping[str, Any], source: str,
                     workflow_templates: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Every unresolved reference or duplicate name in one manifest, one line each."""
    spec = doc.get("spec") or {}
    lines: list[str] = []
    ref = spec.get("workflowTemplateRef")
    if ref is not None:
        return _launcher_errors(doc, source, workflow_templates or {})
    templates = list(spec.get("templates") or [])
    names = [t.get("name", "") for t in templates]
    lines += [f"{source}: spec.templates: duplicate template name {n!r}" for n in _duplicates(names)]
    by_name = {t.get("name", ""): t for t in templates}
    entry = spec.get("entrypoint")
    if not entry:
        lines.append(f"{source}: spec.entrypoint: missing")
    elif entry not in by_name:
        lines.append(f"{source}: spec.entrypoint: no template named {entry!r}")
    on_exit = spec.get("onExit")
    if on_exit is not None and on_exit not in by_name:
        lines.append(f"{source}: spec.onExit: no template named {on_exit!r}")
    wf_params = [p.get("name", "") for p in _params(spec.get("arguments"))]
    lines += [f"{source}: spec.arguments.parameters: duplicate parameter {n!r}" for n in _duplicates(wf_params)]
    global_outputs = {p["globalName"] for t in templates for p in _params(t.get("outputs")) if p.get("globalName")}
    scope = _Scope(source, set(wf_params), global_outputs, by_name, _exit_reachable(by_name, on_exit))
    # Variables outside the templates (e.g. spec-level fields) may use only workflow-scope names.
    rest = {k: v for k, v in spec.items() if k != "templates"}
    _check_vars(scope, "spec", rest, inputs=set(), allowed_steps={}, allow_item=False, is_exit=False)
    for t in templates:
        _check_template(scope, t)
    return lines + scope.lines


def _exit_reachable(by_name: Mapping[str, Mapping[str, Any]], on_exit: str | None) -> set[str]:
    """Templates run as (part of) the exit handler: workflow.status is defined only there."""
    seen: set[str] = set()
    todo = [on_exit] if on_exit else []
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        t = by_name[name]
        for task in (t.get("dag") or {}).get("tasks") or []:
            todo.append(task.get("template"))
        for group in t.get("steps") or []:
            for step in group or []:
                todo.append(step.get("template"))
    return seen


def _check_template(scope: _Scope, t: Mapping[str, Any]) -> None:
    name = t.get("name", "")
    where = f"templates[{name}]"
    inputs = [p.get("name", "") for p in _params(t.get("inputs"))]
    for n in _duplicates(inputs):
        scope.error(f"{where}.inputs.parameters", f"duplicate parameter {n!r}")
    outputs = [p.get("name", "") for p in _params(t.get("outputs"))]
    for n in _duplicates(outputs):
        scope.error(f"{where}.outputs.parameters", f"duplicate parameter {n!r}")
    is_exit = name in scope.exit_templates
    own = {k: v for k, v in t.items() if k not in ("dag", "steps")}
    _check_vars(scope, where, own, set(inputs), allowed_steps={}, allow_item=False, is_exit=is_exit)
    if "dag" in t:
        _check_dag(scope, where, t["dag"], set(inputs), is_exit)
    if "steps" in t:
        _check_steps(scope, where, t["steps"], set(inputs), is_exit)


def _check_call(scope: _Scope, where: str, call: Mapping[str, Any]) -> None:
    """A task or step: its template exists and gets exactly the inputs it declares (those without a default)."""
    target_name = call.get("template")
    if call.get("templateRef") is not None or call.get("inline") is not None:
        scope.error(where, "templateRef/inline are not checked here: use template")
        return
    target = scope.templates.get(target_name or "")
    if target is None:
        scope.error(f"{where}.template", f"no template named {target_name!r}")
        return
    declared: dict[str, Mapping[str, Any]] = {str(p.get("name")): p for p in _params(target.get("inputs"))}
    given = [str(p.get("name", "")) for p in _params(call.get("arguments"))]
    for n in _duplicates(given):
        scope.error(f"{where}.arguments", f"duplicate argument {n!r}")
    for n in given:
        if n not in declared:
            scope.error(f"{where}.arguments", f"template {target_name!r} has no input parameter {n!r}")
    for n, p in declared.items():
        if n not in given and "value" not in p and "default" not in p:
            scope.error(f"{where}.arguments", f"input parameter {n!r} of template {target_name!r} is not given")


def _check_dag(scope: _Scope, where: str, dag: Mapping[str, Any], inputs: set[str], is_exit: bool) -> None:
    tasks = list(dag.get("tasks") or [])
    names = [t.get("name", "") for t in tasks]
    for n in _duplicates(names):
        scope.error(f"{where}.dag.tasks", f"duplicate task name {n!r}")
    by_name = {t.get("name", ""): t for t in tasks}
    direct: dict[str, set[str]] = {}
    for task in tasks:
        tw = f"{where}.dag.tasks[{task.get('name')}]"
        deps = list(task.get("dependencies") or [])
        if task.get("depends"):
            deps += depends_names(str(task["depends"]))
        if task.get("dependencies") and task.get("depends"):
            scope.error(tw, "both dependencies and depends")
        for d in deps:
            if d not in by_name:
                scope.error(f"{tw}.depends", f"no task named {d!r}")
        direct[task.get("name", "")] = {d for d in deps if d in by_name}
    upstream = _closure(direct, scope, where)
    for task in tasks:
        tname = task.get("name", "")
        tw = f"{where}.dag.tasks[{tname}]"
        _check_call(scope, tw, task)
        visible = {u: by_name[u] for u in upstream.get(tname, set())}
        fields = {k: v for k, v in task.items() if k not in ("name", "template", "dependencies", "depends")}
        _check_vars(scope, tw, fields, inputs, allowed_steps=visible, allow_item=_loops(task), is_exit=is_exit,
                    prefix="tasks")
    if dag.get("target"):
        for n in str(dag["target"]).split():
            if n not in by_name:
                scope.error(f"{where}.dag.target", f"no task named {n!r}")


def _closure(direct: Mapping[str, set[str]], scope: _Scope, where: str) -> dict[str, set[str]]:
    """Transitive upstream tasks of every task; a cycle is an error."""
    out: dict[str, set[str]] = {}
    state: dict[str, int] = {}

    def visit(n: str) -> set[str]:
        if state.get(n) == 2:
            return out[n]
        if state.get(n) == 1:
            scope.error(f"{where}.dag", f"dependency cycle through task {n!r}")
            return set()
        state[n] = 1
        acc: set[str] = set()
        for d in direct.get(n, set()):
            acc |= {d} | visit(d)
        state[n] = 2
        out[n] = acc
        return acc

    for n in direct:
        visit(n)
    return out


def _check_steps(scope: _Scope, where: str, groups: Sequence[Any], inputs: set[str], is_exit: bool) -> None:
    all_names = [s.get("name", "") for g in groups for s in (g or [])]
    for n in _duplicates(all_names):
        scope.error(f"{where}.steps", f"duplicate step name {n!r}")
    earlier: dict[str, Mapping[str, Any]] = {}
    for gi, group in enumerate(groups):
        for step in group or []:
            sw = f"{where}.steps[{gi}][{step.get('name')}]"
            _check_call(scope, sw, step)
            fields = {k: v for k, v in step.items() if k not in ("name", "template")}
            _check_vars(scope, sw, fields, inputs, allowed_steps=earlier, allow_item=_loops(step), is_exit=is_exit,
                        prefix="steps")
        for step in group or []:
            earlier[step.get("name", "")] = step


def _loops(call: Mapping[str, Any]) -> bool:
    return any(k in call for k in ("withParam", "withItems", "withSequence"))


def _check_vars(scope: _Scope, where: str, value: Any, inputs: set[str], allowed_steps: Mapping[str, Mapping[str, Any]],
                allow_item: bool, is_exit: bool, prefix: str = "") -> None:
    for name, is_expr in variables(value):
        if is_expr:
            scope.error(where, f"expression {{{{={name}}}}} is not checked here: use simple variables")
            continue
        parts = name.split(".")
        if name == "item" or name.startswith("item."):
            if not allow_item:
                scope.error(where, f"{{{{{name}}}}} outside a withParam/withItems loop")
        elif parts[:2] == ["inputs", "parameters"] and len(parts) == 3:
            if parts[2] not in inputs:
                scope.error(where, f"{{{{{name}}}}}: the template has no input parameter {parts[2]!r}")
        elif parts[:2] == ["workflow", "parameters"] and len(parts) == 3:
            if parts[2] not in scope.workflow_params:
                scope.error(where, f"{{{{{name}}}}}: the workflow has no parameter {parts[2]!r}")
        elif parts[:3] == ["workflow", "outputs", "parameters"] and len(parts) == 4:
            if parts[3] not in scope.global_outputs:
                scope.error(where, f"{{{{{name}}}}}: no output parameter has globalName {parts[3]!r}")
        elif name in WORKFLOW_BUILTINS:
            if name in EXIT_ONLY_BUILTINS and not is_exit:
                scope.error(where, f"{{{{{name}}}}} is defined only in the exit handler")
        elif parts[0] in ("tasks", "steps"):
            _check_output_ref(scope, where, name, parts, allowed_steps, prefix)
        else:
            scope.error(where, f"{{{{{name}}}}}: unknown variable")


def _check_output_ref(scope: _Scope, where: str, name: str, parts: list[str],
                      visible: Mapping[str, Mapping[str, Any]], prefix: str) -> None:
    kind = parts[0]
    if kind != prefix:
        scope.error(where, f"{{{{{name}}}}}: {kind}.* is not defined here")
        return
    if len(parts) < 4 or parts[2] != "outputs":
        scope.error(where, f"{{{{{name}}}}}: expected {kind}.<name>.outputs.result or .outputs.parameters.<p>")
        return
    other = parts[1]
    if other not in visible:
        what = "an upstream dependency" if kind == "tasks" else "a step of an earlier group"
        scope.error(where, f"{{{{{name}}}}}: {other!r} is not {what}")
        return
    target = scope.templates.get(str(visible[other].get("template")))
    if target is None:
        return  # reported by _check_call
    if parts[3:] == ["result"]:
        if "container" not in target and "script" not in target:
            scope.error(where, f"{{{{{name}}}}}: template {target.get('name')!r} has no stdout result")
    elif parts[3] == "parameters" and len(parts) == 5:
        outs = {p.get("name") for p in _params(target.get("outputs"))}
        if parts[4] not in outs:
            scope.error(where, f"{{{{{name}}}}}: template {target.get('name')!r} has no output parameter {parts[4]!r}")
    else:
        scope.error(where, f"{{{{{name}}}}}: unsupported output reference")


def _launcher_errors(doc: Mapping[str, Any], source: str,
                     workflow_templates: Mapping[str, Mapping[str, Any]]) -> list[str]:
    spec = doc["spec"]
    lines = []
    name = (spec.get("workflowTemplateRef") or {}).get("name")
    if spec.get("templates"):
        lines.append(f"{source}: spec.templates: a launcher takes its templates from the WorkflowTemplate")
    target = workflow_templates.get(name or "")
    if target is None:
        return [*lines, f"{source}: spec.workflowTemplateRef.name: no WorkflowTemplate named {name!r} in argo/"]
    declared = {p.get("name"): p for p in _params(target["spec"].get("arguments"))}
    given = [p.get("name", "") for p in _params(spec.get("arguments"))]
    lines += [f"{source}: spec.arguments.parameters: duplicate parameter {n!r}" for n in _duplicates(given)]
    for n in given:
        if n not in declared:
            lines.append(f"{source}: spec.arguments.parameters: WorkflowTemplate {name!r} has no parameter {n!r}")
    for n, p in declared.items():
        if "value" not in p and n not in given:
            lines.append(f"{source}: spec.arguments.parameters: {n!r} is required by {name!r} but not listed")
    return lines


# ---------------------------------------------------------------------------------------------- commands

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
    return [_VAR.sub(fill, a) for a in args]


# ---------------------------------------------------------------------------------------------- local run

class WorkflowFailedError(Exception):
    """A node failed (non-zero exit after retries, unresolved variable, bad withParam)."""


@dataclass
class NodeRun:
    """One executed container: what ran and how it ended (for assertions and debugging)."""

    template: str
    argv: list[str]
    exit_code: int
    attempts: int
    stdout: str
    stderr: str


@dataclass
class LocalArgoRun:
    """Execute a (Workflow)Template locally: containers become local processes of ``runner``.

    ``runner(argv, cwd, env) -> (exit_code, stdout, stderr)`` runs one container command; the default
    runs ``trading-runtime`` as ``python -m trading_runtime`` in a subprocess. Each container gets its
    own folder standing for the pod's emptyDir volumes (paths under a volume mount are rewritten), so
    pods share nothing but the store named by the parameters.
    """

    doc: Mapping[str, Any]
    parameters: Mapping[str, str]
    workdir: Path
    scratch: Path
    runner: Callable[[list[str], Path, dict[str, str]], tuple[int, str, str]] | None = None
    parallelism: int = 2
    workflow_name: str = "local-run"
    nodes: list[NodeRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        spec = self.doc["spec"]
        self._templates = {t["name"]: t for t in spec["templates"]}
        params: dict[str, str] = {}
        for p in _params(spec.get("arguments")):
            if "value" in p:
                params[p["name"]] = str(p["value"])
        unknown = set(self.parameters) - {p["name"] for p in _params(spec.get("arguments"))}
        if unknown:
            raise ValueError(f"unknown workflow parameter(s): {sorted(unknown)}")
        params.update({k: str(v) for k, v in self.parameters.items()})
        missing = [p["name"] for p in _params(spec.get("arguments")) if p["name"] not in params]
        if missing:
            raise ValueError(f"workflow parameter(s) without a value: {missing}")
        self._globals: dict[str, str] = {f"workflow.parameters.{k}": v for k, v in params.items()}
        self._globals.update({"workflow.name": self.workflow_name, "workflow.namespace": "local",
                              "workflow.uid": "00000000-0000-0000-0000-000000000000",
                              "workflow.creationTimestamp": "2000-01-01T00:00:00Z"})
        self._counter = itertools.count(1)
        self.runner = self.runner or run_cli_subprocess

    # -- public

    def run(self) -> str:
        """Run the entrypoint, then the exit handler; returns the workflow's status."""
        spec = self.doc["spec"]
        status = "Succeeded"
        error: WorkflowFailedError | None = None
        try:
            self._execute(spec["entrypoint"], {}, {})
        except WorkflowFailedError as e:
            status, error = "Failed", e
        if spec.get("onExit"):
            exit_scope = {"workflow.status": status, "workflow.duration": "1.000000",
                          "workflow.failures": "[]" if error is None else json.dumps([{"message": str(error)}])}
            self._execute(spec["onExit"], {}, exit_scope)
        if error is not None:
            raise error
        return status

    # -- templates

    def _execute(self, name: str, inputs: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, Any]:
        t = self._templates[name]
        scope = {**self._globals, **extra}
        for p in _params(t.get("inputs")):
            if p["name"] in inputs:
                scope[f"inputs.parameters.{p['name']}"] = inputs[p["name"]]
            elif "value" in p or "default" in p:
                scope[f"inputs.parameters.{p['name']}"] = str(p.get("value", p.get("default")))
            else:
                raise WorkflowFailedError(f"template {name}: input parameter {p['name']!r} not given")
        if "container" in t:
            return self._container(t, scope)
        if "dag" in t:
            return self._dag(t, scope, extra)
        if "steps" in t:
            return self._steps(t, scope, extra)
        raise WorkflowFailedError(f"template {name}: only container, dag and steps templates run locally")

    def _container(self, t: Mapping[str, Any], scope: Mapping[str, str]) -> dict[str, Any]:
        pod = self.scratch / f"pod-{next(self._counter):04d}-{t['name']}"
        mounts = {m["mountPath"]: pod / m["name"] for m in (t["container"].get("volumeMounts") or [])}
        for local in mounts.values():
            local.mkdir(parents=True, exist_ok=True)
        command = list(t["container"].get("command") or [])
        if command != RUNTIME_COMMAND:
            raise WorkflowFailedError(
                f"template {t['name']}: only {RUNTIME_COMMAND} containers run locally (got {command})")
        # Paths written in the template under a volume mount become the pod's folder; then parameters.
        argv = [substitute(_map_path(a, mounts), scope) for a in map(str, t["container"].get("args") or [])]
        limit, codes = _retry_policy(substitute(t.get("retryStrategy") or {}, scope))
        attempts = 0
        while True:
            attempts += 1
            assert self.runner is not None
            code, out, err = self.runner(argv, self.workdir, _pod_env())
            if code == 0 or code not in codes or attempts > limit:
                break
        self.nodes.append(NodeRun(t["name"], argv, code, attempts, out, err))
        if code != 0:
            raise WorkflowFailedError(f"template {t['name']}: exit {code} after {attempts} attempt(s): "
                                 f"{' '.join(argv)}\n{err[-2000:]}")
        outputs: dict[str, Any] = {"result": out.strip(), "parameters": {}}
        for p in _params(t.get("outputs")):
            path = (p.get("valueFrom") or {}).get("path")
            if path is None:
                raise WorkflowFailedError(f"template {t['name']}: output {p['name']}: only valueFrom.path runs locally")
            local = Path(_map_path(path, mounts))
            if not local.is_file():
                raise WorkflowFailedError(f"template {t['name']}: output {p['name']}: {path} was not written")
            value = local.read_text(encoding="utf-8")
            outputs["parameters"][p["name"]] = value
            if p.get("globalName"):
                self._globals[f"workflow.outputs.parameters.{p['globalName']}"] = value
        return outputs

    def _call(self, call: Mapping[str, Any], scope: Mapping[str, str],
              extra: Mapping[str, str]) -> list[dict[str, Any]]:
        """Run a task/step (once, or once per withParam item); [] when its ``when`` is false."""
        if "when" in call and not evaluate_when(substitute(call["when"], scope)):
            return []
        if "withParam" in call:
            raw = substitute(call["withParam"], scope)
            try:
                items = json.loads(raw)
            except json.JSONDecodeError:
                raise WorkflowFailedError(f"{call['name']}: withParam is not a JSON list: {raw[:200]!r}") from None
            if not isinstance(items, list):
                raise WorkflowFailedError(f"{call['name']}: withParam is not a JSON list: {raw[:200]!r}")
        else:
            items = [None]

        def one(item: Any) -> dict[str, Any]:
            local = dict(scope)
            if item is not None:
                local["item"] = item if isinstance(item, str) else json.dumps(item)
            args = {p["name"]: substitute(str(p.get("value", "")), local) for p in _params(call.get("arguments"))}
            return self._execute(call["template"], args, extra)

        if len(items) <= 1 or self.parallelism <= 1:
            return [one(i) for i in items]
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            return list(pool.map(one, items))

    def _dag(self, t: Mapping[str, Any], scope: dict[str, str], extra: Mapping[str, str]) -> dict[str, Any]:
        tasks = {task["name"]: task for task in t["dag"]["tasks"]}
        phase: dict[str, str] = {}
        order = _topological(tasks)
        for name in order:
            task = tasks[name]
            deps = depends_names(task.get("depends", "")) + list(task.get("dependencies") or [])
            if any(phase[d] not in ("Succeeded", "Skipped") for d in deps):
                phase[name] = "Omitted"
                continue
            results = self._call(task, scope, extra)
            phase[name] = "Succeeded" if results or "withParam" in task else "Skipped"
            if len(results) == 1 and "withParam" not in task:
                _publish(scope, f"tasks.{name}", results[0])
        return {"result": "", "parameters": {}}

    def _steps(self, t: Mapping[str, Any], scope: dict[str, str], extra: Mapping[str, str]) -> dict[str, Any]:
        for group in t["steps"]:
            for step in group:
                results = self._call(step, scope, extra)
                if len(results) == 1 and "withParam" not in step:
                    _publish(scope, f"steps.{step['name']}", results[0])
        return {"result": "", "parameters": {}}


def _publish(scope: dict[str, str], prefix: str, outputs: Mapping[str, Any]) -> None:
    scope[f"{prefix}.outputs.result"] = outputs["result"]
    for k, v in outputs["parameters"].items():
        scope[f"{prefix}.outputs.parameters.{k}"] = v


def _topological(tasks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise WorkflowFailedError(f"dependency cycle through {n}")
        state[n] = 1
        task = tasks[n]
        for d in depends_names(task.get("depends", "")) + list(task.get("dependencies") or []):
            visit(d)
        state[n] = 2
        order.append(n)

    for n in tasks:  # declaration order among independent tasks, like Argo's
        visit(n)
    return order


def substitute(value: Any, scope: Mapping[str, str]) -> Any:
    """``value`` with every ``{{name}}`` replaced from ``scope``; an unresolved name fails the node."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) == "=":
                raise WorkflowFailedError(f"expression {m.group(0)} is not supported locally")
            name = m.group(2)
            if name not in scope:
                raise WorkflowFailedError(f"unresolved variable {m.group(0)}")
            return scope[name]
        return _VAR.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: substitute(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, scope) for v in value]
    return value


_WHEN = re.compile(r"^\s*'([^']*)'\s*(==|!=)\s*'([^']*)'\s*$")


def evaluate_when(expression: str) -> bool:
    """The ``'a' == 'b'`` / ``'a' != 'b'`` comparisons our templates use (Argo evaluates with govaluate)."""
    m = _WHEN.match(expression)
    if m is None:
        raise WorkflowFailedError(f"when {expression!r}: only 'a' == 'b' and 'a' != 'b' are evaluated locally")
    left, op, right = m.groups()
    return (left == right) == (op == "==")


def _retry_policy(strategy: Mapping[str, Any]) -> tuple[int, frozenset[int]]:
    """(retry limit, exit codes retried) of a retryStrategy such as ``asInt(lastRetry.exitCode) == 75``."""
    if not strategy:
        return 0, frozenset()
    expr = str(strategy.get("expression", ""))
    m = re.fullmatch(r"asInt\(lastRetry\.exitCode\)\s*==\s*(\d+)", expr.strip())
    if m is None:
        raise WorkflowFailedError(
            f"retryStrategy.expression {expr!r}: only 'asInt(lastRetry.exitCode) == N' runs locally")
    return int(str(strategy.get("limit", "0"))), frozenset({int(m.group(1))})


def _map_path(text: str, mounts: Mapping[str, Path]) -> str:
    for mount, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        if text == mount or text.startswith(mount.rstrip("/") + "/"):
            return str(local) + text[len(mount.rstrip("/")):]
    return text


def _pod_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONHASHSEED"] = "0"
    return env


def run_cli_subprocess(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """``trading-runtime ARGV`` as a local process (``python -m trading_runtime``)."""
    proc = subprocess.run([sys.executable, "-m", "trading_runtime", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def run_cli_forked(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """``trading-runtime ARGV`` in a local process forked from this one (its imports already done).

    The same entry (``trading_runtime.cli.main.main``), its own process, working directory,
    environment and stdout/stderr, without paying the interpreter start and imports for every pod.
    Fork from one thread at a time (use ``LocalArgoRun(parallelism=1)``).
    """
    import multiprocessing
    import tempfile

    import trading_runtime.cli.main  # noqa: F401  (imported once, before forking)

    with tempfile.TemporaryDirectory() as d:
        out, err = Path(d) / "stdout", Path(d) / "stderr"
        sys.stdout.flush()
        sys.stderr.flush()
        proc = multiprocessing.get_context("fork").Process(target=_forked_main, args=(argv, cwd, env, out, err))
        proc.start()
        proc.join(600)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            return 124, "", "timed out"
        return proc.exitcode, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")


def _forked_main(argv: list[str], cwd: Path, env: dict[str, str], out: Path, err: Path) -> None:
    code = 1
    try:
        for fd, path in ((1, out), (2, err)):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        from trading_runtime.cli.main import main

        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


# ---------------------------------------------------------------------------------------------- by hand

def all_problems(directory: Path = ARGO_DIR, schema_path: Path = SCHEMA_PATH) -> list[str]:
    docs = load_manifests(directory)
    wfts = templates_by_name(docs)
    schema = load_strict_schema(schema_path)
    lines: list[str] = []
    for source, doc in docs.items():
        if schema is not None:
            lines += schema_errors(doc, schema, source)
        lines += [f"{source}: {line}" for line in hera_roundtrip_diff(doc)]
        lines += reference_errors(doc, source, wfts)
    return lines


if __name__ == "__main__":
    problems = all_problems()
    print("\n".join(problems) or f"argo_check: {len(load_manifests())} manifests, no problems", file=sys.stderr)
    if not SCHEMA_PATH.is_file():
        print(f"argo_check: {SCHEMA_PATH} absent: strict schema check skipped", file=sys.stderr)
    raise SystemExit(1 if problems else 0)


__all__ = [
    "ARGO_DIR",
    "SCHEMA_PATH",
    "ContainerCommand",
    "LocalArgoRun",
    "NodeRun",
    "WorkflowFailedError",
    "all_problems",
    "container_commands",
    "depends_names",
    "evaluate_when",
    "hera_roundtrip_diff",
    "load_manifests",
    "load_strict_schema",
    "placeholder_args",
    "reference_errors",
    "run_cli_forked",
    "run_cli_subprocess",
    "schema_errors",
    "strict_schema",
    "substitute",
    "templates_by_name",
    "variables",
]
