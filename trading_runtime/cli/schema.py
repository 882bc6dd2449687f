"""Print the JSON schema of a config file kind."""

from __future__ import annotations

import argparse
import sys

from trading_runtime.config.schema import SCHEMAS, schema_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(SCHEMAS), help="config kind")


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_json(args.kind))
    return 0
