"""Software delivery sources: GitLab deployments (DORA) and Jira issues (flow).

GitLab settings ``{base_url, project (id or path), environment (default "production"),
incident_label?, initial_days?, per_page?}``, credentials ``{token}`` (sent as
``PRIVATE-TOKEN``). Reads ``/api/v4/projects/:id/deployments`` filtered by environment
and ``updated_after``, ordered by ``updated_at``, paged by ``page`` / ``X-Next-Page``. A
deployment's finish time is its job's ``finished_at`` (else ``updated_at``); lead time
uses the deployed commit's ``created_at`` (the job's ``commit``, else
``/repository/commits/:sha``). With ``incident_label``, issues carrying it are landed as
incidents (a failure signal for DORA).

Jira settings ``{base_url, flavour: cloud | datacenter, jql?, team_field?, initial_days?,
page_size?}``, credentials ``{token, email?}`` (Cloud: basic ``email:token``; Data Center:
a bearer personal access token). Cloud pages ``/rest/api/3/search/jql`` by
``nextPageToken``; Data Center pages ``/rest/api/2/search`` by ``startAt``/``total``.

GitHub (``GitHubAdapter``): deployments of a repository and environment, see its class.

All three are incremental: the cursor keeps the newest ``updated`` seen; the first sync (no
cursor) reaches back ``initial_days`` (default 90).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import quote

from django.utils import timezone

from connectors import tables
from connectors.fact_ingest import DeploymentRecord, FactIngestSession, WorkItemRecord
from connectors.records import RecordError
from connectors.sources.base import Item
from connectors.sources.http import HTTPAdapter, dig, validate_common


def _when(value) -> datetime | None:
    if not value:
        return None
    try:
        return tables.moment(value)
    except ValueError:
        return None


def _int_setting(settings: dict, key: str, default: int, low: int, high: int) -> int:
    value = settings.get(key, default)
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key}: an integer from {low} to {high}")
    return value


class DeliveryAdapter(HTTPAdapter):
    """Common part: the incremental window."""

    session_class = FactIngestSession

    def since(self) -> datetime:
        """Where this sync starts: the cursor, else ``initial_days`` back."""
        stored = _when(self.cursor.get("updated_after"))
        if stored:
            return stored
        return timezone.now() - timedelta(days=self.settings.get("initial_days", 90))

    def advance(self, updated: datetime | None) -> None:
        """Move the cursor to the newest ``updated`` seen (saved only after a success)."""
        if updated is None:
            return
        current = _when(self.cursor.get("updated_after"))
        if current is None or updated > current:
            self.cursor["updated_after"] = updated.isoformat()


class GitLabAdapter(DeliveryAdapter):
    """GitLab deployments of one project and environment, and incident issues."""

    kind = "gitlab"

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        clean = validate_common(
            settings, {"project", "environment", "incident_label", "initial_days", "per_page"}
        )
        project = settings.get("project")
        if not isinstance(project, int | str) or project in ("", None):
            raise ValueError("project: required (numeric id or group/name path)")
        clean["project"] = str(project)
        clean["environment"] = str(settings.get("environment") or "production")
        clean["incident_label"] = str(settings.get("incident_label") or "")
        clean["initial_days"] = _int_setting(settings, "initial_days", 90, 1, 3650)
        clean["per_page"] = _int_setting(settings, "per_page", 100, 1, 100)
        return clean

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("token")
        return {"PRIVATE-TOKEN": token} if token else {}

    def project_path(self) -> str:
        return f"api/v4/projects/{quote(self.settings['project'], safe='')}"

    def fetch(self) -> Iterator[Item]:
        since = self.since().isoformat()
        yield from self.deployments(since)
        if self.settings["incident_label"]:
            yield from self.incidents(since)

    def _x_next_page(self, path: str, params: dict) -> Iterator[tuple[object, dict]]:
        """Items of a GitLab list, paged by ``page`` until ``X-Next-Page`` is empty."""
        state = {"page": 1}

        def page(client, _number):
            body, response = self.get_json(
                client, path, {**params, "page": state["page"], "per_page": self.per_page}
            )
            if not isinstance(body, list):
                raise ValueError(f"{path}: expected a JSON list")
            following = response.headers.get("X-Next-Page", "").strip()
            if following:
                state["page"] = int(following)
            return [(client, item) for item in body], bool(following)

        return self.paged(page)

    @property
    def per_page(self) -> int:
        return self.settings.get("per_page", 100)

    def deployments(self, since: str) -> Iterator[Item]:
        path = f"{self.project_path()}/deployments"
        params = {
            "environment": self.settings["environment"],
            "updated_after": since,
            "order_by": "updated_at",
            "sort": "asc",
        }
        commits: dict[str, datetime | None] = {}
        for client, item in self._x_next_page(path, params):
            deployable = item.get("deployable") or {}
            finished = _when(deployable.get("finished_at")) or _when(item.get("updated_at"))
            if finished is None:
                yield RecordError(str(item.get("id", "")), "deployment without a finish time")
                continue
            sha = str(item.get("sha") or dig(deployable, "commit.id") or "")
            created = _when(dig(deployable, "commit.created_at"))
            if created is None and sha and item.get("status") == "success":
                if sha not in commits:
                    commit, _ = self.get_json(
                        client, f"{self.project_path()}/repository/commits/{sha}"
                    )
                    commits[sha] = _when(commit.get("created_at"))
                created = commits[sha]
            self.advance(_when(item.get("updated_at")))
            yield DeploymentRecord(
                source_id=f"{self.settings['project']}:{item.get('id')}",
                environment=str(dig(item, "environment.name") or self.settings["environment"]),
                status=str(item.get("status") or ""),
                finished_at=finished,
                commit_sha=sha,
                commit_created_at=created,
            )

    def incidents(self, since: str) -> Iterator[Item]:
        path = f"{self.project_path()}/issues"
        params = {
            "labels": self.settings["incident_label"],
            "updated_after": since,
            "order_by": "updated_at",
            "sort": "asc",
            "scope": "all",
        }
        for _client, item in self._x_next_page(path, params):
            created = _when(item.get("created_at"))
            if created is None:
                continue
            self.advance(_when(item.get("updated_at")))
            yield WorkItemRecord(
                key=f"{self.settings['project']}#{item.get('iid')}",
                created=created,
                resolved=_when(item.get("closed_at")),
                issue_type="incident",
                status=str(item.get("state") or ""),
                kind="incident",
                team=self.settings["environment"],
            )


GITHUB_STATES = {
    "success": "success",
    "inactive": "success",
    "failure": "failed",
    "error": "failed",
}


def next_link(header: str) -> str:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header ("" when none)."""
    for part in header.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", ""):
            return url.strip().strip("<>")
    return ""


class GitHubAdapter(DeliveryAdapter):
    """GitHub deployments of one repository and environment (REST API v3).

    Settings ``{base_url (https://api.github.com), repository "owner/name", environment,
    initial_days?, per_page?}``, credentials ``{token}``. Lists
    ``/repos/:repo/deployments?environment=…`` (newest first, paged by the ``Link``
    header) down to the cursor; a deployment's outcome and finish time are its latest
    status (success/inactive → success, failure/error → failed; others are skipped as
    unfinished), its lead time starts at the commit's committer date.
    """

    kind = "github"

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        clean = validate_common(settings, {"repository", "environment", "initial_days", "per_page"})
        repository = settings.get("repository")
        if not isinstance(repository, str) or repository.count("/") != 1:
            raise ValueError("repository: owner/name")
        clean["repository"] = repository
        clean["environment"] = str(settings.get("environment") or "production")
        clean["initial_days"] = _int_setting(settings, "initial_days", 90, 1, 3650)
        clean["per_page"] = _int_setting(settings, "per_page", 100, 1, 100)
        return clean

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("token")
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        return {**headers, "Authorization": f"Bearer {token}"} if token else headers

    def fetch(self) -> Iterator[Item]:
        since = self.since()
        repo = f"repos/{self.settings['repository']}"
        state = {"url": f"{repo}/deployments", "first": True}

        def page(client, _number):
            params = None
            if state["first"]:
                params = {"environment": self.settings["environment"], "per_page": self.per_page}
            body, response = self.get_json(client, state["url"], params)
            state["first"] = False
            rows = [(client, d) for d in body if (_when(d.get("created_at")) or since) >= since]
            state["url"] = next_link(response.headers.get("Link", ""))
            return rows, bool(state["url"]) and len(rows) == len(body)

        commits: dict[str, datetime | None] = {}
        for client, item in self.paged(page):
            statuses, _ = self.get_json(
                client, f"{repo}/deployments/{item['id']}/statuses", {"per_page": 1}
            )
            latest = statuses[0] if statuses else {}
            status = GITHUB_STATES.get(latest.get("state", ""))
            if status is None:
                continue  # queued, pending or in progress: not finished yet
            sha = str(item.get("sha") or "")
            if sha and sha not in commits:
                commit, _ = self.get_json(client, f"{repo}/commits/{sha}")
                commits[sha] = _when(dig(commit, "commit.committer.date"))
            finished = _when(latest.get("created_at"))
            self.advance(_when(item.get("created_at")))
            yield DeploymentRecord(
                source_id=f"{self.settings['repository']}:{item['id']}",
                environment=str(item.get("environment") or self.settings["environment"]),
                status=status,
                finished_at=finished,
                commit_sha=sha,
                commit_created_at=commits.get(sha),
            )

    @property
    def per_page(self) -> int:
        return self.settings.get("per_page", 100)


class JiraAdapter(DeliveryAdapter):
    """Jira issues (Cloud or Data Center) with creation, resolution and team."""

    kind = "jira"

    @classmethod
    def validate_settings(cls, settings: dict) -> dict:
        clean = validate_common(
            settings, {"flavour", "jql", "team_field", "initial_days", "page_size"}
        )
        flavour = settings.get("flavour", "cloud")
        if flavour not in ("cloud", "datacenter"):
            raise ValueError("flavour: cloud or datacenter")
        clean["flavour"] = flavour
        clean["jql"] = str(settings.get("jql") or "")
        clean["team_field"] = str(settings.get("team_field") or "project")
        clean["initial_days"] = _int_setting(settings, "initial_days", 90, 1, 3650)
        clean["page_size"] = _int_setting(settings, "page_size", 100, 1, 1000)
        return clean

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("token")
        if not token:
            return {}
        email = self.credentials.get("email")
        if email:
            raw = base64.b64encode(f"{email}:{token}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {"Authorization": f"Bearer {token}"}

    def jql(self) -> str:
        since = self.since() - timedelta(minutes=1)  # Jira's JQL has minute resolution
        window = f'updated >= "{since:%Y/%m/%d %H:%M}"'
        user = self.settings["jql"].strip()
        where = f"({user}) AND {window}" if user else window
        return f"{where} ORDER BY updated ASC"

    def fields(self) -> str:
        team = self.settings["team_field"].split(".")[0]
        return ",".join(
            sorted({"created", "resolutiondate", "status", "issuetype", "project", "updated", team})
        )

    def fetch(self) -> Iterator[Item]:
        size = self.settings["page_size"]
        params = {"jql": self.jql(), "fields": self.fields(), "maxResults": size}
        state: dict = {"token": None, "start": 0}

        def cloud(client, _number):
            query = dict(params)
            if state["token"]:
                query["nextPageToken"] = state["token"]
            body, _ = self.get_json(client, "rest/api/3/search/jql", query)
            state["token"] = body.get("nextPageToken")
            more = bool(state["token"]) and not body.get("isLast", False)
            return body.get("issues") or [], more

        def datacenter(client, _number):
            body, _ = self.get_json(
                client, "rest/api/2/search", {**params, "startAt": state["start"]}
            )
            issues = body.get("issues") or []
            state["start"] = int(body.get("startAt", state["start"])) + len(issues)
            return issues, bool(issues) and state["start"] < int(body.get("total") or 0)

        page = cloud if self.settings["flavour"] == "cloud" else datacenter
        for issue in self.paged(page):
            yield self.work_item(issue)

    def work_item(self, issue: dict) -> Item:
        fields = issue.get("fields") or {}
        created = _when(fields.get("created"))
        if created is None:
            return RecordError(str(issue.get("key", "")), "issue without a creation date")
        self.advance(_when(fields.get("updated")))
        team_path = self.settings["team_field"]
        team = dig(fields, team_path)
        if team_path == "project":
            team = dig(fields, "project.key")
        if isinstance(team, dict):
            team = team.get("value") or team.get("name") or team.get("key")
        return WorkItemRecord(
            key=str(issue.get("key", "")),
            created=created,
            resolved=_when(fields.get("resolutiondate")),
            team=str(team or ""),
            issue_type=str(dig(fields, "issuetype.name") or ""),
            status=str(dig(fields, "status.name") or ""),
        )
