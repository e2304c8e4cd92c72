"""The HTTP plumbing the Tempo and Jaeger sources share.

One GET helper (:class:`HttpBackend`) with the request headers, a timeout, no
redirects, a cap on the body size, and one place (:func:`map_http_errors`) where
httpx's exceptions become :class:`SourceError`. Header values (``Authorization``,
``X-Scope-OrgID``) are secrets: they are checked here so that no lower layer ever
echoes one into an error message, and no message here names them.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from tracefork_otel.environment_variables import TFOTEL_SOURCE_AUTHORIZATION, TFOTEL_SOURCE_ORG_ID
from tracefork_otel.errors import ConfigError, SourceError
from tracefork_otel.sources._otlp_json import load_documents
from tracefork_otel.urls import safe_url

DEFAULT_TIMEOUT: Final = 10.0
"""Seconds one request may take, from connecting to the last byte of the body (a deadline, not a
per-read timeout: a backend trickling a byte at a time cannot hold a command past it)."""

MAX_RESPONSE_BYTES: Final = 256 * 1024 * 1024
"""Largest decoded response body read; a larger trace is refused rather than buffered."""

AUTHORIZATION_HEADER: Final = "Authorization"
ORG_ID_HEADER: Final = "X-Scope-OrgID"
"""Tempo's (and Grafana Cloud's) tenant header."""

_ROUTE_MISSING: Final = "404 page not found"  # Go's net/http answer for an unknown path


def auth_headers(authorization: str | None = None, org_id: str | None = None) -> dict[str, str]:
    """The auth headers for a source: each argument, else its environment variable.

    ``authorization`` falls back to ``$TFOTEL_SOURCE_AUTHORIZATION`` and ``org_id`` to
    ``$TFOTEL_SOURCE_ORG_ID``; empty values are left out.

    Raises:
        ConfigError: a value holds a line break or a non-ASCII character (the message
            names the variable, never the value).
    """
    headers: dict[str, str] = {}
    for header, value, variable in (
        (AUTHORIZATION_HEADER, authorization, TFOTEL_SOURCE_AUTHORIZATION),
        (ORG_ID_HEADER, org_id, TFOTEL_SOURCE_ORG_ID),
    ):
        given = value if value is not None else os.environ.get(variable, "")
        if given.strip():
            _check_header_value(header, given, f"the {header} value (option or ${variable})")
            headers[header] = given.strip()
    return headers


def redact_url(url: str | httpx.URL) -> str:
    """``url`` without user info or query, safe for names and messages."""
    return safe_url(str(url))


@contextlib.contextmanager
def map_http_errors(url: str) -> Iterator[None]:
    """Turn httpx's exceptions raised in the block into :class:`SourceError` naming ``url``.

    The cause is kept (``raise … from``). ``url`` must already be redacted.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the answer",
            httpx.WriteTimeout: "sending",
            httpx.PoolTimeout: "waiting for a connection",
        }.get(type(exc), "waiting")
        raise SourceError(f"{url} timed out {phase}") from exc
    except httpx.ConnectError as exc:
        raise SourceError(f"cannot connect to {url}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"{url} failed: {type(exc).__name__}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise SourceError(f"{url} is not a valid URL: {exc}") from exc


@dataclass(frozen=True)
class Answer:
    """A response that passed the shared checks: its status, redacted URL and body."""

    url: str
    status_code: int
    body: bytes

    def documents(self) -> list[object]:
        """The body as JSON (one document, or JSON Lines as grpc-gateway streams them).

        Raises:
            SourceError: the body is not JSON.
        """
        return load_documents(self.body.decode("utf-8", errors="replace"), f"the answer of {self.url}")

    def json_or_none(self) -> object:
        """The body as one JSON document, or None if it is not one."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def route_missing(self) -> bool:
        """True for a 404 that says the path does not exist (not that the trace does not)."""
        text = self.body.decode("utf-8", errors="replace").strip().lower()
        return text == _ROUTE_MISSING or text.startswith(("<!doctype html", "<html"))

    def excerpt(self) -> str:
        """The start of the body on one line, for error messages."""
        text = " ".join(self.body[:300].decode("utf-8", errors="replace").split())
        return text[:200] + ("…" if len(text) > 200 or len(self.body) > 300 else "")


class HttpBackend:
    """GETs JSON from one HTTP API and applies the checks every source wants.

    Not thread-safe when it owns no client (it makes one per request); with an
    injected ``httpx.Client`` it is as thread-safe as that client, which it never closes.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """Check the arguments; nothing is sent yet.

        Raises:
            ConfigError: ``base_url`` is not an absolute http(s) URL without a query, a
                header value has a line break or non-ASCII character, or ``timeout`` /
                ``max_bytes`` is not positive.
        """
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ConfigError(f"bad source URL {redact_url(str(base_url))}: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise ConfigError(
                f"bad source URL {redact_url(url)}: expected http(s)://host[:port][/base-path], without a query"
            )
        if not timeout > 0 or max_bytes <= 0:
            raise ConfigError(f"bad source limits: timeout {timeout!r} and max_bytes {max_bytes!r} must be > 0")
        for name, value in (headers or {}).items():
            _check_header_value(name, value, f"the {name} header")
        self.base_url = redact_url(url).rstrip("/")
        self._base = str(url).rstrip("/")
        self._client = client
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._timeout = httpx.Timeout(timeout)
        self._timeout_s = timeout
        self._max_bytes = max_bytes

    def get(self, path: str, *, passthrough: Collection[int] = (200, 404)) -> Answer:
        """GET ``base_url + path`` and return the answer if its status is in ``passthrough``.

        Raises:
            SourceError: timeout, connection or protocol error; a redirect (never
                followed); 401/403 (refused); any other status outside ``passthrough``;
                a body larger than ``max_bytes``.
        """
        shown = f"{self.base_url}{path}"
        response, body = self._fetch_by_deadline(path, shown)
        answer = Answer(shown, response.status_code, body)
        if response.status_code in passthrough:
            return answer
        status = f"{response.status_code} {response.reason_phrase}".strip()
        if response.is_redirect:
            location = redact_url(response.headers.get("location", "")) or "?"
            raise SourceError(
                f"{shown} answered {status} to {location}; redirects are not followed, give the final URL as the source"
            )
        if response.status_code in (401, 403):
            raise SourceError(
                f"{shown} refused: {status}; check the Authorization / X-Scope-OrgID values "
                f"(${TFOTEL_SOURCE_AUTHORIZATION}, ${TFOTEL_SOURCE_ORG_ID})"
            )
        raise SourceError(f"{shown} answered {status}: {answer.excerpt() or '(empty body)'}")

    def _fetch_by_deadline(self, path: str, shown: str) -> tuple[httpx.Response, bytes]:
        """The response and its whole body, within ``timeout`` seconds from now.

        httpx's timeouts bound each connect and each read; a body (or header) trickled a
        byte at a time never trips them. So the request runs on a worker thread, which
        also checks the deadline between chunks and gives up; the caller waits for it
        until the deadline and no longer.
        """
        deadline = time.monotonic() + self._timeout_s
        outcome: list[tuple[httpx.Response, bytes] | BaseException] = []

        def fetch() -> None:
            try:
                with map_http_errors(shown), self._session() as client:
                    request = client.build_request(
                        "GET", self._base + path, headers=self._headers, timeout=self._timeout
                    )
                    response = client.send(request, stream=True, follow_redirects=False)
                    try:
                        outcome.append((response, self._read(response, shown, deadline)))
                    finally:
                        response.close()
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=fetch, name="tfotel-source-get", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive() or not outcome:
            raise SourceError(f"{shown} timed out waiting for the answer")
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    @contextlib.contextmanager
    def _session(self) -> Iterator[httpx.Client]:
        if self._client is not None:
            yield self._client
            return
        with httpx.Client(follow_redirects=False, timeout=self._timeout) as client:
            yield client

    def _read(self, response: httpx.Response, shown: str, deadline: float) -> bytes:
        declared = response.headers.get("content-length", "")
        too_big = SourceError(f"{shown} answered more than {self._max_bytes} bytes; the trace is too large to read")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise too_big
        body = bytearray()
        for chunk in response.iter_bytes():  # decoded, so a gzip bomb is capped too
            body += chunk
            if len(body) > self._max_bytes:
                raise too_big
            if time.monotonic() > deadline:  # the caller has given up: stop reading
                raise SourceError(f"{shown} timed out waiting for the answer")
        return bytes(body)


def _check_header_value(name: str, value: str, what: str) -> None:
    if not isinstance(value, str) or not value.isascii() or any(c in value for c in "\r\n\0"):
        raise ConfigError(f"{what} must be one line of ASCII text")
