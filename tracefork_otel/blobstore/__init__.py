"""Content-addressed blob stores: ``put(bytes) -> sha256``, ``get(sha256) -> bytes``."""

from __future__ import annotations

from tracefork_otel import environment_variables
from tracefork_otel.blobstore.base import BlobStore, is_digest, sha256_hex
from tracefork_otel.blobstore.fsspec_store import FsspecBlobStore
from tracefork_otel.blobstore.memory import MemoryBlobStore
from tracefork_otel.blobstore.unavailable import UnavailableBlobStore

__all__ = [
    "BlobStore",
    "FsspecBlobStore",
    "MemoryBlobStore",
    "UnavailableBlobStore",
    "is_digest",
    "open_blob_store",
    "sha256_hex",
]


def open_blob_store(url: str | None = None) -> BlobStore:
    """The blob store at ``url``; with no URL, ``$TFOTEL_BLOBS`` or ``$TFOTEL_HOME/blobs``.

    Nothing is created until the first ``put``.
    """
    return FsspecBlobStore(url or environment_variables.blob_url())
