"""The fork tree around a run: the runs it was forked from, and the runs forked from it.

A fork's root span names its parent with ``tracefork.fork.parent_trace_id`` and the
step it answered differently with ``tracefork.fork.step``. Ancestors are followed up
through the local span store; descendants are found with ``SpanStore.forks_of``. Both
walks are bounded, so a store with a cycle (a hand-edited span) still ends.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from tracefork_otel import semconv
from tracefork_otel.spanmodel import Attributes, SpanRecord, find_root
from tracefork_otel.spanstore import SpanStore

MAX_ANCESTORS: Final = 8
MAX_DEPTH: Final = 4
"""Generations of forks below the run that are listed."""
MAX_NODES: Final = 200


@dataclass(frozen=True)
class ForkNode:
    """One run of the tree."""

    trace_id: str
    name: str = ""
    fork_step: int | None = None
    """The step this run answered differently from its parent; None when it is not a fork."""
    start_time_unix_nano: int = 0
    replayed: int | None = None
    recorded: int | None = None
    found: bool = True
    """False for a parent that is not in the local store (only its id is known)."""
    current: bool = False
    """The run the report is about."""
    children: tuple[ForkNode, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "name": self.name,
            "fork_step": self.fork_step,
            "started": self.started,
            "replayed": self.replayed,
            "recorded": self.recorded,
            "found": self.found,
            "current": self.current,
            "children": [c.to_json() for c in self.children],
        }

    @property
    def started(self) -> str:
        """When the run started, as ``YYYY-MM-DD HH:MM:SS UTC`` (empty when unknown)."""
        return _iso(self.start_time_unix_nano)

    def walk(self) -> list[ForkNode]:
        """This node and every node below it, depth first."""
        return [self, *(n for c in self.children for n in c.walk())]


def _iso(unix_nano: int) -> str:
    if not unix_nano:
        return ""
    return datetime.datetime.fromtimestamp(unix_nano / 1e9, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _display_name(span: SpanRecord) -> str:
    name = span.attributes.get(semconv.GEN_AI_AGENT_NAME)
    return str(name) if name else span.name


def _node(root: SpanRecord, **kwargs: Any) -> ForkNode:
    a = root.attributes
    return ForkNode(
        trace_id=root.trace_id,
        name=_display_name(root),
        fork_step=_int(a.get(semconv.FORK_STEP)),
        start_time_unix_nano=root.start_time_unix_nano,
        replayed=_int(a.get(semconv.FORK_REPLAYED)),
        recorded=_int(a.get(semconv.FORK_RECORDED)),
        **kwargs,
    )


def _parent_of(attributes: Attributes) -> str:
    return str(attributes.get(semconv.FORK_PARENT_TRACE_ID) or "").lower()


def _descendants(store: SpanStore, trace_id: str, depth: int, seen: set[str]) -> tuple[ForkNode, ...]:
    if depth >= MAX_DEPTH:
        return ()
    nodes = []
    for root in store.forks_of(trace_id):
        if root.trace_id in seen or len(seen) >= MAX_NODES:
            continue
        seen.add(root.trace_id)
        nodes.append(_node(root, children=_descendants(store, root.trace_id, depth + 1, seen)))
    return tuple(nodes)


def fork_tree(trace_id: str, spans: Sequence[SpanRecord], store: SpanStore | None = None) -> ForkNode | None:
    """The tree from the run's oldest known ancestor down to its forks, or None when it has neither.

    Without a store only the parent named on the run's own root span is known.

    Raises:
        StoreError: the local span store cannot be read.
    """
    root = find_root(spans)
    seen = {trace_id}
    current = (
        _node(root, current=True) if root is not None else ForkNode(trace_id=trace_id, name=trace_id, current=True)
    )
    if store is not None:
        current = dataclasses.replace(current, children=_descendants(store, trace_id, 0, seen))
    node = current
    parent_id = _parent_of(root.attributes) if root is not None else ""
    while parent_id and parent_id not in seen and len(seen) < MAX_ANCESTORS + 1:
        seen.add(parent_id)
        parent_root = find_root(store.get_trace(parent_id)) if store is not None else None
        if parent_root is None:
            node = ForkNode(trace_id=parent_id, found=False, children=(node,))
            break
        node = _node(parent_root, children=(node,))
        parent_id = _parent_of(parent_root.attributes)
    if node is current and not current.children:
        return None
    return node
