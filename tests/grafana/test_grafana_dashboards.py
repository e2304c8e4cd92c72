"""The committed Grafana dashboards: generated from code, valid, and wired to provisioned data sources.

Schemas: Grafana's dashboard and Tempo-query JSON schemas from the foundation SDK's
repository, read from ``../shared/fixtures/backends/grafana/schemas`` (skipped where that
folder is absent). The SDK's Python package ships no JSON schema; its typed models must
read each dashboard back unchanged instead.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
SCHEMAS = ROOT.parent / "shared" / "fixtures" / "backends" / "grafana" / "schemas"
BUILTIN_DATASOURCE_TYPES = {"grafana", "datasource", "dashboard"}
"""Grafana's own data sources (annotations, mixed, dashboard): never provisioned."""


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tfotel_build_dashboards", GRAFANA / "build_dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_generator()


def committed() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels_of(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    stack = list(dashboard.get("panels", []))
    while stack:
        panel = stack.pop(0)
        yield panel
        stack[:0] = panel.get("panels", [])


def datasource_refs(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``datasource`` reference object anywhere in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                yield value
            yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


def link_urls(dashboard: dict[str, Any]) -> Iterator[str]:
    """URLs of panel links and field data links."""
    for panel in panels_of(dashboard):
        for link in panel.get("links") or []:
            yield link["url"]
        config = panel.get("fieldConfig") or {}
        for link in (config.get("defaults") or {}).get("links") or []:
            yield link["url"]


def provisioned_datasources() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "datasources.yaml").read_text())
    return {ds["uid"]: ds for ds in data["datasources"]}


def test_there_are_the_two_dashboards() -> None:
    dashboards = committed()
    assert set(dashboards) >= {"agent-runs.json", "blame.json"}
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    titles = {d["title"] for d in dashboards.values()}
    assert any("Agent runs" in t for t in titles) and any("Blame" in t for t in titles)


def test_regenerating_reproduces_the_committed_json_byte_for_byte(generator: ModuleType) -> None:
    rendered = generator.render()
    assert set(rendered) == {p.name for p in DASHBOARDS.glob("*.json")}, "a dashboard file is missing or extra"
    for name, text in rendered.items():
        assert (DASHBOARDS / name).read_text(encoding="utf-8") == text, (
            f"grafana/dashboards/{name} is stale: run python grafana/build_dashboards.py"
        )
    assert generator.render() == rendered, "the generator is not deterministic"


@pytest.mark.subprocess
def test_the_check_flag_fails_on_a_stale_copy(tmp_path: Path) -> None:
    script = str(GRAFANA / "build_dashboards.py")
    ok = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "dashboards"
    stale.mkdir()
    for path in DASHBOARDS.glob("*.json"):
        (stale / path.name).write_text(path.read_text(encoding="utf-8").replace("Agent runs", "Agent rnus"))
    failed = subprocess.run(
        [sys.executable, script, "--check", "--out", str(stale)], capture_output=True, text=True, cwd=tmp_path
    )
    assert failed.returncode == 1
    assert "agent-runs.json" in failed.stderr
    rewritten = subprocess.run(
        [sys.executable, script, "--out", str(stale)], capture_output=True, text=True, cwd=tmp_path
    )
    assert rewritten.returncode == 0, rewritten.stderr
    for path in DASHBOARDS.glob("*.json"):
        assert (stale / path.name).read_bytes() == path.read_bytes()


@pytest.fixture(scope="module")
def dashboard_schema() -> dict[str, Any]:
    path = SCHEMAS / "dashboard.jsonschema.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared fixtures are not beside this checkout)")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.fixture(scope="module")
def tempo_schema() -> dict[str, Any]:
    path = SCHEMAS / "tempo.jsonschema.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared fixtures are not beside this checkout)")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.mark.parametrize("name", sorted(committed()))
def test_dashboard_validates_against_grafanas_dashboard_schema(name: str, dashboard_schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(dashboard_schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(committed()[name])]
    assert not errors, "\n".join(errors[:20])


@pytest.mark.parametrize("name", sorted(committed()))
def test_tempo_targets_validate_against_the_tempo_query_schema(name: str, tempo_schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(tempo_schema)
    targets = [
        (panel["title"], target)
        for panel in panels_of(committed()[name])
        for target in panel.get("targets", [])
        if (target.get("datasource") or panel.get("datasource") or {}).get("type") == "tempo"
    ]
    assert targets
    for title, target in targets:
        errors = [e.message for e in validator.iter_errors(target)]
        assert not errors, f"{title}: {errors}"
        assert target.get("refId"), f"{title}: a target without refId"


def test_the_schema_gate_is_strict_enough_to_catch_a_bad_dashboard(dashboard_schema: dict[str, Any]) -> None:
    """The shared schema rejects what Grafana would choke on (so passing it means something)."""
    bad = json.loads((DASHBOARDS / "agent-runs.json").read_text())
    bad["panels"][0]["gridPos"]["w"] = "wide"
    bad["unknownKey"] = 1
    assert list(jsonschema.Draft7Validator(dashboard_schema).iter_errors(bad))


@pytest.mark.parametrize("name", sorted(committed()))
def test_the_sdks_typed_model_reads_the_dashboard_back_unchanged(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from grafana_foundation_sdk.cog.encoder import JSONEncoder
        from grafana_foundation_sdk.models import dashboard as dm

    data = committed()[name]
    assert json.loads(JSONEncoder().encode(dm.Dashboard.from_json(data))) == data


def test_every_referenced_datasource_uid_is_provisioned() -> None:
    provisioned = provisioned_datasources()
    used: set[str] = set()
    for name, dashboard in committed().items():
        for ref in datasource_refs(dashboard):
            if ref.get("type") in BUILTIN_DATASOURCE_TYPES:
                continue
            uid = ref.get("uid")
            assert uid in provisioned, f"{name}: data source uid {uid!r} is not provisioned"
            assert provisioned[uid]["type"] == ref.get("type"), f"{name}: {uid} is a {provisioned[uid]['type']}"
            used.add(uid)
        for panel in panels_of(dashboard):
            if panel.get("type") == "row":
                continue
            assert panel.get("datasource") or all(t.get("datasource") for t in panel.get("targets", [])), (
                f"{name}: panel {panel.get('title')!r} relies on the default data source"
            )
        for url in link_urls(dashboard):
            if url.startswith("/explore"):
                panes = json.loads(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["panes"][0])
                for pane in panes.values():
                    assert pane["datasource"] in provisioned, f"{name}: Explore link to {pane['datasource']!r}"
                    for query in pane["queries"]:
                        assert query["datasource"]["uid"] in provisioned
    assert used == set(provisioned), "a provisioned data source is used by no dashboard"


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    for name, dashboard in committed().items():
        ids = [panel["id"] for panel in panels_of(dashboard)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids {ids}"
        for panel in panels_of(dashboard):
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} overflows the grid"


def variables(dashboard: dict[str, Any]) -> set[str]:
    return {v["name"] for v in dashboard["templating"]["list"]}


def test_variables_used_in_queries_and_titles_are_defined() -> None:
    builtin = {"__url_time_range", "__data", "__from", "__to", "__interval", "__value"}
    for name, dashboard in committed().items():
        defined = variables(dashboard)
        texts = [panel.get("title", "") for panel in panels_of(dashboard)]
        texts += [t.get("query", "") for panel in panels_of(dashboard) for t in panel.get("targets", [])]
        texts += list(link_urls(dashboard))
        for text in texts:
            for match in re.finditer(r"\$\{?(\w+)", text):
                assert match.group(1) in defined | builtin, f"{name}: ${match.group(1)} is not a variable"


def test_links_open_existing_dashboards_with_their_variables() -> None:
    by_uid = {d["uid"]: d for d in committed().values()}
    seen = 0
    for name, dashboard in committed().items():
        for url in link_urls(dashboard):
            if not url.startswith("/d/"):
                continue
            parts = urllib.parse.urlsplit(url)
            uid = parts.path.split("/")[2]
            assert uid in by_uid, f"{name}: link to unknown dashboard {uid}"
            for key, _ in urllib.parse.parse_qsl(parts.query.replace("${__url_time_range}", "")):
                assert key.startswith("var-") and key[4:] in variables(by_uid[uid]), f"{name}: {url}"
            seen += 1
    assert seen >= 4


def test_each_dashboard_is_as_the_issue_asks() -> None:
    runs, blame = committed()["agent-runs.json"], committed()["blame.json"]
    # Agent runs: a table of runs from Tempo, a traces panel driven by a textbox traceId.
    assert {v["name"]: v["type"] for v in runs["templating"]["list"]} == {"traceId": "textbox"}
    kinds = [(p["type"], (p.get("datasource") or {}).get("uid")) for p in panels_of(runs)]
    assert ("table", "tfotel-tempo") in kinds and ("traces", "tfotel-tempo") in kinds
    assert ("traces", "tfotel-jaeger") in kinds
    timeline = next(p for p in panels_of(runs) if p["type"] == "traces")
    assert timeline["targets"][0]["query"] == "$traceId"
    # Blame: a textbox trace_id, steps as a table and bars, rank 1 highlighted, the analyses across runs.
    assert {v["name"]: v["type"] for v in blame["templating"]["list"]} == {"trace_id": "textbox"}
    types = sorted(p["type"] for p in panels_of(blame))
    assert types.count("table") == 3 and "barchart" in types and "traces" in types
    highlighted = 0
    for panel in panels_of(blame):
        for override in panel["fieldConfig"]["overrides"] if "fieldConfig" in panel else []:
            props = {p["id"]: p["value"] for p in override["properties"]}
            steps = props.get("thresholds", {}).get("steps", [])
            if steps and steps[0]["value"] is None and steps[0]["color"] == "red" and steps[1]["value"] == 2:
                assert "Rank" in override["matcher"]["options"]["names"]
                highlighted += 1
    assert highlighted == 2, "the top-blamed step (rank 1) is highlighted in the table and the bars"
    bars = next(p for p in panels_of(blame) if p["type"] == "barchart")
    assert bars["options"]["colorByField"] == "Rank"
