"""The optimize steps (init, status, ask, tell, finalize, worker, verify): arguments in, one call, stdout out.

cli/optimize.py declares the arguments and dispatches here; the work is in ``orchestration.study``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from trading_runtime.cli.common import allowed_prefixes, config_name, load_config, provenance
from trading_runtime.cli.progress import PeriodicProgress
from trading_runtime.config.experiment import ExperimentConfig
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.optimize import StudyManifest, generation_label, read_manifest, study_status
from trading_runtime.orchestration.study import (
    ask_shards,
    create_study,
    finalize_study,
    run_async_worker,
    tell,
    verify_async_study,
    verify_stored_study,
)
from trading_runtime.store import open_store

log = logging.getLogger(__name__)


def load_experiment_config(source: str) -> ExperimentConfig:
    """The experiment config ``--config`` names (a file, a store URI or - for stdin)."""
    return load_config(ExperimentConfig, source)


def next_generation_text(nxt: int | None) -> str:
    return "done" if nxt is None else generation_label(nxt)


def cmd_init(args: argparse.Namespace) -> int:
    config = load_experiment_config(args.config)
    store = open_store(args.store or config.store, Path.cwd())
    manifest = create_study(config, config_name(args.config), store, Path.cwd(), allowed_prefixes(args),
                            args.storage_format)
    sys.stdout.write(manifest.study_id + "\n")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    status = study_status(store, read_manifest(store, args.study))
    if args.json:
        sys.stdout.write(json.dumps(status, sort_keys=True) + "\n")
    else:
        sys.stdout.write(("done" if status["done"] else status["next_generation"]) + "\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    manifest = read_manifest(store, args.study)
    shards = ask_shards(store, manifest, args.generation, allowed_prefixes(args), args.runs_per_shard,
                        args.pending_only)
    sys.stdout.write(json.dumps(shards) + "\n")
    return 0


def cmd_tell(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    told = tell(store, read_manifest(store, args.study), args.generation)
    sys.stdout.write(next_generation_text(told.next_generation) + "\n")
    return 0


def cmd_finalize(args: argparse.Namespace) -> int:
    store = open_store(args.store, Path.cwd())
    manifest = read_manifest(store, args.study)
    key = finalize_study(store, manifest, Path.cwd(), allowed_prefixes(args), provenance(), args.partial)
    sys.stdout.write(f"{store.uri.rstrip('/')}/{key}/\n")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    config = load_experiment_config(args.config)

    def progress(manifest: StudyManifest) -> Callable[[int], None]:
        ctx = {"experiment": manifest.study_id}
        return PeriodicProgress(log, args.n_trials, "trials", ctx, every_items=max(1, args.n_trials // 10)).update

    manifest, n = run_async_worker(config, config_name(args.config), args.storage, Path.cwd(), allowed_prefixes(args),
                                   args.n_trials, args.worker_index, progress)
    sys.stdout.write(json.dumps({"study": manifest.study_id, "trials": n}) + "\n")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    prefixes = allowed_prefixes(args)
    if args.storage is not None:
        if args.config is None:
            raise InputError("optimize verify: --storage needs --config (the experiment config of the study)")
        report = verify_async_study(load_experiment_config(args.config), config_name(args.config), args.storage,
                                    Path.cwd(), prefixes, args.sample, args.seed)
    else:
        if args.store is None or args.study is None:
            raise InputError("optimize verify: give --storage URL --config F (async) or --store S --study ID")
        store = open_store(args.store, Path.cwd())
        report = verify_stored_study(store, read_manifest(store, args.study), Path.cwd(), prefixes, args.sample,
                                     args.seed)
    doc = report.document()
    sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
    if report.mismatches:
        raise VerificationError(*(f"study {report.study_id}: trial {m['number']}: {'; '.join(m['problems'])}"
                                  for m in report.mismatches),
                                f"verify: {len(report.mismatches)} of {len(report.checked)} trials differ")
    log.info("verify: %d trials re-evaluated, all identical", len(report.checked))
    return 0
