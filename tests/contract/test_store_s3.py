"""S3-specific behaviour: endpoint from the environment, retries and their count, permanent errors.

Attempts are counted with a botocore ``before-send`` hook (one call per HTTP request actually
sent, botocore's own retries included) or by the scripted server itself.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from trading_runtime.errors import EXIT_INPUT, EXIT_TRANSIENT, InputError, TransientError
from trading_runtime.store import ArtifactNotFoundError, open_store
from trading_runtime.store.s3 import (
    DEFAULT_BACKOFF_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    ENV_BACKOFF_SECONDS,
    ENV_MAX_ATTEMPTS,
    S3Store,
)

from .conftest import S3_BUCKET, ScriptedS3, unique_name

pytestmark = pytest.mark.s3


def count_requests(store: S3Store) -> list[str]:
    """Record the operation name of every HTTP request the store's client sends."""
    sent: list[str] = []

    def on_send(event_name: str, **_: Any) -> None:
        sent.append(event_name.rsplit(".", 1)[-1])  # "before-send.s3.PutObject" -> "PutObject"

    store.client.meta.events.register("before-send.s3", on_send)
    return sent


def raw_client(endpoint: str) -> Any:
    return boto3.session.Session().client("s3", endpoint_url=endpoint)


# -- endpoint and layout --------------------------------------------------------------------------


def test_aws_endpoint_url_from_the_environment_is_honoured(s3_env: str, s3_bucket: str) -> None:
    store = open_store(f"s3://{s3_bucket}/endpoint-check")
    assert isinstance(store, S3Store)
    assert store.client.meta.endpoint_url == s3_env
    store.put_bytes("x.json", b"{}")
    assert store.get_bytes("x.json") == b"{}"


def test_objects_live_under_the_uri_prefix(s3_env: str, s3_bucket: str, request: pytest.FixtureRequest) -> None:
    prefix = f"layout/{unique_name(request)}"
    store = S3Store(s3_bucket, prefix + "/")  # a trailing slash is the same prefix
    assert store.uri == f"s3://{s3_bucket}/{prefix}"
    store.put_bytes("shards/shard-00000/result.json", b"r")
    listed = raw_client(s3_env).list_objects_v2(Bucket=s3_bucket, Prefix=prefix)
    assert [obj["Key"] for obj in listed["Contents"]] == [f"{prefix}/shards/shard-00000/result.json"]


def test_sibling_prefixes_do_not_leak_into_each_other(
    s3_env: str, s3_bucket: str, request: pytest.FixtureRequest
) -> None:
    base = unique_name(request)
    one = S3Store(s3_bucket, f"{base}/run")
    two = S3Store(s3_bucket, f"{base}/run2")
    one.put_bytes("a.json", b"1")
    two.put_bytes("a.json", b"2")
    assert one.list_keys() == ["a.json"]
    assert two.list_keys() == ["a.json"]
    assert one.get_bytes("a.json") == b"1"


def test_listing_skips_objects_that_are_not_valid_keys(
    s3_env: str, s3_bucket: str, request: pytest.FixtureRequest
) -> None:
    prefix = unique_name(request)
    client = raw_client(s3_env)
    for key in (f"{prefix}/dir/", f"{prefix}/a//b", f"{prefix}/ok.json"):
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"")
    assert S3Store(s3_bucket, prefix).list_keys() == ["ok.json"]


def test_missing_key_is_one_request_not_retried(s3_env: str, s3_bucket: str) -> None:
    store = S3Store(s3_bucket, "missing", max_attempts=4, backoff_seconds=0)
    sent = count_requests(store)
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes("nope.json")
    assert sent == ["GetObject"]


# -- transient failures ---------------------------------------------------------------------------


def test_unreachable_endpoint_raises_transient_after_exactly_max_attempts(s3_env: str, closed_port: int) -> None:
    delays: list[float] = []
    store = S3Store(
        S3_BUCKET,
        "p",
        max_attempts=3,
        backoff_seconds=0.001,
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        sleep=delays.append,
    )
    sent = count_requests(store)
    with pytest.raises(TransientError) as info:
        store.put_bytes("shards/shard-00001/result.json", b"payload")
    assert sent == ["PutObject"] * 3
    assert len(delays) == 2
    assert 0.0005 <= delays[0] <= 0.001 <= delays[1] <= 0.002  # exponential, with jitter
    error = info.value
    assert error.exit_code == EXIT_TRANSIENT == 75
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"store: s3 put_object s3://{S3_BUCKET}/p/shards/shard-00001/result.json ")
    assert "failed after 3 attempts" in message
    assert "EndpointConnectionError" in message


@pytest.mark.parametrize("operation", ["get_bytes", "exists", "delete", "list_keys"])
def test_every_operation_retries(s3_env: str, closed_port: int, operation: str) -> None:
    store = S3Store(S3_BUCKET, max_attempts=2, backoff_seconds=0, endpoint_url=f"http://127.0.0.1:{closed_port}")
    sent = count_requests(store)
    with pytest.raises(TransientError, match="failed after 2 attempts"):
        if operation == "list_keys":
            store.list_keys("x/")
        else:
            getattr(store, operation)("x.json")
    assert len(sent) == 2


def test_attempts_and_backoff_come_from_the_environment(
    s3_env: str, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert S3Store(S3_BUCKET).max_attempts == DEFAULT_MAX_ATTEMPTS
    assert S3Store(S3_BUCKET).backoff_seconds == DEFAULT_BACKOFF_SECONDS
    monkeypatch.setenv(ENV_MAX_ATTEMPTS, "4")
    monkeypatch.setenv(ENV_BACKOFF_SECONDS, "0")
    store = S3Store(S3_BUCKET, endpoint_url=f"http://127.0.0.1:{closed_port}")
    assert (store.max_attempts, store.backoff_seconds) == (4, 0.0)
    sent = count_requests(store)
    with pytest.raises(TransientError, match="failed after 4 attempts"):
        store.get_bytes("k")
    assert len(sent) == 4
    # Constructor arguments win over the environment.
    assert S3Store(S3_BUCKET, max_attempts=2, backoff_seconds=1.5).max_attempts == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [(ENV_MAX_ATTEMPTS, "0"), (ENV_MAX_ATTEMPTS, "three"), (ENV_BACKOFF_SECONDS, "-1"), (ENV_BACKOFF_SECONDS, "nan")],
)
def test_bad_retry_settings_in_the_environment_are_input_errors(
    s3_env: str, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InputError) as info:
        S3Store(S3_BUCKET)
    assert info.value.exit_code == EXIT_INPUT
    assert str(info.value).startswith(f"store: environment {name}={value!r}: expected ")


def test_slowdown_is_retried_until_the_server_recovers(scripted_s3: ScriptedS3) -> None:
    scripted_s3.script = [(503, "SlowDown"), (503, "SlowDown"), (200, b"")]
    store = S3Store("bucket", max_attempts=3, backoff_seconds=0, endpoint_url=scripted_s3.endpoint)
    store.put_bytes("a.json", b"{}")
    assert [method for method, _ in scripted_s3.requests] == ["PUT", "PUT", "PUT"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalError"), (503, "ServiceUnavailable"), (400, "RequestTimeout"), (429, "TooManyRequests")],
)
def test_server_errors_and_throttling_exhaust_into_transient_error(
    scripted_s3: ScriptedS3, status: int, code: str
) -> None:
    scripted_s3.script = [(status, code)]
    store = S3Store("bucket", max_attempts=3, backoff_seconds=0, endpoint_url=scripted_s3.endpoint)
    with pytest.raises(TransientError) as info:
        store.get_bytes("shards/shard-00002/result.json")
    assert len(scripted_s3.requests) == 3
    assert info.value.exit_code == EXIT_TRANSIENT
    assert str(info.value) == (
        "store: s3 get_object s3://bucket/shards/shard-00002/result.json failed after 3 attempts: "
        f"{code} (HTTP {status}): scripted {code}"
    )


def test_body_is_returned_after_a_retried_get(scripted_s3: ScriptedS3) -> None:
    scripted_s3.script = [(500, "InternalError"), (200, b"the payload")]
    store = S3Store("bucket", max_attempts=2, backoff_seconds=0, endpoint_url=scripted_s3.endpoint)
    assert store.get_bytes("k") == b"the payload"
    assert len(scripted_s3.requests) == 2


# -- permanent failures ---------------------------------------------------------------------------


REQUESTS_SENT_BY = {
    "put_bytes": ["PutObject"],
    "get_bytes": ["GetObject"],
    "exists": ["HeadObject", "HeadBucket"],
    "delete": ["DeleteObject"],
    "list_keys": ["ListObjectsV2"],
}


@pytest.mark.parametrize("operation", sorted(REQUESTS_SENT_BY))
def test_missing_bucket_is_an_input_error_not_retried(s3_env: str, operation: str) -> None:
    store = S3Store("no-such-bucket-here", "p", max_attempts=5, backoff_seconds=0)
    sent = count_requests(store)
    with pytest.raises(InputError) as info:
        if operation == "put_bytes":
            store.put_bytes("k.json", b"x")
        elif operation == "list_keys":
            store.list_keys()
        else:
            getattr(store, operation)("k.json")
    assert info.value.exit_code == EXIT_INPUT
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"store: s3 bucket 'no-such-bucket-here' does not exist at {s3_env} (")
    # exists() asks HEAD object, whose 404 is ambiguous, then HEAD bucket once; nothing is retried.
    assert sent == REQUESTS_SENT_BY[operation]


def test_access_denied_is_an_input_error_not_retried(scripted_s3: ScriptedS3) -> None:
    scripted_s3.script = [(403, "AccessDenied")]
    store = S3Store("bucket", "p", max_attempts=5, backoff_seconds=0, endpoint_url=scripted_s3.endpoint)
    with pytest.raises(InputError) as info:
        store.put_bytes("k.json", b"x")
    assert len(scripted_s3.requests) == 1
    assert info.value.exit_code == EXIT_INPUT
    assert "access denied (AccessDenied" in str(info.value)
    assert "s3://bucket/p/k.json" in str(info.value)


def test_other_client_errors_propagate_unchanged(scripted_s3: ScriptedS3) -> None:
    import botocore.exceptions

    scripted_s3.script = [(400, "InvalidArgument")]
    store = S3Store("bucket", max_attempts=5, backoff_seconds=0, endpoint_url=scripted_s3.endpoint)
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidArgument"):
        store.put_bytes("k", b"x")
    assert len(scripted_s3.requests) == 1


def test_missing_credentials_are_an_input_error(s3_env: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = S3Store(s3_bucket, max_attempts=3, backoff_seconds=0)
    with pytest.raises(InputError, match="AWS_ACCESS_KEY_ID"):
        store.get_bytes("k")
