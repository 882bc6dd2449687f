"""The flags every subcommand shares (-v, -q, --log-format, --debug), declared once.

Accepted before the subcommand (``with_defaults=True``: the top-level parser sets the defaults) and
after it or after an ``optimize`` step (``with_defaults=False``: SUPPRESS, so a flag given earlier
is not reset by a later parser's default).
"""

from __future__ import annotations

import argparse


def shared_flags(with_defaults: bool) -> argparse.ArgumentParser:
    d = (lambda value: value) if with_defaults else (lambda value: argparse.SUPPRESS)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-v", "--verbose", action="count", default=d(0), help="more log output (-vv: debug)")
    shared.add_argument("-q", "--quiet", action="store_true", default=d(False), help="warnings and errors only")
    shared.add_argument("--log-format", choices=("text", "json"), default=d(None),
                        help="log lines on stderr (default: text on a terminal, json otherwise)")
    shared.add_argument("--debug", action="store_true", default=d(False), help="show tracebacks of input errors too")
    return shared
