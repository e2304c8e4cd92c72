"""FsspecBlobStore on ``s3://``, against moto's S3 server on loopback: the same code path as any URL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tracefork_otel.blobstore import FsspecBlobStore, sha256_hex
from tracefork_otel.blobstore.fsspec_store import MAGIC, MAX_CHAIN_DEPTH
from tracefork_otel.errors import BlobIntegrityError, BlobNotFoundError

moto_server = pytest.importorskip("moto.server", reason="needs moto[server] (pip install 'moto[server]' s3fs)")
boto3 = pytest.importorskip("boto3", reason="needs boto3 (comes with moto)")
pytest.importorskip("s3fs", reason="needs s3fs for s3:// blob stores")

KEY, SECRET, REGION = "testing-key", "testing-secret", "us-east-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per S3 call otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name=REGION
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"tf-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def open_store(endpoint: str, bucket: str) -> FsspecBlobStore:
    """A new store object (its own cache) on the bucket's ``blobs`` prefix."""
    return FsspecBlobStore(
        f"s3://{bucket}/blobs",
        client_kwargs={"endpoint_url": endpoint, "region_name": REGION},
        key=KEY,
        secret=SECRET,
    )


def object_key(digest: str) -> str:
    return f"blobs/{digest[:2]}/{digest}"


def body(turns: int) -> bytes:
    return b"".join(b'{"role":"user","content":"%s"},' % sha256_hex(str(i).encode()).encode() for i in range(turns))


def test_put_get_has_round_trip(endpoint: str, bucket: str, s3: Any) -> None:
    store = open_store(endpoint, bucket)
    data = body(5)
    digest = store.put(data)
    assert digest == sha256_hex(data)
    assert store.put(data) == digest  # idempotent
    fresh = open_store(endpoint, bucket)
    assert fresh.has(digest)
    assert fresh.get(digest) == data
    assert store.uri(digest) == f"s3://{bucket}/{object_key(digest)}"
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [object_key(digest)]  # one PUT, no temporary objects
    assert s3.get_object(Bucket=bucket, Key=object_key(digest))["Body"].read().startswith(MAGIC)


@pytest.mark.slow
def test_delta_chains_round_trip(endpoint: str, bucket: str) -> None:
    store = open_store(endpoint, bucket)
    bodies = [body(n) for n in range(1, MAX_CHAIN_DEPTH + 4)]
    digests: list[str] = []
    for data in bodies:
        digests.append(store.put(data, bases=digests[-1:]))
    for digest, data in reversed(list(zip(digests, bodies, strict=True))):
        assert open_store(endpoint, bucket).get(digest) == data


def test_a_flipped_byte_is_an_integrity_error(endpoint: str, bucket: str, s3: Any) -> None:
    digest = open_store(endpoint, bucket).put(body(4))
    raw = bytearray(s3.get_object(Bucket=bucket, Key=object_key(digest))["Body"].read())
    raw[len(raw) // 2] ^= 0x01
    s3.put_object(Bucket=bucket, Key=object_key(digest), Body=bytes(raw))
    with pytest.raises(BlobIntegrityError):
        open_store(endpoint, bucket).get(digest)
    s3.put_object(Bucket=bucket, Key=object_key(digest), Body=bytes(raw[:10]))  # truncated
    with pytest.raises(BlobIntegrityError):
        open_store(endpoint, bucket).get(digest)


def test_a_missing_blob_is_not_found(endpoint: str, bucket: str) -> None:
    store = open_store(endpoint, bucket)
    missing = sha256_hex(b"never stored")
    assert not store.has(missing)
    with pytest.raises(BlobNotFoundError) as caught:
        store.get(missing)
    assert isinstance(caught.value, FileNotFoundError)
