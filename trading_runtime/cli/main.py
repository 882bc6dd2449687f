"""Entry point: the subcommand table, shared flags, and errors → exit codes in one place."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from trading_runtime import __version__
from trading_runtime.cli.startup import collection_paused

with collection_paused():  # the libraries (numpy, numba, pydantic, the framework) come in here
    from trading_runtime.cli.allocator import tune_allocator
    from trading_runtime.cli.flags import shared_flags
    from trading_runtime.cli.logs import configure_logging
    from trading_runtime.errors import EXIT_BUG, TradingRuntimeError
    from trading_runtime.redaction import redact

log = logging.getLogger(__name__)

# name → (module under trading_runtime.cli with add_arguments(parser) and run(args) -> int, one-line help);
# the table is the CLI. Only the module of the subcommand that runs is imported (start-up time: a
# sweep does not load Optuna); the help line is the module docstring's first line (a test checks).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "backtest": ("backtest", "Run one backtest from a config file and write stats, equity, trades, manifest and meta."),
    "plan": ("plan", "Plan an experiment: write plan.json to the store, print the shard ids (JSON) on stdout."),
    "run-shard": ("run_shard", "Evaluate one shard of a planned experiment and write its result and completion "
                  "marker."),
    "finalize": ("finalize", "Fan-in: verify every planned shard, write fanin.json and summary.json (exit 3 naming "
                 "what is missing)."),
    "validate": ("validate", "Compare results with golden files (declared tolerances), each difference with its JSON "
                 "path; exit 3."),
    "record-status": ("record_status", "Record a workflow's final status in the store: "
                      "workflows/<workflow>/status.json (an Argo exit handler)."),
    "report": ("report", "Write a self-contained report.html (inline SVG charts, no network) for a backtest or an "
               "experiment."),
    "compare": ("compare", "Compare two strategies on the same data (the A/B test): two backtest configs or two "
                "backtest results."),
    "sweep": ("sweep", "Local all-in-one: plan → every pending shard on a process pool → finalize (resumable)."),
    "optimize": ("optimize", "Optuna search in deterministic generations (init, status, ask, tell, finalize), async "
                 "workers, verify."),
    "schema": ("schema", "Print the JSON schema of a config file kind."),
    "stage": ("stage", "Put a config and its data into a store for the cluster; prints the staged config's URI "
              "(last stdout line)."),
}


def subcommand_module(name: str) -> ModuleType:
    """The module of subcommand ``name`` (imported on first use)."""
    return importlib.import_module(f"trading_runtime.cli.{SUBCOMMANDS[name][0]}")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (usage errors are bad input)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. With ``argv``, only the subcommand it names gets its arguments (and only its
    module is imported); without, every subcommand does."""
    chosen = _chosen(argv)
    shared = shared_flags(with_defaults=False)
    parser: argparse.ArgumentParser = _Parser(prog="trading-runtime", description=__doc__,
                                              parents=[shared_flags(with_defaults=True)])
    parser.add_argument("--version", action="version", version=f"trading-runtime {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_line) in SUBCOMMANDS.items():
        if chosen is not None and name != chosen:
            sub.add_parser(name, help=help_line, parents=[shared])
            continue
        module = subcommand_module(name)
        p = sub.add_parser(name, help=help_line, parents=[shared], description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _chosen(argv: Sequence[str] | None) -> str | None:
    """The subcommand ``argv`` names (its first word that is one), or None (build every subcommand)."""
    if argv is None:
        return None
    return next((word for word in argv if word in SUBCOMMANDS), None)


def main(argv: Sequence[str] | None = None, *, process_entry: bool = False) -> int:
    """Run one command; its exit code. ``process_entry``: this process exists to run it (the console
    script, ``python -m``): the objects of the modules imported by then are frozen out of the garbage
    collector (``gc.freeze``), so that its full collections stop walking them; an in-process caller
    (tests) leaves the collector alone."""
    words = sys.argv[1:] if argv is None else list(argv)
    with collection_paused():  # the subcommand's modules are imported here
        parser = build_parser(words if _chosen(words) is not None else None)
    if process_entry:
        gc.freeze()
    args = parser.parse_args(words)
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
    """Console-script entry (and ``python -m trading_runtime``)."""
    code = main(process_entry=True)
    # What the command made stays out of the collection at exit (numba's registries, the results):
    # the interpreter's last full collection over them took 0.2-0.5 s of every command here. Objects
    # are still freed by reference counting; only cyclic garbage is left to the OS, as at any exit.
    gc.freeze()
    raise SystemExit(code)
