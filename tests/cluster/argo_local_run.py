"""A local executor of our Argo templates (the interpreter): enough of Argo's semantics to run them for real.

Walks a workflow's DAG and steps in dependency order, substitutes parameters, expands ``withParam``
from the previous step's result, runs each container's command as a local process, retries where
the template's retryStrategy expression says so, evaluates ``depends`` the way Argo's controller does
(a fanned-out task's phase after failed items included), and runs the exit handler.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster.argo_expressions import (
    Attempt,
    TaskState,
    depends_names,
    evaluate_depends,
    evaluate_retry,
    evaluate_when,
    fan_out_phase,
)
from tests.cluster.argo_manifests import VAR, params

RUNTIME_COMMAND = ["trading-runtime"]


RESULT_LIMIT_BYTES = 256 * 1024  # workflow/executor/executor.go: "only the last 256 kB were saved"
FAILED = ("Failed", "Error")


class WorkflowFailedError(Exception):
    """The template uses something this executor does not model, or names something undefined."""


class PodLost(Exception):  # noqa: N818  (an event, like Argo's "pod deleted")
    """Raised by a runner to stand for infrastructure loss: the attempt has no exit code (-1) and Argo
    marks it Error with this message (e.g. "pod deleted", "imminent node shutdown")."""


@dataclass
class NodeRun:
    """One executed container: what ran and how it ended (for assertions and debugging)."""

    template: str
    argv: list[str]
    exit_code: int
    attempts: int
    stdout: str
    stderr: str
    phase: str = "Succeeded"


@dataclass
class _Node:
    phase: str  # Succeeded, Failed, Error, Skipped, Omitted
    outputs: dict[str, Any] = field(default_factory=lambda: {"result": "", "parameters": {}})
    items: tuple[str, ...] | None = None  # the items' phases of a fan-out


def trim_result(stdout: str) -> str:
    """A container's ``outputs.result``: stdout less one trailing newline, its last 256 KB
    (workflow/executor/executor.go ``CaptureScriptResult``)."""
    out = stdout.encode("utf-8")
    if out.endswith(b"\n"):
        out = out[:-1]
    return out[-RESULT_LIMIT_BYTES:].decode("utf-8", errors="replace")


def trim_parameter(value: str) -> str:
    """An output parameter read from a file: one trailing newline trimmed (executor.go ``SaveParameters``)."""
    return value[:-1] if value.endswith("\n") else value


@dataclass
class LocalArgoRun:
    """Execute a (Workflow)Template locally: containers become local processes of ``runner``.

    ``runner(argv, cwd, env) -> (exit_code, stdout, stderr)`` runs one container command (it may
    raise :class:`PodLost`); the default runs ``trading-runtime`` as ``python -m trading_runtime`` in
    a subprocess. Each container gets its own folder standing for the pod's emptyDir volumes (paths
    under a volume mount are rewritten), so pods share nothing but the store named by the parameters.
    Back-off waits are not modelled (no sleeping): only which attempts happen.
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
        values: dict[str, str] = {}
        for p in params(spec.get("arguments")):
            if "value" in p:
                values[p["name"]] = str(p["value"])
        unknown = set(self.parameters) - {p["name"] for p in params(spec.get("arguments"))}
        if unknown:
            raise ValueError(f"unknown workflow parameter(s): {sorted(unknown)}")
        values.update({k: str(v) for k, v in self.parameters.items()})
        missing = [p["name"] for p in params(spec.get("arguments")) if p["name"] not in values]
        if missing:
            raise ValueError(f"workflow parameter(s) without a value: {missing}")
        self._globals: dict[str, str] = {f"workflow.parameters.{k}": v for k, v in values.items()}
        self._globals.update({"workflow.name": self.workflow_name, "workflow.namespace": "local",
                              "workflow.uid": "00000000-0000-0000-0000-000000000000",
                              "workflow.creationTimestamp": "2000-01-01T00:00:00Z"})
        self._counter = itertools.count(1)
        self.runner = self.runner or run_cli_subprocess

    # -- public

    def run(self) -> str:
        """Run the entrypoint, then the exit handler; returns the workflow's phase (Succeeded, Failed, Error)."""
        spec = self.doc["spec"]
        status = self._execute(spec["entrypoint"], {}, {}).phase
        status = "Succeeded" if status in ("Succeeded", "Skipped") else status
        if spec.get("onExit"):
            failures = [{"displayName": n.template, "phase": n.phase, "exitCode": str(n.exit_code)}
                        for n in self.nodes if n.phase in FAILED]
            exit_scope = {"workflow.status": status, "workflow.duration": "1.000000",
                          "workflow.failures": json.dumps(failures)}
            self._execute(spec["onExit"], {}, exit_scope)
        return status

    # -- templates

    def _execute(self, name: str, inputs: Mapping[str, str], extra: Mapping[str, str]) -> _Node:
        t = self._templates[name]
        scope = {**self._globals, **extra}
        for p in params(t.get("inputs")):
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

    def _container(self, t: Mapping[str, Any], scope: Mapping[str, str]) -> _Node:
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
        strategy = substitute(t.get("retryStrategy") or {}, scope)
        attempts = 0
        while True:
            attempts += 1
            assert self.runner is not None
            try:
                code, out, err = self.runner(argv, self.workdir, _pod_env())
                attempt = Attempt(code, "Failed", f"Error (exit code {code})")
            except PodLost as lost:
                code, out, err = -1, "", str(lost)
                attempt = Attempt(-1, "Error", str(lost))
            if code == 0 or not should_retry(strategy, attempt, attempts):
                break
        phase = "Succeeded" if code == 0 else attempt.status
        self.nodes.append(NodeRun(t["name"], argv, code, attempts, out, err, "Succeeded" if code == 0 else phase))
        if code != 0:
            return _Node(phase)
        outputs: dict[str, Any] = {"result": trim_result(out), "parameters": {}}
        for p in params(t.get("outputs")):
            path = (p.get("valueFrom") or {}).get("path")
            if path is None:
                raise WorkflowFailedError(f"template {t['name']}: output {p['name']}: only valueFrom.path runs locally")
            local = Path(_map_path(path, mounts))
            if not local.is_file():
                self.nodes[-1].phase = "Error"
                return _Node("Error")
            value = trim_parameter(local.read_text(encoding="utf-8"))
            outputs["parameters"][p["name"]] = value
            if p.get("globalName"):
                self._globals[f"workflow.outputs.parameters.{p['globalName']}"] = value
        return _Node("Succeeded", outputs)

    def _call(self, call: Mapping[str, Any], scope: Mapping[str, str], extra: Mapping[str, str]) -> _Node:
        """Run a task/step once, or once per withParam item (then a fan-out node); Skipped when ``when`` is false."""
        if "when" in call and not evaluate_when(substitute(call["when"], scope)):
            return _Node("Skipped")
        if "withParam" not in call:
            return self._one(call, scope, extra, None)
        raw = substitute(call["withParam"], scope)
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            raise WorkflowFailedError(f"{call['name']}: withParam is not a JSON list: {raw[:200]!r}") from None
        if not isinstance(items, list):
            raise WorkflowFailedError(f"{call['name']}: withParam is not a JSON list: {raw[:200]!r}")
        if len(items) <= 1 or self.parallelism <= 1:
            nodes = [self._one(call, scope, extra, i) for i in items]
        else:
            with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
                nodes = list(pool.map(lambda i: self._one(call, scope, extra, i), items))
        phases = tuple(n.phase for n in nodes)
        return _Node(fan_out_phase(phases), items=phases)

    def _one(self, call: Mapping[str, Any], scope: Mapping[str, str], extra: Mapping[str, str], item: Any) -> _Node:
        local = dict(scope)
        if item is not None:
            local["item"] = item if isinstance(item, str) else json.dumps(item)
        args = {p["name"]: substitute(str(p.get("value", "")), local) for p in params(call.get("arguments"))}
        return self._execute(call["template"], args, extra)

    def _publish(self, scope: dict[str, str], prefix: str, call: Mapping[str, Any], node: _Node) -> None:
        """A task's outputs for later references; a Skipped or Omitted task's resolve to "" (Argo's
        docs/enhanced-depends-logic.md, "Output references from Skipped or Omitted tasks")."""
        if node.items is not None:
            return
        scope[f"{prefix}.outputs.result"] = node.outputs["result"]
        declared = [p["name"] for p in params(self._templates[call["template"]].get("outputs"))]
        for name in declared:
            scope[f"{prefix}.outputs.parameters.{name}"] = node.outputs["parameters"].get(name, "")

    def _dag(self, t: Mapping[str, Any], scope: dict[str, str], extra: Mapping[str, str]) -> _Node:
        tasks = {task["name"]: task for task in t["dag"]["tasks"]}
        states: dict[str, TaskState] = {}
        branch: dict[str, str] = {}
        for name in _topological(tasks):
            task = tasks[name]
            deps = _dependencies(task)
            expression = task.get("depends") or " && ".join(task.get("dependencies") or [])
            if expression and not evaluate_depends(expression, states):
                node = _Node("Omitted")
            else:
                node = self._call(task, scope, extra)
                if node.phase in ("Succeeded", "Skipped", "Omitted"):
                    self._publish(scope, f"tasks.{name}", task, node)
            states[name] = TaskState(node.phase, node.items)
            # dag.go assessDAGPhase: an Omitted task inherits its parents' branch phase, Failed/Error first.
            inherited = [branch[d] for d in deps if branch[d] in FAILED]
            branch[name] = node.phase if node.phase != "Omitted" else (inherited[0] if inherited else "Succeeded")
        leaves = [n for n in tasks if not any(n in _dependencies(other) for other in tasks.values())]
        failed = [branch[n] for n in leaves if branch[n] in FAILED]
        return _Node(failed[0] if failed else "Succeeded")

    def _steps(self, t: Mapping[str, Any], scope: dict[str, str], extra: Mapping[str, str]) -> _Node:
        for group in t["steps"]:
            group_failed = ""
            for step in group:
                node = self._call(step, scope, extra)
                if node.phase in {"Succeeded", "Skipped"}:
                    self._publish(scope, f"steps.{step['name']}", step, node)
                # steps.go executeStepGroup: the group fails on a Failed/Error child (every item of a
                # fan-out is a child) unless the step continues on that phase.
                children = node.items if node.items is not None else (node.phase,)
                for phase in children:
                    if phase in FAILED and not _continues_on(step, phase):
                        group_failed = group_failed or "Failed"
            if group_failed:
                return _Node(group_failed)
        return _Node("Succeeded")


def should_retry(strategy: Mapping[str, Any], attempt: Attempt, attempts: int) -> bool:
    """Whether Argo starts another attempt after ``attempts`` attempts, the last one ``attempt``
    (operator.go processNodeRetries: policy, then limit, then expression)."""
    if not strategy:
        return False
    policy = strategy.get("retryPolicy") or ("Always" if strategy.get("expression") else "OnFailure")
    on_failed, on_error = {"Always": (True, True), "OnFailure": (True, False), "OnError": (False, True)}.get(
        policy, (False, False))
    if (attempt.status == "Failed" and not on_failed) or (attempt.status == "Error" and not on_error):
        return False
    if attempts > int(str(strategy.get("limit", "0"))):
        return False
    expression = strategy.get("expression")
    return True if not expression else evaluate_retry(str(expression), attempt)


def _continues_on(step: Mapping[str, Any], phase: str) -> bool:
    c = step.get("continueOn") or {}
    return bool(c.get("failed")) if phase == "Failed" else bool(c.get("error"))


def _dependencies(task: Mapping[str, Any]) -> list[str]:
    return depends_names(task.get("depends", "")) + list(task.get("dependencies") or [])


def _topological(tasks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise WorkflowFailedError(f"dependency cycle through {n}")
        state[n] = 1
        for d in _dependencies(tasks[n]):
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
        return VAR.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: substitute(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, scope) for v in value]
    return value


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
