"""Plan an experiment: write plan.json to the store, print the shard ids (JSON) on stdout."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, config_name, load_config
from trading_runtime.cli.flags import add_strategy_prefix_argument, config_argument
from trading_runtime.cli.startup import collection_paused
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.errors import InputError
from trading_runtime.execution.read_ahead import config_data_reading
from trading_runtime.planning import Plan, write_plan
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_argument(parser, "experiment config JSON")
    parser.add_argument("--store", default=None, help="store URI (default: the config's store)")
    parser.add_argument("--dry-run", action="store_true", help="print the summary only; write nothing")
    parser.add_argument("--experiment-id-file", type=Path, default=None, metavar="PATH",
                        help="also write the experiment id to PATH (no newline), e.g. for an Argo output parameter")
    add_strategy_prefix_argument(parser)


def describe(plan: Plan) -> str:
    g = plan.grid
    est = plan.estimates
    rules = ", ".join(f"{n} × {rule}" for rule, n in g["dropped_by_rule"].items()) or "none"
    # a universe: its windows are the instruments' (each cut from its own bars), counted together
    over = "" if plan.instruments is None else f" of {len(plan.instruments)} instruments"
    return (
        f"experiment {plan.experiment_id}\n"
        f"  runs {len(plan.runs)} = {g['n_valid']} parameter sets × {len(plan.folds)} window(s){over} "
        f"({plan.config.validation.kind}), warm-up {plan.warmup_bars} bars\n"
        f"  shards {len(plan.shards)} ({_sharding(plan)})\n"
        f"  dropped combinations {g['n_dropped']} of {g['n_combinations']}: {rules}\n"
        f"  bars to process {est['bars_to_process']:,}\n"
        f"  estimated peak memory per shard {est['peak_memory_bytes_per_shard'] / 2**20:,.0f} MiB\n"
    )


def _sharding(plan: Plan) -> str:
    if plan.sharding is None:  # a plan written before shards.max_shards existed
        return f"{plan.config.shards.runs_per_shard} runs per shard"
    return plan.sharding.describe()


def log_sharding(plan: Plan) -> None:
    """A warning when runs per shard were grown to keep to shards.max_shards (one Argo workflow's size)."""
    s = plan.sharding
    if s is not None and s.grown:
        log.warning("plan %s: %d runs would make more than shards.max_shards %d shards at %d runs per shard; "
                    "using %d runs per shard (%d shards)", plan.experiment_id, len(plan.runs), s.max_shards,
                    s.requested_runs_per_shard, s.runs_per_shard, len(plan.shards))


def run(args: argparse.Namespace) -> int:
    config = load_config(ExperimentConfig, args.config)
    source, cwd = config_name(args.config), Path.cwd()
    with config_data_reading(config, source, cwd) as read:  # the data are read on a thread from here on
        with collection_paused():  # numba's side (none imported yet), as the CLI's own imports (cli/startup.py)
            from trading_runtime.execution.experiment import build_plan, load_inputs
        inputs = load_inputs(config, source, cwd, allowed_prefixes(args), read=read)
    plan = build_plan(inputs)
    log_sharding(plan)
    sys.stderr.write(describe(plan))
    if args.dry_run:
        return 0
    store = open_store(args.store or config.store, Path.cwd())
    if store.uri.startswith("memory://"):  # lives in this process only: the plan would vanish at exit
        raise InputError(f"plan: store {store.uri} is in memory and ends with this process (use a path, "
                         "file:// or s3://bucket/prefix)")
    write_plan(store, plan, exclusive=True)
    sys.stderr.write(f"  plan {store.uri.rstrip('/')}/experiments/{plan.experiment_id}/plan.json\n")
    if args.experiment_id_file is not None:
        args.experiment_id_file.write_text(plan.experiment_id, encoding="utf-8")
    sys.stdout.write(json.dumps([s.shard_id for s in plan.shards]) + "\n")
    return 0
