"""A blob store on any fsspec URL: a local folder (the default), ``file://``, ``s3://``, ``memory://``.

Every URL goes through this one class; only the final write differs, and only because
object stores and file systems make atomicity differently: a local file is written
to a temporary name and renamed into place (a reader never sees half a blob), an
object store's PUT is atomic by itself.

On-disk format of one blob (``<root>/<digest[:2]>/<digest>``)::

    b"TFB1" | depth: u8 | n_bases: u8 | n_bases x 32-byte base digests | zstd frame

The frame holds the exact bytes, compressed with the concatenated bases as a raw
dictionary when bases are given. Requests of an agent run repeat the whole
conversation so far, so compressing a request against the run's previous exchange
stores only what is new. ``depth`` bounds the chain a read must follow
(``MAX_CHAIN_DEPTH``); past it a blob is stored on its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import fsspec
import zstandard
from fsspec.implementations.local import LocalFileSystem

from tracefork_otel._zstd import decompress_capped
from tracefork_otel.blobstore.base import is_digest, sha256_hex
from tracefork_otel.errors import BlobError, BlobIntegrityError, BlobNotFoundError, ConfigError, FrameTooLarge
from tracefork_otel.urls import safe_url, scrub_urls

logger = logging.getLogger(__name__)

MAGIC = b"TFB1"
MAX_CHAIN_DEPTH = 64
MAX_BLOB_BYTES = 256 * 1024 * 1024
"""Largest blob a read will decompress; a bigger claim is treated as corruption."""
_CACHE_BYTES = 32 * 1024 * 1024
MAX_READ_BYTES = MAX_BLOB_BYTES + 2 * (MAX_CHAIN_DEPTH + 1) * (_CACHE_BYTES // 4)
"""Most bytes one ``get`` decompresses, the blob and every base on its chain together.

A chain is at most ``MAX_CHAIN_DEPTH`` deep and each blob names up to 255 bases, so a
crafted store could otherwise make one read decode the same bases again and again
(exponential in the depth) or join gigabytes into one dictionary. One read decodes
each distinct base once, and stops at this budget: what the writer can produce (a base
is a blob the LRU held, at most a quarter of its capacity; the recorder names two per
level) and no more."""
_ZSTD_LEVEL = 3
_ZSTD_LEVEL_ALONE = 9
"""A blob stored on its own starts a chain that later blobs lean on: worth compressing harder."""


class _LruBytes:
    """A byte-bounded LRU of recently put or read blobs and their chain depths."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._size = 0
        self._items: OrderedDict[str, tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bytes, int] | None:
        with self._lock:
            item = self._items.get(digest)
            if item is not None:
                self._items.move_to_end(digest)
            return item

    def put(self, digest: str, data: bytes, depth: int) -> None:
        if len(data) > self._capacity // 4:
            return
        with self._lock:
            if digest in self._items:
                self._items.move_to_end(digest)
                return
            self._items[digest] = (data, depth)
            self._size += len(data)
            while self._size > self._capacity:
                _, (old, _) = self._items.popitem(last=False)
                self._size -= len(old)


class FsspecBlobStore:
    """Content-addressed, zstd-compressed blobs under one fsspec URL. Thread-safe."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        if not url:
            raise ConfigError("blob store URL is empty")
        try:
            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"cannot open blob store {safe_url(url)!r}: {scrub_urls(str(exc))}") from exc
        self._fs: fsspec.AbstractFileSystem = fs
        self._root = root.rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        self._url = safe_url(url)  # for messages and spans: the filesystem above holds the credentials
        self._cache = _LruBytes(_CACHE_BYTES)
        self._made_dirs: set[str] = set()

    @property
    def url(self) -> str:
        return self._url

    def uri(self, digest: str) -> str:
        path = self._path(digest)
        return f"file://{path}" if self._local else self._fs.unstrip_protocol(path)

    def _path(self, digest: str) -> str:
        return f"{self._root}/{digest[:2]}/{digest}"

    # --- write -------------------------------------------------------------------

    def put(self, data: bytes, *, bases: Sequence[str] = ()) -> str:
        digest = sha256_hex(data)
        try:
            if self._cache.get(digest) is not None or self._exists(self._path(digest)):
                self._cache.put(digest, data, 0)
                return digest
            blob, depth = self._encode(data, bases)
            self._write(self._path(digest), blob)
        except BlobError:
            raise
        except Exception as exc:  # OSError, ENOSPC, an object store's own errors
            raise BlobError(f"cannot write blob {digest[:16]}… to {self._url}: {scrub_urls(str(exc))}") from exc
        self._cache.put(digest, data, depth)
        return digest

    def _encode(self, data: bytes, bases: Sequence[str]) -> tuple[bytes, int]:
        base_bytes: list[bytes] = []
        used: list[str] = []
        depth = 0
        for base in bases:
            cached = self._cache.get(base) if is_digest(base) else None
            if cached is None or cached[1] + 1 > MAX_CHAIN_DEPTH:
                continue
            base_bytes.append(cached[0])
            used.append(base)
            depth = max(depth, cached[1] + 1)
        if used:
            dictionary = zstandard.ZstdCompressionDict(b"".join(base_bytes), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            frame = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, dict_data=dictionary).compress(data)
        else:
            frame = zstandard.ZstdCompressor(level=_ZSTD_LEVEL_ALONE).compress(data)
        header = MAGIC + bytes([depth, len(used)]) + b"".join(bytes.fromhex(b) for b in used)
        return header + frame, depth

    def _exists(self, path: str) -> bool:
        return os.path.exists(path) if self._local else bool(self._fs.exists(path))

    def _write(self, path: str, blob: bytes) -> None:
        folder = path.rsplit("/", 1)[0]
        if not self._local:
            if folder not in self._made_dirs:
                self._fs.makedirs(folder, exist_ok=True)
                self._made_dirs.add(folder)
            self._fs.pipe_file(path, blob)  # one PUT: atomic on object stores
            return
        # Local disk: plain os calls (fsspec's local layer costs ~0.5 ms a blob in path handling),
        # a temporary name, then rename(2): readers see no blob or the whole blob.
        if folder not in self._made_dirs:
            os.makedirs(folder, exist_ok=True)
            self._made_dirs.add(folder)
        tmp = f"{folder}/.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # --- read --------------------------------------------------------------------

    def has(self, digest: str) -> bool:
        if not is_digest(digest):
            return False
        if self._cache.get(digest) is not None:
            return True
        try:
            return bool(self._fs.exists(self._path(digest)))
        except Exception:
            return False

    def get(self, digest: str) -> bytes:
        if not is_digest(digest):
            raise BlobNotFoundError(digest, self._url)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached[0]
        data, depth = self._read(digest, MAX_CHAIN_DEPTH + 1, _ReadBudget())
        self._cache.put(digest, data, depth)
        return data

    def _read(self, digest: str, budget: int, work: _ReadBudget) -> tuple[bytes, int]:
        path = self._path(digest)
        try:
            blob = self._fs.cat_file(path)
        except FileNotFoundError as exc:
            raise BlobNotFoundError(digest, self._url) from exc
        except Exception as exc:
            raise BlobError(f"cannot read blob {digest[:16]}… from {self._url}: {scrub_urls(str(exc))}") from exc
        data, depth = self._decode(digest, blob, budget, work)
        actual = sha256_hex(data)
        if actual != digest:
            raise BlobIntegrityError(digest, actual, self._url)
        return data, depth

    def _decode(self, digest: str, blob: bytes, budget: int, work: _ReadBudget) -> tuple[bytes, int]:
        def corrupt(why: str) -> BlobIntegrityError:
            err = BlobIntegrityError(digest, "unreadable", self._url)
            err.args = (f"blob {digest[:16]}… in {self._url} is corrupt: {why}",)
            return err

        if len(blob) < 6 or blob[:4] != MAGIC:
            raise corrupt("not a tracefork blob (bad header)")
        depth, n_bases = blob[4], blob[5]
        end = 6 + 32 * n_bases
        if len(blob) < end or depth > MAX_CHAIN_DEPTH or budget <= 0:
            raise corrupt("bad header")
        bases = [blob[6 + 32 * i : 6 + 32 * (i + 1)].hex() for i in range(n_bases)]
        frame = blob[end:]
        try:
            if bases:
                try:
                    parts = [self._base(b, budget - 1, work) for b in bases]
                except BlobNotFoundError as exc:  # the blob is here but points at nothing: damaged
                    raise corrupt(f"its base {exc.digest[:16]}… is missing") from exc
                if sum(len(part) for part in parts) > MAX_BLOB_BYTES:
                    raise corrupt(f"its bases add up to more than {MAX_BLOB_BYTES} bytes")
                base_bytes = b"".join(parts)
                dictionary = zstandard.ZstdCompressionDict(base_bytes, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
            else:
                decompressor = zstandard.ZstdDecompressor()
            data = decompress_capped(decompressor, frame, min(MAX_BLOB_BYTES, work.left))
        except FrameTooLarge as exc:
            if work.left < MAX_BLOB_BYTES and (exc.size <= MAX_BLOB_BYTES or not exc.declared):
                raise corrupt(f"its chain of bases expands to more than {MAX_READ_BYTES} bytes") from exc
            raise corrupt(str(exc)) from exc
        except zstandard.ZstdError as exc:
            raise corrupt(f"zstd: {exc}") from exc
        work.left -= len(data)
        return data, depth

    def _base(self, digest: str, budget: int, work: _ReadBudget) -> bytes:
        cached = self._cache.get(digest) or work.decoded.get(digest)
        if cached is not None:
            return cached[0]
        data, depth = self._read(digest, budget, work)
        self._cache.put(digest, data, depth)
        work.decoded[digest] = (data, depth)
        return data


class _ReadBudget:
    """What one ``get`` may still decompress, and the bases it already decoded (each is decoded once)."""

    def __init__(self) -> None:
        self.left = MAX_READ_BYTES
        self.decoded: dict[str, tuple[bytes, int]] = {}
