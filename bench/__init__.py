"""tracefork-otel benchmarks: ``python -m bench [--quick]``.

Measures, in one process run, what recording costs an agent and what it stores:

1. recording overhead per exchange, with and without ``record_run`` (`bench.overhead`),
   plus third-party Anthropic instrumentations when installed (`bench.instrumented`);
2. bytes stored per recorded run against the wire bytes and a zstd floor (`bench.storage`);
3. streaming time-to-first-event over real loopback HTTP (`bench.stream`);
4. a cProfile of the recorded agent path and of the writer's work (`bench.profiling`).

The agent and its scripted model are in `bench.workload`; the OTel setup shared by every
arm is `bench.tracing`. Results print as a table and go to ``bench/results/latest.json``.

The optional arm C needs an instrumentation package (neither is a tracefork dependency)::

    pip install --pre "opentelemetry-instrumentation-genai-anthropic>=1.3b0"
    pip install "opentelemetry-instrumentation-anthropic>=0.62"

Timings belong here, never in tests.
"""
