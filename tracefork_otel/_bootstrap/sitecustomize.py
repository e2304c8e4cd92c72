"""Loaded at start-up by every Python process that ``tfotel record -- COMMAND`` (or replay) starts.

``tracefork_otel.bootstrap`` puts this folder first on the child's ``PYTHONPATH``, so Python
imports this file as ``sitecustomize`` before the user's program, the way
``opentelemetry-instrument`` bootstraps. It reads ``TFOTEL_BOOTSTRAP`` and turns recording
(or replay) on; it never raises into the program.
"""

from tracefork_otel.bootstrap import start

start()
