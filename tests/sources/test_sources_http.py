"""The HTTP plumbing Tempo and Jaeger share: auth headers, URL checks, error mapping, size cap."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tracefork_otel.environment_variables import TFOTEL_SOURCE_AUTHORIZATION, TFOTEL_SOURCE_ORG_ID
from tracefork_otel.errors import ConfigError, SourceError
from tracefork_otel.sources._http import HttpBackend, auth_headers, map_http_errors, redact_url

SECRET = "Bearer sk-very-secret-token"


def test_auth_headers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TFOTEL_SOURCE_AUTHORIZATION, SECRET)
    monkeypatch.setenv(TFOTEL_SOURCE_ORG_ID, "tenant-1")
    assert auth_headers() == {"Authorization": SECRET, "X-Scope-OrgID": "tenant-1"}


def test_auth_header_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TFOTEL_SOURCE_AUTHORIZATION, SECRET)
    monkeypatch.setenv(TFOTEL_SOURCE_ORG_ID, "tenant-1")
    assert auth_headers("Basic dTpw", "tenant-2") == {"Authorization": "Basic dTpw", "X-Scope-OrgID": "tenant-2"}
    assert auth_headers("", "") == {}  # an empty option switches the header off


def test_no_auth_headers_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TFOTEL_SOURCE_AUTHORIZATION, raising=False)
    monkeypatch.delenv(TFOTEL_SOURCE_ORG_ID, raising=False)
    assert auth_headers() == {}


@pytest.mark.parametrize("bad", [SECRET + "\r\nX-Injected: 1", SECRET + "\u00e9", SECRET + "\0"])
def test_bad_header_values_are_refused_without_showing_them(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"TFOTEL_SOURCE_AUTHORIZATION\) must be one line of ASCII") as caught:
        auth_headers(bad)
    assert "secret" not in str(caught.value)
    if "\0" not in bad:  # the environment cannot hold a NUL
        monkeypatch.setenv(TFOTEL_SOURCE_AUTHORIZATION, bad)
        with pytest.raises(ConfigError, match="must be one line"):
            auth_headers()
    with pytest.raises(ConfigError, match="the Authorization header must be") as caught:
        HttpBackend("http://h", headers={"Authorization": bad})
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@h:3200/base?token=x#f", "http://h:3200/base"),
        ("https://h", "https://h"),
        ("http://[::1", "<unparsable URL>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_bad_limits() -> None:
    with pytest.raises(ConfigError, match="timeout"):
        HttpBackend("http://h", timeout=0)
    with pytest.raises(ConfigError, match="max_bytes"):
        HttpBackend("http://h", max_bytes=-1)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.PoolTimeout("t"), "u timed out waiting for a connection"),
        (httpx.WriteTimeout("t"), "u timed out sending"),
        (httpx.ConnectError("refused"), "cannot connect to u: refused"),
        (httpx.ReadError("reset"), "u failed: ReadError: reset"),
        (httpx.DecodingError("bad gzip"), "u failed: DecodingError: bad gzip"),
        (httpx.InvalidURL("bad"), "u is not a valid URL"),
    ],
)
def test_map_http_errors(error: Exception, message: str) -> None:
    with pytest.raises(SourceError, match=f"^{message}") as caught, map_http_errors("u"):
        raise error
    assert caught.value.__cause__ is error


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), map_http_errors("u"):
        raise KeyError("a bug stays a bug")


def _backend(response: httpx.Response, max_bytes: int = 1000) -> HttpBackend:
    client = httpx.Client(transport=httpx.MockTransport(lambda request: response))
    return HttpBackend("http://h", client=client, max_bytes=max_bytes)


def test_declared_length_over_the_cap_is_refused_before_reading() -> None:
    response = httpx.Response(200, headers={"content-length": "5000"}, content=b"x" * 5000)
    with pytest.raises(SourceError, match="http://h/p answered more than 1000 bytes"):
        _backend(response).get("/p")


def test_gzip_is_decoded_and_the_cap_applies_to_decoded_bytes() -> None:
    packed = gzip.compress(b" " * 100_000)
    response = httpx.Response(200, headers={"content-encoding": "gzip"}, content=packed)
    assert len(packed) < 1000
    with pytest.raises(SourceError, match="more than 1000 bytes"):
        _backend(response).get("/p")
    small = httpx.Response(200, headers={"content-encoding": "gzip"}, content=gzip.compress(b'{"a": 1}'))
    assert _backend(small).get("/p").documents() == [{"a": 1}]


def test_statuses_outside_passthrough() -> None:
    with pytest.raises(SourceError, match=r"http://h/p answered 404 Not Found: \(empty body\)"):
        _backend(httpx.Response(404)).get("/p", passthrough=(200,))
    with pytest.raises(SourceError, match="answered 503 Service Unavailable: " + "x" * 200 + "…"):
        _backend(httpx.Response(503, content=b"x" * 5000), max_bytes=10_000).get("/p")
