"""Each issue-9 §1 defect, planted into the shipped manifests, is caught by a check (and the shipped
manifests pass every check)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.cluster.argo_check import all_problems
from tests.cluster.argo_manifests import argo_documents, core_documents, load_manifests
from tests.cluster.argo_schema import crd_errors
from tests.cluster.argo_semantics import (
    fan_in_errors,
    finalize_data_errors,
    image_errors,
    pull_secret_errors,
    rbac_errors,
    resource_errors,
    retry_errors,
    service_account_errors,
)

ALL = load_manifests()
BT, OP = "workflowtemplate-backtest.yaml", "workflowtemplate-optuna.yaml"
BUILD = "workflowtemplate-build-push-ghcr.yaml"


def fresh(name: str) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(ALL[name]))
    return copied


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def test_the_shipped_manifests_pass_every_check():
    assert all_problems() == []


def test_resources_from_parameters_are_rejected_by_the_crd_and_the_semantic_check():
    doc = fresh(BT)
    run_shard = template(doc, "run-shard")
    run_shard["container"]["resources"] = {"requests": {"cpu": "{{workflow.parameters.shard-cpu}}"}}
    assert resource_errors(doc, "x") == [
        "x: templates[run-shard].container.resources.requests.cpu: '{{workflow.parameters.shard-cpu}}' is not a "
        "literal quantity (Argo parses it before substituting parameters: use podSpecPatch)"]
    assert len(crd_errors(doc, "x")) == 1


def test_a_podspecpatch_with_a_bad_default_or_container_is_rejected():
    doc = fresh(BT)
    next(p for p in doc["spec"]["arguments"]["parameters"] if p["name"] == "shard-memory")["value"] = "1 GB"
    assert resource_errors(doc, "x") == [
        "x: templates[run-shard].podSpecPatch: resources.requests.memory: default '1 GB' is not a Kubernetes quantity"]
    doc = fresh(OP)
    template(doc, "ask")["podSpecPatch"] = template(doc, "ask")["podSpecPatch"].replace('"main"', '"trading"')
    assert resource_errors(doc, "x") == [
        "x: templates[ask].podSpecPatch: must patch exactly the container 'main' (Argo's name for it)"]


@pytest.mark.parametrize("name", [BT, OP])
def test_a_finalize_pod_that_cannot_load_the_data_as_run_shard_does_is_rejected(name: str):
    assert finalize_data_errors(fresh(name), "x") == []
    doc = fresh(name)
    template(doc, "finalize")["container"].pop("envFrom")
    template(doc, "finalize")["container"]["volumeMounts"] = []
    next(p for p in doc["spec"]["arguments"]["parameters"] if p["name"] == "step-memory")["value"] = "512Mi"
    assert finalize_data_errors(doc, "x") == [
        "x: templates[finalize].container.envFrom: differs from run-shard's (finalize loads the data as it does)",
        "x: templates[finalize].container.volumeMounts: differs from run-shard's (finalize loads the data as it does)",
        "x: templates[finalize]: memory requests below run-shard's by default (finalize evaluates runs as it does)"]


def test_a_template_without_the_service_account_is_rejected():
    doc = fresh(OP)
    del doc["spec"]["serviceAccountName"]
    assert service_account_errors(doc, "x", "trading-runtime-workflow") == [
        "x: spec.serviceAccountName: None, expected 'trading-runtime-workflow' (argo/serviceaccount.yaml)"]


@pytest.mark.parametrize("plant", [
    lambda core: core["role.yaml"]["rules"][0].update(verbs=["create"]),
    lambda core: core["role.yaml"]["rules"][0].update(resources=["workflows"]),
    lambda core: core["rolebinding.yaml"]["subjects"][0].update(name="default"),
], ids=["no patch verb", "other resource", "binds another account"])
def test_rbac_without_workflowtaskresults_create_and_patch_is_rejected(plant: Callable[[dict[str, Any]], None]):
    core = json.loads(json.dumps(core_documents(ALL)))
    assert rbac_errors(core) == []
    plant(core)
    assert rbac_errors(core) == [
        "RBAC: no Role bound to 'trading-runtime-workflow' grants workflowtaskresults create and patch "
        "(argoproj.io): the executor could not report outputs"]


def test_missing_pull_secret_and_a_leaked_push_credential_are_rejected():
    doc = fresh(BT)
    del doc["spec"]["imagePullSecrets"]
    assert pull_secret_errors(doc, "x") == ["x: spec.imagePullSecrets: [], expected ['ghcr-pull']"]
    doc = fresh(BT)
    doc["spec"]["imagePullSecrets"] = [{"name": "ghcr-push"}]
    assert "x: spec.imagePullSecrets[0].name: names the push credential 'ghcr-push'" in pull_secret_errors(doc, "x")
    doc = fresh(BUILD)
    template(doc, "crane-digest")["container"]["volumeMounts"].append({"name": "push-credentials", "mountPath": "/p"})
    assert pull_secret_errors(doc, "x") == ["x: templates[crane-digest]: mounts the push credential 'ghcr-push'"]


def test_fan_in_that_depends_only_on_success_is_rejected():
    doc = fresh(BT)
    finalize = next(t for t in template(doc, "backtest")["dag"]["tasks"] if t["name"] == "finalize")
    finalize["depends"] = "run-shard"
    assert fan_in_errors(doc, "x") == [
        "x: templates[backtest].dag.tasks[finalize].depends: 'run-shard' is Omitted when an item of 'run-shard' "
        "ends Failed",
        "x: templates[backtest].dag.tasks[finalize].depends: 'run-shard' is Omitted when an item of 'run-shard' "
        "ends Error"]
    finalize["depends"] = "run-shard.Succeeded || run-shard.Failed"  # misses an Errored item (a lost pod)
    assert fan_in_errors(doc, "x") == [
        "x: templates[backtest].dag.tasks[finalize].depends: 'run-shard.Succeeded || run-shard.Failed' is "
        "Omitted when an item of 'run-shard' ends Error"]


def test_tell_after_a_fan_out_step_without_continue_on_is_rejected():
    doc = fresh(OP)
    del template(doc, "generation")["steps"][1][0]["continueOn"]
    assert fan_in_errors(doc, "x") == [
        "x: templates[generation].steps[1][run-shard]: a failed item stops the later steps: set continueOn "
        "{failed: true, error: true}"]


def test_retry_expression_without_infrastructure_loss_is_rejected():
    doc = fresh(BT)
    template(doc, "run-shard")["retryStrategy"]["expression"] = "asInt(lastRetry.exitCode) == 75"
    assert retry_errors(doc, "x") == [
        "x: templates[run-shard].retryStrategy.expression: does not retry exit -1 (Error: pod deleted)",
        "x: templates[run-shard].retryStrategy.expression: does not retry exit -1 "
        "(Failed: Pod was terminated in response to imminent node shutdown.)"]
    template(doc, "run-shard")["retryStrategy"]["expression"] += " || asInt(lastRetry.exitCode) != 0"
    assert "x: templates[run-shard].retryStrategy.expression: retries exit 2 (not transient)" in \
        retry_errors(doc, "x")


def test_a_max_duration_shorter_than_the_attempts_is_rejected():
    doc = fresh(BT)
    template(doc, "run-shard")["retryStrategy"]["backoff"]["maxDuration"] = "10m"
    assert retry_errors(doc, "x") == [
        "x: templates[run-shard].retryStrategy.backoff.maxDuration: 10m < 14470s = 4 attempts x "
        "activeDeadlineSeconds 3600 + back-off 70s"]


def test_images_by_tag_and_an_unpinned_build_are_rejected():
    doc = fresh(BT)
    template(doc, "finalize")["container"]["image"] = "{{workflow.parameters.image}}:{{workflow.parameters.revision}}"
    assert image_errors(doc, "x") == [
        "x: templates[finalize].container.image: '{{workflow.parameters.image}}:{{workflow.parameters.revision}}': "
        "runtime pods run <image>@<digest> (the build's output)"]
    doc = fresh(BUILD)
    kaniko = template(doc, "kaniko")["container"]
    kaniko["image"] = "gcr.io/kaniko-project/executor:v1.23.2"
    del kaniko["command"]
    kaniko["args"] = [a for a in kaniko["args"] if a != "--reproducible"]
    kaniko["args"].append("--build-arg=CREATED={{workflow.creationTimestamp}}")
    assert image_errors(doc, "x") == [
        "x: templates[kaniko].container.image: 'gcr.io/kaniko-project/executor:v1.23.2' is not pinned by digest",
        "x: templates[kaniko].container.command: missing (Argo's emissary executor needs it)",
        "x: templates[kaniko].container.args: missing --reproducible",
        "x: templates[kaniko].container.args: the created label must come from the commit, not the workflow's time"]


def test_argo_documents_are_the_workflows_and_templates():
    assert set(argo_documents(ALL)) | set(core_documents(ALL)) == set(ALL)
