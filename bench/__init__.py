"""tracefork-otel benchmarks: ``python -m bench [--quick]``.

Measures, in one process run, what recording costs an agent and what it stores:

1. recording overhead per exchange, with and without ``record_run`` (`bench.overhead`),
   plus third-party Anthropic instrumentations when installed (`bench.instrumented`);
2. bytes stored per recorded run against the wire bytes and a zstd floor (`bench.storage`);
3. streaming time-to-first-event over real loopback HTTP (`bench.stream`);
4. replay from the local store, in process and as ``tfotel replay`` (`bench.replay`, agent `bench.agents`);
5. blame cost, adaptive vs fixed k per step, on the validation worlds (`bench.blame`);
6. the exporter: span store ingest from several processes (`bench.ingest`) and the agent's
   path with the OTLP collector down or slow (`bench.otlp`);
7. a cProfile of the recorded agent path and of the writer's work (`bench.profiling`).

The agent and its scripted model are in `bench.workload`; the OTel setup shared by every
arm is `bench.tracing`. Results print as a table (sections 4-6 in `bench.tables`) and go to
``bench/results/latest.json``; ``docs/performance.md`` reads one full run against the targets.

The optional arm C needs the peer instrumentations (neither is a tracefork dependency;
both are in the ``bench`` extra)::

    pip install --pre -e ".[bench]"

Timings belong here, never in tests.
"""
