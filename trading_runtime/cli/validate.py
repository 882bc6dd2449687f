"""Compare results with golden files (declared tolerances), each difference with its JSON path; exit 3."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trading_runtime.cli.flags import artifact_id
from trading_runtime.config.loading import read_json_file
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.golden.compare import compare
from trading_runtime.planning import ExperimentKeys, split_experiment_location
from trading_runtime.store import ArtifactMissingError, ArtifactStore, open_store, read_complete


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default=None,
                        help="URI of an experiment's results, <store>/experiments/<id>, e.g. "
                             ".runtime/experiments/experiments/<id> or s3://bucket/prefix/experiments/<id>")
    parser.add_argument("--store", default=None, help="store URI (with --experiment, instead of --results)")
    parser.add_argument("--experiment", default=None, type=artifact_id, help="experiment id (with --store)")
    parser.add_argument("--golden", required=True, type=Path, help="folder of golden JSON files (summary.json, ...)")


def results_location(args: argparse.Namespace) -> tuple[ArtifactStore, str]:
    """(the store, the key prefix of the results in it) from --results, or from --store and --experiment."""
    if args.results is not None and args.store is None and args.experiment is None:
        location = split_experiment_location(args.results)
        if location is None:  # a store whose root holds the results (and their markers) itself
            return open_store(args.results, Path.cwd()), ""
        try:
            experiment = artifact_id(location[1])
        except argparse.ArgumentTypeError as e:
            raise InputError(f"validate: --results {args.results!r}: experiment id: {e}") from None
        return open_store(location[0], Path.cwd()), ExperimentKeys(experiment).root + "/"
    if args.results is None and args.store is not None and args.experiment is not None:
        return open_store(args.store, Path.cwd()), ExperimentKeys(args.experiment).root + "/"
    raise InputError("validate: give --results URI, or --store URI and --experiment ID (not both)")


def run(args: argparse.Namespace) -> int:
    golden_dir: Path = args.golden
    store, prefix = results_location(args)
    if not golden_dir.is_dir():
        raise InputError(f"{golden_dir}: golden folder not found")
    names = sorted(p.name for p in golden_dir.glob("*.json"))
    if not names:
        raise InputError(f"{golden_dir}: no golden *.json files")
    if not store.list_keys(prefix):  # nothing there at all: a wrong path, not a failed verification
        raise InputError(f"validate: no results at {store.uri.rstrip('/')}/{prefix} (expected <store>/experiments/<id> "
                         "of a finalized experiment, or --store URI --experiment ID)")
    lines: list[str] = []
    for name in names:
        expected = read_json_file(golden_dir / name)
        try:
            actual = json.loads(read_complete(store, prefix + name))
        except ArtifactMissingError:
            lines.append(f"{name}: missing from {store.uri.rstrip('/')}/{prefix}")
            continue
        lines.extend(d.line(name) for d in compare(expected, actual))
    if lines:
        raise VerificationError(*lines, f"validate: {len(lines)} difference(s) from {golden_dir}")
    sys.stdout.write(f"validate: {', '.join(names)} match {golden_dir}\n")
    return 0
