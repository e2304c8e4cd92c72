"""Every ``TFOTEL_*`` / ``TRACEFORK_*`` environment variable, documented once, and how bad values are handled.

A bad value logs a warning and falls back to the default (as the OTel SDK does);
``OTEL_*`` variables are left to the OpenTelemetry SDK.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Final

logger = logging.getLogger(__name__)

TFOTEL_HOME: Final = "TFOTEL_HOME"
"""Folder of the embedded default store (blobs and the local span store). Default ``~/.tracefork``."""

TFOTEL_BLOBS: Final = "TFOTEL_BLOBS"
"""URL of the blob store (``file:///path``, a plain path, ``s3://bucket/prefix``, ``memory://x``).
Default ``$TFOTEL_HOME/blobs``."""

TFOTEL_SOURCE: Final = "TFOTEL_SOURCE"
"""Where debug commands read traces: ``local`` (default), ``tempo:URL``, ``jaeger:URL``, ``file:PATH``."""

TFOTEL_SOURCE_AUTHORIZATION: Final = "TFOTEL_SOURCE_AUTHORIZATION"
"""``Authorization`` header value sent to an HTTP trace source."""

TFOTEL_SOURCE_ORG_ID: Final = "TFOTEL_SOURCE_ORG_ID"
"""``X-Scope-OrgID`` header value sent to a multi-tenant Tempo."""

TFOTEL_SOURCE_TIMEOUT: Final = "TFOTEL_SOURCE_TIMEOUT"
"""Seconds one request to an HTTP trace source (Tempo, Jaeger) may take in all, from connecting to the
last byte of the answer. Default 10."""

TFOTEL_STRICT: Final = "TFOTEL_STRICT"
"""``true`` makes recording failures raise into the agent instead of being logged and counted. Default false."""

TFOTEL_CAPTURE_CONTENT: Final = "TFOTEL_CAPTURE_CONTENT"
"""``true`` puts message content on spans; by default spans carry hashes only. Default false."""

TFOTEL_LOCAL_STORE: Final = "TFOTEL_LOCAL_STORE"
"""``false`` stops ``instrument()`` from adding the local span store exporter. Default true."""

TFOTEL_RUN_NAME: Final = "TFOTEL_RUN_NAME"
"""Name of a process run (``tfotel record --name``). Default the script's file name."""

TFOTEL_RUNS_FILE: Final = "TFOTEL_RUNS_FILE"
"""A file each sealed run appends its trace id to (set by ``tfotel record -- COMMAND`` for its child)."""

TFOTEL_BOOTSTRAP: Final = "TFOTEL_BOOTSTRAP"
"""What a process started by ``tfotel record --`` / ``tfotel replay --`` turns on at start-up."""

TFOTEL_CAPTURE_NONDET: Final = "TFOTEL_CAPTURE_NONDET"
"""``true``: record what the agent's own code reads from ``time.time``, ``datetime.now``, ``uuid.uuid4``,
``random`` and ``secrets`` past the nondeterminism seam (``instrument(capture_nondeterminism=True)``).
Default ``false``."""

TFOTEL_REPLAY_TAPE: Final = "TFOTEL_REPLAY_TAPE"
"""The ``.tftape`` a replayed command serves (set by ``tfotel replay`` for its child)."""

TFOTEL_REPLAY_RECEIPT: Final = "TFOTEL_REPLAY_RECEIPT"
"""Where a replayed command writes what its run did, at exit (set by ``tfotel replay`` for its child)."""

TFOTEL_REPLAY_ALLOW_PARTIAL: Final = "TFOTEL_REPLAY_ALLOW_PARTIAL"
"""``true``: the replayed command may replay a partial recording's prefix (``--allow-partial``)."""

DEFAULT_HOME: Final = "~/.tracefork"


def parse_bool(name: str, default: bool) -> bool:
    """Read a boolean variable; a value that is not true/false/1/0/yes/no warns and gives ``default``."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off"}:
        return False
    logger.warning("Invalid value %r for %s, using the default %s", raw, name, default)
    return default


def parse_positive_float(name: str, default: float) -> float:
    """Read a number > 0; anything else (unset, empty, not a number, <= 0) warns if set and gives ``default``."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        logger.warning("Invalid value %r for %s, using the default %s", raw, name, default)
        return default
    return value


def home() -> Path:
    """The embedded store's folder: ``$TFOTEL_HOME`` or ``~/.tracefork`` (not created here)."""
    return Path(os.environ.get(TFOTEL_HOME) or DEFAULT_HOME).expanduser()


def blob_url() -> str:
    """The blob store URL: ``$TFOTEL_BLOBS`` or the ``blobs`` folder under the home."""
    return os.environ.get(TFOTEL_BLOBS) or str(home() / "blobs")
