"""Shared HTTP machinery of the REST-based adapters (httpx).

- The target is the allowlisted host of ``base_url``, resolved once: every request of a
  sync connects to that checked address (``coe.network.pinned_client``) while the
  host name stays in the ``Host`` header and TLS. Pagination links pointing anywhere else
  are refused, and redirects are never followed (a 3xx is an error).
- ``429 Too Many Requests`` waits ``Retry-After`` seconds (capped by ``max_wait_s``);
  5xx answers, timeouts and connection errors are retried ``retries`` times with
  exponential backoff; then the error surfaces (``SourceIncomplete`` when some pages
  were already read, a connection error otherwise).
- ``401`` and ``403`` are ``CredentialsRejected``: never retried, the run fails.
- An error names the method, the path, the status code and reason only: an upstream body
  (which may echo the request's headers, token included) is never copied into a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx
from django.utils import timezone

from coe import network
from connectors.records import SourceIncomplete
from connectors.sources.base import Adapter, only_keys

COMMON_KEYS = {"base_url", "timeout_s", "retries", "max_wait_s", "max_pages", "verify_tls"}


class HTTPSourceError(ConnectionError):
    """The source answered with an error we cannot retry (or retried in vain)."""


class CredentialsRejected(Exception):
    """The source refused the connector's credentials (401/403); retrying cannot help."""


def dig(data, path: str, default=None):
    """``data`` at a dotted ``path`` (``device_type.manufacturer.name``); default if absent."""
    if not path:
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


def validate_common(settings: dict, extra: set[str]) -> dict:
    """``base_url`` and the HTTP knobs, checked; ValueError naming the bad key."""
    only_keys(settings, COMMON_KEYS | extra)
    base_url = settings.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError("base_url: required, http(s)://host[:port][/path]")
    if not urlsplit(base_url).hostname:
        raise ValueError("base_url: no host")
    clean = dict(settings)
    clean["base_url"] = base_url.rstrip("/") + "/"
    for key, default, low, high in (
        ("timeout_s", 30, 1, 600),
        ("retries", 3, 0, 10),
        ("max_wait_s", 120, 0, 3600),
        ("max_pages", 10000, 1, 1_000_000),
    ):
        value = settings.get(key, default)
        if not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"{key}: a number from {low} to {high}")
        clean[key] = value
    clean["verify_tls"] = bool(settings.get("verify_tls", True))
    return clean


class HTTPAdapter(Adapter):
    """Base of the adapters that read a JSON HTTP API."""

    default_port = 443
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    @classmethod
    def target_of(cls, settings: dict) -> tuple[str, int]:
        parts = urlsplit(settings["base_url"])
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate (``Authorization: Bearer <token>`` by default)."""
        token = self.credentials.get("token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def client(self) -> httpx.Client:
        """A client pinned to the checked address of the target (see the module doc)."""
        return network.pinned_client(
            self.target,
            verify=self.settings.get("verify_tls", True),
            headers={"Accept": "application/json", **self.auth_headers()},
            timeout=self.settings.get("timeout_s", 30),
            follow_redirects=False,
        )

    def secrets(self) -> list[str]:
        """Values to scrub from any stored text: the credentials and the auth headers."""
        values = [v for v in self.credentials.values() if isinstance(v, str)]
        return values + list(self.auth_headers().values())

    def url(self, path_or_url: str) -> str:
        """An absolute URL on the target; a link to another host is refused."""
        url = urljoin(self.settings["base_url"], path_or_url)
        parts = urlsplit(url)
        base = urlsplit(self.settings["base_url"])
        if (parts.scheme, parts.hostname, parts.port) != (base.scheme, base.hostname, base.port):
            raise HTTPSourceError(
                f"a link to {parts.scheme}://{parts.hostname}: not on the connector's host; refused"
            )
        return url

    def _retry_after(self, response: httpx.Response) -> float:
        value = response.headers.get("Retry-After", "")
        try:
            wait = float(value)
        except ValueError:
            try:
                wait = (parsedate_to_datetime(value) - timezone.now()).total_seconds()
            except (TypeError, ValueError):
                wait = 1.0
        return max(0.0, min(wait, float(self.settings.get("max_wait_s", 120))))

    def get(
        self, client: httpx.Client, path_or_url: str, params: dict | None = None
    ) -> httpx.Response:
        """GET with 429/5xx/timeout handling; returns a 2xx response or raises."""
        url = self.url(path_or_url)
        where = f"GET {urlsplit(url).path or '/'}"  # no query string: it may carry keys
        retries = int(self.settings.get("retries", 3))
        attempt = 0
        while True:
            try:
                response = client.get(url, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= retries:
                    raise HTTPSourceError(f"{where}: {exc.__class__.__name__}: {exc}") from exc
                self.sleep(min(2**attempt, 30))
                attempt += 1
                continue
            if response.status_code == 429 and attempt < retries:
                self.sleep(self._retry_after(response))
                attempt += 1
                continue
            if response.status_code >= 500 and attempt < retries:
                self.sleep(min(2**attempt, 30))
                attempt += 1
                continue
            status = f"{response.status_code} {response.reason_phrase}".strip()
            if response.status_code in (401, 403):
                raise CredentialsRejected(f"{where}: {status}: the source refused the credentials")
            if 300 <= response.status_code < 400:
                raise HTTPSourceError(f"{where}: {status}: redirect not followed")
            if response.status_code >= 400:
                raise HTTPSourceError(f"{where}: {status}")
            return response

    def get_json(self, client: httpx.Client, path_or_url: str, params: dict | None = None):
        response = self.get(client, path_or_url, params)
        try:
            return response.json(), response
        except ValueError as exc:
            raise HTTPSourceError(f"GET {response.url.path}: the answer is not JSON") from exc

    def paged(self, page: Callable[[httpx.Client, int], tuple[list, bool]]) -> Iterator:
        """Items of ``page(client, n)`` for n = 0, 1, … until it says there is no more.

        ``page`` returns ``(items, more)``. A failure after the first page is
        ``SourceIncomplete`` (the items already yielded are kept).
        """
        with self.client() as client:
            for number in range(int(self.settings.get("max_pages", 10000))):
                try:
                    items, more = page(client, number)
                except HTTPSourceError as exc:
                    if number == 0:
                        raise
                    raise SourceIncomplete(f"stopped after {number} page(s): {exc}") from exc
                yield from items
                if not more:
                    return
            raise SourceIncomplete(f"more than {self.settings.get('max_pages')} pages")

    def connection_errors(self) -> tuple[type[BaseException], ...]:
        return (HTTPSourceError, httpx.TransportError, ConnectionError, OSError, TimeoutError)
