"""Run boundaries: which run a model call belongs to, with no change to the agent's code.

In order of precedence, a call records into:

1. an **explicit run**: a ``record_run`` block, or a call of a function decorated with
   ``@tracefork_otel.agent`` / ``@tracefork_otel.agent("name")`` (sync or async, function
   or method), which records its import path, arguments and outcome, so that
   ``tfotel replay TRACE_ID`` can call it again;
2. else the **current trace**, when some other instrumentation opened one (a FastAPI
   server span: one run per request);
3. else the **process**: once ``instrument()`` is on (``opentelemetry-instrument``,
   ``tfotel record -- COMMAND``), a script is one run, rooted at ``invoke_agent {script}``,
   opened at its first call and sealed at exit or by ``shutdown()``. It records the
   command line (secret-looking values redacted) and working directory, never the
   environment.

A decorated function called inside a run that is already open (nested agents), or while a
replay serves, records nothing of its own: it is part of that run.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import os
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from tracefork_otel import clientseam, semconv
from tracefork_otel import environment_variables as env
from tracefork_otel import nondet as nondet_seam
from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.entrypoint import EntryKind, EntryPoint, inputs_blob, qualified_name, redact_argv
from tracefork_otel.record import config as record_config
from tracefork_otel.record.recorder import finish_run, record_run
from tracefork_otel.record.run import RunState, current_run, new_trace_id, set_fallback_run, trace_id_of
from tracefork_otel.tape.model import SCHEMA_VERSION

F = TypeVar("F", bound=Callable[..., Any])


# --- @tracefork_otel.agent -------------------------------------------------------------------


def _is_method(fn: Callable[..., Any]) -> bool:
    params = list(inspect.signature(fn).parameters)
    return "." in fn.__qualname__ and "<locals>" not in fn.__qualname__ and params[:1] == ["self"]


def _entry(
    fn: Callable[..., Any], method: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[EntryPoint, bytes | None]:
    data, why = inputs_blob(args[1:] if method else args, kwargs)
    if "<locals>" in fn.__qualname__:
        data, why = None, "the function is defined inside another function, so it cannot be imported again"
    entry = EntryPoint(
        EntryKind.FUNCTION,
        function=qualified_name(fn),
        method=method,
        inputs_sha256=sha256_hex(data) if data is not None else "",
        inputs_not_captured=why,
    )
    return entry, data


def _records(fn: Callable[..., Any]) -> bool:
    """Whether a call of a decorated function opens a run of its own."""
    return current_run() is None and not clientseam.serving()


def _decorate(fn: F, name: str | None) -> F:
    run_name = name or fn.__name__
    method = _is_method(fn)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def arun(*args: Any, **kwargs: Any) -> Any:
            if not _records(fn):
                return await fn(*args, **kwargs)
            entry, data = _entry(fn, method, args, kwargs)
            with record_run(run_name, entry=entry, inputs=data) as run:
                result = await fn(*args, **kwargs)
                run.set_outcome(result)
                return result

        return arun  # type: ignore[return-value]

    @functools.wraps(fn)
    def srun(*args: Any, **kwargs: Any) -> Any:
        if not _records(fn):
            return fn(*args, **kwargs)
        entry, data = _entry(fn, method, args, kwargs)
        with record_run(run_name, entry=entry, inputs=data) as run:
            result = fn(*args, **kwargs)
            run.set_outcome(result)
            return result

    return srun  # type: ignore[return-value]


@overload
def agent(fn: F, /) -> F: ...
@overload
def agent(name: str | None = None, /) -> Callable[[F], F]: ...


def agent(fn: F | str | None = None, /) -> F | Callable[[F], F]:
    """Make each call of a function (sync or async; a function or a method) one recorded run.

    ``@tracefork_otel.agent`` names the run after the function; ``@tracefork_otel.agent("name")``
    names it. The run records the function's import path, its arguments as JSON (else the
    reason they could not be) and its return value or exception, so ``tfotel replay TRACE_ID``
    calls it again with no ``--agent``. A method is called again on an instance made with no
    arguments. Recording follows ``instrument()``'s settings; every Anthropic client the
    function uses records into the run, however it was made.
    """
    if callable(fn):
        return _decorate(fn, None)
    return lambda f: _decorate(f, fn)


# --- the process as a run ----------------------------------------------------------------------

_process_enabled = False
_process: RunState | None = None
_process_lock = threading.Lock()
_failure: BaseException | None = None
_hooked = False
_ROOTED = "__tracefork_process_rooted__"


def enable_process_run() -> None:
    """Let calls outside any run and any trace record into the process's run (``instrument()`` does)."""
    global _process_enabled
    _process_enabled = True
    set_fallback_run(_run_for)
    nondet_seam.set_fallback(_process_draws)
    _root_sdk_spans()


def _process_draws() -> nondet_seam.Nondet | None:
    """The process run's recording source, for a draw made outside every run (it opens the run)."""
    state = process_run()
    return state.nondet if state is not None else None


def _run_for(parent: trace.Span) -> RunState | None:
    """The process's run for a call whose current span is ``parent`` (invalid, or the SDK's own span in it)."""
    if not parent.get_span_context().is_valid:
        return process_run()
    state = _process
    return state if state is not None and trace_id_of(parent) == state.trace_id else None


class _ProcessRootedTracer:
    """The SDK's tracer, with its spans that would start a trace of their own put in the process's run.

    The SDK opens a span per API call (and one per tool runner) before the request reaches
    the recording transport; left alone, each would be a trace of its own, "one run per call".
    """

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def _context(self, context: otel_context.Context | None) -> otel_context.Context | None:
        if context is not None or current_run() is not None or trace.get_current_span().get_span_context().is_valid:
            return context
        state = process_run()
        return trace.set_span_in_context(state.root_span) if state is not None and state.root_span else None

    def start_span(self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any) -> Any:
        return self._inner.start_span(name, self._context(context), *args, **kwargs)

    def start_as_current_span(
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        return self._inner.start_as_current_span(name, self._context(context), *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _root_sdk_spans() -> None:
    """Wrap the tracer every SDK client gets (``anthropic._base_client.get_tracer``), once."""
    try:
        import anthropic._base_client as sdk_base
    except ImportError:
        return
    original: Callable[..., Any] = getattr(sdk_base, "get_tracer")  # noqa: B009  (not in the SDK's __all__)
    if getattr(original, _ROOTED, False):
        return

    @functools.wraps(original)
    def get_tracer(*args: Any, **kwargs: Any) -> Any:
        tracer = original(*args, **kwargs)
        return None if tracer is None else _ProcessRootedTracer(tracer)

    setattr(get_tracer, _ROOTED, True)
    setattr(sdk_base, "get_tracer", get_tracer)  # noqa: B010


def script_name() -> str:
    """The run name of a process: the script's file name (``agent.py``), else the module run with ``-m``."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name).removesuffix(".__main__")
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return Path(argv0).name if argv0 and argv0 != "-c" else "python"


def process_entry() -> EntryPoint:
    return EntryPoint(EntryKind.PROCESS, command=redact_argv(sys.orig_argv), cwd=os.getcwd())


def _hook_exceptions() -> None:
    """Remember an exception that ends the process, for the process run's outcome."""
    global _hooked
    if _hooked:
        return
    _hooked = True
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], value: BaseException, tb: types.TracebackType | None) -> None:
        global _failure
        _failure = value
        previous(kind, value, tb)
        seal_process_run()  # atexit would come too late: the provider may shut down first

    sys.excepthook = excepthook


def process_run() -> RunState | None:
    """The process's run, opened on first use; None unless ``instrument()`` enabled it."""
    global _process
    if not _process_enabled:
        return None
    with _process_lock:
        if _process is not None:
            return _process
        config = record_config.get()
        name = os.environ.get(env.TFOTEL_RUN_NAME) or script_name()
        root = config.tracer().start_span(
            f"{semconv.SPAN_INVOKE_AGENT_PREFIX} {name}",
            context=otel_context.Context(),  # a root: this run is not part of any trace
            kind=SpanKind.INTERNAL,
            attributes={
                semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
                semconv.GEN_AI_PROVIDER_NAME: semconv.PROVIDER_ANTHROPIC,
                semconv.GEN_AI_AGENT_NAME: name,
                semconv.BLOB_STORE: config.blob_store.url,
                semconv.TAPE_SCHEMA: SCHEMA_VERSION,
                **process_entry().attributes(),
            },
        )
        trace_id = trace_id_of(root) or new_trace_id()
        root.set_attribute(semconv.GEN_AI_CONVERSATION_ID, trace_id)
        _process = RunState(trace_id, name, config.blob_store, root)
        _hook_exceptions()
        atexit.register(seal_process_run)  # registered after the tracer provider: runs before its shutdown
        return _process


def seal_process_run() -> str | None:
    """Seal the process's run (at exit, by ``shutdown()``); the next call opens a new one. Returns its trace id."""
    global _process, _failure
    with _process_lock:
        state, _process = _process, None
        failed, _failure = _failure, None
    if state is None:
        return None
    finish_run(state, failed)
    return state.trace_id
