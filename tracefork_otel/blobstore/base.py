"""The blob store interface: content-addressed bytes, named by their sha256.

A store keeps exact bytes under the lowercase hex sha256 of those bytes. ``put`` is
idempotent (the same bytes always land under the same name); ``get`` returns the
exact bytes or raises: it never returns bytes that do not hash to the name asked for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


def sha256_hex(data: bytes) -> str:
    """The name of ``data`` in a blob store."""
    return hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    """Whether ``text`` is a well-formed blob name (64 lowercase hex digits)."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed bytes.

    Implementations are thread-safe. ``put`` may block on I/O, so the record path only
    calls it from its background writer, never on the agent's thread.
    """

    @property
    def url(self) -> str:
        """Where the store lives, as a URL a user can pass back with ``--blobs``."""
        ...

    def put(self, data: bytes, *, bases: Sequence[str] = ()) -> str:
        """Store ``data``; return its sha256.

        Args:
            data: the exact bytes.
            bases: digests of blobs already in the store that ``data`` likely shares
                content with (the previous request of the same run); a store may use
                them as a compression dictionary. A hint only: it never changes what
                ``get`` returns.

        Raises:
            BlobError: the bytes could not be kept (the store is unwritable or full).
        """
        ...

    def get(self, digest: str) -> bytes:
        """The exact bytes stored under ``digest``.

        Raises:
            BlobNotFoundError: no such blob.
            BlobIntegrityError: the stored bytes do not hash to ``digest``.
        """
        ...

    def has(self, digest: str) -> bool:
        """Whether a blob named ``digest`` is in the store (its content is not checked)."""
        ...

    def uri(self, digest: str) -> str:
        """A URI naming one blob, for span attributes (``gen_ai.*.messages_ref``)."""
        ...
