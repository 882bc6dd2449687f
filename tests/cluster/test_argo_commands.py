"""Every container command in argo/ is a trading-runtime command line the real CLI parser accepts."""

from __future__ import annotations

import contextlib
import io

import pytest

from tests.cluster.argo_commands import container_commands, placeholder_args
from tests.cluster.argo_manifests import load_manifests
from trading_runtime.cli.main import build_parser

COMMANDS = container_commands(load_manifests())
RUNTIME = [c for c in COMMANDS if c.image == "{{workflow.parameters.image}}@{{workflow.parameters.digest}}"]


def parse(args: list[str]) -> tuple[int | None, str]:
    """(exit code or None when accepted, stderr) of the real parser on ``args``."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = build_parser().parse_args(args)
    except SystemExit as e:
        return int(e.code or 0), err.getvalue()
    assert callable(getattr(ns, "_run", None))
    return None, err.getvalue()


def test_every_container_is_either_the_runtime_image_or_the_build():
    others = [c for c in COMMANDS if c not in RUNTIME]
    assert [(c.source, c.template) for c in others] == [
        ("workflowtemplate-build-push-ghcr.yaml", "crane-digest"), ("workflowtemplate-build-push-ghcr.yaml", "kaniko")]
    assert len(RUNTIME) == 12  # backtest: 5, optuna: 7
    assert all(c.command == ("trading-runtime",) for c in RUNTIME)


@pytest.mark.parametrize("cmd", RUNTIME, ids=[f"{c.source}:{c.template}" for c in RUNTIME])
def test_container_command_parses(cmd):
    code, err = parse(placeholder_args(cmd.args))
    assert code is None, f"{cmd.source}: {cmd.template}: {' '.join(cmd.args)}\n{err}"


def test_subcommands_used_by_the_templates():
    used = {placeholder_args(c.args)[0] + (" " + c.args[1] if c.args[0] == "optimize" else "") for c in RUNTIME}
    assert used == {"plan", "run-shard", "finalize", "validate", "record-status", "optimize init",
                    "optimize status", "optimize ask", "optimize tell", "optimize finalize"}


def test_a_planted_bad_flag_is_caught():
    plan = next(c for c in RUNTIME if c.template == "plan")
    args = [a.replace("--experiment-id-file", "--experiment-file") for a in placeholder_args(plan.args)]
    code, err = parse(args)
    assert code == 2
    assert "unrecognized arguments: --experiment-file" in err or "--experiment-file" in err
    ask = placeholder_args(next(c for c in RUNTIME if c.template == "ask").args)
    i = ask.index("--study")
    code, err = parse(ask[:i] + ask[i + 2:])  # a required flag left out
    assert code == 2 and "--study" in err
