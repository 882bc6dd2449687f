"""The S3 store (``s3://bucket/prefix``): boto3's S3 client against AWS, MinIO or any S3-compatible server.

The only module of the runtime that imports boto3/botocore; ``open_store`` imports it lazily.

Endpoint and credentials come from boto3's standard sources: ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) for MinIO, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, profiles. A custom endpoint implies path-style addressing (botocore's
default for custom endpoints), which is what MinIO expects.

Retries: botocore's own retry loop is switched off (one HTTP attempt per call) and this module
retries transient failures itself, so ``max_attempts`` is the exact number of requests made:
connection errors, timeouts, truncated bodies, HTTP 5xx and 429, throttling codes (``SlowDown``,
``RequestTimeout``, ...). Backoff is exponential with jitter (the jitter only spreads retries out;
no result depends on it). When attempts run out: :class:`~trading_runtime.errors.TransientError`
(exit 75, the code Argo retries). Permanent problems are never retried: a missing bucket, denied
access or bad credentials raise :class:`~trading_runtime.errors.InputError` (exit 2).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import botocore.exceptions
import botocore.session
from botocore.config import Config

from trading_runtime.errors import InputError, TransientError
from trading_runtime.redaction import redact
from trading_runtime.store.base import ArtifactNotFoundError, validate_key, validate_prefix

__all__ = [
    "DEFAULT_BACKOFF_SECONDS",
    "DEFAULT_MAX_ATTEMPTS",
    "ENV_BACKOFF_SECONDS",
    "ENV_MAX_ATTEMPTS",
    "S3Store",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

ENV_MAX_ATTEMPTS = "TRADING_RUNTIME_S3_MAX_ATTEMPTS"
ENV_BACKOFF_SECONDS = "TRADING_RUNTIME_S3_BACKOFF_SECONDS"

# Requests per store operation, first one included: 5 rides out a MinIO pod restart or a burst
# of SlowDown (about 0.5 + 1 + 2 + 4 = 7.5 s of backoff) before exit 75 hands over to Argo's retry.
DEFAULT_MAX_ATTEMPTS = 5
# Base delay in seconds before the first retry; doubled for each further retry.
DEFAULT_BACKOFF_SECONDS = 0.5
# Upper bound of one backoff delay, in seconds, however many attempts are configured.
MAX_BACKOFF_SECONDS = 20.0
# Seconds to open a TCP connection; short, since a connection that does not open is retried.
CONNECT_TIMEOUT_SECONDS = 10.0
# Seconds without a byte on an open connection (botocore's default), then the request is retried.
READ_TIMEOUT_SECONDS = 60.0

# Error codes S3, MinIO and botocore use for throttling and server-side trouble.
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "InternalError",
        "ServiceUnavailable",
        "XMinioServerNotInitialized",
    }
)
# Error codes that mean the credentials or their rights are wrong: bad input, retrying cannot help.
_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "Forbidden",
        "403",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
    }
)
_NO_BUCKET_CODES = frozenset({"NoSuchBucket", "InvalidBucketName"})
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


_LOADER_LOCK = threading.Lock()
_SHARED_LOADER: list[Any] = []


def _new_botocore_session() -> Any:
    """A fresh session (so credentials and ``AWS_*`` settings are read now) sharing parsed API models.

    Parsing botocore's JSON service models costs ~0.1 s per session; they are immutable data, so
    every store of the process reuses one loader. The client made from it is the same botocore S3
    client that ``boto3.client("s3")`` returns; a boto3 ``Session`` would append to the shared
    loader's search path each time, so it is not used.
    """
    session = botocore.session.Session()
    with _LOADER_LOCK:
        if _SHARED_LOADER:
            session.register_component("data_loader", _SHARED_LOADER[0])
        else:
            _SHARED_LOADER.append(session.get_component("data_loader"))
    return session


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _http_status(exc: Any) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status) if status else 0


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        # botocore's own text ends in "(reached max retries: 0)", which is its count, not ours.
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())
        return f"{_error_code(exc) or 'error'} (HTTP {_http_status(exc)}): {message}".rstrip(": ")
    text = redact(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _env_int(name: str, minimum: int) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise InputError(f"store: environment {name}={raw!r}: expected an integer >= {minimum}")
    return value


def _env_float(name: str, minimum: float) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not minimum <= value < float("inf"):
        raise InputError(f"store: environment {name}={raw!r}: expected a number of seconds >= {minimum:g}")
    return value


class S3Store:
    """Objects under ``prefix/`` in ``bucket``.

    ``max_attempts`` (>= 1, requests per operation) and ``backoff_seconds`` (>= 0, base delay)
    default to ``TRADING_RUNTIME_S3_MAX_ATTEMPTS`` / ``TRADING_RUNTIME_S3_BACKOFF_SECONDS``, then
    to :data:`DEFAULT_MAX_ATTEMPTS` / :data:`DEFAULT_BACKOFF_SECONDS`. ``endpoint_url`` overrides
    ``AWS_ENDPOINT_URL``. ``sleep`` is the delay function between attempts.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        max_attempts: int | None = None,
        backoff_seconds: float | None = None,
        endpoint_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"store: invalid S3 bucket name {bucket!r}")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        if max_attempts is None:
            env_attempts = _env_int(ENV_MAX_ATTEMPTS, 1)
            max_attempts = DEFAULT_MAX_ATTEMPTS if env_attempts is None else env_attempts
        if backoff_seconds is None:
            env_backoff = _env_float(ENV_BACKOFF_SECONDS, 0.0)
            backoff_seconds = DEFAULT_BACKOFF_SECONDS if env_backoff is None else env_backoff
        if max_attempts < 1:
            raise ValueError(f"store: max_attempts must be >= 1, got {max_attempts}")
        if not 0 <= backoff_seconds < float("inf"):
            raise ValueError(f"store: backoff_seconds must be >= 0, got {backoff_seconds}")
        self._bucket = bucket
        self._prefix = prefix
        self._key_prefix = prefix + "/" if prefix else ""
        self._max_attempts = max_attempts
        self._backoff_seconds = float(backoff_seconds)
        self._sleep = sleep
        self._rng = random.Random()  # jitter only; never influences a result
        self._bucket_seen = False
        config = Config(
            # One HTTP request per botocore call: the attempts are counted and spaced out here.
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
            user_agent_extra="trading-runtime",
        )
        try:
            self._client: Any = _new_botocore_session().create_client("s3", endpoint_url=endpoint_url, config=config)
        except ValueError as exc:  # e.g. a malformed AWS_ENDPOINT_URL
            raise InputError(f"store: cannot create an S3 client for {self.uri}: {_one_line(exc)}") from None

    # -- public ---------------------------------------------------------------------------------

    @property
    def uri(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def max_attempts(self) -> int:
        return self._max_attempts

    @property
    def backoff_seconds(self) -> float:
        return self._backoff_seconds

    @property
    def client(self) -> Any:
        """The boto3 S3 client (e.g. to register botocore event hooks)."""
        return self._client

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r})"

    def put_bytes(self, key: str, data: bytes) -> None:
        full = self._full_key(key)
        blob = bytes(data)
        self._call("put_object", full, lambda: self._client.put_object(Bucket=self._bucket, Key=full, Body=blob))
        self._bucket_seen = True

    def get_bytes(self, key: str) -> bytes:
        full = self._full_key(key)

        def get() -> bytes | None:
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=full)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) in _NOT_FOUND_CODES:
                    return None
                raise
            body = response["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

        data = self._call("get_object", full, get)
        self._bucket_seen = True  # NoSuchKey, unlike NoSuchBucket, proves the bucket exists
        if data is None:
            raise ArtifactNotFoundError(self.uri, key)
        return data

    def exists(self, key: str) -> bool:
        full = self._full_key(key)

        def head() -> bool:
            try:
                self._client.head_object(Bucket=self._bucket, Key=full)
            except botocore.exceptions.ClientError as exc:
                if _http_status(exc) == 404:
                    return False
                raise
            return True

        found = self._call("head_object", full, head)
        if not found and not self._bucket_seen:
            # HEAD answers 404 for a missing bucket too; tell the two apart once per store.
            self._call("head_bucket", None, lambda: self._client.head_bucket(Bucket=self._bucket))
        self._bucket_seen = True
        return found

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        self._call("delete_object", full, lambda: self._client.delete_object(Bucket=self._bucket, Key=full))
        self._bucket_seen = True

    def list_keys(self, prefix: str = "") -> list[str]:
        validate_prefix(prefix)
        full_prefix = self._key_prefix + prefix

        def listing() -> list[str]:
            keys: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=full_prefix):
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(self._key_prefix) :]
                    try:
                        validate_key(key)
                    except ValueError:  # written by another tool ("dir/" placeholders, "a//b"): not ours
                        continue
                    keys.append(key)
            return keys

        keys = self._call("list_objects_v2", full_prefix + "*", listing)
        self._bucket_seen = True
        return sorted(keys)

    # -- internals ------------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        return self._key_prefix + validate_key(key)

    def _target(self, full_key: str | None) -> str:
        return f"s3://{self._bucket}/{full_key}" if full_key is not None else f"s3://{self._bucket}"

    def _delay(self, attempt: int) -> float:
        """Backoff before attempt ``attempt + 1``: exponential, capped, with "equal jitter"."""
        ceiling = min(MAX_BACKOFF_SECONDS, self._backoff_seconds * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _call(self, operation: str, full_key: str | None, request: Callable[[], T]) -> T:
        """Run ``request`` up to ``max_attempts`` times, retrying only transient failures."""
        target = self._target(full_key)
        last: BaseException | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                result = request()
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                if not self._is_transient(exc):
                    permanent = self._permanent(operation, target, exc)
                    if permanent is exc:
                        raise
                    raise permanent from exc
                last = exc
                if attempt < self._max_attempts:
                    delay = self._delay(attempt)
                    log.warning(
                        "s3 %s %s: attempt %d/%d failed (%s); retrying in %.2fs",
                        operation, target, attempt, self._max_attempts, _one_line(exc), delay,
                    )  # fmt: skip
                    self._sleep(delay)
                continue
            return result
        assert last is not None
        raise TransientError(
            f"store: s3 {operation} {target} failed after {self._max_attempts} attempt"
            f"{'s' if self._max_attempts != 1 else ''}: {_one_line(last)}"
        ) from last

    @staticmethod
    def _is_transient(exc: BaseException) -> bool:
        if isinstance(exc, botocore.exceptions.SSLError):
            return False  # certificate or TLS setup: configuration, not weather
        if isinstance(
            exc,
            botocore.exceptions.HTTPClientError
            | botocore.exceptions.ConnectionError
            | botocore.exceptions.IncompleteReadError,
        ):
            return True
        if isinstance(exc, botocore.exceptions.ClientError):
            status = _http_status(exc)
            return _error_code(exc) in _TRANSIENT_CODES or status >= 500 or status == 429
        return False

    def _permanent(self, operation: str, target: str, exc: BaseException) -> BaseException:
        """The error to raise for a non-transient failure: InputError when the setup is wrong."""
        endpoint = redact(str(self._client.meta.endpoint_url))
        if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return InputError(
                f"store: s3 {operation} {target}: {_one_line(exc)} "
                "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)"
            )
        if isinstance(exc, botocore.exceptions.SSLError):
            return InputError(f"store: s3 {operation} {target} at {endpoint}: {_one_line(exc)}")
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _error_code(exc)
            status = _http_status(exc)
            if code in _NO_BUCKET_CODES or (operation == "head_bucket" and status == 404):
                return InputError(
                    f"store: s3 bucket {self._bucket!r} does not exist at {endpoint} "
                    f"({operation} {target}; check the store URI and AWS_ENDPOINT_URL)"
                )
            if code in _ACCESS_CODES or status == 403:
                return InputError(
                    f"store: s3 {operation} {target} at {endpoint}: access denied ({code or status}: "
                    f"{exc.response.get('Error', {}).get('Message', '')}); check the AWS credentials "
                    "and the bucket policy"
                )
        return exc
