"""Every span, attribute and event name tracefork-otel writes or reads, defined once.

``gen_ai.*`` names come from the OpenTelemetry GenAI semantic conventions (still
"Development"; re-exported from ``opentelemetry.semconv`` where it has them).
``tracefork.*`` names are ours. Code never spells an attribute key inline.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_VALUE,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

__all__ = [
    "ERROR_TYPE",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_EVALUATION_NAME",
    "GEN_AI_EVALUATION_SCORE_VALUE",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "SERVER_ADDRESS",
    "SERVER_PORT",
]

# --- GenAI names the upstream package does not define yet -------------------------

GEN_AI_INPUT_MESSAGES_REF: Final = "gen_ai.input.messages_ref"
"""URI of the stored request body (the contrib upload hook's convention)."""

GEN_AI_OUTPUT_MESSAGES_REF: Final = "gen_ai.output.messages_ref"
"""URI of the stored response body."""

GEN_AI_EVALUATION_RESULT_EVENT: Final = "gen_ai.evaluation.result"
"""Event name for an evaluation score (GenAI conventions)."""

PROVIDER_ANTHROPIC: Final = "anthropic"
OPERATION_CHAT: Final = "chat"
OPERATION_INVOKE_AGENT: Final = "invoke_agent"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"

# --- span names --------------------------------------------------------------------

SDK_SPAN_PREFIX: Final = "anthropic.messages"
"""Name prefix of the spans the Anthropic SDK itself emits (``anthropic.messages.create``) when a tracer
provider is set: a call made under one is recorded on it rather than on a second span."""

SPAN_CHAT_PREFIX: Final = "chat"
"""The full GenAI span is named ``chat {model}``."""

SPAN_INVOKE_AGENT_PREFIX: Final = "invoke_agent"
"""A run's root span is named ``invoke_agent {name}``."""

SPAN_EXCHANGE: Final = "tracefork.exchange"
"""Child span with only ``tracefork.*`` attributes, used when another GenAI span is current."""

SPAN_BLAME: Final = "tracefork.blame"
"""Root span of a blame report."""

# --- tracefork.* attributes on exchange spans ---------------------------------------

STEP: Final = "tracefork.step"
"""0-based order of the exchange in its run."""

REQUEST_SHA256: Final = "tracefork.request.sha256"
RESPONSE_SHA256: Final = "tracefork.response.sha256"
REQUEST_METHOD: Final = "tracefork.request.method"
REQUEST_PATH: Final = "tracefork.request.path"
RESPONSE_STATUS_CODE: Final = "tracefork.response.status_code"
RESPONSE_STREAM: Final = "tracefork.response.stream"
RESPONSE_INCOMPLETE: Final = "tracefork.response.incomplete"
"""True when a stream ended before the server finished it (agent stopped reading, connection broke)."""
RESPONSE_HEADERS: Final = "tracefork.response.headers"
"""The allow-listed response headers replay needs, as ``name: value`` strings."""
RECORD_ERROR: Final = "tracefork.record.error"
"""Why recording this exchange (or run) failed; the agent's call itself went through."""
REDACTED: Final = "tracefork.redacted"
"""True when a redaction hook changed this exchange's bytes (on the root span: any exchange's) before they
were hashed and stored: the run can be inspected, not replayed bit-exact."""

# --- tracefork.* attributes on the run's root span ----------------------------------

TAPE_SCHEMA: Final = "tracefork.tape.schema"
TAPE_DIGEST: Final = "tracefork.tape.digest"
RUN_EXCHANGES: Final = "tracefork.run.exchanges"
RUN_DRAWS: Final = "tracefork.run.draws"
RUN_PARTIAL: Final = "tracefork.run.partial"
BLOB_STORE: Final = "tracefork.blob_store"
"""URL of the blob store the run's bytes went to."""
FORK_PARENT_TRACE_ID: Final = "tracefork.fork.parent_trace_id"
FORK_STEP: Final = "tracefork.fork.step"
FORK_REPLAYED: Final = "tracefork.fork.replayed"
FORK_RECORDED: Final = "tracefork.fork.recorded"

# --- a run's entry point and outcome (on the root span; see entrypoint.py) ---------------

ENTRY_KIND: Final = "tracefork.entry.kind"
"""What started the run: ``function`` (``@tracefork_otel.agent``), ``process`` or ``block`` (``record_run``)."""
ENTRY_FUNCTION: Final = "tracefork.entry.function"
"""``module:qualname`` of the decorated function (a script's path instead of ``__main__``)."""
ENTRY_METHOD: Final = "tracefork.entry.method"
"""True when the entry point is a method (replay calls it on an instance made with no arguments)."""
ENTRY_INPUTS_SHA256: Final = "tracefork.entry.inputs.sha256"
"""The blob of the function's arguments, ``{"args": [...], "kwargs": {...}}`` as JSON."""
ENTRY_INPUTS_NOT_CAPTURED: Final = "tracefork.entry.inputs.not_captured"
"""Why the arguments were not captured (JSON cannot hold them)."""
ENTRY_COMMAND: Final = "tracefork.entry.command"
"""A process run's command line, secret-looking values redacted."""
ENTRY_CWD: Final = "tracefork.entry.cwd"
"""A process run's working directory."""
OUTCOME_STATUS: Final = "tracefork.outcome.status"
"""``ok`` (the entry point returned) or ``error`` (it raised)."""
OUTCOME_SHA256: Final = "tracefork.outcome.sha256"
"""The blob of the outcome document: the return value as JSON, or the exception's type and message."""
OUTCOME_ERROR_TYPE: Final = "tracefork.outcome.error_type"
"""The exception's type when the run raised."""

# --- nondeterminism draws (span events on the root span) ----------------------------

EVENT_DRAW: Final = "tracefork.draw"
DRAW_ORDER: Final = "tracefork.draw.order"
DRAW_KIND: Final = "tracefork.draw.kind"
DRAW_VALUE: Final = "tracefork.draw.value"
DRAW_BEFORE_STEP: Final = "tracefork.draw.before_step"
"""How many exchanges the run had started when the value was drawn."""

# --- blame ---------------------------------------------------------------------------

BLAME_TRACE_ID: Final = "tracefork.blame.trace_id"
BLAME_ORACLE: Final = "tracefork.blame.oracle"
BLAME_PERTURB: Final = "tracefork.blame.perturb"
BLAME_AGENT_RUNS: Final = "tracefork.blame.agent_runs"
BLAME_TOP_STEP: Final = "tracefork.blame.top_step"
BLAME_STRATEGY: Final = "tracefork.blame.strategy"
"""The strategy's ``describe()``: how the runs were spent."""
BLAME_STEP: Final = "tracefork.blame.step"
BLAME_SCORE: Final = "tracefork.blame.score"
BLAME_CI_LOW: Final = "tracefork.blame.ci_low"
BLAME_CI_HIGH: Final = "tracefork.blame.ci_high"
BLAME_SAMPLES: Final = "tracefork.blame.samples"
BLAME_RANK: Final = "tracefork.blame.rank"
EVENT_BLAME_STEP: Final = "tracefork.blame.step"

INSTRUMENTATION_SCOPE: Final = "tracefork_otel"
