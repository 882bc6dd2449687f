"""Local-directory specifics: atomic replace, a writer killed mid-write, layout, permissions."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trading_runtime.errors import InputError
from trading_runtime.store import RESERVED_SEGMENT_PREFIX, ArtifactNotFoundError, LocalStore
from trading_runtime.store.local import STALE_TMP_SECONDS

from .conftest import REPO_ROOT

# Runs in a child process: writes a 3 MB object, reports once the bytes are in the temporary file
# (before its fsync and the rename; the directories the write creates are synced as usual), then waits
# to be killed.
_STALLED_WRITER = textwrap.dedent(
    """
    import os, stat, sys, time
    from trading_runtime.store import LocalStore

    sync = os.fsync

    def stall(fd):
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return sync(fd)
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


# -- issue 10: symlinks, stray temporaries, I/O errors ---------------------------------------------------


def test_a_symlink_below_the_root_is_never_followed_by_a_write(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "store"
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / "e1").symlink_to(outside, target_is_directory=True)
    (root / "plan.json").symlink_to(outside / "plan.json")
    store = LocalStore(root)
    for key in ("experiments/e1/result.json", "plan.json"):
        with pytest.raises(InputError, match="is a symbolic link") as info:
            store.put_bytes(key, b"x")
        assert info.value.exit_code == 2
    with pytest.raises(InputError, match="'experiments/e1' is a symbolic link"):
        store.delete("experiments/e1/result.json")
    assert list(outside.iterdir()) == []


def test_a_symlinked_root_is_fine(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    LocalStore(tmp_path / "link").put_bytes("a/b.json", b"{}")
    assert (tmp_path / "real" / "a" / "b.json").read_bytes() == b"{}"


def test_stale_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put_bytes("exp/plan.json", b"{}")
    stale = tmp_path / "exp" / f"{RESERVED_SEGMENT_PREFIX}0123456789abcdef"
    fresh = tmp_path / "exp" / f"{RESERVED_SEGMENT_PREFIX}fedcba9876543210"
    for p in (stale, fresh):
        p.write_bytes(b"half")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    store.put_bytes("exp/summary.json", b"{}")
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == [fresh.name, "plan.json", "summary.json"]


def test_no_space_left_is_transient_and_leaves_nothing(tmp_path: Path) -> None:
    """RLIMIT_FSIZE in a child: the write fails with EFBIG as a full disk fails with ENOSPC."""
    code = textwrap.dedent(
        """
        import resource, sys
        from trading_runtime.errors import TransientError
        from trading_runtime.store import LocalStore
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            LocalStore(sys.argv[1]).put_bytes("exp/result.json", b"x" * 5000)
        except TransientError as e:
            print(e.exit_code, e)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], capture_output=True, text=True,
                          cwd=REPO_ROOT, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"75 store: cannot write 'exp/result.json' in {(tmp_path / 'store').as_uri()}: no space "
                           "left (File too large); nothing was written, free some space and run the step again\n")
    assert list((tmp_path / "store" / "exp").iterdir()) == []


@contextlib.contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """A directory even root cannot write into: immutable (chattr +i) as root, mode 0o500 otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
    else:
        directory.chmod(0o500)
        try:
            yield
        finally:
            directory.chmod(0o700)


def test_an_unwritable_store_is_bad_input_naming_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    with unwritable(root), pytest.raises(InputError) as info:
        LocalStore(root).put_bytes("plan.json", b"{}")
    assert str(info.value) in (
        f"store: cannot write 'plan.json' in {root.as_uri()}: {why} ({root}); expected a writable directory"
        for why in ("permission denied", "operation not permitted"))
    assert list(root.iterdir()) == []


def test_a_store_path_through_a_file_a_long_name_or_a_nul_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=f"{tmp_path / 'file'} is a file, expected a directory"):
        LocalStore(tmp_path / "file").put_bytes("a.json", b"{}")
    with pytest.raises(InputError, match=r"file name too long"):
        LocalStore(tmp_path / ("n" * 300)).put_bytes("a.json", b"{}")
    with pytest.raises(InputError, match="NUL character"):
        LocalStore(str(tmp_path) + "/x\x00y")


def test_the_directories_a_write_creates_are_made_durable_before_the_file(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A new directory's entry is fsynced in its parent (top down) before the file is written in it, so a
    durable file is never lost with its directory (a power loss cannot be run here: the syncs are recorded)."""
    from trading_runtime.store import local

    synced: list[Path] = []
    real = local._fsync_directory

    def record(directory: Path) -> None:
        synced.append(Path(directory))
        real(directory)

    monkeypatch.setattr(local, "_fsync_directory", record)
    root = tmp_path / "root"
    store = LocalStore(root)
    store.put_bytes("a/b/c.txt", b"x")
    assert synced == [tmp_path, root, root / "a", root / "a" / "b"]  # root, a, b created; then the rename
    synced.clear()
    store.put_bytes("a/b/d.txt", b"y")
    assert synced == [root / "a" / "b"]  # nothing created: the rename only
    assert store.get_bytes("a/b/c.txt") == b"x"


def test_exists_and_get_answer_as_the_files_paths_do(tmp_path: Path) -> None:
    """A key's file is found by joining text (no Path per call): a link to a file is followed as Path.is_file
    follows it, a directory or a path through a file is no object; a write through a link or below a file is
    refused, as before."""
    store = LocalStore(tmp_path)
    store.put_bytes("a/b.json", b"{}")
    (tmp_path / "a" / "c.json").symlink_to(tmp_path / "a" / "b.json")
    assert store.exists("a/b.json") and store.exists("a/c.json") and store.get_bytes("a/c.json") == b"{}"
    assert not store.exists("a") and not store.exists("a/b.json/x") and not store.exists("z/y")
    for key in ("a", "a/b.json/x", "z/y"):
        with pytest.raises(ArtifactNotFoundError):
            store.get_bytes(key)
    with pytest.raises(InputError, match=r"'a/c\.json' is a symbolic link"):
        store.put_bytes("a/c.json", b"[]")
    with pytest.raises(InputError, match="a directory store cannot hold both a key and keys below it"):
        store.put_bytes("a/b.json/x", b"[]")
    assert store.get_bytes("a/b.json") == b"{}"
