"""GitLab and Jira sources against a local HTTP server serving real-shaped payloads."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from werkzeug import Request, Response

from connectors.facts import Deployment, FinanceEntry, WorkItem
from connectors.models import Connector
from connectors.services import connector_create
from connectors.sources.http import HTTPAdapter
from tests.connectors.helpers import run_sync


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(HTTPAdapter, "sleep", staticmethod(lambda seconds: None))


def gitlab_deployment(pk: int, status: str, finished: str, commit_created: str | None) -> dict:
    """A deployment as GitLab 17 returns it from /projects/:id/deployments."""
    sha = f"{pk:040x}"
    commit = {
        "id": sha,
        "short_id": sha[:8],
        "title": f"Change {pk}",
        "author_name": "Dev",
        "authored_date": commit_created,
        "committed_date": commit_created,
        "message": f"Change {pk}",
    }
    if commit_created:
        commit["created_at"] = commit_created
    return {
        "id": 1000 + pk,
        "iid": pk,
        "ref": "main",
        "sha": sha,
        "created_at": finished,
        "updated_at": finished,
        "status": status,
        "user": {"id": 1, "username": "deployer", "name": "Deployer", "state": "active"},
        "environment": {"id": 9, "name": "production", "external_url": "https://grid.example"},
        "deployable": {
            "id": 5000 + pk,
            "status": status,
            "stage": "deploy",
            "name": "deploy:production",
            "ref": "main",
            "tag": False,
            "created_at": finished,
            "started_at": finished,
            "finished_at": finished,
            "duration": 42.0,
            "commit": commit,
            "pipeline": {"id": 7000 + pk, "sha": sha, "ref": "main", "status": status},
        },
    }


# Hand-checked month of March 2026 (production):
#  #1 success 03-02 10:00, commit 03-01 10:00 → lead 24 h
#  #2 failed  03-03 12:00                      → restored by #3 after 2 h
#  #3 success 03-03 14:00, commit 03-03 08:00 → lead 6 h
#  #4 success 03-10 09:00, commit 03-09 21:00 → lead 12 h
#  #5 failed  03-20 09:00                      → restored by #6 after 24 h
#  #6 success 03-21 09:00, commit looked up    → 03-20 09:00, lead 24 h
# deployments 4; frequency 4/31 = 0.129; lead median (6, 12, 24, 24) = 18 h;
# change failure rate 2/6 = 0.3333; time to restore median (2, 24) = 13 h;
# band: frequency medium, lead elite, restore high, failure rate low → low.
DEPLOYMENTS = [
    gitlab_deployment(1, "success", "2026-03-02T10:00:00.000Z", "2026-03-01T10:00:00.000Z"),
    gitlab_deployment(2, "failed", "2026-03-03T12:00:00.000Z", "2026-03-03T08:00:00.000Z"),
    gitlab_deployment(3, "success", "2026-03-03T14:00:00.000Z", "2026-03-03T08:00:00.000Z"),
    gitlab_deployment(4, "success", "2026-03-10T09:00:00.000Z", "2026-03-09T21:00:00.000Z"),
    gitlab_deployment(5, "failed", "2026-03-20T09:00:00.000Z", "2026-03-20T09:00:00.000Z"),
    gitlab_deployment(6, "success", "2026-03-21T09:00:00.000Z", None),
]


class FakeGitLab:
    """Serves deployments two per page with GitLab's X-Page/X-Next-Page/X-Total headers."""

    def __init__(self, deployments):
        self.deployments = deployments
        self.calls: list[dict] = []

    def __call__(self, request: Request) -> Response:
        if request.headers.get("PRIVATE-TOKEN") != "glpat-test":
            return Response(json.dumps({"message": "401 Unauthorized"}), status=401)
        args = request.args.to_dict()
        self.calls.append(args)
        assert args["environment"] == "production" and args["order_by"] == "updated_at"
        since = args["updated_after"]
        rows = [d for d in self.deployments if d["updated_at"] > since.replace("+00:00", "Z")]
        page, per_page = int(args.get("page", 1)), int(args.get("per_page", 20))
        chunk = rows[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(rows)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(rows)),
            "X-Next-Page": str(page + 1) if more else "",
        }
        return Response(json.dumps(chunk), headers=headers, content_type="application/json")


def make(factory, kind: str, settings: dict, credentials: dict) -> Connector:
    return connector_create(
        factory=factory, name=kind, kind=kind, settings=settings, credentials=credentials
    )


def test_a_gitlab_payload_gives_the_hand_calculated_dora(world, httpserver):
    fake = FakeGitLab(DEPLOYMENTS)
    # GitLab takes a path-style project id URL-encoded (grid%2Fplatform); werkzeug decodes it.
    httpserver.expect_request("/api/v4/projects/grid/platform/deployments").respond_with_handler(
        fake
    )
    httpserver.expect_request(
        f"/api/v4/projects/grid/platform/repository/commits/{6:040x}"
    ).respond_with_json({"id": f"{6:040x}", "created_at": "2026-03-20T09:00:00.000+00:00"})
    settings = {
        "base_url": httpserver.url_for("/"),
        "project": "grid/platform",
        "per_page": 2,
        "initial_days": 3650,
    }
    connector = make(world.factory_b, "gitlab", settings, {"token": "glpat-test"})
    run = run_sync(connector)
    assert run.status == "succeeded", run.message
    assert run.created == 6 and Deployment.objects.filter(factory=world.factory_b).count() == 6
    assert [c["page"] for c in fake.calls] == ["1", "2", "3"]

    body = (
        world.client("member_b")
        .get("/api/factories/beta-app/kpis/", {"from": "2026-03-01", "to": "2026-03-31"})
        .json()
    )
    assert body["dora"] == [
        {
            "period_start": "2026-03-01",
            "deployments": 4,
            "deployment_frequency_per_day": 0.129,
            "lead_time_hours_median": 18.0,
            "change_failure_rate": 0.3333,
            "time_to_restore_hours_median": 13.0,
            "band": "low",
        }
    ]

    # The next sync resumes from the newest update seen and lands nothing twice.
    connector.refresh_from_db()
    assert connector.cursor["updated_after"].startswith("2026-03-21T09:00:00")
    again = run_sync(connector)
    assert again.status == "succeeded" and again.created == 0
    assert fake.calls[-1]["updated_after"].startswith("2026-03-21T09:00:00")
    assert Deployment.objects.count() == 6


def test_gitlab_incident_issues_count_as_failures(world, httpserver):
    httpserver.expect_request("/api/v4/projects/42/deployments").respond_with_handler(
        FakeGitLab(DEPLOYMENTS[:1])
    )
    httpserver.expect_request("/api/v4/projects/42/issues").respond_with_json(
        [
            {
                "id": 901,
                "iid": 17,
                "title": "Checkout down",
                "state": "closed",
                "labels": ["incident"],
                "created_at": "2026-03-02T12:00:00.000Z",
                "updated_at": "2026-03-02T13:00:00.000Z",
                "closed_at": "2026-03-02T13:00:00.000Z",
            }
        ],
        headers={"X-Next-Page": ""},
    )
    settings = {
        "base_url": httpserver.url_for("/"),
        "project": 42,
        "incident_label": "incident",
        "initial_days": 3650,
    }
    run = run_sync(make(world.factory_b, "gitlab", settings, {"token": "glpat-test"}))
    assert run.status == "succeeded", run.message
    incident = WorkItem.objects.get(kind="incident")
    assert incident.key == "42#17" and incident.cycle_time_hours == 1.0
    dora = (
        world.client("staff")
        .get("/api/factories/beta-app/kpis/", {"from": "2026-03-01", "to": "2026-03-31"})
        .json()["dora"]
    )
    assert dora[0]["deployments"] == 1 and dora[0]["change_failure_rate"] == 0.5


def test_gitlab_wrong_token_fails_the_run(world, httpserver):
    httpserver.expect_request("/api/v4/projects/42/deployments").respond_with_handler(
        FakeGitLab(DEPLOYMENTS)
    )
    settings = {"base_url": httpserver.url_for("/"), "project": 42, "retries": 0}
    run = run_sync(make(world.factory_b, "gitlab", settings, {"token": "wrong"}))
    assert run.status == "failed" and "401" in run.message


def jira_issue(key: str, created: str, resolved: str | None, team: str = "GA") -> dict:
    """An issue as Jira returns it from search (fields asked for only)."""
    return {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": str(10000 + int(key.split("-")[1])),
        "self": f"https://jira.example/rest/api/3/issue/{key}",
        "key": key,
        "fields": {
            "created": created,
            "updated": resolved or created,
            "resolutiondate": resolved,
            "status": {"name": "Done" if resolved else "In Progress", "id": "10001"},
            "issuetype": {"name": "Story", "id": "10002", "subtask": False},
            "project": {"id": "10000", "key": team, "name": "Grid Analytics"},
        },
    }


ISSUES = [
    jira_issue("GA-1", "2026-03-02T09:00:00.000+0000", "2026-03-04T09:00:00.000+0000"),
    jira_issue("GA-2", "2026-03-03T09:00:00.000+0000", "2026-03-03T21:00:00.000+0000"),
    jira_issue("GA-3", "2026-03-05T09:00:00.000+0100", "2026-03-09T08:00:00.000+0000"),
    jira_issue("GA-4", "2026-03-06T09:00:00.000+0000", None),
]


def test_jira_cloud_pages_by_next_page_token_and_gives_flow(world, httpserver):
    def handler(request: Request) -> Response:
        assert request.headers["Authorization"].startswith("Basic ")
        assert "ORDER BY updated ASC" in request.args["jql"]
        token = request.args.get("nextPageToken")
        if token is None:
            body = {"issues": ISSUES[:2], "nextPageToken": "CAEaAggD", "isLast": False}
        else:
            assert token == "CAEaAggD"
            body = {"issues": ISSUES[2:], "isLast": True}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/rest/api/3/search/jql").respond_with_handler(handler)
    settings = {"base_url": httpserver.url_for("/"), "flavour": "cloud", "jql": "project = GA"}
    credentials = {"token": "api-token", "email": "bot@example.com"}
    run = run_sync(make(world.factory_b, "jira", settings, credentials))
    assert run.status == "succeeded", run.message
    assert WorkItem.objects.filter(source="jira").count() == 4
    flow = (
        world.client("member_b")
        .get("/api/factories/beta-app/flow/", {"from": "2026-03-01", "to": "2026-03-31"})
        .json()["flow"]
    )
    # Resolved in March: GA-1 (48 h), GA-2 (12 h), GA-3 (08:00 UTC 03-05 → 08:00 03-09 = 96 h).
    assert flow == [
        {
            "period_start": "2026-03-01",
            "team": "GA",
            "throughput": 3,
            "cycle_time_hours_median": 48.0,
        }
    ]


def test_jira_data_center_pages_by_start_at_and_total(world, httpserver):
    def handler(request: Request) -> Response:
        assert request.headers["Authorization"] == "Bearer pat"
        start = int(request.args["startAt"])
        page = ISSUES[start : start + 3]
        body = {"startAt": start, "maxResults": 3, "total": len(ISSUES), "issues": page}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/rest/api/2/search").respond_with_handler(handler)
    settings = {"base_url": httpserver.url_for("/"), "flavour": "datacenter", "page_size": 3}
    run = run_sync(make(world.factory_b, "jira", settings, {"token": "pat"}))
    assert run.status == "succeeded", run.message
    assert sorted(WorkItem.objects.values_list("key", flat=True)) == [
        "GA-1",
        "GA-2",
        "GA-3",
        "GA-4",
    ]
    assert WorkItem.objects.get(key="GA-4").resolved is None


def test_jira_429_is_waited_out(world, httpserver, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(HTTPAdapter, "sleep", staticmethod(waits.append))
    httpserver.expect_oneshot_request("/rest/api/2/search").respond_with_response(
        Response("Rate limit exceeded", status=429, headers={"Retry-After": "3"})
    )
    httpserver.expect_request("/rest/api/2/search").respond_with_json(
        {"startAt": 0, "maxResults": 50, "total": 1, "issues": ISSUES[:1]}
    )
    settings = {"base_url": httpserver.url_for("/"), "flavour": "datacenter"}
    run = run_sync(make(world.factory_b, "jira", settings, {"token": "pat"}))
    assert run.status == "succeeded" and waits == [3.0]


def test_finance_over_rest_lands_entries_and_rejects_bad_rows(world, httpserver):
    httpserver.expect_request("/finance/v1/entries").respond_with_json(
        {
            "items": [
                {"booked": "2026-01-15", "type": "Investment", "eur": "1200.50", "text": "MES"},
                {"booked": "2026-02-15", "type": "benefit", "eur": 300, "text": "scrap"},
                {"booked": "2026-02-16", "type": "gift", "eur": 5, "text": "odd"},
            ],
            "next": None,
        }
    )
    settings = {
        "base_url": httpserver.url_for("/"),
        "path": "finance/v1/entries",
        "record": "finance",
        "results_path": "items",
        "pagination": {"style": "next"},
        "mapping": {"date": "booked", "kind": "type", "amount": "eur", "description": "text"},
    }
    connector = make(world.factory_a, "rest", settings, {"token": "t"})
    run = run_sync(connector)
    assert run.status == "succeeded", run.message
    assert (run.created, run.rejected) == (2, 1)
    assert "row 3: kind: one of investment, benefit" in run.errors[0]["message"]
    entry = FinanceEntry.objects.get(kind="investment")
    assert (entry.amount, entry.currency, entry.source) == (Decimal("1200.50"), "EUR", "rest")
    again = run_sync(connector)
    assert (again.created, again.unchanged) == (0, 2)


def github_deployment(pk: int, created: str, sha: str) -> dict:
    """A deployment as GitHub's REST API returns it from /repos/:repo/deployments."""
    return {
        "url": f"https://api.github.com/repos/acme/shop/deployments/{pk}",
        "id": pk,
        "node_id": f"DE_{pk}",
        "sha": sha,
        "ref": "main",
        "task": "deploy",
        "payload": {},
        "original_environment": "production",
        "environment": "production",
        "description": None,
        "creator": {"login": "octocat", "id": 1},
        "created_at": created,
        "updated_at": created,
        "statuses_url": f"https://api.github.com/repos/acme/shop/deployments/{pk}/statuses",
        "repository_url": "https://api.github.com/repos/acme/shop",
        "transient_environment": False,
        "production_environment": True,
    }


def test_github_deployments_follow_link_headers_and_latest_status(world, httpserver):
    base = httpserver.url_for("/")
    page1 = [
        github_deployment(3, "2026-03-05T10:00:00Z", "c" * 40),
        github_deployment(2, "2026-03-04T10:00:00Z", "b" * 40),
    ]
    page2 = [github_deployment(1, "2026-03-03T10:00:00Z", "a" * 40)]
    httpserver.expect_request(
        "/repos/acme/shop/deployments",
        query_string="environment=production&per_page=2",
        headers={"Authorization": "Bearer ghp_test"},
    ).respond_with_json(
        page1,
        headers={
            "Link": f'<{base}repos/acme/shop/deployments?page=2>; rel="next", <{base}x>; rel="last"'
        },
    )
    httpserver.expect_request(
        "/repos/acme/shop/deployments", query_string="page=2"
    ).respond_with_json(page2)
    states = {
        3: ("in_progress", None),
        2: ("failure", "2026-03-04T10:20:00Z"),
        1: ("success", "2026-03-03T10:30:00Z"),
    }
    for pk, (state, at) in states.items():
        httpserver.expect_request(f"/repos/acme/shop/deployments/{pk}/statuses").respond_with_json(
            [{"id": 100 + pk, "state": state, "created_at": at or "2026-03-05T10:01:00Z"}]
        )
    for sha, date_ in (("a", "2026-03-03T04:30:00Z"), ("b", "2026-03-04T09:00:00Z")):
        httpserver.expect_request(f"/repos/acme/shop/commits/{sha * 40}").respond_with_json(
            {"sha": sha * 40, "commit": {"committer": {"name": "Dev", "date": date_}}}
        )
    settings = {"base_url": base, "repository": "acme/shop", "per_page": 2, "initial_days": 3650}
    run = run_sync(make(world.factory_b, "github", settings, {"token": "ghp_test"}))
    assert run.status == "succeeded", run.message
    rows = dict(Deployment.objects.values_list("source_id", "status"))
    assert rows == {"acme/shop:1": "success", "acme/shop:2": "failed"}  # #3 is unfinished
    ok = Deployment.objects.get(source_id="acme/shop:1")
    assert (ok.finished_at - ok.commit_created_at).total_seconds() == 6 * 3600
