"""A bars file's sha256 is computed on a thread while its bytes are parsed; the errors stay those of one thread."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from trading_runtime.data import load_bars
from trading_runtime.data._digest import sha256_on_thread
from trading_runtime.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
PARQUET = ROOT / "tests" / "data" / "parts" / "synthetic_1m.parquet"


def _digest_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sha256"]


def test_the_digest_is_computed_on_its_thread_while_the_columns_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hashing runs on the ``sha256`` thread, and that thread is started before the first column is
    decoded (an ordering, recorded by the two real functions wrapped; no timing)."""
    from trading_runtime.data import _readers

    events: list[tuple[str, str]] = []
    real_sha256, real_read = hashlib.sha256, _readers.ParquetColumns.__getitem__

    def sha256(content: bytes) -> Any:
        events.append(("sha256", threading.current_thread().name))
        return real_sha256(content)

    def column(self: _readers.ParquetColumns, name: str) -> object:
        events.append(("decode", threading.current_thread().name))
        return real_read(self, name)

    started = threading.Thread.start

    def start(self: threading.Thread) -> None:
        events.append(("start", self.name))
        started(self)

    monkeypatch.setattr(hashlib, "sha256", sha256)
    monkeypatch.setattr(_readers.ParquetColumns, "__getitem__", column)
    monkeypatch.setattr(threading.Thread, "start", start)
    loaded = load_bars(PARQUET)
    monkeypatch.undo()
    assert loaded.sha256 == hashlib.sha256(PARQUET.read_bytes()).hexdigest()
    assert ("sha256", "sha256") in events
    assert events.index(("start", "sha256")) < events.index(("decode", "MainThread"))
    assert not _digest_threads()


def test_bytes_other_than_the_pinned_ones_are_reported_as_such_first_and_the_thread_is_joined(
        tmp_path: Path) -> None:
    """Unreadable bytes under a pin: the sha256 line (as before the digest moved to a thread), not the
    Parquet error; readable ones that differ: the same line; bytes that match: the Parquet error."""
    broken = tmp_path / "bars.parquet"
    broken.write_bytes(b"PAR1 not a parquet file")
    actual = hashlib.sha256(broken.read_bytes()).hexdigest()
    pinned = "0" * 64
    with pytest.raises(InputError) as raised:
        load_bars(broken, sha256=pinned)
    assert raised.value.lines == (f"{broken}: sha256 {actual} does not match data.sha256 {pinned}",)
    assert not _digest_threads()
    with pytest.raises(InputError) as raised:
        load_bars(PARQUET, sha256=pinned, display_name="bars")
    assert raised.value.lines == (f"bars: sha256 {hashlib.sha256(PARQUET.read_bytes()).hexdigest()} does not "
                                  f"match data.sha256 {pinned}",)
    with pytest.raises(InputError) as raised:
        load_bars(broken, sha256=actual)
    assert raised.value.lines[0].startswith(f"{broken}: cannot read Parquet: ")
    assert not _digest_threads()


def test_an_error_raised_on_the_digest_thread_is_raised_again_as_itself() -> None:
    with sha256_on_thread("text is not bytes") as digest_of, pytest.raises(TypeError):  # type: ignore[arg-type]
        digest_of()
    assert not _digest_threads()
    with pytest.raises(KeyError), sha256_on_thread(b"bars") as digest_of:  # the body's error: joined all the same
        raise KeyError("body")
    assert not _digest_threads()
    with sha256_on_thread(b"bars") as digest_of:
        assert digest_of() == hashlib.sha256(b"bars").hexdigest()
