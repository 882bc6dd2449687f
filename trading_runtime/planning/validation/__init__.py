"""Validation schemes, one module each, registered by the config's ``validation.kind``.

A scheme provides its windows (``planning.plan_folds`` cuts them) and its section of summary.json
(fan-in adds it); see ``scheme.ValidationScheme``. A new scheme is a module here, its entry in
``SCHEMES`` and its config model in the ``Validation`` union of config/experiment.py.
"""

from trading_runtime.planning.validation import full, holdout, walk_forward
from trading_runtime.planning.validation.scheme import Series, SummaryInputs, ValidationScheme

SCHEMES: dict[str, ValidationScheme] = {s.kind: s for s in (full.SCHEME, holdout.SCHEME, walk_forward.SCHEME)}


def scheme_for(kind: str) -> ValidationScheme:
    return SCHEMES[kind]


__all__ = ["SCHEMES", "Series", "SummaryInputs", "ValidationScheme", "scheme_for"]
