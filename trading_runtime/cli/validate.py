"""Compare results with golden files (declared tolerances), each difference with its JSON path; exit 3."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trading_runtime.config.loading import read_json_file
from trading_runtime.errors import InputError, VerificationError
from trading_runtime.golden.compare import compare
from trading_runtime.store import ArtifactMissingError, open_store, read_complete


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True,
                        help="URI of an experiment's results, e.g. .runtime/experiments/experiments/<id> or "
                             "s3://bucket/prefix/experiments/<id>")
    parser.add_argument("--golden", required=True, type=Path, help="folder of golden JSON files (summary.json, ...)")


def run(args: argparse.Namespace) -> int:
    golden_dir: Path = args.golden
    if not golden_dir.is_dir():
        raise InputError(f"{golden_dir}: golden folder not found")
    names = sorted(p.name for p in golden_dir.glob("*.json"))
    if not names:
        raise InputError(f"{golden_dir}: no golden *.json files")
    store = open_store(args.results, Path.cwd())
    lines: list[str] = []
    for name in names:
        expected = read_json_file(golden_dir / name)
        try:
            actual = json.loads(read_complete(store, name))
        except ArtifactMissingError:
            lines.append(f"{name}: missing from {store.uri}")
            continue
        lines.extend(d.line(name) for d in compare(expected, actual))
    if lines:
        raise VerificationError(*lines, f"validate: {len(lines)} difference(s) from {golden_dir}")
    sys.stdout.write(f"validate: {', '.join(names)} match {golden_dir}\n")
    return 0
