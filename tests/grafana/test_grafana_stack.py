"""The compose stack's files parse and agree with each other (no Docker needed).

collector OTLP in on 4317/4318 (published) → exporters to Tempo and Jaeger on ports those
services listen on → Grafana's data sources at URLs of those services → provisioning and
dashboards mounted from folders that exist in the repository.
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"

JAEGER_OTLP_GRPC_PORT = 4317
"""Jaeger v2's all-in-one defaults (no config file is mounted): OTLP gRPC 4317, HTTP 4318, UI and API 16686."""
JAEGER_UI_PORT = 16686
GRAFANA_PROVISIONING = PurePosixPath("/etc/grafana/provisioning")
TEMPO_DEFAULT_MAX_SPSS = 100
"""Tempo's ``query_frontend.search.max_spans_per_span_set`` default: a search asking for more is a 400."""


def load(name: str) -> Any:
    return yaml.safe_load((GRAFANA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load("compose.yaml")
    return data


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    data: dict[str, Any] = load("otel-collector.yaml")
    return data


@pytest.fixture(scope="module")
def tempo() -> dict[str, Any]:
    data: dict[str, Any] = load("tempo.yaml")
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def service_using(compose: dict[str, Any], image: str) -> tuple[str, dict[str, Any]]:
    """The long-running service of an image (not an init container)."""
    matches = [
        (name, s)
        for name, s in services(compose).items()
        if s["image"].split(":")[0] == image and "entrypoint" not in s
    ]
    assert len(matches) == 1, f"one service should run {image}: {[n for n, _ in matches]}"
    return matches[0]


def published(service: dict[str, Any]) -> dict[int, int]:
    """Container port → host port."""
    mapping = {}
    for entry in service.get("ports", []):
        host, _, container = str(entry).rpartition(":")
        mapping[int(container.split("/")[0])] = int(host.rsplit(":", 1)[-1])
    return mapping


def mounts(service: dict[str, Any]) -> dict[PurePosixPath, str]:
    """Container path → source (a path relative to grafana/, or a named volume)."""
    found = {}
    for entry in service.get("volumes", []):
        source, target, *_ = str(entry).split(":")
        found[PurePosixPath(target)] = source
    return found


def host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def option(command: list[str] | str, flag: str) -> str:
    args = command if isinstance(command, list) else command.split()
    for arg in args:
        if arg.startswith(flag + "="):
            return str(arg.split("=", 1)[1])
    raise AssertionError(f"{flag}= not in {command}")


def test_the_stack_runs_the_four_services(compose: dict[str, Any]) -> None:
    images = {s["image"].split(":")[0] for s in services(compose).values()}
    assert images == {
        "otel/opentelemetry-collector-contrib",
        "grafana/tempo",
        "jaegertracing/jaeger",
        "grafana/grafana",
    }


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", image), f"{name}: pin a release tag, not {image!r}"
    tempo_tags = {s["image"] for s in services(compose).values() if s["image"].startswith("grafana/tempo:")}
    assert len(tempo_tags) == 1, "the init container and Tempo use the same image"


def test_every_depends_on_names_a_service(compose: dict[str, Any]) -> None:
    names = set(services(compose))
    for name, service in services(compose).items():
        assert set(service.get("depends_on", [])) <= names, name


def test_the_collector_takes_otlp_on_4317_and_4318_and_publishes_them(
    compose: dict[str, Any], collector: dict[str, Any]
) -> None:
    _, service = service_using(compose, "otel/opentelemetry-collector-contrib")
    protocols = collector["receivers"]["otlp"]["protocols"]
    assert host_port(protocols["grpc"]["endpoint"]) == ("0.0.0.0", 4317)
    assert host_port(protocols["http"]["endpoint"]) == ("0.0.0.0", 4318)
    assert published(service) == {4317: 4317, 4318: 4318}
    pipeline = collector["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert set(pipeline["processors"]) <= set(collector.get("processors", {}))
    assert set(collector["service"].get("extensions", [])) <= set(collector.get("extensions", {}))


def test_the_collector_config_is_the_one_mounted(compose: dict[str, Any]) -> None:
    _, service = service_using(compose, "otel/opentelemetry-collector-contrib")
    config = PurePosixPath(option(service["command"], "--config"))
    assert (GRAFANA / mounts(service)[config]).resolve() == (GRAFANA / "otel-collector.yaml").resolve()


def test_the_collector_exports_to_tempo_and_jaeger_where_they_listen(
    compose: dict[str, Any], collector: dict[str, Any], tempo: dict[str, Any]
) -> None:
    tempo_name, _ = service_using(compose, "grafana/tempo")
    jaeger_name, jaeger = service_using(compose, "jaegertracing/jaeger")
    tempo_grpc = host_port(tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    assert tempo_grpc[0] == "0.0.0.0", "Tempo must listen beyond localhost for the collector to reach it"
    listening = {tempo_name: tempo_grpc[1], jaeger_name: JAEGER_OTLP_GRPC_PORT}
    assert jaeger.get("environment", {}).get("JAEGER_LISTEN_HOST") == "0.0.0.0"

    exporters = collector["service"]["pipelines"]["traces"]["exporters"]
    targets = set()
    for name in exporters:
        config = collector["exporters"][name]
        assert name.split("/")[0] == "otlp", f"{name}: OTLP/gRPC to both backends"
        host, port = host_port(config["endpoint"])
        assert host in services(compose), f"{name}: {host} is not a compose service"
        assert listening.get(host) == port, f"{name}: {host} does not take OTLP on {port}"
        assert config.get("tls", {}).get("insecure") is True, f"{name}: plain gRPC inside the compose network"
        targets.add(host)
    assert targets == {tempo_name, jaeger_name}


def test_tempo_stores_locally_and_serves_http_on_3200(compose: dict[str, Any], tempo: dict[str, Any]) -> None:
    _, service = service_using(compose, "grafana/tempo")
    assert tempo["server"]["http_listen_port"] == 3200
    assert published(service) == {3200: 3200}
    storage = tempo["storage"]["trace"]
    assert storage["backend"] == "local"
    config = PurePosixPath(option(service["command"], "-config.file"))
    assert (GRAFANA / mounts(service)[config]).resolve() == (GRAFANA / "tempo.yaml").resolve()
    data = mounts(service)[PurePosixPath("/var/tempo")]
    assert data in compose.get("volumes", {}), "Tempo's data is a named volume"
    for path in (storage["wal"]["path"], storage["local"]["path"]):
        assert PurePosixPath(path).is_relative_to("/var/tempo")
    init = [s for s in services(compose).values() if s["image"].startswith("grafana/tempo:") and "entrypoint" in s]
    assert init and mounts(init[0]).get(PurePosixPath("/var/tempo")) == data


def test_dashboard_searches_stay_within_tempos_limits(tempo: dict[str, Any]) -> None:
    import json

    search = (tempo.get("query_frontend") or {}).get("search") or {}
    max_spss = search.get("max_spans_per_span_set", TEMPO_DEFAULT_MAX_SPSS)
    searches = 0
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        stack = list(json.loads(path.read_text())["panels"])
        while stack:
            panel = stack.pop()
            stack += panel.get("panels", [])
            for target in panel.get("targets", []):
                if "spss" in target:
                    searches += 1
                    assert 1 <= target["spss"] <= (max_spss or target["spss"]), f"{path.name}: {panel['title']}"
                    assert target["limit"] >= 1
    assert searches >= 5


def test_grafana_datasources_point_at_the_tempo_and_jaeger_services(
    compose: dict[str, Any], tempo: dict[str, Any]
) -> None:
    tempo_name, _ = service_using(compose, "grafana/tempo")
    jaeger_name, jaeger = service_using(compose, "jaegertracing/jaeger")
    datasources = {ds["uid"]: ds for ds in load("provisioning/datasources/datasources.yaml")["datasources"]}
    assert set(datasources) == {"tfotel-tempo", "tfotel-jaeger"}
    expected = {
        "tfotel-tempo": ("tempo", tempo_name, tempo["server"]["http_listen_port"]),
        "tfotel-jaeger": ("jaeger", jaeger_name, JAEGER_UI_PORT),
    }
    for uid, (kind, host, port) in expected.items():
        url = urllib.parse.urlsplit(datasources[uid]["url"])
        assert datasources[uid]["type"] == kind
        assert (url.scheme, url.hostname, url.port) == ("http", host, port), f"{uid}: {datasources[uid]['url']}"
        assert datasources[uid].get("access", "proxy") == "proxy", "Grafana's server reaches the compose network"
    assert published(jaeger).get(JAEGER_UI_PORT) == JAEGER_UI_PORT


def test_grafana_mounts_provisioning_and_dashboards_that_exist(compose: dict[str, Any]) -> None:
    _, grafana = service_using(compose, "grafana/grafana")
    mounted = mounts(grafana)
    for target, source in mounted.items():
        assert source.startswith("./"), f"{target}: mount a folder of the repository, not {source}"
        assert (GRAFANA / source).exists(), f"{source} (mounted at {target}) is not in grafana/"
    provisioning = GRAFANA / mounted[GRAFANA_PROVISIONING]
    assert (provisioning / "datasources" / "datasources.yaml").is_file()
    providers = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())["providers"]
    assert len(providers) == 1 and providers[0]["type"] == "file"
    path = PurePosixPath(providers[0]["options"]["path"])
    assert path in mounted, f"the dashboards provider reads {path}, which compose does not mount"
    folder = (GRAFANA / mounted[path]).resolve()
    assert folder == (GRAFANA / "dashboards").resolve()
    assert sorted(p.name for p in folder.glob("*.json")), "no dashboards to provision"
    home = PurePosixPath(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home.parent == path and (folder / home.name).is_file()
    assert published(grafana) == {3000: 3000}


def test_grafana_lets_a_local_user_in_as_admin(compose: dict[str, Any]) -> None:
    _, grafana = service_using(compose, "grafana/grafana")
    env = grafana["environment"]
    assert str(env["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Admin"


def test_the_readme_documents_the_stack_and_every_query() -> None:
    import json

    readme = (GRAFANA / "README.md").read_text(encoding="utf-8")
    assert "docker compose -f grafana/compose.yaml up" in readme
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 tfotel demo" in readme
    for path in sorted((GRAFANA / "dashboards").glob("*.json")):
        stack = list(json.loads(path.read_text())["panels"])
        while stack:
            panel = stack.pop()
            stack += panel.get("panels", [])
            if panel["type"] != "row":
                assert panel["title"].split(" \N{EM DASH} ")[0] in readme, f"README: panel {panel['title']!r}"
            for target in panel.get("targets", []):
                assert target["query"] in readme, f"README: the query of {panel['title']!r}: {target['query']}"
