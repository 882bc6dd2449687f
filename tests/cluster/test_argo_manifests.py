"""argo/*.yaml: Argo's full CRD and strict JSON schema, hera's models, the reference check, core objects, pod policy.

Each check is shown to catch one planted error of each kind it is responsible for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.cluster.argo_hera import hera_roundtrip_diff
from tests.cluster.argo_manifests import ARGO_DIR, argo_documents, core_documents, load_manifests, templates_by_name
from tests.cluster.argo_references import reference_errors
from tests.cluster.argo_schema import crd_errors, load_strict_schema, schema_errors, strict_schema
from tests.cluster.kube_core import KUBERNETES_VERSION, core_errors, namespace_errors

ALL = load_manifests()
DOCS = argo_documents(ALL)
CORE = core_documents(ALL)
WFTS = templates_by_name(DOCS)
RUNTIME_TEMPLATES = ("workflowtemplate-backtest.yaml", "workflowtemplate-optuna.yaml")
EXPECTED_FILES = {
    "workflowtemplate-build-push-ghcr.yaml", "workflowtemplate-backtest.yaml", "workflowtemplate-optuna.yaml",
    "run-build.yaml", "run-backtest.yaml", "run-optuna.yaml", "run-smoke.yaml",
}
CORE_FILES = {"namespace.yaml", "namespace-build.yaml", "serviceaccount.yaml", "role.yaml", "rolebinding.yaml"}


def fresh(name: str) -> dict[str, Any]:
    """A deep copy without YAML aliases (anchored mappings are shared objects after loading)."""
    copied: dict[str, Any] = json.loads(json.dumps(ALL[name]))
    return copied


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def task(doc: dict[str, Any], dag: str, name: str) -> dict[str, Any]:
    return next(t for t in template(doc, dag)["dag"]["tasks"] if t["name"] == name)


def test_the_manifests_are_all_there():
    assert set(DOCS) == EXPECTED_FILES
    assert set(CORE) == CORE_FILES
    assert set(WFTS) == {"trading-runtime-backtest", "trading-runtime-optuna", "trading-runtime-build-push-ghcr"}


# ---------------------------------------------------------------------------------------------- strict schema

@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_strict_schema()  # vendored: tests/cluster/schemas/ (SOURCE.md)


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_manifest_matches_argos_strict_schema(schema, name):
    assert schema_errors(DOCS[name], schema, name) == []


def test_strict_schema_rejects_unknown_keys_and_accepts_int_or_string(schema):
    doc = fresh("workflowtemplate-backtest.yaml")
    run_shard = task(doc, "backtest", "run-shard")
    run_shard["withParams"] = run_shard.pop("withParam")  # a misspelled key
    assert schema_errors(doc, schema, "x") == [
        "x: spec/templates/0/dag/tasks/1: Additional properties are not allowed ('withParams' was unexpected)"]
    doc = fresh("workflowtemplate-backtest.yaml")
    template(doc, "plan")["retryStrategy"]["limit"] = 3  # IntOrString: an integer is valid for Argo
    assert schema_errors(doc, schema, "x") == []
    template(doc, "plan")["retryStrategy"]["limit"] = [3]
    assert schema_errors(doc, schema, "x") == [
        "x: spec/templates/1/retryStrategy/limit: [3] is not of type 'string', 'integer'"]


def test_strict_schema_patches_only_object_definitions_with_properties():
    raw = {"definitions": {
        "a": {"type": "object", "properties": {"x": {"type": "string"}}},
        "b": {"type": "object", "additionalProperties": {"type": "string"}},
        "c": {"type": "object"},
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string"},
    }}
    strict = strict_schema(raw)
    assert strict["definitions"]["a"]["additionalProperties"] is False
    assert strict["definitions"]["b"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in strict["definitions"]["c"]
    assert strict["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {"type": ["string", "integer"]}
    assert raw["definitions"]["a"] == {"type": "object", "properties": {"x": {"type": "string"}}}  # a copy


# ---------------------------------------------------------------------------------------------- full CRD

@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_manifest_matches_argos_full_crd(name):
    assert crd_errors(DOCS[name], name) == []


def test_full_crd_rejects_a_parameter_as_a_resource_quantity():
    # The defect of the shipped templates before: argo submit fails with "quantities must match the
    # regular expression" (argoproj/argo-workflows #3058, #6939).
    doc = fresh("workflowtemplate-backtest.yaml")
    template(doc, "run-shard")["container"]["resources"] = {"requests": {"cpu": "{{workflow.parameters.shard-cpu}}"}}
    assert crd_errors(doc, "x") == [
        "x: spec/templates/2/container/resources/requests/cpu: '{{workflow.parameters.shard-cpu}}' "
        "is not valid under any of the given schemas"]
    template(doc, "run-shard")["container"]["resources"] = {"requests": {"cpu": "500m", "memory": 2}}
    assert crd_errors(doc, "x") == []  # int-or-string: a literal quantity or an integer


def test_full_crd_rejects_unknown_keys_and_takes_int_or_string_deadlines():
    doc = fresh("workflowtemplate-optuna.yaml")
    template(doc, "tell")["retryStrategy"]["backof"] = {}
    assert crd_errors(doc, "x") == [
        "x: spec/templates/6/retryStrategy: Additional properties are not allowed ('backof' was unexpected)"]
    doc = fresh("workflowtemplate-optuna.yaml")
    template(doc, "tell")["activeDeadlineSeconds"] = "{{workflow.parameters.step-deadline-seconds}}"
    assert crd_errors(doc, "x") == []  # IntOrString with no pattern: Argo substitutes it later


# ---------------------------------------------------------------------------------------------- core objects

@pytest.mark.parametrize("name", sorted(CORE_FILES))
def test_core_object_passes_kubernetes_validate_strict(name):
    assert core_errors(CORE[name], name) == []


def test_kubernetes_validate_catches_planted_errors():
    assert KUBERNETES_VERSION == "1.32.0"
    role = fresh("role.yaml")
    role["rules"][0]["verb"] = role["rules"][0].pop("verbs")
    assert core_errors(role, "x") == ["x: rules/0: 'verbs' is a required property"]
    sa = fresh("serviceaccount.yaml")
    sa["automountToken"] = False  # a misspelled key (strict)
    assert core_errors(sa, "x") == [
        "x: (top level): Additional properties are not allowed ('automountToken' was unexpected)"]
    binding = fresh("rolebinding.yaml")
    del binding["roleRef"]["name"]
    assert core_errors(binding, "x") == ["x: roleRef: 'name' is a required property"]


def test_namespaces_enforce_restricted_except_the_build_namespace():
    for name in ("namespace.yaml", "namespace-build.yaml"):
        assert namespace_errors(CORE[name], name) == []
    ns = fresh("namespace.yaml")
    ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
    assert namespace_errors(ns, "x") == [
        "x: metadata.labels: pod-security.kubernetes.io/enforce is 'baseline', expected 'restricted'"]


# ---------------------------------------------------------------------------------------------- hera round trip

@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_manifest_round_trips_through_heras_models(name):
    assert hera_roundtrip_diff(DOCS[name]) == []


def test_hera_round_trip_catches_an_unknown_key():
    doc = fresh("workflowtemplate-optuna.yaml")
    template(doc, "run-shard")["container"]["securityContex"] = {"runAsNonRoot": True}
    assert hera_roundtrip_diff(doc) == [
        "spec/templates[5]/container/securityContex: unknown to Argo's models (dropped by the round trip)"]


# ---------------------------------------------------------------------------------------------- references

@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_every_reference_resolves(name):
    assert reference_errors(DOCS[name], name, WFTS) == []


def _planted() -> Iterator[tuple[str, str, Callable[[dict[str, Any]], None], str]]:
    bt, op = "workflowtemplate-backtest.yaml", "workflowtemplate-optuna.yaml"

    def set_entry(d):
        d["spec"]["entrypoint"] = "backtests"
    yield "entrypoint", bt, set_entry, "x: spec.entrypoint: no template named 'backtests'"

    def set_exit(d):
        d["spec"]["onExit"] = "record"
    yield "onExit", bt, set_exit, "x: spec.onExit: no template named 'record'"

    def task_template(d):
        task(d, "backtest", "finalize")["template"] = "fanin"
    yield "task template", bt, task_template, \
        "x: templates[backtest].dag.tasks[finalize].template: no template named 'fanin'"

    def dependency(d):
        task(d, "backtest", "finalize")["depends"] = "run-shards"
    yield "dependency", bt, dependency, "x: templates[backtest].dag.tasks[finalize].depends: no task named 'run-shards'"

    def cycle(d):
        task(d, "backtest", "plan")["depends"] = "validate"
    yield "cycle", bt, cycle, "x: templates[backtest].dag: dependency cycle through task 'plan'"

    def input_param(d):
        template(d, "run-shard")["container"]["args"][-1] = "{{inputs.parameters.shard-id}}"
    yield "inputs.parameters", bt, input_param, \
        "x: templates[run-shard]: {{inputs.parameters.shard-id}}: the template has no input parameter 'shard-id'"

    def workflow_param(d):
        template(d, "plan")["container"]["args"][2] = "{{workflow.parameters.configs}}"
    yield "workflow.parameters", bt, workflow_param, \
        "x: templates[plan]: {{workflow.parameters.configs}}: the workflow has no parameter 'configs'"

    def task_output(d):
        task(d, "backtest", "finalize")["arguments"]["parameters"][0]["value"] = \
            "{{tasks.plan.outputs.parameters.experiment}}"
    yield "tasks outputs.parameters", bt, task_output, \
        "x: templates[backtest].dag.tasks[finalize]: {{tasks.plan.outputs.parameters.experiment}}: " \
        "template 'plan' has no output parameter 'experiment'"

    def not_upstream(d):
        task(d, "backtest", "run-shard")["withParam"] = "{{tasks.finalize.outputs.result}}"
    yield "task not upstream", bt, not_upstream, \
        "x: templates[backtest].dag.tasks[run-shard]: {{tasks.finalize.outputs.result}}: " \
        "'finalize' is not an upstream dependency"

    def argument(d):
        task(d, "backtest", "finalize")["arguments"]["parameters"][0]["name"] = "experiment-id"
    yield "task argument", bt, argument, \
        "x: templates[backtest].dag.tasks[finalize].arguments: template 'finalize' has no input parameter " \
        "'experiment-id'"

    def step_later(d):
        template(d, "generation")["steps"][0][0]["arguments"]["parameters"][1]["value"] = \
            "{{steps.tell.outputs.result}}"
    yield "step of a later group", op, step_later, \
        "x: templates[generation].steps[0][ask]: {{steps.tell.outputs.result}}: 'tell' is not a step of an " \
        "earlier group"

    def duplicate_template(d):
        template(d, "tell")["name"] = "ask"
    yield "duplicate template", op, duplicate_template, "x: spec.templates: duplicate template name 'ask'"

    def duplicate_task(d):
        task(d, "backtest", "validate")["name"] = "finalize"
    yield "duplicate task", bt, duplicate_task, "x: templates[backtest].dag.tasks: duplicate task name 'finalize'"

    def duplicate_param(d):
        d["spec"]["arguments"]["parameters"].append({"name": "store", "value": "s3://b"})
    yield "duplicate parameter", bt, duplicate_param, "x: spec.arguments.parameters: duplicate parameter 'store'"

    def status_outside_exit(d):
        template(d, "finalize")["container"]["args"].append("{{workflow.status}}")
    yield "exit-only variable", bt, status_outside_exit, \
        "x: templates[finalize]: {{workflow.status}} is defined only in the exit handler"

    def launcher_ref(d):
        d["spec"]["workflowTemplateRef"]["name"] = "trading-runtime-backtests"
    yield "launcher template", "run-smoke.yaml", launcher_ref, \
        "x: spec.workflowTemplateRef.name: no WorkflowTemplate named 'trading-runtime-backtests' in argo/"

    def launcher_param(d):
        d["spec"]["arguments"]["parameters"].append({"name": "goldens", "value": "g"})
    yield "launcher parameter", "run-smoke.yaml", launcher_param, \
        "x: spec.arguments.parameters: WorkflowTemplate 'trading-runtime-backtest' has no parameter 'goldens'"


@pytest.mark.parametrize(("kind", "name", "plant", "expected"), list(_planted()), ids=[p[0] for p in _planted()])
def test_reference_check_catches_a_planted_error(kind, name, plant, expected):
    doc = fresh(name)
    plant(doc)
    assert expected in reference_errors(doc, "x", WFTS), kind


# ---------------------------------------------------------------------------------------------- pod policy

def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}/{k}", v
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_no_hostpath_and_no_docker_socket(name):
    for path, value in _walk(DOCS[name]):
        assert not path.endswith("/hostPath"), f"{name}: {path}"
        assert "docker.sock" not in str(value) or isinstance(value, (dict, list)), f"{name}: {path}"


@pytest.mark.parametrize("name", RUNTIME_TEMPLATES)
def test_runtime_pods_follow_the_cluster_contract(name):
    spec = DOCS[name]["spec"]
    assert spec["onExit"] == "record-status"
    assert spec["podGC"]["strategy"] in ("OnPodSuccess", "OnWorkflowSuccess", "OnPodCompletion")
    assert isinstance(spec["activeDeadlineSeconds"], int) and spec["activeDeadlineSeconds"] > 0
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {v["name"]: v for v in spec["volumes"]}["tmp"]["emptyDir"]
    containers = [t for t in spec["templates"] if "container" in t]
    assert len(containers) >= 5
    for t in containers:
        c, where = t["container"], f"{name}: {t['name']}"
        assert c["image"] == "{{workflow.parameters.image}}@{{workflow.parameters.digest}}", where
        assert c["command"] == ["trading-runtime"], where
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True, where
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}, where
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert "resources" not in c, where  # set through podSpecPatch (argo_semantics.resource_errors)
        kind = "shard" if t["name"] == "run-shard" else "step"
        assert json.loads(t["podSpecPatch"])["containers"][0]["resources"]["requests"]["cpu"] == \
            f"{{{{workflow.parameters.{kind}-cpu}}}}", where
        assert c["envFrom"] == [{"secretRef": {"name": "{{workflow.parameters.s3-secret}}"}}], where
        assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], where
        retry = t["retryStrategy"]
        assert retry["expression"].startswith(
            "asInt(lastRetry.exitCode) == 75 || asInt(lastRetry.exitCode) == -1"), where
        assert retry["retryPolicy"] == "Always", where
        assert t["activeDeadlineSeconds"], where


def test_fan_outs_carry_only_shard_ids():
    bt = task(fresh("workflowtemplate-backtest.yaml"), "backtest", "run-shard")
    assert bt["withParam"] == "{{tasks.plan.outputs.result}}"
    gen = template(fresh("workflowtemplate-optuna.yaml"), "generation")["steps"]
    assert gen[1][0]["withParam"] == "{{steps.ask.outputs.result}}"
    assert gen[3][0]["template"] == "generation"  # the recursion
    assert gen[3][0]["when"] == "'{{steps.tell.outputs.result}}' != 'done'"


def test_build_tags_sha_branch_and_latest_on_main_with_ghcr_credentials():
    doc = fresh("workflowtemplate-build-push-ghcr.yaml")
    kaniko = template(doc, "kaniko")
    args = kaniko["container"]["args"]
    assert "--destination={{workflow.parameters.image}}:{{workflow.parameters.revision}}" in args
    assert "--destination={{workflow.parameters.image}}:{{workflow.parameters.branch-tag}}" in args
    main = task(doc, "build", "build-main")
    assert main["when"] == "'{{tasks.lookup.outputs.parameters.digest}}' == '' && " \
        "'{{workflow.parameters.branch}}' == 'main'"  # an existing <image>:<revision> is not rebuilt
    assert main["arguments"]["parameters"][0]["value"] == "{{workflow.parameters.image}}:latest"
    assert "latest" not in json.dumps(task(doc, "build", "build-branch"))
    assert any(a.startswith("--context=git://") and "{{workflow.parameters.revision}}" in a for a in args)
    assert "--build-arg=TRADING_FRAMEWORK_COMMIT={{workflow.parameters.framework-commit}}" in args
    assert {v["name"]: v for v in doc["spec"]["volumes"]}["push-credentials"]["secret"]["secretName"] == "ghcr-push"
    assert {m["name"] for m in kaniko["container"]["volumeMounts"]} == {"push-credentials", "out"}
    assert task(doc, "build", "verify")["depends"] == "build-main && build-branch"
    assert kaniko["container"]["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(kaniko["container"]["resources"]) == {"requests", "limits"}


def test_argo_dir_is_the_checked_one():
    assert ARGO_DIR.name == "argo" and ARGO_DIR.is_dir()


def _shipped_paths() -> set[str]:
    """Files the Dockerfile copies into the image's working directory /opt/trading-runtime (sources,
    repository-relative), where the launchers' relative config paths resolve."""
    from tests.conftest import ROOT

    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    shipped: set[str] = set()
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and words[-1].startswith("/opt/trading-runtime/") and "/bin/" not in words[-1]:
            shipped.update(w.rstrip("/") for w in words[1:-1] if not w.startswith("--"))
    return shipped


@pytest.mark.parametrize("name", sorted(n for n in DOCS if n.startswith("run-")))
def test_every_launchers_default_config_is_shipped_in_the_image(name):
    """A launcher's default config path must exist in the image, or its first pod fails with exit 2."""
    from tests.conftest import ROOT

    params = DOCS[name]["spec"].get("arguments", {}).get("parameters", [])
    configs = [p["value"] for p in params if p["name"] == "config" and "value" in p]
    shipped = _shipped_paths()
    for path in configs:
        assert (ROOT / path).is_file(), path
        assert path in shipped or any(path.startswith(d + "/") for d in shipped), f"{path} not copied by Dockerfile"
