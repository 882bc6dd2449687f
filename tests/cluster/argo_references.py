"""The reference check: what a schema cannot see.

Entrypoint and onExit exist; every template, task and step reference, dependency and argument
resolves; every ``{{inputs.parameters.x}}``, ``{{workflow.parameters.x}}``, ``{{tasks.t.outputs.…}}``
and ``{{steps.s.outputs.…}}`` is defined (and the task is an upstream dependency); no duplicate
names; launchers reference a template and pass only its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.cluster.argo_expressions import depends_names
from tests.cluster.argo_manifests import duplicates, params, variables

# Argo's global variables our templates may use (beyond workflow.parameters.* / outputs.parameters.*).
WORKFLOW_BUILTINS = frozenset({
    "workflow.name", "workflow.namespace", "workflow.uid", "workflow.serviceAccountName",
    "workflow.creationTimestamp", "workflow.priority", "workflow.mainEntrypoint",
    "workflow.status", "workflow.duration", "workflow.failures",
})
EXIT_ONLY_BUILTINS = frozenset({"workflow.status", "workflow.duration", "workflow.failures"})


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
    lines += [f"{source}: spec.templates: duplicate template name {n!r}" for n in duplicates(names)]
    by_name = {t.get("name", ""): t for t in templates}
    entry = spec.get("entrypoint")
    if not entry:
        lines.append(f"{source}: spec.entrypoint: missing")
    elif entry not in by_name:
        lines.append(f"{source}: spec.entrypoint: no template named {entry!r}")
    on_exit = spec.get("onExit")
    if on_exit is not None and on_exit not in by_name:
        lines.append(f"{source}: spec.onExit: no template named {on_exit!r}")
    wf_params = [p.get("name", "") for p in params(spec.get("arguments"))]
    lines += [f"{source}: spec.arguments.parameters: duplicate parameter {n!r}" for n in duplicates(wf_params)]
    global_outputs = {p["globalName"] for t in templates for p in params(t.get("outputs")) if p.get("globalName")}
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
    inputs = [p.get("name", "") for p in params(t.get("inputs"))]
    for n in duplicates(inputs):
        scope.error(f"{where}.inputs.parameters", f"duplicate parameter {n!r}")
    outputs = [p.get("name", "") for p in params(t.get("outputs"))]
    for n in duplicates(outputs):
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
    declared: dict[str, Mapping[str, Any]] = {str(p.get("name")): p for p in params(target.get("inputs"))}
    given = [str(p.get("name", "")) for p in params(call.get("arguments"))]
    for n in duplicates(given):
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
    for n in duplicates(names):
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
    for n in duplicates(all_names):
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
        outs = {p.get("name") for p in params(target.get("outputs"))}
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
    declared = {p.get("name"): p for p in params(target["spec"].get("arguments"))}
    given = [p.get("name", "") for p in params(spec.get("arguments"))]
    lines += [f"{source}: spec.arguments.parameters: duplicate parameter {n!r}" for n in duplicates(given)]
    for n in given:
        if n not in declared:
            lines.append(f"{source}: spec.arguments.parameters: WorkflowTemplate {name!r} has no parameter {n!r}")
    for n, p in declared.items():
        if "value" not in p and n not in given:
            lines.append(f"{source}: spec.arguments.parameters: {n!r} is required by {name!r} but not listed")
    return lines
