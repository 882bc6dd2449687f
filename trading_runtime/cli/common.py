"""Flags and environment shared by subcommands (only cli/ reads argv and the environment)."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from trading_runtime.config import load_model_bytes, read_file_bytes
from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES
from trading_runtime.provenance import runtime_provenance
from trading_runtime.store import is_uri, read_object

M = TypeVar("M", bound=BaseModel)

STRATEGY_PREFIXES_ENV = "TRADING_RUNTIME_STRATEGY_PREFIXES"

# An experiment, study or shard id is one store key segment: what plan/init print (config id, hash,
# suffixes such as .g0003), never a path. 200 characters leave room below the 255 of a file name.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
ID_MAX_LENGTH = 200


def artifact_id(text: str) -> str:
    """argparse type of --experiment/--study/--shard: one id, never a path (usage error, exit 2)."""
    shown = text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"
    if not ID_PATTERN.fullmatch(text) or ".." in text or text.startswith(".trstore-tmp-"):
        raise argparse.ArgumentTypeError(
            f"expected an id of 1-{ID_MAX_LENGTH} letters, digits, '.', '_' or '-' starting with a letter or "
            f"digit, as printed by plan/optimize init (got {shown!r})")
    return text


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        n = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1 (got {text!r})") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1 (got {text!r})")
    return n


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0 (got {text!r})")
    return x


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


STDIN = "-"


def config_argument(parser: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    """``--config``: a file, a store URI (s3://…, file://…, e.g. printed by ``stage``) or ``-`` for stdin."""
    parser.add_argument("--config", required=required, default=None, metavar="FILE|URI|-",
                        help=f"{what}: a file, a store URI (s3://..., file://...) or - for stdin")


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
