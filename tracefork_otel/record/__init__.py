"""Record: every model call an agent makes becomes a span pointing at its exact bytes."""

from __future__ import annotations

from tracefork_otel.record.boundary import agent
from tracefork_otel.record.instrumentor import AnthropicRecordingInstrumentor, instrument, uninstrument
from tracefork_otel.record.nondet import RecordingNondet
from tracefork_otel.record.recorder import Run, record_run, shutdown
from tracefork_otel.record.transport import recording_transport, wrap_client

__all__ = [
    "AnthropicRecordingInstrumentor",
    "RecordingNondet",
    "Run",
    "agent",
    "instrument",
    "record_run",
    "recording_transport",
    "shutdown",
    "uninstrument",
    "wrap_client",
]
