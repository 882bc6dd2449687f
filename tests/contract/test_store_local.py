"""Local-directory specifics: atomic replace, a writer killed mid-write, layout, permissions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trading_runtime.store import RESERVED_SEGMENT_PREFIX, ArtifactNotFoundError, LocalStore

from .conftest import REPO_ROOT

# Runs in a child process: writes a 3 MB object, reports once the bytes are in the temporary file
# (before fsync and the rename), then waits to be killed.
_STALLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from trading_runtime.store import LocalStore

    def stall(fd):
        sys.stdout.write("written\\n")
        sys.stdout.flush()
        time.sleep(120)

    os.fsync = stall
    LocalStore(sys.argv[1]).put_bytes(sys.argv[2], b"new" * 1_000_000)
    """
)


@pytest.mark.parametrize("previous", [None, b"old complete version"])
def test_a_writer_killed_mid_write_leaves_no_partial_object(tmp_path: Path, previous: bytes | None) -> None:
    root = tmp_path / "store"
    store = LocalStore(root)
    key = "exp/shards/shard-00004/result.json"
    if previous is not None:
        store.put_bytes(key, previous)
    child = subprocess.Popen(
        [sys.executable, "-c", _STALLED_WRITER, str(root), key],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"written\n", "the writer did not reach the stall point"
        strays = list((root / "exp/shards/shard-00004").glob(RESERVED_SEGMENT_PREFIX + "*"))
        assert [p.stat().st_size for p in strays] == [3_000_000]  # really caught mid-write
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # The stray temporary file is still on disk, but it is not an object of the store.
    assert len(list((root / "exp/shards/shard-00004").glob(RESERVED_SEGMENT_PREFIX + "*"))) == 1
    if previous is None:
        assert store.list_keys() == []
        assert not store.exists(key)
        with pytest.raises(ArtifactNotFoundError):
            store.get_bytes(key)
    else:
        assert store.list_keys() == [key]
        assert store.get_bytes(key) == previous
    # A rerun of the shard succeeds next to the stray.
    store.put_bytes(key, b"rerun")
    assert store.get_bytes(key) == b"rerun"
    assert store.list_keys() == [key]


def test_temporary_files_are_invisible_and_unaddressable(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a/b.json", b"x")
    (tmp_path / "a" / f"{RESERVED_SEGMENT_PREFIX}deadbeef").write_bytes(b"partial")
    (tmp_path / f"{RESERVED_SEGMENT_PREFIX}dir").mkdir()
    (tmp_path / f"{RESERVED_SEGMENT_PREFIX}dir" / "c.json").write_bytes(b"partial")
    assert store.list_keys() == ["a/b.json"]
    with pytest.raises(ValueError, match="reserved"):
        store.exists(f"a/{RESERVED_SEGMENT_PREFIX}deadbeef")


def test_writes_leave_only_the_final_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "root")
    for version in (b"one", b"two", b"three"):
        store.put_bytes("x/y/z.bin", version)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "root",
        "root/x",
        "root/x/y",
        "root/x/y/z.bin",
    ]
    assert (tmp_path / "root/x/y/z.bin").read_bytes() == b"three"


def test_root_is_created_on_first_write_only(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet"
    store = LocalStore(root)
    assert store.list_keys() == []
    assert not store.exists("k")
    store.delete("k")
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes("k")
    assert not root.exists()
    store.put_bytes("k", b"v")
    assert (root / "k").read_bytes() == b"v"


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    LocalStore(tmp_path).put_bytes("k", b"v")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_key_and_keys_below_it_conflict_with_a_clear_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("a", b"file")
    with pytest.raises(ValueError, match="cannot write 'a/b'"):
        store.put_bytes("a/b", b"x")
    store.put_bytes("d/e", b"x")
    with pytest.raises(ValueError, match="cannot write 'd'"):
        store.put_bytes("d", b"x")
    assert store.list_keys() == ["a", "d/e"]
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes("d")
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes("a/b")
    store.delete("d")  # a directory of keys is not an object: nothing to delete
    assert store.get_bytes("d/e") == b"x"


def test_uri_is_a_file_uri_of_the_absolute_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = LocalStore("rel dir")
    assert store.root == tmp_path / "rel dir"
    assert store.uri == (tmp_path / "rel dir").as_uri()
    assert store.uri.startswith("file:///") and "rel%20dir" in store.uri
