"""Build tracefork-otel's Grafana dashboards from code and write them as JSON.

    python grafana/build_dashboards.py            # (re)write grafana/dashboards/*.json
    python grafana/build_dashboards.py --check    # exit 1 if the committed JSON differs

The dashboards are built with the Grafana Foundation SDK (``grafana-foundation-sdk``,
pinned in the ``test`` extra). Every span name and attribute in a TraceQL query comes
from ``tracefork_otel.semconv``; ``tests/grafana`` checks each one against spans the
project really emits.

Two rules keep the output valid under Grafana's dashboard JSON schema (the SDK's
``dashboard.jsonschema.json``), which types a field override's ``value`` and a
matcher's ``options`` as objects: overrides here only set object-valued properties
(thresholds, colour, cell options) and match fields with ``byNames``; renames and units
are done with transformations and column names instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: the package is beside this folder
    sys.path.insert(0, str(ROOT))

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # "prefer dashboardv2": the schema we target is v1
    from grafana_foundation_sdk.builders import barchart, table, tempo
    from grafana_foundation_sdk.builders import common as cb
    from grafana_foundation_sdk.builders import dashboard as db
    from grafana_foundation_sdk.cog import builder as cogbuilder
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.runtime import UnknownDataquery
    from grafana_foundation_sdk.models import common as cm
    from grafana_foundation_sdk.models import dashboard as dm

from tracefork_otel import semconv  # noqa: E402

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"

TEMPO_UID = "tfotel-tempo"
JAEGER_UID = "tfotel-jaeger"
TEMPO = cm.DataSourceRef(type_val="tempo", uid=TEMPO_UID)
JAEGER = cm.DataSourceRef(type_val="jaeger", uid=JAEGER_UID)
GRAFANA = cm.DataSourceRef(type_val="grafana", uid="-- Grafana --")
"""Grafana's built-in data source (annotations); not provisioned."""

RUNS_UID = "tfotel-agent-runs"
BLAME_UID = "tfotel-blame"
TAG = "tracefork"

RUN_VAR = "traceId"
"""The Agent runs dashboard's variable: the run whose timeline is shown."""
BLAME_VAR = "trace_id"
"""The Blame dashboard's variable: the analysed run (``tracefork.blame.trace_id``)."""

RUNS_LIMIT = 50
"""Traces per search; Tempo returns the ones it finds first, Grafana shows the newest first."""
SPANS_PER_SPANSET = 100
"""Tempo's default ``max_spans_per_span_set`` (a larger ``spss`` is a 400): runs with more GenAI calls undercount
their tokens, and blame of runs longer than 100 steps shows the first 100."""

# --- TraceQL, from semconv -------------------------------------------------------------


def _span(attribute: str) -> str:
    return f"span.{attribute}"


def _select(*attributes: str) -> str:
    return "select(" + ", ".join(_span(a) for a in attributes) + ")"


BLAME_STEP_SPAN_RE = f"{semconv.SPAN_BLAME} step.*"
"""The per-step child spans of a blame trace are named ``tracefork.blame step {N}``."""

RUNS_SELECT = (
    semconv.GEN_AI_AGENT_NAME,
    semconv.RUN_EXCHANGES,
    semconv.RUN_PARTIAL,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.ERROR_TYPE,
)
RUNS_QUERY = (
    f'{{ {_span(semconv.GEN_AI_OPERATION_NAME)} = "{semconv.OPERATION_INVOKE_AGENT}"'
    f' || {_span(semconv.GEN_AI_OPERATION_NAME)} = "{semconv.OPERATION_CHAT}" }}'
    f" | {_select(*RUNS_SELECT)}"
)
"""A run's root span and its GenAI calls (ours, or the SDK's when it traces), grouped per trace by the panel."""

BLAME_STEPS_SELECT = (
    semconv.BLAME_STEP,
    semconv.BLAME_SCORE,
    semconv.BLAME_CI_LOW,
    semconv.BLAME_CI_HIGH,
    semconv.BLAME_SAMPLES,
    semconv.BLAME_RANK,
)
BLAME_STEPS_QUERY = (
    f'{{ {_span(semconv.BLAME_TRACE_ID)} = "${BLAME_VAR}" && name =~ "{BLAME_STEP_SPAN_RE}" }}'
    f" | {_select(*BLAME_STEPS_SELECT)}"
)
BLAME_ANALYSES_SELECT = (
    semconv.BLAME_TRACE_ID,
    semconv.BLAME_TOP_STEP,
    semconv.GEN_AI_AGENT_NAME,
    semconv.BLAME_AGENT_RUNS,
    semconv.BLAME_ORACLE,
    semconv.BLAME_PERTURB,
)
BLAME_ANALYSES_QUERY = f'{{ name = "{semconv.SPAN_BLAME}" }} | {_select(*BLAME_ANALYSES_SELECT)}'

# --- Grafana's Tempo "spans" table: the fields it adds besides the selected attributes ---

F_TRACE_ID = "traceIdHidden"
"""Hidden by Tempo's data source; the field links use it (``${__data.fields.traceIdHidden}``)."""
F_SERVICE = "Trace Service"
F_TRACE_NAME = "Trace Name"
F_SPAN_ID = "Span ID"
"""Tempo links it to the span in Explore."""
F_START = "Start time"
F_NAME = "Name"
F_DURATION = "Duration"
"""Nanoseconds."""
TRACE_ID_COLUMN = "trace_id"
"""A visible copy of ``traceIdHidden`` (an override cannot unhide it under the schema, a transformation can)."""


def _agg(field: str, reducer: str) -> str:
    """The name Grafana's groupBy transformation gives an aggregated field."""
    return f"{field} ({reducer})"


# --- small builders -----------------------------------------------------------------------


class _Query(cogbuilder.Builder[UnknownDataquery]):
    """A target for a data source the SDK has no builder for (Jaeger)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def build(self) -> UnknownDataquery:
        return UnknownDataquery(dict(self._data))


def _tempo_search(ref: str, query: str, *, limit: int, spss: int) -> tempo.Dataquery:
    return (
        tempo.Dataquery()
        .ref_id(ref)
        .datasource(TEMPO)
        .query_type("traceql")
        .query(query)
        .table_type("spans")
        .limit(limit)
        .spss(spss)
    )


def _tempo_trace(ref: str, variable: str) -> tempo.Dataquery:
    """Looks up one trace by id (the Tempo data source fetches a bare trace id typed as a TraceQL query)."""
    return tempo.Dataquery().ref_id(ref).datasource(TEMPO).query_type("traceql").query(f"${variable}")


def _transform(id_: str, options: dict[str, Any]) -> dm.DataTransformerConfig:
    return dm.DataTransformerConfig(id_val=id_, options=options)


def _to_number(*fields: str) -> dm.DataTransformerConfig:
    """Tempo hands every selected attribute to Grafana as a string."""
    return _convert({f: "number" for f in fields})


def _convert(types: dict[str, str]) -> dm.DataTransformerConfig:
    return _transform(
        "convertFieldType",
        {"fields": {}, "conversions": [{"targetField": f, "destinationType": t} for f, t in types.items()]},
    )


def _organize(
    *, exclude: Sequence[str] = (), order: Sequence[str] = (), rename: dict[str, str] | None = None
) -> dm.DataTransformerConfig:
    return _transform(
        "organize",
        {
            "excludeByName": {name: True for name in exclude},
            "indexByName": {name: i for i, name in enumerate(order)},
            "renameByName": dict(rename or {}),
        },
    )


def _group_by(groups: Sequence[str], aggregations: dict[str, list[str]]) -> dm.DataTransformerConfig:
    fields: dict[str, Any] = {g: {"aggregations": [], "operation": "groupby"} for g in groups}
    fields.update({f: {"aggregations": r, "operation": "aggregate"} for f, r in aggregations.items()})
    return _transform("groupBy", {"fields": fields})


def _expose_trace_id() -> dm.DataTransformerConfig:
    """Copy the hidden trace id into a visible ``trace_id`` column."""
    return _transform(
        "extractFields",
        {
            "source": F_TRACE_ID,
            "format": "regexp",
            "regExp": f"/(?<{TRACE_ID_COLUMN}>[0-9a-fA-F]+)/",
            "replace": False,
            "keepTime": False,
        },
    )


def _fields(*names: str) -> dm.MatcherConfig:
    """Match fields by (display) name; ``byNames`` takes an object, as the schema wants."""
    return dm.MatcherConfig(id_val="byNames", options={"mode": "include", "names": list(names)})


def _prop(id_: str, value: dict[str, Any]) -> dm.DynamicConfigValue:
    return dm.DynamicConfigValue(id_val=id_, value=value)


def _rank_thresholds(others: str) -> dict[str, Any]:
    """Rank 1 (the most-blamed step) red, every other rank ``others``."""
    return {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": others, "value": 2}]}


def _link(title: str, url: str, tooltip: str = "") -> db.DashboardLink:
    return (
        db.DashboardLink(title)
        .type(dm.DashboardLinkType.LINK)
        .url(url)
        .tooltip(tooltip or title)
        .icon("external link")
        .tags([])
        .as_dropdown(False)
        .target_blank(False)
        .include_vars(False)
        .keep_time(False)
    )


def _dashboard_url(uid: str, variable: str, value: str) -> str:
    return f"/d/{uid}?var-{variable}={value}&${{__url_time_range}}"


def _explore_url(trace_id: str) -> str:
    """Explore with one trace open in Tempo; ``trace_id`` is a data-link expression, kept unencoded."""
    marker = "TRACE_ID_PLACEHOLDER"
    pane = {
        "datasource": TEMPO_UID,
        "queries": [
            {
                "refId": "A",
                "datasource": {"type": "tempo", "uid": TEMPO_UID},
                "queryType": "traceql",
                "query": marker,
            }
        ],
        "range": {"from": "now-24h", "to": "now"},
    }
    panes = urllib.parse.quote(json.dumps({"trace": pane}, separators=(",", ":"), sort_keys=True), safe="")
    return "/explore?schemaVersion=1&orgId=1&panes=" + panes.replace(marker, trace_id)


def _dashboards_links() -> db.DashboardLink:
    return (
        db.DashboardLink("tracefork")
        .type(dm.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .icon("external link")
        .tooltip("The other tracefork dashboards")
        .as_dropdown(False)
        .target_blank(False)
        .include_vars(False)
        .keep_time(True)
    )


def _builtin_annotations() -> db.AnnotationQuery:
    """Grafana's own "Annotations & Alerts" query, which every dashboard carries."""
    return (
        db.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(GRAFANA)
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
    )


def _textbox(name: str, label: str, description: str) -> db.TextBoxVariable:
    return db.TextBoxVariable(name).label(label).description(description).default_value("")


def _sort(column: str, *, desc: bool) -> cb.TableSortByFieldState:
    return cb.TableSortByFieldState().display_name(column).desc(desc)


def _grid(x: int, y: int, w: int, h: int) -> dm.GridPos:
    return dm.GridPos(h=h, w=w, x=x, y=y)


# --- Agent runs -----------------------------------------------------------------------------

RUNS_COLUMNS = {
    _agg(F_START, "min"): "Started",
    TRACE_ID_COLUMN: "Trace ID",
    _agg(semconv.GEN_AI_AGENT_NAME, "firstNotNull"): "Agent",
    _agg(semconv.RUN_EXCHANGES, "max"): "Steps",
    _agg(semconv.GEN_AI_USAGE_INPUT_TOKENS, "sum"): "Input tokens",
    _agg(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, "sum"): "Output tokens",
    _agg(semconv.ERROR_TYPE, "count"): "Errors",
    _agg(semconv.RUN_PARTIAL, "firstNotNull"): "Partial",
    "Duration (ms)": "Duration (ms)",
}
"""Column (after groupBy) → header, in display order."""


def runs_table() -> table.Panel:
    run_link = "${__data.fields." + F_TRACE_ID + "}"
    return (
        table.Panel()
        .id(1)
        .title("Agent runs")
        .description(
            "Recent recorded runs: one row per trace with an invoke_agent root span. Steps is "
            f"{semconv.RUN_EXCHANGES}; tokens are summed over the run's GenAI chat spans; errors count the "
            f"run's spans with {semconv.ERROR_TYPE}. Click a row to open its timeline."
        )
        .datasource(TEMPO)
        .grid_pos(_grid(0, 0, 24, 10))
        .with_target(_tempo_search("runs", RUNS_QUERY, limit=RUNS_LIMIT, spss=SPANS_PER_SPANSET))
        .transformations(
            [
                _to_number(
                    semconv.RUN_EXCHANGES, semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS
                ),
                _group_by(
                    [F_TRACE_ID],
                    {
                        semconv.GEN_AI_AGENT_NAME: ["firstNotNull"],
                        semconv.RUN_EXCHANGES: ["max"],
                        semconv.RUN_PARTIAL: ["firstNotNull"],
                        semconv.GEN_AI_USAGE_INPUT_TOKENS: ["sum"],
                        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: ["sum"],
                        semconv.ERROR_TYPE: ["count"],
                        F_START: ["min"],
                        F_DURATION: ["max"],
                    },
                ),
                # Traces with GenAI calls but no recorded run (no agent name) are not runs.
                _transform(
                    "filterByValue",
                    {
                        "type": "exclude",
                        "match": "any",
                        "filters": [
                            {
                                "fieldName": _agg(semconv.GEN_AI_AGENT_NAME, "firstNotNull"),
                                "config": {"id": "isNull", "options": {}},
                            }
                        ],
                    },
                ),
                _expose_trace_id(),
                _transform(
                    "calculateField",
                    {
                        "mode": "binary",
                        "binary": {
                            "left": {"matcher": {"id": "byName", "options": _agg(F_DURATION, "max")}},
                            "operator": "/",
                            "right": {"fixed": "1000000"},
                        },
                        "alias": "Duration (ms)",
                        "replaceFields": False,
                    },
                ),
                _convert({_agg(F_START, "min"): "time"}),
                _organize(
                    exclude=[_agg(F_DURATION, "max")],
                    order=[F_TRACE_ID, *RUNS_COLUMNS],
                    rename=RUNS_COLUMNS,
                ),
            ]
        )
        .data_links(
            [
                _link("Show this run's timeline", _dashboard_url(RUNS_UID, RUN_VAR, run_link)),
                _link("Blame analyses of this run", _dashboard_url(BLAME_UID, BLAME_VAR, run_link)),
                _link("Open this run in Explore", _explore_url(run_link)),
            ]
        )
        .sort_by([_sort("Started", desc=True)])
        .cell_height(cm.TableCellHeight.SM)
    )


def run_timeline(panel_id: int, title: str, source: cm.DataSourceRef, y: int) -> db.Panel:
    if source is TEMPO:
        target: cogbuilder.Builder[Any] = _tempo_trace("trace", RUN_VAR)
    else:
        target = _Query({"refId": "trace", "datasource": {"type": "jaeger", "uid": JAEGER_UID}, "query": f"${RUN_VAR}"})
    return (
        db.Panel()
        .type("traces")
        .id(panel_id)
        .title(title)
        .description(
            f"The run's spans: the {semconv.SPAN_INVOKE_AGENT_PREFIX} root and one span per model call, "
            f"each with {semconv.STEP} and the sha256 of its exact request and response bytes."
        )
        .datasource(source)
        .grid_pos(_grid(0, y, 24, 14))
        .with_target(target)
    )


def agent_runs_dashboard() -> db.Dashboard:
    return (
        db.Dashboard("tracefork · Agent runs")
        .uid(RUNS_UID)
        .description("Recorded agent runs from Tempo, and one run's timeline.")
        .tags([TAG])
        .editable()
        .time("now-24h", "now")
        .timezone("browser")
        .refresh("30s")
        .link(_dashboards_links())
        .annotation(_builtin_annotations())
        .with_variable(
            _textbox(RUN_VAR, "Trace id", "The run to show: 32 hex digits (click a row of Agent runs to set it).")
        )
        .with_panel(runs_table())
        .with_panel(run_timeline(2, "Run timeline — $traceId", TEMPO, 10))
        .with_row(
            db.Row("The same run in Jaeger")
            .id(3)
            .collapsed(True)
            .grid_pos(_grid(0, 24, 24, 1))
            .with_panel(run_timeline(4, "Run timeline in Jaeger — $traceId", JAEGER, 25))
        )
    )


# --- Blame --------------------------------------------------------------------------------------

BLAME_COLUMNS = {
    semconv.BLAME_STEP: "Step",
    semconv.BLAME_SCORE: "Blame score",
    semconv.BLAME_CI_LOW: "CI low (95%)",
    semconv.BLAME_CI_HIGH: "CI high (95%)",
    semconv.BLAME_SAMPLES: "Samples",
    semconv.BLAME_RANK: "Rank",
    F_SPAN_ID: "Blame span",
    F_START: "Analysed at",
}
RANK_COLUMN = BLAME_COLUMNS[semconv.BLAME_RANK]


def blame_steps_table() -> table.Panel:
    return (
        table.Panel()
        .id(1)
        .title("Blame per step — $trace_id")
        .description(
            "Every step's blame score (harm = V(step) - V(step+1), the drop in the chance of success when the "
            "run commits to that step) with its 95% interval, from the tracefork.blame step spans. The "
            "top-blamed step (rank 1) is red. Zero scores show as 0 (Tempo's table drops zero doubles)."
        )
        .datasource(TEMPO)
        .grid_pos(_grid(0, 0, 14, 10))
        .with_target(_tempo_search("steps", BLAME_STEPS_QUERY, limit=20, spss=SPANS_PER_SPANSET))
        .transformations(
            [
                _to_number(*BLAME_STEPS_SELECT),
                _organize(
                    exclude=[F_SERVICE, F_TRACE_NAME, F_NAME, F_DURATION, semconv.BLAME_TRACE_ID],
                    order=list(BLAME_COLUMNS),
                    rename=BLAME_COLUMNS,
                ),
            ]
        )
        .no_value("0")
        .with_override(
            _fields(RANK_COLUMN, semconv.BLAME_RANK),
            [
                _prop("custom.cellOptions", {"type": "color-background", "mode": "basic", "applyToRow": True}),
                _prop("color", {"mode": "thresholds"}),
                _prop("thresholds", _rank_thresholds("transparent")),
            ],
        )
        .sort_by([_sort(RANK_COLUMN, desc=False)])
        .links([_link("Open the analysed run", _dashboard_url(RUNS_UID, RUN_VAR, f"${{{BLAME_VAR}}}"))])
    )


def blame_bars() -> barchart.Panel:
    step, score, rank = "Step", "Blame score", RANK_COLUMN
    return (
        barchart.Panel()
        .id(2)
        .title("Blame score by step — $trace_id")
        .description("The same scores as bars along the run; the top-blamed step is red.")
        .datasource(TEMPO)
        .grid_pos(_grid(14, 0, 10, 10))
        .with_target(_tempo_search("steps", BLAME_STEPS_QUERY, limit=20, spss=SPANS_PER_SPANSET))
        .transformations(
            [
                _transform(
                    "filterFieldsByName",
                    {"include": {"names": [semconv.BLAME_STEP, semconv.BLAME_SCORE, semconv.BLAME_RANK]}},
                ),
                _to_number(semconv.BLAME_STEP, semconv.BLAME_SCORE, semconv.BLAME_RANK),
                _transform("sortBy", {"fields": {}, "sort": [{"field": semconv.BLAME_STEP, "desc": False}]}),
                _convert({semconv.BLAME_STEP: "string"}),  # a category on the x axis
                _organize(
                    order=[semconv.BLAME_STEP, semconv.BLAME_SCORE, semconv.BLAME_RANK],
                    rename={semconv.BLAME_STEP: step, semconv.BLAME_SCORE: score, semconv.BLAME_RANK: rank},
                ),
            ]
        )
        .x_field(step)
        .color_by_field(rank)
        .show_value(cm.VisibilityMode.AUTO)
        .no_value("0")
        .with_override(
            _fields(rank, semconv.BLAME_RANK),
            [
                _prop("color", {"mode": "thresholds"}),
                _prop("thresholds", _rank_thresholds("blue")),
                _prop("custom.hideFrom", {"legend": True, "tooltip": False, "viz": True}),
            ],
        )
    )


def most_blamed_table() -> table.Panel:
    top = semconv.BLAME_TOP_STEP
    analyses = _agg(F_TRACE_ID, "count")
    runs = _agg(semconv.BLAME_TRACE_ID, "distinctCount")
    return (
        table.Panel()
        .id(4)
        .title("Most-blamed steps across runs")
        .description(
            "Per agent, how often each step came out top-blamed: the tracefork.blame root spans in the time "
            "range grouped by agent and top step."
        )
        .datasource(TEMPO)
        .grid_pos(_grid(0, 22, 10, 10))
        .with_target(_tempo_search("analyses", BLAME_ANALYSES_QUERY, limit=500, spss=1))
        .transformations(
            [
                _group_by(
                    [semconv.GEN_AI_AGENT_NAME, top],
                    {F_TRACE_ID: ["count"], semconv.BLAME_TRACE_ID: ["distinctCount"]},
                ),
                _organize(
                    order=[semconv.GEN_AI_AGENT_NAME, top, analyses, runs],
                    rename={
                        semconv.GEN_AI_AGENT_NAME: "Agent",
                        top: "Top-blamed step",
                        analyses: "Analyses",
                        runs: "Distinct runs",
                    },
                ),
            ]
        )
        .with_override(
            _fields("Analyses", analyses),
            [_prop("custom.cellOptions", {"type": "gauge", "mode": "basic", "valueDisplayMode": "text"})],
        )
        .sort_by([_sort("Analyses", desc=True)])
    )


ANALYSES_COLUMNS = {
    F_START: "Analysed at",
    semconv.GEN_AI_AGENT_NAME: "Agent",
    semconv.BLAME_TRACE_ID: "Analysed run",
    semconv.BLAME_TOP_STEP: "Top-blamed step",
    semconv.BLAME_AGENT_RUNS: "Agent runs spent",
    semconv.BLAME_ORACLE: "Oracle",
    semconv.BLAME_PERTURB: "Perturbation",
    F_DURATION: "Duration",
}


def analyses_table() -> table.Panel:
    analysed = '${__data.fields["' + semconv.BLAME_TRACE_ID + '"]}'
    return (
        table.Panel()
        .id(5)
        .title("Blame analyses")
        .description(
            "Every tracefork.blame trace in the time range: which run was analysed, the step it blamed most and "
            "what it cost. Click a row to show that analysis above."
        )
        .datasource(TEMPO)
        .grid_pos(_grid(10, 22, 14, 10))
        .with_target(_tempo_search("analyses", BLAME_ANALYSES_QUERY, limit=100, spss=1))
        .transformations(
            [
                _organize(
                    exclude=[F_SERVICE, F_TRACE_NAME, F_NAME, F_SPAN_ID],
                    order=[F_TRACE_ID, *ANALYSES_COLUMNS],
                    rename=ANALYSES_COLUMNS,
                )
            ]
        )
        .data_links(
            [
                _link("Show this analysis", _dashboard_url(BLAME_UID, BLAME_VAR, analysed)),
                _link("Open the analysed run", _dashboard_url(RUNS_UID, RUN_VAR, analysed)),
                _link("Open the blame trace in Explore", _explore_url("${__data.fields." + F_TRACE_ID + "}")),
            ]
        )
        .sort_by([_sort("Analysed at", desc=True)])
    )


def analysed_run_timeline() -> db.Panel:
    return (
        db.Panel()
        .type("traces")
        .id(3)
        .title("The analysed run — $trace_id")
        .description("The run the blame is about: step N of the table is the span with tracefork.step = N.")
        .datasource(TEMPO)
        .grid_pos(_grid(0, 10, 24, 12))
        .with_target(_tempo_trace("trace", BLAME_VAR))
    )


def blame_dashboard() -> db.Dashboard:
    return (
        db.Dashboard("tracefork · Blame")
        .uid(BLAME_UID)
        .description("Which step of a failed run caused the failure: tfotel blame's scores, from Tempo.")
        .tags([TAG])
        .editable()
        .time("now-7d", "now")
        .timezone("browser")
        .refresh("1m")
        .link(_dashboards_links())
        .annotation(_builtin_annotations())
        .with_variable(
            _textbox(
                BLAME_VAR,
                "Analysed trace id",
                "The run tfotel blame analysed (its trace id; click a row of Blame analyses to set it).",
            )
        )
        .with_panel(blame_steps_table())
        .with_panel(blame_bars())
        .with_panel(analysed_run_timeline())
        .with_panel(most_blamed_table())
        .with_panel(analyses_table())
    )


# --- output --------------------------------------------------------------------------------------

DASHBOARDS = {
    "agent-runs.json": agent_runs_dashboard,
    "blame.json": blame_dashboard,
}


def to_json(builder: db.Dashboard) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(JSONEncoder().encode(builder.build()))
    return data


def render() -> dict[str, str]:
    """File name → the exact text committed under ``grafana/dashboards``."""
    return {
        name: json.dumps(to_json(build()), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSON on disk differs from the code")
    parser.add_argument("--out", type=Path, default=DASHBOARDS_DIR, help="folder of the JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    out: Path = args.out
    stale = []
    for name, text in render().items():
        path = out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        for path in stale:
            print(f"{path}: differs from grafana/build_dashboards.py; run it to regenerate", file=sys.stderr)
        return 1
    if not args.check:
        for path in stale:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
