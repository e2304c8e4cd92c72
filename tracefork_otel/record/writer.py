"""The background writer: blob puts and span finalisation, off the agent's thread.

The agent's thread only hands over references to bytes it already holds; hashing,
compression, blob-store I/O, JSON parsing for span attributes and ending the span
all happen here, in order, on one daemon thread. The queue is bounded by bytes: when
it is full (a store far slower than the agent) a job is dropped on the spot, its
span marked, and the agent goes on; it never blocks on the store.

Modelled on the OTel SDK's ``BatchProcessor``: a bounded queue that drops with a
warning, one worker re-created after ``os.fork``, and a ``flush`` with a timeout.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_QUEUED_BYTES = 256 * 1024 * 1024
BATCH_DELAY_S = 0.02
"""How long the writer lets work gather before it runs: woken at once, it would take the GIL
from the agent in the middle of the agent's own CPU work (measured: ~1 ms per exchange)."""
WAKE_BYTES = 8 * 1024 * 1024
"""Queued bytes that wake the writer without the delay."""
EXIT_FLUSH_TIMEOUT_S = 10.0
"""How long interpreter exit waits for queued blob writes and span ends (the worker is a daemon)."""


@dataclass
class Job:
    """One unit of background work.

    ``run`` does the work; ``drop`` is called instead (on the caller's thread) when the
    queue is full, and must be cheap. ``size`` is the bytes the job holds alive.
    """

    run: Callable[[], None]
    drop: Callable[[str], None]
    size: int = 0


class BackgroundWriter:
    """One daemon thread running jobs in submission order. Thread-safe; fork-safe."""

    def __init__(self, max_queued_bytes: int = MAX_QUEUED_BYTES) -> None:
        if max_queued_bytes <= 0:
            raise ValueError("max_queued_bytes must be positive")
        self._max = max_queued_bytes
        self._init_state()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._init_state)

    def _init_state(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._queued_bytes = 0
        self._busy = False
        self._flushing = 0
        self._thread: threading.Thread | None = None
        self.dropped = 0
        """Jobs dropped because the queue was full, since start (logged at each power of two)."""

    def submit(self, job: Job) -> None:
        """Queue ``job``; never blocks. A job that does not fit is dropped here."""
        with self._cond:
            if self._queued_bytes + job.size > self._max and self._queue:
                self.dropped += 1
                dropped = self.dropped
                full = True
            else:
                full = False
                was_empty = not self._queue
                self._queue.append(job)
                self._queued_bytes += job.size
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._work, name="tracefork-writer", daemon=True)
                    self._thread.start()
                if was_empty or self._queued_bytes >= WAKE_BYTES:
                    self._cond.notify_all()
        if full:
            job.drop("recording queue full: the blob store is slower than the agent")
            if dropped & (dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th … drop: a count without a flood of lines
                logger.warning(
                    "tracefork recording queue full (the blob store is slower than the agent): %d exchanges dropped",
                    dropped,
                )

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every job submitted so far has run. Returns False on timeout."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._flushing -= 1

    def _work(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                self._cond.wait_for(lambda: bool(self._queue))
                if not self._flushing and self._queued_bytes < WAKE_BYTES:
                    self._cond.wait(BATCH_DELAY_S)  # let the batch gather; a flush or a big queue cuts it short
                jobs = list(self._queue)
                self._queue.clear()
                self._queued_bytes = 0
                self._busy = True
            for job in jobs:
                try:
                    job.run()
                except Exception:  # a job handles its own failures; this is the last guard
                    logger.exception("tracefork background job failed")
            jobs.clear()  # the batch's bodies must not live on while the writer waits for the next one


_writer: BackgroundWriter | None = None
_writer_lock = threading.Lock()


def get_writer() -> BackgroundWriter:
    """The process's background writer, created on first use; flushed at interpreter exit."""
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = BackgroundWriter()
                # atexit runs last-registered first: this flush (blobs written, spans ended) runs
                # before the shutdown of a tracer provider set up earlier exports those spans.
                atexit.register(_writer.flush, EXIT_FLUSH_TIMEOUT_S)
    return _writer
