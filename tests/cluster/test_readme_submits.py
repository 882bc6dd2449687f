"""Every `argo submit` the README shows passes only parameters its WorkflowTemplate or launcher declares
(Argo refuses an unknown `-p name=…`: "parameter … not declared"), and gives every required one."""

from __future__ import annotations

import re
import shlex
from typing import Any

from tests.cluster.argo_manifests import ROOT, load_manifests, params

DOCS = load_manifests()


def submit_commands(text: str) -> list[str]:
    """The `argo submit …` commands in the README's code blocks, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("argo submit")]


def template(name: str) -> dict[str, Any]:
    return next(d for d in DOCS.values() if d.get("kind") == "WorkflowTemplate" and d["metadata"]["name"] == name)


def declared(command: str) -> tuple[str, set[str], set[str]]:
    """(what is submitted, declared parameter names, required names without a default)."""
    words = shlex.split(command, comments=True)
    if "--from" in words:
        kind, name = words[words.index("--from") + 1].split("/", 1)
        assert kind == "workflowtemplate", command
        layers = [template(name)["spec"]]
    else:  # a launcher: the parameters of the template it references, then its own
        name = next(w for w in words if w.startswith("argo/"))
        spec = DOCS[name.removeprefix("argo/")]["spec"]
        ref = spec.get("workflowTemplateRef", {}).get("name")
        layers = ([template(ref)["spec"]] if ref else []) + [spec]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({p["name"]: p for p in params(layer.get("arguments"))})
    return name, set(merged), {n for n, p in merged.items() if "value" not in p}


def passed(command: str) -> set[str]:
    words = shlex.split(command, comments=True)
    return {words[i + 1].split("=", 1)[0] for i, w in enumerate(words[:-1]) if w == "-p"}


def problems(text: str) -> list[str]:
    out = []
    for command in submit_commands(text):
        what, names, required = declared(command)
        given = passed(command)
        out += [f"{what}: -p {n} is not declared" for n in sorted(given - names)]
        out += [f"{what}: required parameter {n} not given" for n in sorted(required - given)]
    return out


def test_every_readme_submit_passes_only_declared_parameters():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(submit_commands(text)) >= 4
    assert problems(text) == []


def test_a_readme_submit_with_an_undeclared_or_missing_parameter_is_caught():
    planted = ("```bash\nargo submit -n dev --from workflowtemplate/trading-runtime-backtest \\\n"
               "  -p image=$IMG -p revision=$SHA -p store=s3://b/p\n```\n")
    assert problems(planted) == [
        "trading-runtime-backtest: -p revision is not declared",
        "trading-runtime-backtest: required parameter digest not given",
    ]
