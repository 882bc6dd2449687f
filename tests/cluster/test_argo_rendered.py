"""argo/workflowtemplates.py is the one source of the two runtime templates: the committed YAML is
its rendering (regenerate with UPDATE_GOLDEN=1, refused under CI), and the vendored schemas are the
files SOURCE.md records."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
from types import ModuleType

from tests.cluster.argo_manifests import ARGO_DIR, ROOT
from tests.cluster.argo_schema import SCHEMA_DIR


def source() -> ModuleType:
    spec = importlib.util.spec_from_file_location("argo_workflowtemplates", ARGO_DIR / "workflowtemplates.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_templates_are_the_rendering_of_the_one_source():
    rendered = source().rendered()
    assert sorted(rendered) == ["workflowtemplate-backtest.yaml", "workflowtemplate-optuna.yaml"]
    for name, text in rendered.items():
        assert (ARGO_DIR / name).read_text(encoding="utf-8") == text, \
            f"argo/{name} differs from its source: UPDATE_GOLDEN=1 .venv/bin/python argo/workflowtemplates.py"


def test_both_templates_share_run_shard_retries_security_and_parameters():
    src = source()
    bt, op = src.backtest()["spec"], src.optuna()["spec"]
    shard = [next(t for t in s["templates"] if t["name"] == "run-shard") for s in (bt, op)]
    assert shard[0] == shard[1]
    assert {k: v for k, v in bt.items() if k not in ("entrypoint", "templates", "arguments")} == \
        {k: v for k, v in op.items() if k not in ("entrypoint", "templates", "arguments")}
    names = [[p["name"] for p in s["arguments"]["parameters"]] for s in (bt, op)]
    assert [n for n in names[0] if n != "golden"] == names[1]


def test_regeneration_is_refused_without_update_golden_and_under_ci(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "UPDATE_GOLDEN")}
    script = str(ARGO_DIR / "workflowtemplates.py")
    proc = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    assert (proc.returncode, proc.stderr) == (2, "argo/workflowtemplates.py: set UPDATE_GOLDEN=1 to rewrite the "
                                                 "templates\n")
    proc = subprocess.run([sys.executable, script], env={**env, "UPDATE_GOLDEN": "1", "CI": "true"},
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert (proc.returncode, proc.stderr) == (2, "argo/workflowtemplates.py: refusing to rewrite the templates "
                                                 "under CI\n")


def test_vendored_schemas_match_their_recorded_digests():
    table = (SCHEMA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"^\| `([^`]+)` \| [^|]+\| `([0-9a-f]{64})`", table, flags=re.M))
    assert sorted(recorded) == sorted(p.name for p in SCHEMA_DIR.iterdir() if p.name != "SOURCE.md")
    for name, digest in recorded.items():
        data = (SCHEMA_DIR / name).read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_readme_names_the_argo_version_of_the_vendored_schemas():
    version = re.search(r"tag \*\*(v[0-9.]+)\*\*", (SCHEMA_DIR / "SOURCE.md").read_text(encoding="utf-8"))
    assert version is not None
    assert f"Argo Workflows {version.group(1)}" in (ROOT / "README.md").read_text(encoding="utf-8")
