"""From a trace's spans (and the blob store) back to the tape.

Exchange spans are the spans carrying ``tracefork.step``; the run's root span carries
the draws (as ``tracefork.draw`` events) and the digest the recorder computed. The
rebuilt tape must reproduce that digest: a span that was altered, dropped, spliced in
from another trace or reordered is caught here, named by its step.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore, is_digest
from tracefork_otel.entrypoint import entry_point_of, outcome_of
from tracefork_otel.errors import RebuildError
from tracefork_otel.spanmodel import SpanRecord, exchange_spans, find_root, int_attribute
from tracefork_otel.tape.model import SCHEMA_VERSION, Draw, Exchange, Tape


def _headers(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    pairs = []
    for item in value:
        if isinstance(item, str) and ": " in item:
            name, _, val = item.partition(": ")
            pairs.append((name.lower(), val))
    return tuple(pairs)


def _exchange(span: SpanRecord, model_by_span: dict[str, str]) -> Exchange:
    a = span.attributes
    step = int_attribute(a[semconv.STEP], -1)
    request_sha = a.get(semconv.REQUEST_SHA256)
    response_sha = a.get(semconv.RESPONSE_SHA256)
    for label, value in (("request", request_sha), ("response", response_sha)):
        if not isinstance(value, str) or not is_digest(value):
            raise RebuildError(f"step {step}: the span has no valid {label} sha256 ({value!r})", step=step)
    assert isinstance(request_sha, str) and isinstance(response_sha, str)
    model = a.get(semconv.GEN_AI_REQUEST_MODEL)
    if not isinstance(model, str):
        model = model_by_span.get(span.parent_span_id or "", "")
    error_type = a.get(semconv.ERROR_TYPE)
    return Exchange(
        step=step,
        request_sha256=request_sha,
        response_sha256=response_sha,
        method=str(a.get(semconv.REQUEST_METHOD, "POST")),
        url_path=str(a.get(semconv.REQUEST_PATH, "/v1/messages")),
        status_code=int_attribute(a.get(semconv.RESPONSE_STATUS_CODE), 0),
        response_headers=_headers(a.get(semconv.RESPONSE_HEADERS)),
        stream=bool(a.get(semconv.RESPONSE_STREAM, False)),
        incomplete=bool(a.get(semconv.RESPONSE_INCOMPLETE, False)),
        span_id=span.span_id,
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
        request_model=model,
        error_type=error_type if isinstance(error_type, str) else "",
        redacted=a.get(semconv.REDACTED) is True,
    )


def _partial(root: SpanRecord | None) -> bool:
    """A run is partial when its root span says so, is missing (a crash), or never got sealed."""
    if root is None:
        return True
    if bool(root.attributes.get(semconv.RUN_PARTIAL, False)):
        return True
    return root.name.startswith(semconv.SPAN_INVOKE_AGENT_PREFIX) and semconv.TAPE_DIGEST not in root.attributes


def rebuild_tape(
    trace_id: str,
    spans: Sequence[SpanRecord],
    blob_store: BlobStore | None = None,
) -> Tape:
    """The tape of the run recorded in ``spans``.

    Args:
        trace_id: the run id the spans must belong to.
        spans: every span of the trace, in any order.
        blob_store: when given, every blob the tape references must be in it.

    Raises:
        RebuildError: no exchanges, a span from another trace, a gap or a repeat in the
            steps, a missing hash or blob, or a digest that does not match.
    """
    foreign = [s for s in spans if s.trace_id != trace_id]
    if foreign:
        raise RebuildError(f"span {foreign[0].span_id} belongs to trace {foreign[0].trace_id}, not {trace_id}")
    model_by_span = {
        s.span_id: m for s in spans if isinstance(m := s.attributes.get(semconv.GEN_AI_REQUEST_MODEL), str)
    }
    exchanges: list[Exchange] = []
    for span in exchange_spans(spans):
        ex = _exchange(span, model_by_span)
        if exchanges and ex.step == exchanges[-1].step:
            if (ex.request_sha256, ex.response_sha256) == (exchanges[-1].request_sha256, exchanges[-1].response_sha256):
                continue  # the same span delivered twice
            raise RebuildError(f"step {ex.step} appears twice with different content", step=ex.step)
        expected = len(exchanges)
        if ex.step != expected:
            raise RebuildError(f"step {expected} is missing from trace {trace_id} (next is {ex.step})", step=expected)
        exchanges.append(ex)
    if not exchanges:
        raise RebuildError(f"trace {trace_id} has no recorded exchanges (no spans with {semconv.STEP})")

    root = find_root(spans)
    draws: list[Draw] = []
    attrs = root.attributes if root is not None else {}
    if root is not None:
        for event in root.events:
            if event.name == semconv.EVENT_DRAW:
                ea = event.attributes
                draws.append(
                    Draw(
                        order=int_attribute(ea.get(semconv.DRAW_ORDER), len(draws)),
                        kind=str(ea.get(semconv.DRAW_KIND, "")),
                        value=str(ea.get(semconv.DRAW_VALUE, "")),
                        before_step=int_attribute(ea.get(semconv.DRAW_BEFORE_STEP), 0),
                    )
                )
    draws.sort(key=lambda d: d.order)
    for i, draw in enumerate(draws):
        if draw.order != i:
            raise RebuildError(f"draw {i} is missing from trace {trace_id}")

    schema = int_attribute(attrs.get(semconv.TAPE_SCHEMA), SCHEMA_VERSION)
    if schema > SCHEMA_VERSION:
        raise RebuildError(f"trace {trace_id} was recorded with tape schema {schema}; upgrade tracefork-otel")
    tape = Tape(
        trace_id=trace_id,
        exchanges=tuple(exchanges),
        draws=tuple(draws),
        run_name=str(attrs.get(semconv.GEN_AI_AGENT_NAME, "")),
        root_span_id=root.span_id if root is not None else "",
        start_time_unix_nano=root.start_time_unix_nano if root is not None else exchanges[0].start_time_unix_nano,
        end_time_unix_nano=root.end_time_unix_nano if root is not None else exchanges[-1].end_time_unix_nano,
        partial=_partial(root),
        parent_trace_id=str(attrs.get(semconv.FORK_PARENT_TRACE_ID, "")),
        fork_step=int_attribute(attrs.get(semconv.FORK_STEP), 0),
        outcome=outcome_of(attrs),
        entry=entry_point_of(attrs),
    ).sealed()
    recorded = attrs.get(semconv.TAPE_DIGEST)
    if isinstance(recorded, str) and recorded != tape.digest:
        raise RebuildError(
            f"trace {trace_id}: the spans do not reproduce the recorded tape digest"
            f" ({tape.digest[:12]}… vs {recorded[:12]}…): a span was altered, dropped or spliced in"
        )
    if blob_store is not None:
        for ex in exchanges:
            for label, digest in (("request", ex.request_sha256), ("response", ex.response_sha256)):
                if not blob_store.has(digest):
                    raise RebuildError(
                        f"step {ex.step}: {label} blob {digest[:16]}… is not in {blob_store.url}"
                        " (pass the store that recorded it with --blobs)",
                        step=ex.step,
                    )
    return tape
