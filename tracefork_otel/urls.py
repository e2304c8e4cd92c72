"""URLs made safe to write down: no user info, no query, no fragment.

A blob-store or backend URL may carry credentials (``ftp://user:pw@host/x``,
``s3://key:secret@bucket``, ``https://host/x?X-Amz-Signature=…``). Whatever is written
to a span, a tape, a report, a log or an error message goes through :func:`safe_url`
(one URL) or :func:`scrub_urls` (free text that may quote one, such as a library's
exception message).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Final

UNPARSABLE: Final = "<unparsable URL>"

_USERINFO: Final = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@?#]*@")
_QUERY: Final = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s?#]*)[?#][^\s]*")


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment; a plain path (no ``scheme://``) is returned as is."""
    if "://" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
    except ValueError:
        return UNPARSABLE
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub_urls(text: str) -> str:
    """``text`` with the user info, query and fragment of every ``scheme://`` URL in it removed."""
    return _QUERY.sub(r"\g<head>", _USERINFO.sub(r"\g<scheme>", text))
