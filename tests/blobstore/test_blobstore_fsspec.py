"""FsspecBlobStore on a local folder and on ``memory://``: exact bytes back, or an error that says why."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from tracefork_otel.blobstore import BlobStore, FsspecBlobStore, MemoryBlobStore, open_blob_store, sha256_hex
from tracefork_otel.blobstore.fsspec_store import MAGIC, MAX_CHAIN_DEPTH
from tracefork_otel.errors import BlobError, BlobIntegrityError, BlobNotFoundError


def conversation(turns: int, salt: str = "") -> bytes:
    """A Messages API request body with ``turns`` turns: each repeats all the ones before, like an agent's."""
    lines = ",".join(
        f'{{"role":"user","content":"turn {i}: {hashlib.sha256(f"{salt}{i}".encode()).hexdigest() * 4}"}}'
        for i in range(turns)
    )
    return f'{{"model":"claude-sonnet-4-6","max_tokens":512,"messages":[{lines}]}}'.encode()


@pytest.fixture(params=["folder", "file-url", "memory"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store location of each kind."""
    if request.param == "folder":
        yield str(tmp_path / "blobs")
    elif request.param == "file-url":
        yield (tmp_path / "blobs").as_uri()
    else:
        root = f"memory://tftest-{uuid.uuid4().hex}"
        yield root
        fs, path = fsspec.core.url_to_fs(root)
        if fs.exists(path):
            fs.rm(path, recursive=True)


def stored_path(url: str, digest: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file system and path holding ``digest``'s stored (encoded) file."""
    fs, root = fsspec.core.url_to_fs(url)
    return fs, f"{root.rstrip('/')}/{digest[:2]}/{digest}"


def all_files(url: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(url)
    return [p for p in fs.find(root)] if fs.exists(root) else []


def test_a_store_satisfies_the_protocol(url: str) -> None:
    assert isinstance(FsspecBlobStore(url), BlobStore)
    assert isinstance(MemoryBlobStore(), BlobStore)


def test_put_returns_the_sha256_and_get_gives_the_exact_bytes(url: str) -> None:
    store = FsspecBlobStore(url)
    samples = [b"", b"x", b"\x00\xff" * 1000, conversation(3), bytes(range(256)) * 300]
    digests = [store.put(data) for data in samples]
    assert digests == [hashlib.sha256(data).hexdigest() for data in samples]
    fresh = FsspecBlobStore(url)  # nothing from the writer's cache
    for digest, data in zip(digests, samples, strict=True):
        assert fresh.has(digest)
        assert fresh.get(digest) == data
        assert store.get(digest) == data


def test_put_is_idempotent(url: str) -> None:
    data = conversation(4)
    first = FsspecBlobStore(url)
    digest = first.put(data)
    fs, path = stored_path(url, digest)
    stored = fs.cat_file(path)
    assert first.put(data) == digest
    assert FsspecBlobStore(url).put(data, bases=[digest]) == digest  # a second writer, even with a hint
    assert fs.cat_file(path) == stored
    assert [p for p in all_files(url) if p.rsplit("/", 1)[-1] == digest] == [path]


def test_open_blob_store_defaults_to_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFOTEL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TFOTEL_BLOBS", raising=False)
    store = open_blob_store()
    digest = store.put(b"abc")
    assert (tmp_path / "home" / "blobs" / digest[:2] / digest).is_file()
    assert store.uri(digest) == (tmp_path / "home" / "blobs" / digest[:2] / digest).as_uri()


def test_delta_chains_longer_than_the_depth_limit_round_trip(url: str) -> None:
    store = FsspecBlobStore(url)
    bodies = [conversation(turns) for turns in range(1, 3 * MAX_CHAIN_DEPTH + 3)]
    digests: list[str] = []
    for body in bodies:
        digests.append(store.put(body, bases=digests[-1:]))
    fresh = FsspecBlobStore(url)
    # Read newest first, so every read walks its whole chain on a cold cache.
    for digest, body in reversed(list(zip(digests, bodies, strict=True))):
        assert FsspecBlobStore(url).get(digest) == body
        assert fresh.get(digest) == body
    depths = []
    for digest in digests:
        fs, path = stored_path(url, digest)
        raw = fs.cat_file(path)
        assert raw[:4] == MAGIC
        depths.append(raw[4])
    assert max(depths) == MAX_CHAIN_DEPTH  # the chain was used up to its limit, never past it
    assert 0 in depths[1:]  # and restarted once it was reached


def test_bases_compress_a_growing_conversation(url: str) -> None:
    store = FsspecBlobStore(url)
    previous = store.put(conversation(40, salt="a"))
    body = conversation(41, salt="a")
    digest = store.put(body, bases=[previous])
    alone = FsspecBlobStore(url)
    alone_digest = alone.put(conversation(41, salt="b"))  # same size and shape, no base
    fs, delta_path = stored_path(url, digest)
    _, plain_path = stored_path(url, alone_digest)
    assert len(fs.cat_file(delta_path)) * 4 < len(fs.cat_file(plain_path))
    assert FsspecBlobStore(url).get(digest) == body


def test_bases_that_are_unknown_or_malformed_are_only_hints(url: str) -> None:
    store = FsspecBlobStore(url)
    body = conversation(2)
    digest = store.put(body, bases=["0" * 64, "not-a-digest", ""])
    assert FsspecBlobStore(url).get(digest) == body


def test_a_flipped_byte_in_the_payload_is_an_integrity_error(url: str) -> None:
    digest = FsspecBlobStore(url).put(conversation(5))
    fs, path = stored_path(url, digest)
    raw = bytearray(fs.cat_file(path))
    raw[len(raw) // 2] ^= 0x01
    fs.pipe_file(path, bytes(raw))
    with pytest.raises(BlobIntegrityError) as caught:
        FsspecBlobStore(url).get(digest)
    assert caught.value.digest == digest
    assert not isinstance(caught.value, FileNotFoundError)


@pytest.mark.parametrize("delta", [False, True], ids=["plain", "delta"])
def test_any_flipped_bit_gives_the_exact_bytes_or_an_integrity_error(url: str, delta: bool) -> None:
    """Never wrong bytes, and never "not found" for a blob that is there but damaged (a flipped base digest)."""
    store = FsspecBlobStore(url)
    base = store.put(conversation(2))
    body = conversation(3)
    digest = store.put(body, bases=[base] if delta else [])
    fs, path = stored_path(url, digest)
    raw = fs.cat_file(path)
    assert (raw[5] == 1) is delta
    errors = 0
    for index, bit in itertools.product(range(len(raw)), (0x01, 0x40)):
        damaged = bytearray(raw)
        damaged[index] ^= bit
        fs.pipe_file(path, bytes(damaged))
        try:
            got = FsspecBlobStore(url).get(digest)
        except BlobIntegrityError:
            errors += 1
            continue
        assert got == body, f"flipping bit {bit:#x} of byte {index} gave other bytes"
    assert errors > len(raw)  # almost every flip is caught; the rest still give the exact bytes


@pytest.mark.parametrize("keep", [0, 3, 5, 6, 20, -1])
def test_a_truncated_file_is_an_integrity_error(url: str, keep: int) -> None:
    body = conversation(3)
    digest = FsspecBlobStore(url).put(body)
    fs, path = stored_path(url, digest)
    raw = fs.cat_file(path)
    fs.pipe_file(path, raw[:keep])
    with pytest.raises(BlobIntegrityError):
        FsspecBlobStore(url).get(digest)


def test_a_missing_blob_is_not_found(url: str) -> None:
    store = FsspecBlobStore(url)
    missing = sha256_hex(b"never stored")
    assert not store.has(missing)
    with pytest.raises(BlobNotFoundError) as caught:
        store.get(missing)
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, BlobError)
    assert caught.value.digest == missing
    with pytest.raises(FileNotFoundError):
        store.get("not-a-digest")
    assert not store.has("../../etc/passwd")


def test_a_stored_file_that_does_not_hash_to_its_name_is_refused(url: str) -> None:
    store = FsspecBlobStore(url)
    real = store.put(b"the real bytes")
    impostor = sha256_hex(b"other bytes")
    fs, real_path = stored_path(url, real)
    _, impostor_path = stored_path(url, impostor)
    fs.makedirs(impostor_path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(impostor_path, fs.cat_file(real_path))  # a well-formed blob under the wrong name
    with pytest.raises(BlobIntegrityError) as caught:
        FsspecBlobStore(url).get(impostor)
    assert caught.value.actual == real


def test_writes_leave_no_temporary_files(url: str) -> None:
    store = FsspecBlobStore(url)
    digests = {store.put(conversation(n)) for n in range(1, 30)}
    names = {p.rsplit("/", 1)[-1] for p in all_files(url)}
    assert names == digests


def test_a_failed_write_leaves_neither_a_blob_nor_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsspecBlobStore(str(tmp_path / "blobs"))
    store.put(b"first")  # the folder exists

    def broken_rename(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tracefork_otel.blobstore.fsspec_store.os.replace", broken_rename)
    with pytest.raises(BlobError, match="No space left"):
        store.put(b"second")
    assert not store.has(sha256_hex(b"second"))
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()) == [sha256_hex(b"first")]


def test_a_reader_never_sees_a_partial_blob(url: str) -> None:
    """One thread writes big blobs while another polls ``has``/``get`` on its own (cold) store."""
    bodies = [random.Random(i).randbytes(2_000_000) for i in range(6)]  # incompressible: big stored files
    digests = [sha256_hex(body) for body in bodies]
    writer = FsspecBlobStore(url)
    done = threading.Event()
    seen: set[str] = set()
    problems: list[str] = []

    def poll() -> None:
        last_pass = False
        while not last_pass:
            last_pass = done.is_set()  # one more full pass after the writer finished
            for digest, body in zip(digests, bodies, strict=True):
                if digest in seen:
                    continue
                reader = FsspecBlobStore(url)
                if not reader.has(digest):
                    continue
                try:
                    data = reader.get(digest)
                except BlobError as exc:
                    problems.append(f"{digest[:8]}: {exc!r}")
                    return
                if data != body:
                    problems.append(f"{digest[:8]}: other bytes")
                    return
                seen.add(digest)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        for body in bodies:
            writer.put(body)
    finally:
        done.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert problems == []
    assert seen == set(digests)


def test_an_unwritable_store_raises_blob_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a regular file, not a folder")
    store = FsspecBlobStore(str(tmp_path / "file" / "blobs"))
    with pytest.raises(BlobError) as caught:
        store.put(b"bytes")
    assert str(tmp_path / "file" / "blobs") in str(caught.value)
    assert not store.has(sha256_hex(b"bytes"))
    with pytest.raises(BlobError):
        store.get(sha256_hex(b"bytes"))


def test_the_memory_store_checks_integrity_too() -> None:
    store = MemoryBlobStore("t")
    digest = store.put(b"abc")
    assert store.get(digest) == b"abc"
    store.corrupt(digest, b"abd")
    with pytest.raises(BlobIntegrityError):
        store.get(digest)
    with pytest.raises(BlobNotFoundError):
        store.get(sha256_hex(b"zzz"))
