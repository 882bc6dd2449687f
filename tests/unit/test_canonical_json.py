"""canonical_json (one recursive pass) writes the standard library's text byte for byte (reference_canonical_json)."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from trading_runtime.golden.canonical import canonical_bytes, canonical_json, reference_canonical_json

# Strings with what JSON escapes (quotes, backslashes, control characters, DEL, line and paragraph separators),
# non-ASCII, astral characters and lone surrogates.
_TEXT = st.text(alphabet=st.one_of(st.characters(), st.sampled_from('"\\\n\r\t\b\f\x00\x1f\x7f\u2028\u2029é€😀')),
                max_size=12)
_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([-0.0, 0.0, 1e-320, 5e-324, -1e-320, 1e16, 1e-7, 0.1, 2.0**63, -1.5e308, math.nan,
                                     math.inf, -math.inf]))
_INTS = st.one_of(st.integers(), st.integers(min_value=-(10**60), max_value=10**60),
                  st.sampled_from([0, -1, 2**63, -(2**63), 2**64 + 1]))
_SCALARS = st.one_of(st.none(), st.booleans(), _INTS, _FLOATS, _TEXT)
_DOCS = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                      st.dictionaries(_TEXT, inner, max_size=5)), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(_DOCS)
def test_canonical_json_equals_the_standard_library(doc: Any):
    assert canonical_json(doc) == reference_canonical_json(doc)


def _numpy_leaf(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["f64", "f32", "i64", "i8", "u64", "bool", "array", "tuple"]))
    if kind == "f64":
        return np.float64(draw(_FLOATS))
    if kind == "f32":
        return np.float32(draw(st.floats(width=32, allow_nan=True, allow_infinity=True)))
    if kind == "i64":
        return np.int64(draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)))
    if kind == "i8":
        return np.int8(draw(st.integers(min_value=-128, max_value=127)))
    if kind == "u64":
        return np.uint64(draw(st.integers(min_value=0, max_value=2**64 - 1)))
    if kind == "bool":
        return np.bool_(draw(st.booleans()))
    if kind == "array":
        return np.array(draw(st.lists(_FLOATS, max_size=4)), dtype=np.float64)
    return tuple(draw(st.lists(_SCALARS, max_size=3)))


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.one_of(_SCALARS, st.composite(_numpy_leaf)()),
                    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
                    max_leaves=20))
def test_canonical_json_equals_the_standard_library_on_numpy_values(doc: Any):
    assert canonical_json(doc) == reference_canonical_json(doc)


class _Side(enum.StrEnum):
    LONG = "long"


class _Count(enum.IntEnum):
    TWO = 2


class _Str(str):
    pass


def test_subclasses_and_mappings_are_written_as_the_standard_library_writes_them():
    doc = {_Str("b"): [_Side.LONG, _Count.TWO, _Str("x\n"), OrderedDict([("z", 1), ("a", (1.0, -0.0))])],
           "a": {"k": _Count.TWO, "n": np.float64("nan")}}
    assert canonical_json(doc) == reference_canonical_json(doc)
    assert canonical_json(_Side.LONG) == reference_canonical_json(_Side.LONG) == '"long"\n'


@pytest.mark.parametrize("bad", [{1: "x"}, {"a": [{None: 1}]}, {"a": {1.5: 2}}, {"a": object()}, [b"bytes"]])
def test_what_is_not_json_is_refused_like_the_reference(bad: Any):
    with pytest.raises(TypeError) as fast:
        canonical_json(bad)
    with pytest.raises(TypeError) as reference:
        reference_canonical_json(bad)
    assert str(fast.value) == str(reference.value)


def _stored_documents() -> list[Path]:
    """The repository's canonical documents: golden results and committed schemas."""
    paths = sorted((ROOT / "tests" / "golden" / "cases").glob("*/expected/*.json"))
    assert len(paths) >= 5
    return paths


@pytest.mark.parametrize("path", _stored_documents(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_golden_documents_are_rewritten_to_the_same_bytes(path: Path):
    raw = path.read_bytes()
    doc = json.loads(raw)
    assert canonical_bytes(doc) == reference_canonical_json(doc).encode() == raw


def test_a_generation_plan_and_a_study_manifest_are_written_as_the_reference_writes_them():
    from tests.optimize_support import synthetic_config, synthetic_manifest
    from trading_runtime.optimize import ask_generation, generation_plan, init_study
    from trading_runtime.store import memory_store

    m = synthetic_manifest(synthetic_config(sampler={"name": "tpe", "seed": 3}, n_trials=40, batch_size=8))
    store = memory_store("canonical-json-plan")
    init_study(store, m)
    plan = generation_plan(m, 0, ask_generation(store, m, 0, lambda p: None), 3)
    for doc in (plan.model_dump(mode="json"), m.model_dump(mode="json"), plan.model_dump()):
        assert canonical_json(doc) == reference_canonical_json(doc)
