"""Local peers of the IT and finance sources: GitLab, Jira Data Center and a finance REST
API on one HTTP server, for the demo and tests.

``with ITPeer() as peer:`` serves on 127.0.0.1 until the block ends. What it serves is set
per project / Jira project / finance ledger before syncing:

- ``GET /api/v4/projects/{id}/deployments`` — GitLab deployments (one page);
- ``GET /rest/api/2/search?jql=project = KEY …&startAt=`` — Jira Data Center issues, paged;
- ``GET /finance/{ledger}`` — finance rows ``[{date, kind, amount, currency, category,
  description}]``.

The shapes are those of the real APIs as far as the adapters read them
(``connectors/sources/delivery.py``, ``connectors/sources/rest.py``).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

JIRA_PAGE = 200


class ITPeer:
    """One HTTP server answering as GitLab, Jira Data Center and a finance API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.deployments: dict[str, list[dict]] = {}
        self.issues: dict[str, list[dict]] = {}
        self.finance: dict[str, list[dict]] = {}
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet: the demo prints its own lines
                return

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = peer.answer(url.path, query)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, path: str, query: dict) -> object | None:
        """The JSON body for a request, or None for 404."""
        if match := re.fullmatch(r"/api/v4/projects/([^/]+)/deployments", path):
            return self.deployments.get(unquote(match.group(1)))
        if path == "/rest/api/2/search":
            key = re.search(r"project\s*=\s*\"?([A-Z][A-Z0-9]*)", query.get("jql", ""))
            issues = self.issues.get(key.group(1), []) if key else []
            start = int(query.get("startAt", 0))
            return {
                "startAt": start,
                "maxResults": JIRA_PAGE,
                "total": len(issues),
                "issues": issues[start : start + JIRA_PAGE],
            }
        if match := re.fullmatch(r"/finance/([\w-]+)", path):
            return self.finance.get(match.group(1))
        return None

    def __enter__(self) -> ITPeer:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
