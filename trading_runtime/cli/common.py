"""What subcommands share beyond their flags (cli/flags.py): the environment (only cli/ reads it), provenance,
and the config ``--config`` names."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from trading_runtime.cli.flags import STRATEGY_PREFIXES_ENV
from trading_runtime.config import load_model_bytes, read_file_bytes
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.provenance import runtime_provenance
from trading_runtime.store import is_uri, read_object

M = TypeVar("M", bound=BaseModel)


def allowed_prefixes(args: argparse.Namespace) -> tuple[str, ...]:
    extra = [p.strip() for p in os.environ.get(STRATEGY_PREFIXES_ENV, "").split(",") if p.strip()]
    return (*DEFAULT_ALLOWED_PREFIXES, *extra, *args.allow_strategy_prefix)


def provenance() -> dict[str, Any]:
    """Provenance with the image's build-time stamps (set by the Dockerfile) as fallbacks."""
    return runtime_provenance(
        stamped_runtime_commit=os.environ.get("TRADING_RUNTIME_COMMIT") or None,
        stamped_framework_commit=os.environ.get("TRADING_FRAMEWORK_COMMIT") or None,
    )


STDIN = "-"


def read_config_bytes(source: str) -> bytes:
    """The bytes of ``--config``: stdin for ``-``, an object for a store URI, else a local file."""
    if source == STDIN:
        return sys.stdin.buffer.read()
    if is_uri(source):
        return read_object(source)
    return read_file_bytes(Path(source), source)


def config_name(source: str) -> str:
    """How error messages name the config: its path or URI, ``<stdin>`` for ``-``."""
    return "<stdin>" if source == STDIN else source


def load_config(model: type[M], source: str) -> M:
    """The config ``--config`` names, validated as ``model`` (errors name the file or URI, exit 2)."""
    return load_model_bytes(model, read_config_bytes(source), config_name(source))
