"""Checks that model what Argo and Kubernetes do with our manifests (issue 9 §1), beyond their schemas.

Each rule names the Argo source or doc it models; tests/cluster/test_argo_semantics.py plants each
defect and shows the rule catches it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tests.cluster.argo_expressions import Attempt, ExpressionError, TaskState, evaluate_depends, evaluate_retry
from tests.cluster.argo_manifests import VAR, container_templates, params

# k8s.io/apimachinery resource.Quantity, as the full CRD writes it (tests/cluster/schemas/).
QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
                      r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
DIGEST_REF = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
BUILD_TEMPLATE = "trading-runtime-build-push-ghcr"
PUSH_SECRET, PULL_SECRET = "ghcr-push", "ghcr-pull"
# Retries that must happen / must not (docs/retries.md; operator.go buildRetryStrategyLocalScope).
MUST_RETRY = (Attempt(75, "Failed", "Error (exit code 75)"), Attempt(-1, "Error", "pod deleted"),
              Attempt(-1, "Failed", "Pod was terminated in response to imminent node shutdown."))
MUST_NOT_RETRY = (Attempt(1, "Failed", "Error (exit code 1)"), Attempt(2, "Failed", "Error (exit code 2)"),
                  Attempt(3, "Failed", "Error (exit code 3)"))


def _defaults(doc: Mapping[str, Any]) -> dict[str, str]:
    return {f"workflow.parameters.{p['name']}": str(p["value"])
            for p in params((doc.get("spec") or {}).get("arguments")) if "value" in p}


def _seconds(text: str) -> int:
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", str(text))
    if not str(text).isdigit() and (m is None or not any(m.groups())):
        raise ValueError(f"not a duration: {text!r}")
    if str(text).isdigit():
        return int(text)
    assert m is not None
    h, mi, s = (int(g or 0) for g in m.groups())
    return h * 3600 + mi * 60 + s


def resource_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """Quantities are parsed before parameters are substituted (argoproj/argo-workflows #3058, #6939):
    ``container.resources`` must be literal; a ``podSpecPatch`` (docs/fields.md: applied after
    substitution) must be JSON patching the container ``main`` with quantities once defaults are filled."""
    lines = []
    defaults = _defaults(doc)
    for t in (doc.get("spec") or {}).get("templates") or []:
        where = f"{source}: templates[{t.get('name')}]"
        resources = (t.get("container") or {}).get("resources") or {}
        for kind, values in resources.items():
            for name, value in (values or {}).items():
                if not QUANTITY.match(str(value)):
                    lines.append(f"{where}.container.resources.{kind}.{name}: {value!r} is not a literal quantity "
                                 "(Argo parses it before substituting parameters: use podSpecPatch)")
        if "podSpecPatch" not in t:
            continue
        text = VAR.sub(lambda m: defaults.get(m.group(2), m.group(0)), str(t["podSpecPatch"]))
        try:
            patch = json.loads(text)
        except json.JSONDecodeError as e:
            lines.append(f"{where}.podSpecPatch: not JSON once the defaults are substituted: {e}")
            continue
        containers = patch.get("containers") or []
        if [c.get("name") for c in containers] != ["main"]:
            lines.append(f"{where}.podSpecPatch: must patch exactly the container 'main' (Argo's name for it)")
        for c in containers:
            for kind, values in (c.get("resources") or {}).items():
                for name, value in values.items():
                    if not QUANTITY.match(str(value)):
                        lines.append(f"{where}.podSpecPatch: resources.{kind}.{name}: default {value!r} "
                                     "is not a Kubernetes quantity")
    return lines


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def _bytes(quantity: str) -> float:
    """A memory quantity in bytes (the suffixes a memory request uses)."""
    m = re.fullmatch(r"([0-9.]+)([KMGTPE]i|[kMGTPE]?)", quantity)
    if m is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return float(m.group(1)) * {**_BINARY, **_DECIMAL}[m.group(2)]


def _memory(doc: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, float]:
    """A template's memory request and limit (bytes) once the podSpecPatch defaults are filled in."""
    defaults = _defaults(doc)
    text = VAR.sub(lambda m: defaults.get(m.group(2), m.group(0)), str(t.get("podSpecPatch") or "{}"))
    out: dict[str, float] = {}
    for c in json.loads(text).get("containers") or []:
        for kind, values in (c.get("resources") or {}).items():
            if "memory" in values:
                out[kind] = _bytes(str(values["memory"]))
    return out


def finalize_data_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """finalize re-derives the leaderboards' equity curves from the data (issue 13), which it loads as run-shard
    does: its pod needs run-shard's store credentials (envFrom), its /tmp (the data cache; read-only root),
    and at least run-shard's memory request and limit by default."""
    templates = {t.get("name"): t for t in (doc.get("spec") or {}).get("templates") or []}
    shard = templates.get("run-shard")
    final = templates.get("finalize")
    if shard is None or final is None:
        return []
    lines = []
    where = f"{source}: templates[finalize]"
    for key in ("envFrom", "volumeMounts"):
        if (final.get("container") or {}).get(key) != (shard.get("container") or {}).get(key):
            lines.append(f"{where}.container.{key}: differs from run-shard's (finalize loads the data as it does)")
    have, need = _memory(doc, final), _memory(doc, shard)
    for kind, value in need.items():
        if have.get(kind, 0.0) < value:
            lines.append(f"{where}: memory {kind} below run-shard's by default (finalize evaluates runs as it does)")
    return lines


def service_account_errors(doc: Mapping[str, Any], source: str, service_account: str) -> list[str]:
    """Without spec.serviceAccountName pods run as the namespace's default account, which may not
    create the workflowtaskresults the executor reports outputs with (docs/workflow-rbac.md)."""
    if doc.get("kind") != "WorkflowTemplate":
        return []
    got = (doc.get("spec") or {}).get("serviceAccountName")
    if got != service_account:
        return [f"{source}: spec.serviceAccountName: {got!r}, expected {service_account!r} (argo/serviceaccount.yaml)"]
    return []


def rbac_errors(core: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A RoleBinding binds the service account to a Role granting workflowtaskresults create and
    patch in argoproj.io (docs/workflow-rbac.md, "For >= v3.4")."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for doc in core.values():
        by_kind.setdefault(str(doc.get("kind")), []).append(doc)
    accounts = [d["metadata"]["name"] for d in by_kind.get("ServiceAccount", [])]
    if len(accounts) != 1:
        return [f"ServiceAccount: expected exactly one in argo/, found {accounts}"]
    lines = []
    roles = {d["metadata"]["name"]: d for d in by_kind.get("Role", [])}
    granted = False
    for binding in by_kind.get("RoleBinding", []):
        subjects = [s for s in binding.get("subjects") or [] if s.get("kind") == "ServiceAccount"]
        if not any(s.get("name") == accounts[0] for s in subjects):
            continue
        role = roles.get(binding.get("roleRef", {}).get("name", ""))
        if role is None or binding["roleRef"].get("kind") != "Role":
            lines.append(f"RoleBinding {binding['metadata']['name']}: roleRef names no Role in argo/")
            continue
        for rule in role.get("rules") or []:
            if "argoproj.io" in rule.get("apiGroups", []) and "workflowtaskresults" in rule.get("resources", []) \
                    and {"create", "patch"} <= set(rule.get("verbs", [])):
                granted = True
    if not granted:
        lines.append(f"RBAC: no Role bound to {accounts[0]!r} grants workflowtaskresults create and patch "
                     "(argoproj.io): the executor could not report outputs")
    return lines


def pull_secret_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """Runtime pods pull the private image with the read-only pull secret; the push credential is
    mounted by the kaniko pod only."""
    lines = []
    spec = doc.get("spec") or {}
    name = (doc.get("metadata") or {}).get("name")
    if doc.get("kind") == "WorkflowTemplate" and name != BUILD_TEMPLATE:
        pulls = [s.get("name") for s in spec.get("imagePullSecrets") or []]
        if pulls != [PULL_SECRET]:
            lines.append(f"{source}: spec.imagePullSecrets: {pulls}, expected [{PULL_SECRET!r}]")
    push_volumes = {v["name"] for v in spec.get("volumes") or []
                    if (v.get("secret") or {}).get("secretName") == PUSH_SECRET}
    for t in container_templates(doc):
        mounts = {m["name"] for m in (t.get("container") or {}).get("volumeMounts") or []}
        if mounts & push_volumes and t.get("name") != "kaniko":
            lines.append(f"{source}: templates[{t.get('name')}]: mounts the push credential {PUSH_SECRET!r}")
    for where, value in _strings(spec):
        if PUSH_SECRET in value and not where.startswith("volumes"):
            lines.append(f"{source}: spec.{where}: names the push credential {PUSH_SECRET!r}")
    return lines


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [x for k, v in value.items() for x in _strings(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _strings(v, f"{path}[{i}]")]
    return []


def fan_in_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """A task depending on a fanned-out task must also run when items Failed or Errored (the TaskGroup
    takes that phase: dag.go executeDAGTask), so fan-in can name what is missing; a step after a
    fanned-out step needs continueOn failed and error (steps.go executeStepGroup)."""
    lines = []
    for t in (doc.get("spec") or {}).get("templates") or []:
        tasks = (t.get("dag") or {}).get("tasks") or []
        fan_outs = {task["name"] for task in tasks if "withParam" in task or "withItems" in task}
        for task in tasks:
            depends = str(task.get("depends") or " && ".join(task.get("dependencies") or []))
            for fan_out in fan_outs:
                if fan_out not in depends.replace("(", " ").replace(")", " ").replace(".", " ").split():
                    continue
                for phase, items in (("Failed", ("Succeeded", "Failed")), ("Error", ("Succeeded", "Error"))):
                    states = {n: TaskState("Succeeded") for n in (x["name"] for x in tasks)}
                    states[fan_out] = TaskState(phase, items)
                    try:
                        runs = evaluate_depends(depends, states)
                    except ExpressionError as e:
                        lines.append(f"{source}: templates[{t['name']}].dag.tasks[{task['name']}]: {e}")
                        break
                    if not runs:
                        lines.append(f"{source}: templates[{t['name']}].dag.tasks[{task['name']}].depends: "
                                     f"{depends!r} is Omitted when an item of {fan_out!r} ends {phase}")
        groups = t.get("steps") or []
        for gi, group in enumerate(groups[:-1]):
            for step in group:
                c = step.get("continueOn") or {}
                if "withParam" in step and not (c.get("failed") and c.get("error")):
                    lines.append(f"{source}: templates[{t['name']}].steps[{gi}][{step['name']}]: a failed item "
                                 "stops the later steps: set continueOn {failed: true, error: true}")
    return lines


def retry_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """Every retryStrategy retries exit 75 and infrastructure loss and nothing else; its
    backoff.maxDuration (counted from the first attempt, and the deadline of every retry's pod:
    operator.go processNodeRetries) covers every attempt's activeDeadlineSeconds plus the waits."""
    lines = []
    for t in container_templates(doc):
        where = f"{source}: templates[{t.get('name')}]"
        strategy = t.get("retryStrategy")
        if strategy is None:
            lines.append(f"{where}: no retryStrategy")
            continue
        expression = str(strategy.get("expression", ""))
        attempts = MUST_RETRY if t.get("name") != "kaniko" else MUST_RETRY[1:]
        try:
            for a in attempts:
                if not evaluate_retry(expression, a):
                    lines.append(f"{where}.retryStrategy.expression: does not retry exit {a.exit_code} "
                                 f"({a.status}: {a.message})")
            for a in MUST_NOT_RETRY:
                if evaluate_retry(expression, a):
                    lines.append(f"{where}.retryStrategy.expression: retries exit {a.exit_code} (not transient)")
        except ExpressionError as e:
            lines.append(f"{where}: {e}")
        if strategy.get("retryPolicy") != "Always":
            lines.append(f"{where}.retryStrategy.retryPolicy: {strategy.get('retryPolicy')!r}, expected 'Always' "
                         "(Error attempts are retried only then)")
        try:
            limit = int(str(strategy["limit"]))
            deadline = int(str(t["activeDeadlineSeconds"]))
            backoff = strategy.get("backoff") or {}
            base, factor = _seconds(backoff.get("duration", "0")), int(str(backoff.get("factor", "1")))
            waits = sum(base * factor**n for n in range(limit))
            needed = (limit + 1) * deadline + waits
            if "maxDuration" in backoff and _seconds(backoff["maxDuration"]) < needed:
                lines.append(f"{where}.retryStrategy.backoff.maxDuration: {backoff['maxDuration']} < {needed}s "
                             f"= {limit + 1} attempts x activeDeadlineSeconds {deadline} + back-off {waits}s")
        except (KeyError, ValueError) as e:
            lines.append(f"{where}: retry limit, activeDeadlineSeconds and backoff must be literal: {e}")
    return lines


def image_errors(doc: Mapping[str, Any], source: str) -> list[str]:
    """Every runtime pod runs the image by digest (<image>@<digest>, the build's output); the build's
    own images are pinned by digest; kaniko has an explicit command (the emissary executor runs it),
    builds reproducibly and writes its digest to an output parameter."""
    lines = []
    is_build = (doc.get("metadata") or {}).get("name") == BUILD_TEMPLATE
    for t in container_templates(doc):
        c = t.get("container") or t.get("script") or {}
        where = f"{source}: templates[{t.get('name')}].container"
        image = str(c.get("image", ""))
        if is_build:
            if not DIGEST_REF.match(image):
                lines.append(f"{where}.image: {image!r} is not pinned by digest")
        elif image != "{{workflow.parameters.image}}@{{workflow.parameters.digest}}":
            lines.append(f"{where}.image: {image!r}: runtime pods run <image>@<digest> (the build's output)")
        if not c.get("command"):
            lines.append(f"{where}.command: missing (Argo's emissary executor needs it)")
        if t.get("name") == "kaniko":
            args = [str(a) for a in c.get("args") or []]
            for flag in ("--reproducible", "--digest-file=/out/digest"):
                if flag not in args:
                    lines.append(f"{where}.args: missing {flag}")
            if any("workflow.creationTimestamp" in a for a in args):
                lines.append(f"{where}.args: the created label must come from the commit, not the workflow's time")
            outs = [p for p in params(t.get("outputs")) if (p.get("valueFrom") or {}).get("path") == "/out/digest"]
            if not outs:
                lines.append(f"{source}: templates[kaniko].outputs: no parameter reads the digest file")
    return lines


def all_semantic_errors(docs: Mapping[str, Mapping[str, Any]], core: Mapping[str, Mapping[str, Any]]) -> list[str]:
    accounts = [d["metadata"]["name"] for d in core.values() if d.get("kind") == "ServiceAccount"]
    lines = rbac_errors(core)
    for source, doc in docs.items():
        lines += resource_errors(doc, source)
        lines += service_account_errors(doc, source, accounts[0] if accounts else "")
        lines += pull_secret_errors(doc, source)
        lines += fan_in_errors(doc, source)
        lines += retry_errors(doc, source)
        lines += image_errors(doc, source)
        lines += finalize_data_errors(doc, source)
    return lines
