"""An experiment's derived equity curves in the store: ``curves.f64`` (the arrays) and ``curves.json`` (its
index, with the blob's sha256), complete or absent.

finalize writes the blob, then the index with its completion marker: a marked index names a blob that was
written whole. Readers trust the index through its marker and the blob through the index's sha256 (checked
as it streams: the blob is never held whole).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from trading_runtime.errors import VerificationError
from trading_runtime.golden.canonical import canonical_bytes
from trading_runtime.planning.equity_blob import LAYOUT, Curve, blob_views, extract_series, parts_sha256
from trading_runtime.planning.keys import ExperimentKeys
from trading_runtime.store import (
    ArtifactMissingError,
    ArtifactNotFoundError,
    ArtifactStore,
    object_sha256,
    put_parts,
    read_chunks,
    read_complete,
    write_complete,
)

CURVES_SCHEMA_VERSION = 1


def write_curves(store: ArtifactStore, keys: ExperimentKeys, curves: Mapping[tuple[str, str], Curve],
                 fold_of: Mapping[str, str]) -> str:
    """The blob (streamed in parts, never joined), then the index and its marker; returns the blob's sha256. The
    blob's sha256 (for the index) is computed on a thread while the blob is written (both release the GIL)."""
    parts, layout = blob_views(curves, fold_of)
    with ThreadPoolExecutor(1, thread_name_prefix="curves-sha256") as hashing:  # joined on the way out
        digest = hashing.submit(parts_sha256, parts)
        put_parts(store, keys.curves_blob, parts)
        sha256 = digest.result()
    index = {"schema_version": CURVES_SCHEMA_VERSION, "experiment_id": keys.experiment_id, "layout": LAYOUT,
             "sha256": sha256, "size": layout.size, "series": layout.series}
    write_complete(store, keys.curves, canonical_bytes(index))
    return sha256


@dataclass(frozen=True)
class StoredCurves:
    """A marked ``curves.json``: which curves the blob holds and where."""

    store: ArtifactStore
    keys: ExperimentKeys
    sha256: str
    entries: Mapping[tuple[str, str], dict[str, Any]]  # (run id, segment) → its index entry

    @property
    def where(self) -> str:
        return f"{self.store.uri.rstrip('/')}/{self.keys.curves_blob}"

    def verify(self) -> None:
        """VerificationError (exit 3) unless the blob is there and matches the index's sha256 (streamed)."""
        try:
            digest = object_sha256(self.store, self.keys.curves_blob)
        except ArtifactNotFoundError:
            raise self._missing() from None
        self._check(digest)

    def _missing(self) -> VerificationError:
        return VerificationError(f"{self.where}: curves blob missing (curves.json indexes it)")

    def _check(self, digest: str) -> None:
        if digest != self.sha256:
            raise VerificationError(f"{self.where}: corrupt curves blob: sha256 {digest[:12]}, "
                                    f"curves.json: {self.sha256[:12]}")

    def read(self, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Curve]:
        """The curves of ``wanted`` the blob holds (others are left out): one streamed pass over the blob that
        checks its sha256 and copies out only these series."""
        keys = [key for key in dict.fromkeys(wanted) if key in self.entries]
        if not keys:
            return {}
        try:
            digest, series = extract_series(read_chunks(self.store, self.keys.curves_blob),
                                            [self.entries[key] for key in keys])
        except ArtifactNotFoundError:
            raise self._missing() from None
        except ValueError as e:
            raise VerificationError(f"{self.where}: corrupt curves blob: {e}") from None
        self._check(digest)
        return dict(zip(keys, series, strict=True))


def stored_curves(store: ArtifactStore, keys: ExperimentKeys) -> StoredCurves:
    """The experiment's marked curves index (VerificationError, exit 3, when absent, corrupt or not this
    version's)."""
    where = f"{store.uri.rstrip('/')}/{keys.curves}"
    try:
        doc = read_complete(store, keys.curves)
    except ArtifactMissingError:
        raise VerificationError(f"{where}: missing: experiment {keys.experiment_id} has no derived equity curves "
                                f"(run 'finalize --store {store.uri} --experiment {keys.experiment_id}' again)"
                                ) from None
    index = _parse_index(doc, where)
    return StoredCurves(store, keys, index["sha256"],
                        {(e["run_id"], e["segment"]): e for e in index["series"]})


def _parse_index(doc: bytes, where: str) -> dict[str, Any]:
    try:
        index = json.loads(doc)
    except ValueError:
        raise VerificationError(f"{where}: not JSON") from None
    if not isinstance(index, dict) or index.get("schema_version") != CURVES_SCHEMA_VERSION:
        got = index.get("schema_version") if isinstance(index, dict) else None
        raise VerificationError(f"{where}: schema_version: expected {CURVES_SCHEMA_VERSION} (got {got!r})")
    if not isinstance(index.get("sha256"), str) or not isinstance(index.get("series"), list):
        raise VerificationError(f"{where}: expected sha256 (text) and series (list)")
    for i, item in enumerate(index["series"]):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("run_id", "segment")) \
                or not all(isinstance(item.get(k), int) for k in ("ts_offset", "offset", "length")):
            raise VerificationError(f"{where}: series[{i}]: expected run_id, segment, ts_offset, offset, length")
    return index
