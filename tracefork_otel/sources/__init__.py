"""Trace sources: turn a trace id into the spans of the recorded run.

Pick one from a spec string (what ``$TFOTEL_SOURCE`` and ``--source`` hold)::

    source = open_source("tempo:http://tempo:3200")
    spans = source.get("4bf92f3577b34da6a3ce929d0e0e4736")

======================  ==========================================================
spec                    source
======================  ==========================================================
``local``               the embedded span store (built by the caller's factory)
``tempo:URL``           :class:`TempoSource`, Tempo's ``/api/v2/traces`` (v1 fallback)
``jaeger:URL``          :class:`JaegerSource`, Jaeger's ``/api/v3/traces``
``file:PATH``           :class:`OtlpFileSource`, an OTLP/JSON or JSON Lines file
======================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tracefork_otel import environment_variables as env
from tracefork_otel.errors import ConfigError
from tracefork_otel.sources._http import DEFAULT_TIMEOUT, auth_headers
from tracefork_otel.sources._otlp_json import parse_traces, to_otlp_json
from tracefork_otel.sources.base import TraceSource, normalize_trace_id
from tracefork_otel.sources.jaeger import JaegerSource
from tracefork_otel.sources.otlp_file import OtlpFileSource
from tracefork_otel.sources.tempo import TempoSource

__all__ = [
    "JaegerSource",
    "OtlpFileSource",
    "TempoSource",
    "TraceSource",
    "normalize_trace_id",
    "open_source",
    "parse_traces",
    "to_otlp_json",
]

_FORMS = "local, tempo:URL, jaeger:URL or file:PATH"


def open_source(
    spec: str,
    *,
    authorization: str | None = None,
    org_id: str | None = None,
    client: httpx.Client | None = None,
    local_factory: Callable[[], TraceSource] | None = None,
    timeout: float | None = None,
) -> TraceSource:
    """Build the trace source a spec names.

    Args:
        spec: ``local``, ``tempo:URL``, ``jaeger:URL`` or ``file:PATH`` (``file://``
            URLs work too).
        authorization: the ``Authorization`` header for Tempo/Jaeger; default
            ``$TFOTEL_SOURCE_AUTHORIZATION``.
        org_id: the ``X-Scope-OrgID`` header (Tempo tenant); default
            ``$TFOTEL_SOURCE_ORG_ID``.
        client: an ``httpx.Client`` for the HTTP sources (tests inject one).
        local_factory: builds the local span store's source, for ``local``.
        timeout: seconds one HTTP request may take in all (a deadline); default
            ``$TFOTEL_SOURCE_TIMEOUT``, else 10.

    Raises:
        ConfigError: an unknown or malformed spec, ``local`` without a factory, or a
            bad URL or header value (named by its option, never shown).
    """
    text = spec.strip() if isinstance(spec, str) else ""
    scheme, sep, rest = text.partition(":")
    if text == "local":
        if local_factory is None:
            raise ConfigError("the local trace source is not available here (no local store factory given)")
        return local_factory()
    if sep and rest and scheme in ("tempo", "jaeger"):
        headers = auth_headers(authorization, org_id)
        if timeout is None:
            timeout = env.parse_positive_float(env.TFOTEL_SOURCE_TIMEOUT, DEFAULT_TIMEOUT)
        if scheme == "tempo":
            return TempoSource(rest, client=client, headers=headers, timeout=timeout)
        return JaegerSource(rest, client=client, headers=headers, timeout=timeout)
    if sep and rest and scheme == "file":
        # file:///abs/path and file://localhost/abs/path are URLs; file:PATH is a path.
        path = rest.removeprefix("//localhost") if rest.startswith("//localhost/") else rest
        return OtlpFileSource(path[2:] if path.startswith("///") else path)
    # Only the scheme is echoed: the rest may be a URL with credentials in it.
    shown = f"{scheme[:40]}:…" if sep else text[:40]
    raise ConfigError(f"bad trace source {shown!r}: expected {_FORMS}")
