"""Entry point: the subcommand table, shared flags, and errors → exit codes in one place."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from trading_runtime import __version__
from trading_runtime.cli import (
    backtest,
    compare,
    finalize,
    optimize,
    plan,
    record_status,
    report,
    run_shard,
    schema,
    sweep,
    validate,
)
from trading_runtime.cli.allocator import tune_allocator
from trading_runtime.cli.logs import configure_logging
from trading_runtime.errors import EXIT_BUG, TradingRuntimeError
from trading_runtime.redaction import redact

log = logging.getLogger(__name__)

# name → module with add_arguments(parser) and run(args) -> int; the table is the CLI.
SUBCOMMANDS: dict[str, ModuleType] = {
    "backtest": backtest,
    "plan": plan,
    "run-shard": run_shard,
    "finalize": finalize,
    "validate": validate,
    "record-status": record_status,
    "report": report,
    "compare": compare,
    "sweep": sweep,
    "optimize": optimize,
    "schema": schema,
}


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (usage errors are bad input)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _shared_flags(with_defaults: bool) -> argparse.ArgumentParser:
    """-v/-q/--log-format/--debug, accepted before and after the subcommand. The subcommands' copies
    default to SUPPRESS so that a flag given before the subcommand is not reset by them."""
    d = (lambda value: value) if with_defaults else (lambda value: argparse.SUPPRESS)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-v", "--verbose", action="count", default=d(0), help="more log output (-vv: debug)")
    shared.add_argument("-q", "--quiet", action="store_true", default=d(False), help="warnings and errors only")
    shared.add_argument("--log-format", choices=("text", "json"), default=d(None),
                        help="log lines on stderr (default: text on a terminal, json otherwise)")
    shared.add_argument("--debug", action="store_true", default=d(False), help="show tracebacks of input errors too")
    return shared


def build_parser() -> argparse.ArgumentParser:
    shared = _shared_flags(with_defaults=False)
    parser: argparse.ArgumentParser = _Parser(prog="trading-runtime", description=__doc__,
                                              parents=[_shared_flags(with_defaults=True)])
    parser.add_argument("--version", action="version", version=f"trading-runtime {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0], parents=[shared],
                           description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(-1 if args.quiet else args.verbose, args.log_format)
    tune_allocator()
    try:
        code: int = args._run(args)
        return code
    except TradingRuntimeError as e:
        if args.debug:
            traceback.print_exc()
        for line in e.lines:
            print(redact(line), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_BUG
    except Exception:
        log.critical("internal error (a bug: please report it with this traceback)", exc_info=True)
        return EXIT_BUG


def run() -> None:
    """Console-script entry."""
    raise SystemExit(main())
