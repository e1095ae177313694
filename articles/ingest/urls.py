"""Canonical article URLs: one story, one URL, whatever campaign link it arrived by."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Parameters that say who sent the reader, never which page it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "cmpid",
        "ncid",
        "sr_share",
        "share",
        "spm",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Google Alerts and News wrap the real link: https://www.google.com/url?...&url=REAL
REDIRECT_WRAPPERS = re.compile(r"^(www\.)?google\.[a-z.]+$")


def is_tracking_param(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str, *, base: str = "") -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    the rest of the query sorted. Returns "" for anything that is not an http(s) URL."""
    url = (url or "").strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return ""
    query = parse_qsl(parts.query, keep_blank_values=True)
    if REDIRECT_WRAPPERS.match(host) and parts.path == "/url":
        target = dict(query).get("url") or dict(query).get("q")
        if target and target.startswith(("http://", "https://")):
            return canonical_url(target)
    netloc = host if ":" not in host else f"[{host}]"
    if port and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    kept = sorted((k, v) for k, v in query if not is_tracking_param(k))
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(kept, doseq=True), ""))
