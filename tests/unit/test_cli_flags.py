"""Shared flags work before and after the subcommand, and one given before is not reset after."""

from __future__ import annotations

import pytest

from trading_runtime.cli.main import build_parser

BASE = ["finalize", "--store", "s", "--experiment", "e"]


@pytest.mark.parametrize(("argv", "expected"), [
    (BASE, {"log_format": None, "quiet": False, "verbose": 0, "debug": False}),
    (["--log-format", "text", "-q", "--debug", *BASE], {"log_format": "text", "quiet": True, "verbose": 0,
                                                         "debug": True}),
    ([*BASE, "--log-format", "json", "-vv"], {"log_format": "json", "quiet": False, "verbose": 2, "debug": False}),
    (["--log-format", "text", *BASE, "-v"], {"log_format": "text", "quiet": False, "verbose": 1, "debug": False}),
])
def test_shared_flags_before_and_after_the_subcommand(argv, expected):
    args = build_parser().parse_args(argv)
    assert {k: getattr(args, k) for k in expected} == expected
