"""``tfotel demo`` exporting over real OTLP sockets (gRPC and HTTP/protobuf) to a receiver on loopback."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from loopback import OtlpReceiver, attributes
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tracefork_otel import semconv
from tracefork_otel.blobstore import FsspecBlobStore

pytestmark = pytest.mark.subprocess

DEMO_MODEL = "claude-sonnet-4-6"


def resource_spans(requests: list[trace_service_pb2.ExportTraceServiceRequest]) -> list[tuple[dict[str, Any], Span]]:
    """(resource attributes, span) for every span of ``requests``."""
    return [
        (attributes(rs.resource.attributes), span)
        for request in requests
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


Received = Callable[[], list[trace_service_pb2.ExportTraceServiceRequest]]
"""What a receiver got so far: every ``ExportTraceServiceRequest``."""


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
    lock = threading.Lock()

    class Servicer(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            with lock:
                requests.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    def received() -> list[trace_service_pb2.ExportTraceServiceRequest]:
        with lock:
            return list(requests)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None)


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, Received]]:
    with OtlpReceiver() as receiver:
        yield receiver.endpoint, lambda: receiver.requests


@pytest.mark.parametrize(
    ("protocol", "sdk_tracing"),
    [("grpc", False), ("http/protobuf", True)],
    ids=["grpc-full-span", "http-sdk-span"],
)
def test_the_demo_run_reaches_an_otlp_receiver(
    protocol: str,
    sdk_tracing: bool,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    child_env: Callable[..., dict[str, str]],
    tfotel: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    endpoint, received = request.getfixturevalue("grpc_receiver" if protocol == "grpc" else "http_receiver")
    home = tmp_path / "home"
    env = child_env(
        home,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_SERVICE_NAME="demo-test",
        **({} if sdk_tracing else {"ANTHROPIC_OPEN_TELEMETRY": "false"}),
    )
    result = tfotel("demo", "--json", env=env)
    assert result.returncode == 0, result.stderr
    demo = json.loads(result.stdout)
    trace_id = demo["trace_id"]
    assert demo["otlp_endpoint"] == endpoint

    everything = resource_spans(received())
    spans = [(resource, span) for resource, span in everything if span.trace_id.hex() == trace_id]
    assert spans, f"the receiver got {len(everything)} spans, none of trace {trace_id}"
    assert all(resource.get("service.name") == "demo-test" for resource, _ in spans)
    by_id = {span.span_id: span for _, span in spans}
    roots = [span for _, span in spans if not span.parent_span_id]
    assert len(roots) == 1
    root = roots[0]
    root_attrs = attributes(root.attributes)
    assert root.name == "invoke_agent refund-desk"
    assert root.kind == Span.SPAN_KIND_INTERNAL
    assert root_attrs[semconv.GEN_AI_AGENT_NAME] == "refund-desk"
    assert root_attrs[semconv.GEN_AI_CONVERSATION_ID] == trace_id
    assert len(root_attrs[semconv.TAPE_DIGEST]) == 64
    assert root_attrs[semconv.RUN_EXCHANGES] == 3
    assert root_attrs[semconv.RUN_PARTIAL] is False

    exchanges = sorted(
        (span for _, span in spans if semconv.STEP in attributes(span.attributes)),
        key=lambda span: attributes(span.attributes)[semconv.STEP],
    )
    assert [attributes(s.attributes)[semconv.STEP] for s in exchanges] == [0, 1, 2]
    blobs = FsspecBlobStore(str(home / "blobs"))
    for span, streamed in zip(exchanges, [False, False, True], strict=True):
        attrs = attributes(span.attributes)
        assert blobs.has(attrs[semconv.REQUEST_SHA256]) and blobs.has(attrs[semconv.RESPONSE_SHA256])
        assert attrs[semconv.RESPONSE_STATUS_CODE] == 200
        assert attrs[semconv.RESPONSE_STREAM] is streamed
        assert attrs[semconv.TAPE_SCHEMA] == 1
        assert attrs[semconv.GEN_AI_INPUT_MESSAGES_REF].endswith(attrs[semconv.REQUEST_SHA256])
        assert attrs[semconv.GEN_AI_OUTPUT_MESSAGES_REF].endswith(attrs[semconv.RESPONSE_SHA256])
        if sdk_tracing:
            assert span.name == semconv.SPAN_EXCHANGE
            assert semconv.GEN_AI_REQUEST_MODEL not in attrs
            parent = by_id[span.parent_span_id]
            assert attributes(parent.attributes)[semconv.GEN_AI_REQUEST_MODEL] == DEMO_MODEL
            assert parent.parent_span_id == root.span_id
        else:
            assert span.name == f"chat {DEMO_MODEL}"
            assert span.kind == Span.SPAN_KIND_CLIENT
            assert span.parent_span_id == root.span_id
            assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
            assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
            assert attrs[semconv.GEN_AI_SYSTEM] == "anthropic"
            assert attrs[semconv.GEN_AI_REQUEST_MODEL] == DEMO_MODEL
            assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 512
            assert attrs[semconv.GEN_AI_RESPONSE_ID].startswith("msg_")
            assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == DEMO_MODEL
            assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == (["end_turn"] if streamed else ["tool_use"])
            assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
            assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
            assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
            assert attrs[semconv.SERVER_PORT] > 0
    genai = [s for _, s in spans if attributes(s.attributes).get(semconv.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(genai) == 3  # one GenAI span per call, never two
