"""Argo's expressions as our templates use them, evaluated the way Argo's controller does.

- ``depends`` (docs/enhanced-depends-logic.md; workflow/controller/dag.go ``evaluateDependsLogic``;
  workflow/common/ancestry.go): operands ``task.Result`` with Result in Succeeded, Failed, Errored,
  Skipped, Omitted, Daemoned, AnySucceeded, AllFailed; a bare ``task`` means
  ``(task.Succeeded || task.Skipped || task.Daemoned)``; operators ``&&``, ``||``, ``!``, parentheses.
- a fanned-out task's phase (dag.go, end of ``executeDAGTask``): its TaskGroup is Succeeded unless an
  item Failed or Errored, in which case it takes that item's phase (the last such item in expansion
  order); an empty ``withParam`` makes it Skipped.
- ``retryStrategy.expression`` (docs/retries.md "Conditional retries"; operator.go
  ``buildRetryStrategyLocalScope``): ``lastRetry.exitCode`` is a string, "-1" when the attempt has no
  exit code; ``lastRetry.status`` is the attempt's phase (Failed, Error); ``lastRetry.message``.
  Supported: ``asInt(lastRetry.exitCode) ==|!= N``, ``lastRetry.status ==|!= "X"``,
  ``lastRetry.message matches "regex"``, joined by ``&&`` and ``||`` (no parentheses).
- ``when``: ``'a' == 'b'`` / ``'a' != 'b'``, joined by ``&&``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_DEPENDS_TOKEN = re.compile(r"\s*([A-Za-z0-9_-]+(?:\.[A-Za-z]+)?|&&|\|\||!|\(|\))")


class ExpressionError(ValueError):
    """An expression this model does not evaluate (or that is malformed)."""


@dataclass(frozen=True)
class TaskState:
    """What a dependency looks like to ``depends``: its node phase and, for a fan-out, its items' phases."""

    phase: str  # Succeeded, Failed, Error, Skipped, Omitted
    items: tuple[str, ...] | None = None  # the expanded items' phases when the task fans out

    def result(self, name: str) -> bool:
        items = self.items or ()
        return {
            "Succeeded": self.phase == "Succeeded", "Failed": self.phase == "Failed",
            "Errored": self.phase == "Error", "Skipped": self.phase == "Skipped",
            "Omitted": self.phase == "Omitted", "Daemoned": False,
            "AnySucceeded": any(p == "Succeeded" for p in items),
            "AllFailed": bool(items) and all(p == "Failed" for p in items),
        }[name]


def fan_out_phase(item_phases: Sequence[str]) -> str:
    """The phase of a TaskGroup whose items ended with ``item_phases``."""
    if not item_phases:
        return "Skipped"
    phase = "Succeeded"
    for p in item_phases:
        if p in ("Failed", "Error"):
            phase = p
    return phase


def depends_names(expression: str) -> list[str]:
    """Task names in a ``depends`` expression (``A && (B.Succeeded || C.Failed)`` → A, B, C)."""
    return [t.split(".", 1)[0] for t in _tokens(expression) if t not in ("&&", "||", "!", "(", ")")]


def _tokens(expression: str) -> list[str]:
    pos, out = 0, []
    text = expression.rstrip()
    while pos < len(text):
        m = _DEPENDS_TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"depends {expression!r}: unexpected text at {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def evaluate_depends(expression: str, states: Mapping[str, TaskState]) -> bool:
    """Whether a task with this ``depends`` runs, given its dependencies' final states."""
    tokens = _tokens(expression)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ExpressionError(f"depends {expression!r}: unexpected end")
        pos += 1
        return tokens[pos - 1]

    def operand(token: str) -> bool:
        name, _, result = token.partition(".")
        if name not in states:
            raise ExpressionError(f"depends {expression!r}: no state for task {name!r}")
        if not result:
            return states[name].result("Succeeded") or states[name].result("Skipped") \
                or states[name].result("Daemoned")
        if result not in RESULTS:
            raise ExpressionError(f"depends {expression!r}: unknown result {result!r}")
        return states[name].result(result)

    def unary() -> bool:
        token = take()
        if token == "!":
            return not unary()
        if token == "(":
            value = disjunction()
            if take() != ")":
                raise ExpressionError(f"depends {expression!r}: expected ')'")
            return value
        if token in ("&&", "||", ")"):
            raise ExpressionError(f"depends {expression!r}: unexpected {token!r}")
        return operand(token)

    def conjunction() -> bool:
        value = unary()
        while peek() == "&&":
            take()
            right = unary()
            value = value and right
        return value

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "||":
            take()
            right = conjunction()
            value = value or right
        return value

    result = disjunction()
    if pos != len(tokens):
        raise ExpressionError(f"depends {expression!r}: unexpected {tokens[pos]!r}")
    return result


@dataclass(frozen=True)
class Attempt:
    """The ``lastRetry`` of a retryStrategy expression."""

    exit_code: int  # -1: no exit code (pod deleted, node lost)
    status: str  # Failed (the container exited non-zero) or Error (anything else)
    message: str = ""


_RETRY_ATOMS = (
    (re.compile(r'^asInt\(lastRetry\.exitCode\)\s*(==|!=)\s*(-?\d+)$'),
     lambda a, op, v: (a.exit_code == int(v)) == (op == "==")),
    (re.compile(r'^lastRetry\.status\s*(==|!=)\s*"([^"]*)"$'),
     lambda a, op, v: (a.status == v) == (op == "==")),
    (re.compile(r'^lastRetry\.message\s+(matches)\s+"([^"]*)"$'),
     lambda a, _op, v: re.search(v, a.message) is not None),
)


def evaluate_retry(expression: str, attempt: Attempt) -> bool:
    """Whether Argo retries after ``attempt`` (the expression alone; the limit is the caller's)."""
    if "(" in expression.replace("asInt(lastRetry.exitCode)", ""):
        raise ExpressionError(f"retryStrategy.expression {expression!r}: parentheses are not modelled here")
    return any(all(_retry_atom(expression, atom.strip(), attempt) for atom in conj.split("&&"))
               for conj in expression.split("||"))


def _retry_atom(expression: str, atom: str, attempt: Attempt) -> bool:
    for pattern, fn in _RETRY_ATOMS:
        m = pattern.match(atom)
        if m:
            return bool(fn(attempt, m.group(1), m.group(2)))
    raise ExpressionError(f"retryStrategy.expression {expression!r}: {atom!r} is not modelled here")


_WHEN = re.compile(r"^\s*'([^']*)'\s*(==|!=)\s*'([^']*)'\s*$")


def evaluate_when(expression: str) -> bool:
    """The ``'a' == 'b'`` / ``'a' != 'b'`` comparisons (joined by ``&&``) our templates use."""
    result = True
    for part in expression.split("&&"):
        m = _WHEN.match(part)
        if m is None:
            raise ExpressionError(f"when {expression!r}: only 'a' == 'b' and 'a' != 'b' (and &&) are evaluated here")
        left, op, right = m.groups()
        result = result and ((left == right) == (op == "=="))
    return result
