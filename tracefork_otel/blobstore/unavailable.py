"""The stand-in for a blob store that could not be opened: every put and get fails, saying why.

The record path must not fail the agent because its store is mistyped (``nosuchfs://``),
its backend is not installed, or its server is down. Opening such a store gives this
object instead; the recorder's fail-open path then lets every call through, warns once
and marks the spans with ``tracefork.record.error`` (strict mode raises the reason into
the agent, as it does for any failed put).
"""

from __future__ import annotations

from collections.abc import Sequence

from tracefork_otel.errors import BlobError, BlobNotFoundError
from tracefork_otel.urls import safe_url


class UnavailableBlobStore:
    """A store that keeps nothing: ``put`` raises :class:`BlobError` with the reason it could not be opened."""

    def __init__(self, url: str, reason: str) -> None:
        self._url = safe_url(url)
        self.reason = reason

    @property
    def url(self) -> str:
        return self._url

    def put(self, data: bytes, *, bases: Sequence[str] = ()) -> str:
        raise BlobError(f"blob store {self._url} is unavailable: {self.reason}")

    def get(self, digest: str) -> bytes:
        raise BlobNotFoundError(digest, f"{self._url} (unavailable: {self.reason})")

    def has(self, digest: str) -> bool:
        return False

    def uri(self, digest: str) -> str:
        return f"{self._url}/{digest[:2]}/{digest}"
