"""Flags and environment shared by subcommands (only cli/ reads argv and the environment)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.provenance import runtime_provenance

STRATEGY_PREFIXES_ENV = "TRADING_RUNTIME_STRATEGY_PREFIXES"


def add_strategy_prefix_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-strategy-prefix", action="append", default=[], metavar="MODULE",
        help="also load strategies from this module prefix (repeatable; env "
             f"{STRATEGY_PREFIXES_ENV}=a,b; default only {', '.join(DEFAULT_ALLOWED_PREFIXES)})",
    )


def allowed_prefixes(args: argparse.Namespace) -> tuple[str, ...]:
    extra = [p.strip() for p in os.environ.get(STRATEGY_PREFIXES_ENV, "").split(",") if p.strip()]
    return (*DEFAULT_ALLOWED_PREFIXES, *extra, *args.allow_strategy_prefix)


def provenance() -> dict[str, Any]:
    """Provenance with the image's build-time stamps (set by the Dockerfile) as fallbacks."""
    return runtime_provenance(
        stamped_runtime_commit=os.environ.get("TRADING_RUNTIME_COMMIT") or None,
        stamped_framework_commit=os.environ.get("TRADING_FRAMEWORK_COMMIT") or None,
    )
