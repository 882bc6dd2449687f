"""Optuna search in deterministic generations (init, status, ask, tell, finalize), async workers, verify.

Without a step, ``optimize --config F [--workers N]`` is the local all-in-one (also ``optimize run``):
init → for each generation: ask → evaluate the shards on a process pool → tell → finalize, with a
progress bar; interrupted anywhere, a rerun continues and ends with byte-identical results.

Steps for a cluster (stdout carries data, one line):

  optimize init --config F [--store S]               → the study id
  optimize status --store S --study ID               → next generation to run ("0003") or "done"
  optimize ask --store S --study ID --generation G   → JSON list of shard ids of experiment ID.gGGGG
  trading-runtime run-shard --store S --experiment ID.gGGGG --shard shard-NNNNN
  optimize tell --store S --study ID --generation G  → next generation ("0004") or "done"; exit 3 naming missing shards
  optimize finalize --store S --study ID             → URI of the results folder

Async mode (NOT deterministic in trial order; every trial's value is): ``optimize worker --config F
--storage URL --n-trials K`` on a shared postgresql://, sqlite:/// or journal: storage, and
``optimize verify`` re-evaluates a sample of trials and compares exactly (exit 3 on a difference).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from trading_runtime.cli import optimize_steps as steps_
from trading_runtime.cli.flags import (
    add_strategy_prefix_argument,
    artifact_id,
    config_argument,
    positive_int,
    shared_flags,
)
from trading_runtime.cli.optimize_local import cmd_run
from trading_runtime.errors import InputError
from trading_runtime.optimize.study import configure_optuna_logging

STEPS = ("run", "init", "status", "ask", "tell", "finalize", "worker", "verify")


# ---------------------------------------------------------------------------------------------- arguments

def _all_in_one_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    config_argument(p, "experiment config JSON (kind optuna)", required)
    p.add_argument("--workers", type=positive_int, default=None,
                   help="processes evaluating shards (default: CPU count)")
    p.add_argument("--store", default=None, help="store URI (default: the config's store)")
    p.add_argument("--max-generations", type=positive_int, default=None, metavar="K",
                   help="stop after K generations of this invocation (rerun to continue)")
    p.add_argument("--storage-format", choices=("journal", "sqlite"), default="journal",
                   help="the study's storage in the store, for a new study (default: journal)")


def _study_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, help="store URI holding the study")
    p.add_argument("--study", required=True, type=artifact_id, help="study id (printed by optimize init)")


def _generation(text: str) -> int:
    try:
        g = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a generation number such as 0003 (got {text!r})") from None
    if g < 0:
        raise argparse.ArgumentTypeError(f"expected a generation number >= 0 (got {text!r})")
    return g


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the step table of the docstring
    _all_in_one_arguments(parser, required=False)
    add_strategy_prefix_argument(parser)
    flags = shared_flags(with_defaults=False)
    steps = parser.add_subparsers(dest="step", required=False, metavar="STEP")

    def step(name: str, doc: str) -> argparse.ArgumentParser:
        p = steps.add_parser(name, help=doc, description=doc, parents=[flags])
        if name != "run":
            p.set_defaults(config=None)
        return p

    p = step("run", "the local all-in-one (the same as optimize --config F)")
    _all_in_one_arguments(p, required=True)
    add_strategy_prefix_argument(p)

    p = step("init", "create the study in the store (idempotent); prints the study id")
    config_argument(p, "experiment config JSON (kind optuna)")
    p.add_argument("--store", default=None, help="store URI (default: the config's store)")
    p.add_argument("--storage-format", choices=("journal", "sqlite"), default="journal",
                   help="Optuna journal (default) or SQLite file, kept in the store")
    add_strategy_prefix_argument(p)

    p = step("status", "prints the next generation to run (e.g. 0003) or done")
    _study_arguments(p)
    p.add_argument("--json", action="store_true", help="print the whole status document instead")

    p = step("ask", "ask a generation's trials, write its plan; prints its shard ids (JSON list)")
    _study_arguments(p)
    p.add_argument("--generation", required=True, type=_generation, help="generation number (e.g. 0003)")
    p.add_argument("--runs-per-shard", type=positive_int, default=None,
                   help="runs per shard (default: the config's shards.runs_per_shard)")
    p.add_argument("--pending-only", action="store_true", help="print only shards without a complete result")
    add_strategy_prefix_argument(p)

    p = step("tell", "tell a generation's results in trial order; prints the next generation or done")
    _study_arguments(p)
    p.add_argument("--generation", required=True, type=_generation, help="generation number (e.g. 0003)")

    p = step("finalize", "write the results (best, metrics, history, Pareto front, importances, PSR/DSR)")
    _study_arguments(p)
    p.add_argument("--partial", action="store_true", help="finalize a study whose generations are not all told")
    add_strategy_prefix_argument(p)

    p = step("worker", "async mode: run trials on a shared storage (non-deterministic trial order)")
    config_argument(p, "experiment config JSON (kind optuna)")
    p.add_argument("--storage", required=True,
                   help="postgresql://user@host:port/db, sqlite:///path or journal:path (shared by the workers)")
    p.add_argument("--n-trials", required=True, type=positive_int, help="trials this worker runs at most")
    p.add_argument("--worker-index", type=int, default=0,
                   help="this worker's index: seeds its sampler (give each worker its own)")
    add_strategy_prefix_argument(p)

    p = step("verify", "re-evaluate a seeded sample of finished trials and compare exactly (exit 3 on a difference)")
    config_argument(p, "with --storage: the experiment config", required=False)
    p.add_argument("--storage", default=None, help="async storage URL (with --config)")
    p.add_argument("--store", default=None, help="generation mode: the store holding the study (with --study)")
    p.add_argument("--study", default=None, type=artifact_id, help="generation mode: the study id")
    p.add_argument("--sample", type=positive_int, default=8, help="trials to re-evaluate (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    add_strategy_prefix_argument(p)


def run(args: argparse.Namespace) -> int:
    configure_optuna_logging()
    step = args.step or "run"
    if step == "run" and args.config is None:
        raise InputError("optimize: give --config F (the all-in-one) or a step: " + ", ".join(STEPS[1:]))
    handler: Callable[[argparse.Namespace], int] = {
        "run": cmd_run, "init": steps_.cmd_init, "status": steps_.cmd_status, "ask": steps_.cmd_ask,
        "tell": steps_.cmd_tell, "finalize": steps_.cmd_finalize, "worker": steps_.cmd_worker,
        "verify": steps_.cmd_verify,
    }[step]
    return handler(args)


