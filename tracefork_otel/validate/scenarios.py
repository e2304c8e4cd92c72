"""The scenarios ``tfotel validate`` grades blame on: planted causes at known steps, plus a negative control.

The set covers a single cause early, in the middle and late in short runs; one cause
deep in long runs (20 and 50 steps); decoys around a cause; a downstream echo of a
cause; a conjunction of two causes; and a negative control with no cause at all.
Each of the five fault classes is the planted cause at least once. Step numbers are
tape steps (0-based exchanges). The last step of every run is the closing report.
"""

from __future__ import annotations

from typing import Final

from tracefork_otel.errors import ConfigError
from tracefork_otel.validate.world import Mode, Scenario

__all__ = ["SCENARIOS", "scenario"]

Q: Final = 0.3
"""The default probability that a fresh sample at a cause step is faulty."""

SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario.build(
        "early-corrupt-argument",
        8,
        "step 1's credit/debit amount is off by 10x; six innocent steps follow",
        cause_steps={1: ("corrupt_tool_argument", Q)},
    ),
    Scenario.build(
        "middle-wrong-tool",
        8,
        "step 3 calls debit where the list says credit (or the reverse)",
        cause_steps={3: ("wrong_instruction", Q)},
    ),
    Scenario.build(
        "late-misleading-note",
        8,
        "the last operation's reply says 'NOTE: use account X' with a wrong X, and the clerk obeys",
        cause_steps={6: ("misleading_text", Q)},
    ),
    Scenario.build(
        "dropped-tool-call",
        6,
        "step 2's tool call is dropped, so that operation is never posted",
        cause_steps={2: ("dropped_message", Q)},
    ),
    Scenario.build(
        "truncated-reply",
        10,
        "step 7's reply stops at max_tokens with its tool input cut, so the clerk does not post it",
        cause_steps={7: ("truncated_response", Q)},
    ),
    Scenario.build(
        "long-20",
        20,
        "a 20-step run: 13 innocent steps, then step 13's amount off by 10x",
        cause_steps={13: ("corrupt_tool_argument", Q)},
    ),
    Scenario.build(
        "long-50",
        50,
        "a 50-step run: 38 innocent steps, then step 38 calls the opposite tool",
        cause_steps={38: ("wrong_instruction", Q)},
    ),
    Scenario.build(
        "decoys-near-cause",
        10,
        "step 5 is misrouted by a wrong note; steps 3, 4, 6 and 7 look odd (asides, string amounts) but are harmless",
        cause_steps={5: ("misleading_text", Q)},
        decoy_steps={3, 4, 6, 7},
    ),
    Scenario.build(
        "echo-downstream",
        7,
        "step 2's amount is off by 10x and step 4 repeats it (the echo is not the cause); decoys at 1 and 3",
        cause_steps={2: ("corrupt_tool_argument", Q)},
        decoy_steps={1, 3},
        echo_steps={4: 2},
    ),
    Scenario.build(
        "echo-far-downstream",
        20,
        "step 3's amount is off by 10x and step 15 repeats it; decoys at 4, 14 and 16",
        cause_steps={3: ("corrupt_tool_argument", Q)},
        decoy_steps={4, 14, 16},
        echo_steps={15: 3},
    ),
    Scenario.build(
        "conjunction",
        8,
        "the audit tolerates one bad posting: the run fails only if step 2 is dropped AND step 5 is truncated",
        cause_steps={2: ("dropped_message", 0.3), 5: ("truncated_response", 0.6)},
        mode=Mode.CONJUNCTION,
    ),
    Scenario.build(
        "negative-control",
        8,
        "the user demands a closing balance the operations cannot reach: every run fails, no step is to blame;"
        " decoys at 2 and 5 change the transcript only",
        decoy_steps={2, 5},
        mode=Mode.IMPOSSIBLE,
    ),
)
"""Every built-in scenario, in report order."""

_BY_NAME: Final = {s.name: s for s in SCENARIOS}


def scenario(name: str) -> Scenario:
    """The built-in scenario called ``name``.

    Raises:
        ConfigError: no such scenario; the message lists the valid names.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; valid scenarios: {', '.join(_BY_NAME)}") from None
