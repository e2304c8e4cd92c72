"""Perturbations: what a counterfactual fork answers at the step it measures.

A perturbation is ``perturb(step, rng) -> override``: ``LIVE`` samples the step fresh
from the live endpoint (``resample``, the default), a ``CannedResponse`` serves that
answer instead (``faults``: the recorded response mutated by the fault library).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from tracefork_otel.replay.transport import LIVE, CannedResponse
from tracefork_otel.tape.model import Tape
from tracefork_otel.wire import dumps, response_message, sse_body

Perturb = Callable[[int, random.Random], "CannedResponse | str"]
"""Given the step and a random source, the override for that step: a response, or ``LIVE``."""


def resample(step: int, rng: random.Random) -> CannedResponse | str:
    """Step ``step`` is sampled fresh from the live endpoint."""
    return LIVE


def faults(tape: Tape, blobs: Mapping[str, bytes]) -> Perturb:
    """Step i gets its recorded response mutated by a fault from the library, chosen by ``rng``.

    A step whose response no fault can act on (an error body) is sampled fresh instead.
    """
    # The fault library lives with validate, whose package imports blame: import it when used.
    from tracefork_otel.validate.faults import FAULTS, applicable

    def perturb(step: int, rng: random.Random) -> CannedResponse | str:
        ex = tape.exchanges[step]
        message = response_message(blobs[ex.response_sha256], stream=ex.stream)
        if message is None or not (names := sorted(applicable(message))):
            return LIVE
        mutated = FAULTS[rng.choice(names)].apply(message, rng)
        data = sse_body(mutated) if ex.stream else dumps(mutated)
        kind = "text/event-stream; charset=utf-8" if ex.stream else "application/json"
        return CannedResponse(200, (("content-type", kind), ("request-id", "req_tfotel_fault")), data)

    return perturb


PERTURBATIONS: dict[str, Callable[[Tape, Mapping[str, bytes]], Perturb]] = {
    "resample": lambda tape, blobs: resample,
    "faults": faults,
}
"""Each ``--perturb`` name and how to build it for a run."""
