"""Errors that carry their exit code (DESIGN §6), mapped to an exit status in one place: cli/main.py."""

from __future__ import annotations

EXIT_OK = 0
EXIT_BUG = 1
EXIT_INPUT = 2
EXIT_VERIFICATION = 3
EXIT_TRANSIENT = 75


class TradingRuntimeError(Exception):
    """Base of the runtime's expected failures; ``exit_code`` says how the CLI ends."""

    exit_code = EXIT_BUG

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = lines


class InputError(TradingRuntimeError):
    """Bad input or config: permanent, never retried. Each line names file, location, value, expectation."""

    exit_code = EXIT_INPUT


class VerificationError(TradingRuntimeError):
    """A result failed verification: golden mismatch, missing or corrupt shards."""

    exit_code = EXIT_VERIFICATION


class TransientError(TradingRuntimeError):
    """Infrastructure failed after retries (S3 unavailable, throttled): the only retried exit code."""

    exit_code = EXIT_TRANSIENT
