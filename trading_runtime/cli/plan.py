"""Plan an experiment: write plan.json to the store, print the shard ids (JSON) on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trading_runtime.cli.common import add_strategy_prefix_argument, allowed_prefixes
from trading_runtime.config import load_model
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.errors import InputError
from trading_runtime.execution.experiment import build_plan, load_inputs, write_plan
from trading_runtime.planning import Plan
from trading_runtime.store import open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="experiment config JSON")
    parser.add_argument("--store", default=None, help="store URI (default: the config's store)")
    parser.add_argument("--dry-run", action="store_true", help="print the summary only; write nothing")
    parser.add_argument("--experiment-id-file", type=Path, default=None, metavar="PATH",
                        help="also write the experiment id to PATH (no newline), e.g. for an Argo output parameter")
    add_strategy_prefix_argument(parser)


def describe(plan: Plan) -> str:
    g = plan.grid
    est = plan.estimates
    rules = ", ".join(f"{n} × {rule}" for rule, n in g["dropped_by_rule"].items()) or "none"
    return (
        f"experiment {plan.experiment_id}\n"
        f"  runs {len(plan.runs)} = {g['n_valid']} parameter sets × {len(plan.folds)} window(s) "
        f"({plan.config['validation']['kind']}), warm-up {plan.warmup_bars} bars\n"
        f"  shards {len(plan.shards)} ({plan.config['shards']['runs_per_shard']} runs per shard)\n"
        f"  dropped combinations {g['n_dropped']} of {g['n_combinations']}: {rules}\n"
        f"  bars to process {est['bars_to_process']:,}\n"
        f"  estimated peak memory per shard {est['peak_memory_bytes_per_shard'] / 2**20:,.0f} MiB\n"
    )


def run(args: argparse.Namespace) -> int:
    config = load_model(ExperimentConfig, args.config, str(args.config))
    inputs = load_inputs(config, str(args.config), Path.cwd(), allowed_prefixes(args))
    plan = build_plan(inputs)
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
