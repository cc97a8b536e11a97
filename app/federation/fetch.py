"""Fetching from other instances: key sets, status lists, trust lists.

Everything fetched here comes from a server we do not run, so every fetch is bounded: http or
https only, no redirects (a redirect could lead anywhere, including this host's private network),
a short timeout, and a byte cap enforced while the body streams in, so a huge or endless answer
costs at most the cap.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from app.credentials import format as fmt

#: A key set is a few keys; 64 KiB is far more than any honest one.
MAX_JWKS_BYTES: Final = 64 * 1024
#: A status list token of 2^17 one-bit slots is a few KiB; the verifier's own cap is 1 MB.
MAX_STATUS_BYTES: Final = 1_000_000
#: A trust list of a thousand issuers with a few keys each.
MAX_TRUST_LIST_BYTES: Final = 4_000_000


class FetchError(Exception):
    """The resource could not be fetched or read; the message says why, for people.

    ``unreachable`` is the other server's state (down, slow, an error status, a redirect);
    otherwise it answered, with something unusable (too large, not JSON).
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def check_url(url: str) -> str:
    """The URL, if it is an absolute http(s) URL with a host; FetchError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(f"{url[:200]!r} is not an http(s) URL")
    if len(url) > fmt.MAX_URL_CHARS:
        raise FetchError(f"URL longer than {fmt.MAX_URL_CHARS} characters")
    return url


def fetch(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """The body of a 200 answer to GET url, at most max_bytes long."""
    check_url(url)
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json, */*"}) as response,
        ):
            if response.is_redirect:
                raise FetchError(
                    f"{url} answered a redirect ({response.status_code}), not followed",
                    unreachable=True,
                )
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}", unreachable=True)
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"{url} is larger than {max_bytes} bytes")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"{url} is larger than {max_bytes} bytes")
            return bytes(body)
    except httpx.TimeoutException:
        raise FetchError(f"{url} did not answer within {timeout:g} s", unreachable=True) from None
    except httpx.HTTPError as exc:
        raise FetchError(
            f"{url} does not answer ({type(exc).__name__})", unreachable=True
        ) from None


def fetch_json(url: str, *, max_bytes: int, timeout: float) -> Any:
    try:
        return fmt.loads_strict(fetch(url, max_bytes=max_bytes, timeout=timeout))
    except fmt.FormatError as exc:
        raise FetchError(f"{url} is not JSON ({exc})") from None


def jwks_uri(iss: str) -> str:
    return f"{iss}/.well-known/jwks.json"
