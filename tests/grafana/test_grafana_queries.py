"""Every name a dashboard query uses is one tracefork-otel really emits.

Real spans, not a list of names: the test records the demo with ``tfotel demo`` (into the
local span store of a temporary ``TFOTEL_HOME``), records a run whose agent raises, and
exports a blame report for the demo run with ``export_blame``. Then, for each TraceQL
query of the committed dashboards:

- every attribute it names (``span.X``, ``event.X``, ``resource.X``, inside ``select(...)``
  too) is on some span (or event, or resource) the project produced, and span names it
  compares with ``name`` match produced span names; renaming one in ``semconv`` breaks this;
- its filter, evaluated over the produced spans, selects the spans the panel is about;
- the field names the panel's transformations, overrides, sorting and data links use are
  fields Grafana's Tempo table will hold (its own columns plus the queried attributes),
  followed through each transformation.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_support import clean_env
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracefork_otel import semconv
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blame.strategy import BlameOutcome, StepScore
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.sources.local import LocalSource
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.spanstore.exporter import span_record_from_readable

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "grafana" / "dashboards"

SCOPED_ATTRIBUTE = re.compile(r"\b(span|resource|event|link|instrumentation)\.([A-Za-z_][\w.\-]*)")
UNSCOPED_ATTRIBUTE = re.compile(r"(?<![\w.])\.([A-Za-z_][\w.\-]*)")
SPAN_NAME = re.compile(r"(?<![\w.])name\s*(=~|!=|=)\s*\"([^\"]*)\"")
COMPARISON = re.compile(r"^(span\.[\w.\-]+|name)\s*(=~|=)\s*\"([^\"]*)\"$")


# --- the queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: dict[str, Any]
    text: str

    @property
    def title(self) -> str:
        return f"{self.dashboard} / {self.panel['title']}"

    @property
    def test_id(self) -> str:
        title = self.panel["title"].split(" \N{EM DASH} ")[0]
        return f"{self.dashboard.removesuffix('.json')}:{title}"

    @property
    def filter(self) -> str:
        """The spanset filter: the first ``{ ... }``."""
        match = re.match(r"\s*\{(.*?)\}", self.text)
        assert match, f"{self.title}: not a TraceQL spanset filter: {self.text}"
        return match.group(1).strip()

    @property
    def selected(self) -> list[tuple[str, str]]:
        match = re.search(r"\|\s*select\((.*?)\)", self.text)
        if not match:
            return []
        found = []
        for argument in match.group(1).split(","):
            parsed = SCOPED_ATTRIBUTE.fullmatch(argument.strip())
            assert parsed, f"{self.title}: select() argument {argument.strip()!r} is not a scoped attribute"
            found.append((parsed.group(1), parsed.group(2)))
        return found

    @property
    def attributes(self) -> list[tuple[str, str]]:
        """(scope, name) of every attribute the query names."""
        return [(m.group(1), m.group(2)) for m in SCOPED_ATTRIBUTE.finditer(self.text)]

    @property
    def span_names(self) -> list[tuple[str, str]]:
        return [(m.group(1), m.group(2)) for m in SPAN_NAME.finditer(self.text)]


def panels_of(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = list(dashboard.get("panels", []))
    while stack:
        panel = stack.pop(0)
        yield panel
        stack[:0] = panel.get("panels", [])


def traceql_queries() -> list[Query]:
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in panels_of(dashboard):
            for target in panel.get("targets", []):
                text = target.get("query", "")
                if text.lstrip().startswith("{"):
                    found.append(Query(path.name, panel, text))
                else:  # a trace looked up by id: the id comes from a variable
                    assert re.fullmatch(r"\$\w+", text), f"{path.name} / {panel['title']}: query {text!r}"
    return found


QUERIES = traceql_queries()


def test_the_dashboards_query_tempo_with_traceql() -> None:
    assert len(QUERIES) >= 5
    for query in QUERIES:
        assert not UNSCOPED_ATTRIBUTE.search(query.text.replace("...", "")), (
            f"{query.title}: use scoped attributes (span.x), unscoped .x matches resources too: {query.text}"
        )
        assert query.attributes, query.title


# --- real spans ----------------------------------------------------------------------------------


@dataclass(repr=False)
class Produced:
    """Everything the project emitted in this test: spans (as the span store sees them)."""

    spans: list[SpanRecord] = field(default_factory=list)
    demo_trace_id: str = ""
    blame_trace_id: str = ""
    failed_trace_id: str = ""

    def __repr__(self) -> str:
        return f"Produced({len(self.spans)} spans: demo {self.demo_trace_id}, blame {self.blame_trace_id})"

    def ours(self) -> list[SpanRecord]:
        return [s for s in self.spans if s.scope_name == semconv.INSTRUMENTATION_SCOPE]

    def has(self, scope: str, name: str) -> bool:
        spans = self.ours()
        if scope == "span":
            return any(name in s.attributes for s in spans)
        if scope == "event":
            return any(name in e.attributes for s in spans for e in s.events)
        if scope == "resource":
            return any(name in s.resource for s in spans)
        if scope == "link":
            return any(name in link.attributes for s in spans for link in s.links)
        return False


def tfotel_demo(home: Path, **extra: str) -> tuple[str, list[SpanRecord]]:
    """``tfotel demo`` in a fresh process; returns its trace id and the spans in its local store."""
    script = Path(sys.executable).parent / "tfotel"
    fallback = [sys.executable, "-c", "from tracefork_otel.cli import main; main()"]
    command = [str(script)] if script.exists() else fallback
    result = subprocess.run(
        [*command, "demo", "--json"], env=clean_env(home, **extra), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    trace_id = json.loads(result.stdout)["trace_id"]
    return trace_id, local_spans(home, trace_id)


def local_spans(home: Path, trace_id: str) -> list[SpanRecord]:
    """The trace as the local span store under ``home`` kept it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFOTEL_HOME", str(home))
        store = SpanStore.default()
    try:
        return list(LocalSource(store).get(trace_id))
    finally:
        store.close()


FAILING_RUN = """
from tracefork_otel.record import record_run
try:
    with record_run("failing-agent") as run:
        print(run.trace_id, flush=True)
        raise RuntimeError("the agent gave up")
except RuntimeError:
    pass
"""


def failing_run(home: Path) -> tuple[str, list[SpanRecord]]:
    """A run whose agent raises, recorded in a fresh process: its root span carries error.type."""
    result = subprocess.run(
        [sys.executable, "-c", FAILING_RUN], env=clean_env(home), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    trace_id = result.stdout.split()[0]
    return trace_id, local_spans(home, trace_id)


def blame_report(trace_id: str, steps: int) -> BlameReport:
    """A small hand-built report: the later the step the more blame (the last ranks 1), step 0 scores zero."""
    scores = [
        StepScore(
            step=i,
            score=0.1 * i,
            ci_low=0.0,
            ci_high=min(1.0, 0.2 * i + 0.1),
            samples=8,
            method="measured",
            rank=steps - i,
        )
        for i in range(steps)
    ]
    outcome = BlameOutcome(steps=scores, agent_runs=8 * steps, estimates={}, strategy="fixed-k k=8")
    return BlameReport(trace_id=trace_id, outcome=outcome, perturb="resample", oracle="tracefork_otel.demo:oracle")


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Produced:
    from tracefork_otel.blame.export import export_blame

    out = Produced()
    # Our own GenAI spans (the Anthropic SDK's tracing off): every attribute must be the project's.
    out.demo_trace_id, demo_spans = tfotel_demo(tmp_path_factory.mktemp("demo"), ANTHROPIC_OPEN_TELEMETRY="false")
    out.failed_trace_id, failed_spans = failing_run(tmp_path_factory.mktemp("failing"))

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tape = rebuild_tape(out.demo_trace_id, demo_spans)
    assert len(tape.exchanges) == 3
    report = blame_report(out.demo_trace_id, len(tape.exchanges))
    out.blame_trace_id = export_blame(report, tape, tracer=provider.get_tracer(semconv.INSTRUMENTATION_SCOPE))
    provider.shutdown()

    out.spans = demo_spans + failed_spans + [span_record_from_readable(s) for s in memory.get_finished_spans()]
    return out


# --- the names are real ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.test_id)
@pytest.mark.subprocess
def test_every_queried_attribute_is_emitted_by_the_project(query: Query, produced: Produced) -> None:
    for scope, name in query.attributes:
        assert produced.has(scope, name), (
            f"{query.title}: {scope}.{name} is on no span tracefork-otel emitted "
            f"(renamed in semconv? regenerate the dashboards): {query.text}"
        )


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.test_id)
@pytest.mark.subprocess
def test_every_queried_span_name_is_emitted_by_the_project(query: Query, produced: Produced) -> None:
    names = {s.name for s in produced.ours()}
    for operator, value in query.span_names:
        if operator == "=":
            assert value in names, f"{query.title}: no span is named {value!r}"
        elif operator == "=~":
            assert any(re.fullmatch(value, n) for n in names), f"{query.title}: no span name matches {value!r}"


@pytest.mark.subprocess
def test_the_failing_run_and_blame_were_produced(produced: Produced) -> None:
    roots = [s for s in produced.ours() if s.trace_id == produced.failed_trace_id and s.parent_span_id is None]
    assert roots and roots[0].attributes.get(semconv.ERROR_TYPE) == "RuntimeError"
    assert any(s.trace_id == produced.blame_trace_id and s.name == semconv.SPAN_BLAME for s in produced.ours())


# --- the filters select what the panels are about --------------------------------------------------------


def matches(condition: str, span: SpanRecord, variables: dict[str, str]) -> bool:
    """Evaluate the subset of TraceQL the dashboards use: ``a = "v"``/``a =~ "re"`` joined by ``&&``/``||``."""
    for name, value in variables.items():
        condition = condition.replace(f"${name}", value)
    return any(all(_compare(term.strip(), span) for term in disjunct.split("&&")) for disjunct in condition.split("||"))


def _compare(term: str, span: SpanRecord) -> bool:
    parsed = COMPARISON.fullmatch(term)
    assert parsed, f"extend the test's TraceQL evaluator for {term!r}"
    lhs, operator, literal = parsed.groups()
    actual = span.name if lhs == "name" else span.attributes.get(lhs.removeprefix("span."))
    if not isinstance(actual, str):
        return False
    return actual == literal if operator == "=" else re.fullmatch(literal, actual) is not None


def selected_spans(query: Query, produced: Produced, **variables: str) -> list[SpanRecord]:
    return [s for s in produced.spans if matches(query.filter, s, variables)]


def query_of(title_part: str, dashboard: str) -> Query:
    found = [q for q in QUERIES if q.dashboard == dashboard and title_part in q.panel["title"]]
    assert found, f"no query on a panel titled like {title_part!r} in {dashboard}"
    return found[0]


@pytest.mark.subprocess
def test_the_runs_query_selects_each_runs_root_and_its_genai_calls(produced: Produced) -> None:
    query = query_of("Agent runs", "agent-runs.json")
    spans = selected_spans(query, produced)
    demo = [s for s in spans if s.trace_id == produced.demo_trace_id]
    roots = [s for s in demo if s.parent_span_id is None]
    assert len(roots) == 1 and roots[0].attributes[semconv.GEN_AI_AGENT_NAME] == "refund-desk"
    assert roots[0].attributes[semconv.RUN_EXCHANGES] == 3
    calls = [s for s in demo if s.parent_span_id is not None]
    assert len(calls) == 3
    assert all(s.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0 for s in calls)
    assert all(s.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0 for s in calls)
    failed = [s for s in spans if s.trace_id == produced.failed_trace_id]
    assert [s.attributes.get(semconv.ERROR_TYPE) for s in failed] == ["RuntimeError"]
    assert not [s for s in spans if s.trace_id == produced.blame_trace_id], "blame traces are not runs"


@pytest.mark.subprocess
def test_the_runs_query_also_counts_tokens_when_the_sdk_traces(tmp_path: Path) -> None:
    """With the Anthropic SDK's own tracing on (its default), its ``chat`` spans carry the usage."""
    trace_id, spans = tfotel_demo(tmp_path / "home")
    query = query_of("Agent runs", "agent-runs.json")
    selected = [s for s in spans if matches(query.filter, s, {})]
    calls = [s for s in selected if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OPERATION_CHAT]
    assert len(calls) == 3, [s.name for s in selected]
    assert all(s.attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS) for s in calls)
    assert sum(1 for s in selected if s.parent_span_id is None) == 1
    assert all(s.trace_id == trace_id for s in selected)


@pytest.mark.subprocess
def test_the_blame_steps_query_selects_one_span_per_step(produced: Produced) -> None:
    for title in ("Blame per step", "Blame score by step"):
        query = query_of(title, "blame.json")
        spans = selected_spans(query, produced, trace_id=produced.demo_trace_id)
        assert sorted(s.attributes[semconv.BLAME_STEP] for s in spans) == [0, 1, 2]
        assert {s.trace_id for s in spans} == {produced.blame_trace_id}
        top = [s for s in spans if s.attributes[semconv.BLAME_RANK] == 1]
        assert [s.attributes[semconv.BLAME_STEP] for s in top] == [2]
        assert not selected_spans(query, produced, trace_id="0" * 32)
        for _, name in query.selected:
            assert all(name in s.attributes for s in spans), f"{title}: {name} missing on a step span"


@pytest.mark.subprocess
def test_the_analyses_query_selects_the_blame_roots(produced: Produced) -> None:
    for title in ("Most-blamed steps", "Blame analyses"):
        query = query_of(title, "blame.json")
        spans = selected_spans(query, produced)
        assert len(spans) == 1 and spans[0].parent_span_id is None
        root = spans[0].attributes
        assert root[semconv.BLAME_TRACE_ID] == produced.demo_trace_id
        assert root[semconv.BLAME_TOP_STEP] == 2
        assert root[semconv.GEN_AI_AGENT_NAME] == "refund-desk"


# --- field names through the panel's transformations ----------------------------------------------------

TEMPO_SPAN_TABLE = [
    ("traceIdHidden", "traceIdHidden"),
    ("traceService", "Trace Service"),
    ("traceName", "Trace Name"),
    ("spanID", "Span ID"),
    ("time", "Start time"),
    ("name", "Name"),
    ("duration", "Duration"),
]
"""(name, display name) of the columns Grafana's Tempo data source puts in a ``spans`` table; each selected
or filtered attribute adds a column named (and displayed) as its key."""


@dataclass
class Field:
    name: str
    display: str


class Frame:
    def __init__(self, fields: list[Field]) -> None:
        self.fields = fields

    def displays(self) -> list[str]:
        return [f.display for f in self.fields]

    def require(self, where: str, *displays: str) -> None:
        for display in displays:
            assert display in self.displays(), f"{where}: no field {display!r} here; fields are {self.displays()}"

    def find(self, display: str) -> Field:
        return next(f for f in self.fields if f.display == display)


def initial_frame(query: Query) -> Frame:
    attributes = sorted({name for scope, name in query.attributes if scope == "span"})
    return Frame([Field(n, d) for n, d in TEMPO_SPAN_TABLE] + [Field(a, a) for a in attributes])


def apply(frame: Frame, transformation: dict[str, Any], where: str) -> Frame:
    kind, options = transformation["id"], transformation["options"]
    where = f"{where} / {kind}"
    if kind == "convertFieldType":
        frame.require(where, *(c["targetField"] for c in options["conversions"]))
        return frame
    if kind == "groupBy":
        fields = options["fields"]
        frame.require(where, *fields)
        groups = [frame.find(d) for d, o in fields.items() if o["operation"] == "groupby"]
        assert groups, f"{where}: nothing to group by"
        aggregated = [
            Field(f"{d} ({r})", f"{d} ({r})")
            for d, o in fields.items()
            if o["operation"] == "aggregate"
            for r in o["aggregations"]
        ]
        return Frame(groups + aggregated)
    if kind == "filterByValue":
        frame.require(where, *(f["fieldName"] for f in options["filters"]))
        return frame
    if kind == "extractFields":
        frame.require(where, options["source"])
        assert options["format"] == "regexp", f"{where}: extend the test for format {options['format']}"
        new = re.findall(r"\(\?<(\w+)>", options["regExp"])
        return Frame(frame.fields + [Field(n, n) for n in new])
    if kind == "calculateField":
        assert options["mode"] == "binary", f"{where}: extend the test for mode {options['mode']}"
        for side in (options["binary"]["left"], options["binary"]["right"]):
            if "matcher" in side:
                frame.require(where, side["matcher"]["options"])
        return Frame([*frame.fields, Field(options["alias"], options["alias"])])
    if kind == "organize":
        frame.require(where, *options["excludeByName"], *options["renameByName"])
        unknown = set(options["indexByName"]) - set(frame.displays())
        assert not unknown, f"{where}: ordering unknown fields {unknown}"
        kept = [f for f in frame.fields if not options["excludeByName"].get(f.display)]
        return Frame([Field(f.name, options["renameByName"].get(f.display, f.display)) for f in kept])
    if kind == "filterFieldsByName":
        names = options["include"]["names"]
        frame.require(where, *names)
        return Frame([f for f in frame.fields if f.display in names])
    if kind == "sortBy":
        frame.require(where, *(s["field"] for s in options["sort"]))
        return frame
    raise AssertionError(f"{where}: extend the test for the {kind} transformation")


DATA_FIELD = re.compile(r"\$\{__data\.fields(?:\.(\w+)|\[\"([^\"]+)\"\])\}")


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.test_id)
def test_panel_field_names_follow_the_query_through_its_transformations(query: Query) -> None:
    panel, where = query.panel, query.title
    frame = initial_frame(query)
    for transformation in panel.get("transformations", []):
        frame = apply(frame, transformation, where)
    final = frame.displays()
    options = panel.get("options", {})
    for sort in options.get("sortBy", []):
        assert sort["displayName"] in final, f"{where}: sorts by {sort['displayName']!r}; fields are {final}"
    for key in ("xField", "colorByField"):
        if key in options:
            assert options[key] in final, f"{where}: {key} {options[key]!r} is not a field; fields are {final}"
    config = panel.get("fieldConfig", {})
    for override in config.get("overrides", []):
        names = override["matcher"]["options"]["names"]
        assert set(names) & set(final), f"{where}: an override matches none of {names}; fields are {final}"
    for link in config.get("defaults", {}).get("links", []):
        for match in DATA_FIELD.finditer(link["url"]):
            wanted = match.group(1) or match.group(2)
            assert any(wanted in (f.name, f.display) for f in frame.fields), f"{where}: link uses {wanted!r}"
