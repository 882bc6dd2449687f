"""The flags subcommands share, declared once: -v, -q, --log-format, --debug on every subcommand
(``shared_flags``), and the arguments and argparse types several subcommands use (--config, ids,
positive numbers, --allow-strategy-prefix).

``shared_flags`` is accepted before the subcommand (``with_defaults=True``: the top-level parser sets the
defaults) and after it or after an ``optimize`` step (``with_defaults=False``: SUPPRESS, so a flag given
earlier is not reset by a later parser's default).
"""

from __future__ import annotations

import argparse
import math
import re

from trading_runtime.execution.strategy_loader import DEFAULT_ALLOWED_PREFIXES

STRATEGY_PREFIXES_ENV = "TRADING_RUNTIME_STRATEGY_PREFIXES"


def shared_flags(with_defaults: bool) -> argparse.ArgumentParser:
    d = (lambda value: value) if with_defaults else (lambda value: argparse.SUPPRESS)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-v", "--verbose", action="count", default=d(0), help="more log output (-vv: debug)")
    shared.add_argument("-q", "--quiet", action="store_true", default=d(False), help="warnings and errors only")
    shared.add_argument("--log-format", choices=("text", "json"), default=d(None),
                        help="log lines on stderr (default: text on a terminal, json otherwise)")
    shared.add_argument("--debug", action="store_true", default=d(False), help="show tracebacks of input errors too")
    return shared


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


def config_argument(parser: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    """``--config``: a file, a store URI (s3://…, file://…, e.g. printed by ``stage``) or ``-`` for stdin."""
    parser.add_argument("--config", required=required, default=None, metavar="FILE|URI|-",
                        help=f"{what}: a file, a store URI (s3://..., file://...) or - for stdin")
