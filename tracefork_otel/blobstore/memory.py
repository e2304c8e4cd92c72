"""An in-memory blob store: the default test double, and a scratch store for forks."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tracefork_otel.blobstore.base import sha256_hex
from tracefork_otel.errors import BlobIntegrityError, BlobNotFoundError


class MemoryBlobStore:
    """Blobs in a dict; thread-safe; bytes are verified on ``get`` like any other store."""

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"memory://{self._name}"

    def put(self, data: bytes, *, bases: Sequence[str] = ()) -> str:
        digest = sha256_hex(data)
        with self._lock:
            self._blobs.setdefault(digest, bytes(data))
        return digest

    def get(self, digest: str) -> bytes:
        with self._lock:
            data = self._blobs.get(digest)
        if data is None:
            raise BlobNotFoundError(digest, self.url)
        actual = sha256_hex(data)
        if actual != digest:
            raise BlobIntegrityError(digest, actual, self.url)
        return data

    def has(self, digest: str) -> bool:
        with self._lock:
            return digest in self._blobs

    def uri(self, digest: str) -> str:
        return f"{self.url}/{digest}"

    def digests(self) -> list[str]:
        """Every digest held (for tests and bundles)."""
        with self._lock:
            return sorted(self._blobs)

    def corrupt(self, digest: str, data: bytes) -> None:
        """Replace a blob's bytes without renaming it (tests of integrity checks)."""
        with self._lock:
            self._blobs[digest] = data
