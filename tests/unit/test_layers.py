"""The import-linter contracts (pyproject.toml, README "Architecture") hold, and each kind of break is caught.

Each planted import goes into a copy of the runtime package in a temporary folder, checked with the
repository's contracts: the check must name the contract it breaks.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_repository_keeps_every_contract():
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


PLANTED = {
    "a lower layer importing a higher one": (
        "store/uri.py", "import trading_runtime.fanin\n", "Runtime layers"),
    "report importing the framework": (
        "report/render.py", "import trading_framework\n", "Only execution, data"),
    "a strategy importing the runtime": (
        "strategies/sma_cross.py", "import trading_runtime.store\n", "Strategies are plug-ins"),
    "the runtime importing a shipped strategy": (
        "execution/search.py", "import trading_runtime.strategies.sma_cross\n", "No runtime module imports"),
    "errors importing anything of the runtime": (
        "errors.py", "import trading_runtime.golden\n", "Runtime layers"),
}


@pytest.mark.parametrize("module, line, contract", list(PLANTED.values()), ids=list(PLANTED))
def test_a_planted_import_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "trading_runtime", tmp_path / "trading_runtime",
                    ignore=shutil.ignore_patterns("__pycache__", "*.png", "schemas"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "trading_runtime" / module
    target.write_text(line + target.read_text())
    proc = lint_imports(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = " ".join(proc.stdout.split("Contracts:")[0].split())  # contract names wrap across lines
    verdict = summary.split(contract, 1)[1].split()
    assert next(w for w in verdict if w in ("KEPT", "BROKEN")) == "BROKEN", proc.stdout


def _contracts() -> list[dict[str, object]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _readme_architecture() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_architecture_states_the_contracts():
    section = _readme_architecture()
    diagram = section.split("```\n", 2)[1]
    readme_layers = [line.split("  ", 1)[0].strip() for line in diagram.splitlines()]
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    assert readme_layers == [str(layer).replace("trading_runtime.", "") for layer in layers["layers"]]
    bullets = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    assert bullets == [str(c["name"]) for c in _contracts() if c["type"] != "layers"]


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / "trading_runtime" / package).glob("*.py"))


def test_no_cli_module_imports_a_private_name_of_another_module():
    offenders = []
    for path in _modules("cli"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trading_runtime."):
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert offenders == []


def test_orchestration_reads_no_argv_or_environment_and_writes_no_stdout():
    """Only cli/ (and the config loader) reads argv or the environment; stdout carries the CLI's data."""
    offenders = []
    for path in _modules("orchestration"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                    (node.value.id, node.attr) in {("os", "environ"), ("os", "getenv"), ("sys", "argv"),
                                                   ("sys", "stdout"), ("sys", "stderr")}):
                offenders.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []


# Calls that are core work: writing result bytes or store artifacts, running or comparing backtests.
CORE_WORK = {"put_bytes", "write_bytes", "write_complete", "canonical_bytes", "sha256_hex", "run_backtest_config",
             "backtest_files", "compare_sides", "collect_shards", "summarize"}
# CLI modules that still do some of it themselves (each must still do it: the list only shrinks).
NOT_YET_BELOW_THE_CLI = {
    "record_status.py": "writes the Argo step's status document",
    "stage.py": "copies the data into the store and writes its DataRef",
}


def _core_calls(path: Path) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in CORE_WORK:
                calls.append(f"{path.name}:{node.lineno}: {name}")
    return calls


def test_cli_modules_leave_the_core_work_to_the_layers_below():
    """A CLI module parses args, loads config, calls one function (orchestration/ or the concept's
    module) and maps errors: it writes no result bytes and runs no backtest itself."""
    offenders = [c for path in _modules("cli") if path.name not in NOT_YET_BELOW_THE_CLI for c in _core_calls(path)]
    assert offenders == []
    assert [name for name in NOT_YET_BELOW_THE_CLI if not _core_calls(ROOT / "trading_runtime" / "cli" / name)] == []
