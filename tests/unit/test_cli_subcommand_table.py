"""The subcommand table: each help line is its module's docstring, and only the chosen module is imported."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from trading_runtime.cli.main import SUBCOMMANDS, subcommand_module


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_line_is_the_module_docstrings_first_line(name):
    doc = (subcommand_module(name).__doc__ or "").strip().splitlines()[0]
    assert SUBCOMMANDS[name][1] == doc


def test_running_one_subcommand_imports_only_its_module():
    code = (
        "import sys\n"
        "from trading_runtime.cli.main import main\n"
        "assert main(['schema', 'experiment']) == 0\n"
        "names = [m for m in sys.modules if m.startswith('trading_runtime.cli.') or m == 'optuna']\n"
        "print(sorted(names), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(proc.stderr.strip().splitlines()[-1])
    assert "trading_runtime.cli.schema" in loaded
    others = {f"trading_runtime.cli.{module}" for name, (module, _) in SUBCOMMANDS.items() if name != "schema"}
    assert others.isdisjoint(loaded), sorted(others & set(loaded))
    assert "optuna" not in loaded
