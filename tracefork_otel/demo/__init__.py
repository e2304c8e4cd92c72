"""A stand-in Messages API on loopback and the bundled demo agent it drives."""

from tracefork_otel.demo.agent import (
    DEMO_MODEL,
    DEMO_ORDER_ID,
    RefundDesk,
    demo_policy,
    oracle,
    run,
    run_async,
)
from tracefork_otel.demo.endpoint import MessagesEndpoint, Policy, ReceivedRequest
from tracefork_otel.wire import encode_event, error_body, message, stream_events

__all__ = [
    "DEMO_MODEL",
    "DEMO_ORDER_ID",
    "MessagesEndpoint",
    "Policy",
    "ReceivedRequest",
    "RefundDesk",
    "demo_policy",
    "encode_event",
    "error_body",
    "message",
    "oracle",
    "run",
    "run_async",
    "stream_events",
]
