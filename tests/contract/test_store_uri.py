"""``open_store``: which URI opens which backend, and the one-line errors for the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trading_runtime.errors import EXIT_INPUT, InputError
from trading_runtime.store import LocalStore, MemoryStore, memory_store, open_store

from .conftest import REPO_ROOT


def test_relative_path_resolves_against_base_dir(tmp_path: Path) -> None:
    store = open_store("runs/store", base_dir=tmp_path)
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "runs" / "store"


def test_relative_path_resolves_against_cwd_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("store")
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "store"


def test_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "abs"), base_dir=Path("/elsewhere"))
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "abs"


@pytest.mark.parametrize("form", ["file://{path}", "file://localhost{path}", "FILE://{path}"])
def test_file_uris(tmp_path: Path, form: str) -> None:
    store = open_store(form.format(path=tmp_path / "with space"))
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "with space"


def test_file_uri_percent_decoding_roundtrips(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "a dir%41"))
    assert isinstance(store, LocalStore)
    again = open_store(store.uri)
    assert isinstance(again, LocalStore)
    assert again.root == tmp_path / "a dir%41"


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("file://server/share/x", "names host 'server'"),
        ("file://", "has no absolute path"),
        ("file:///x?y=1", "has a query or fragment"),
    ],
)
def test_bad_file_uris(uri: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        open_store(uri)


def test_memory_uri_names_one_process_wide_store() -> None:
    first = open_store("memory://uri-test-shared")
    first.put_bytes("k", b"v")
    second = open_store("memory://uri-test-shared")
    assert second is first
    assert second.uri == "memory://uri-test-shared"
    assert memory_store("uri-test-shared") is first
    assert open_store("memory://uri-test-other").list_keys() == []


def test_anonymous_memory_store_is_reachable_through_its_uri_while_alive() -> None:
    store = MemoryStore()
    assert store.uri.startswith("memory://anonymous-")
    assert open_store(store.uri) is store
    assert MemoryStore().uri != store.uri


def test_memory_store_names_are_unique() -> None:
    MemoryStore("uri-test-unique")
    with pytest.raises(ValueError, match="already exists"):
        MemoryStore("uri-test-unique")


def test_bad_memory_uri() -> None:
    with pytest.raises(InputError, match="expected memory://name"):
        open_store("memory://a/b")


def test_s3_uri_opens_an_s3_store(monkeypatch: pytest.MonkeyPatch, closed_port: int, tmp_path: Path) -> None:
    # Building the client talks to nobody; point everything at loopback anyway.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    from trading_runtime.store.s3 import S3Store

    for uri, bucket, prefix in [
        ("s3://bucket/some/prefix", "bucket", "some/prefix"),
        ("s3://bucket/some/prefix/", "bucket", "some/prefix"),
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("S3://bucket/p", "bucket", "p"),
    ]:
        store = open_store(uri)
        assert isinstance(store, S3Store)
        assert (store.bucket, store.prefix) == (bucket, prefix)
        assert store.uri == (f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://", "store: S3 URI 's3://' has no valid bucket name (expected s3://bucket/prefix)"),
        ("s3:///prefix", "store: S3 URI 's3:///prefix' has no valid bucket name (expected s3://bucket/prefix)"),
        ("s3://bucket/a//b", "store: S3 URI 's3://bucket/a//b': invalid key 'a//b': empty path segment"),
        ("s3://bucket/../x", "store: S3 URI 's3://bucket/../x': invalid key '../x': '..' segment"),
    ],
)
def test_bad_s3_uris(uri: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        open_store(uri)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("uri", ["ftp://x", "http://host/path", "gs://bucket/p"])
def test_unsupported_schemes_are_one_line_input_errors(uri: str) -> None:
    with pytest.raises(InputError) as info:
        open_store(uri)
    assert info.value.exit_code == EXIT_INPUT
    assert str(info.value) == (
        f"store: unsupported URI {uri!r} (expected a path, file://, s3://bucket/prefix or memory://)"
    )


def test_empty_uri_is_an_input_error() -> None:
    with pytest.raises(InputError, match="empty store URI"):
        open_store("")


def test_importing_and_using_non_s3_stores_never_imports_boto3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from trading_runtime.store import open_store, write_complete, read_complete\n"
        f"s = open_store({str(tmp_path)!r})\n"
        "write_complete(s, 'a/b.json', b'x'); assert read_complete(s, 'a/b.json') == b'x'\n"
        "open_store('memory://m').put_bytes('k', b'v')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
