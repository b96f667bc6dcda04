"""Browser jobs end to end: the JSON API validates before queuing, a real Celery worker (queue
`browser`) runs the job, files are stored and served to their owner only, cancel and retry."""

from __future__ import annotations

import time

import pytest

from core.models import Job
from tests.fixtures.jobs import wait_job
from tests.fixtures.users import create_user
from tests.fixtures.web import Reply, html

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bad_requests_name_the_problem_and_queue_nothing(alice_client):
    cases = [
        ("/browser/api/scrape", {"url": "file:///etc/passwd"}, "only http:// and https://"),
        ("/browser/api/scrape", {"url": ""}, "url:"),
        ("/browser/api/scrape", {"url": "https://example.com/", "options": {"colour": 1}}, 'unknown option "colour"'),
        ("/browser/api/scrape", {"url": "https://example.com/", "options": {"wait_until": "never"}}, "wait_until"),
        ("/browser/api/automate", {"steps": []}, "steps:"),
        (
            "/browser/api/automate",
            {"steps": [{"action": "goto", "url": "https://example.com/"}, {"action": "click"}]},
            "step 2 (click)",
        ),
        ("/browser/api/automate", {"steps": [{"action": "fly"}]}, "step 1"),
    ]
    for url, body, expected in cases:
        response = alice_client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert expected in response.json()["error"], (body, response.json())
    assert not Job.objects.exists()


def test_scrape_job_runs_on_the_worker_and_files_are_the_owners_only(alice_client, client, site, celery_worker):
    site.routes["/page"] = lambda h: Reply(
        body=html(
            '<h1>Hello jobs</h1><p>Some readable text for the job test.</p><a href="/next">next</a>',
            head="<title>Job page</title>",
        )
    )
    response = alice_client.post(
        "/browser/api/scrape",
        {"url": site.url("/page"), "options": {"screenshot": True, "pdf": True}},
        content_type="application/json",
    )
    assert response.status_code == 201
    job = wait_job(response.json()["job"]["task_id"])
    assert job.status == "succeeded", (job.error, job.log)
    assert job.result["title"] == "Job page"
    assert site.url("/next") in job.result["links"]
    assert job.subtasks == [{"id": "load", "title": f"Load {site.url('/page')}", "status": "succeeded"}]
    listed = alice_client.get(f"/browser/api/jobs/{job.pk}").json()["job"]
    assert sorted(listed["files"]) == sorted([job.result["screenshot"], job.result["pdf"]])

    png = alice_client.get(f"/browser/jobs/{job.pk}/files/{job.result['screenshot']}")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert b"".join(png.streaming_content).startswith(b"\x89PNG")
    pdf = alice_client.get(f"/browser/jobs/{job.pk}/files/{job.result['pdf']}?download=1")
    assert pdf["Content-Type"] == "application/pdf" and "attachment" in pdf["Content-Disposition"]
    assert alice_client.get(f"/browser/jobs/{job.pk}/files/..%2F..%2Fdb.sqlite3").status_code == 404
    assert alice_client.get(f"/browser/jobs/{job.pk}/").status_code == 200

    bob = create_user("bob")
    client.force_login(bob)
    assert client.get(f"/browser/jobs/{job.pk}/files/{job.result['screenshot']}").status_code == 404
    assert client.get(f"/browser/api/jobs/{job.pk}").status_code == 404
    assert client.post(f"/browser/api/jobs/{job.pk}/retry").status_code == 404


def test_a_refused_address_fails_the_job_with_the_reason_and_fetches_nothing(alice_client, target, celery_worker):
    response = alice_client.post("/browser/api/scrape", {"url": target.url("/secret")}, content_type="application/json")
    job = wait_job(response.json()["job"]["task_id"])
    assert job.status == "failed"
    assert "loopback" in job.error and "BROWSER_ALLOWED_NETWORKS" in job.error
    assert target.seen == []
    retried = alice_client.post(f"/browser/api/jobs/{job.pk}/retry").json()["job"]
    assert retried["retry_of"] == job.pk and retried["task_id"] != job.pk


def test_cancel_stops_an_automation_between_steps(alice_client, site, celery_worker):
    site.routes["/"] = lambda h: Reply(body=html("<p>waiting page</p>"))
    steps = [{"action": "goto", "url": site.url("/")}] + [{"action": "wait_for", "ms": 1000} for _ in range(20)]
    response = alice_client.post("/browser/api/automate", {"steps": steps}, content_type="application/json")
    job_id = response.json()["job"]["task_id"]
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=job_id).progress < 0.1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alice_client.post(f"/browser/api/jobs/{job_id}/cancel").status_code == 200
    job = wait_job(job_id)
    assert job.status == "cancelled"
    statuses = [s["status"] for s in job.result["steps"]]
    assert statuses[0] == "ok" and "skipped" in statuses
    assert alice_client.post(f"/browser/api/jobs/{job_id}/cancel").status_code == 409


def test_an_address_typed_without_a_scheme_is_taken_as_https():
    from browser import services as browser_services
    from core.validation import web_url
    from knowledge.services import KnowledgeInputError

    # The browser's check is the one rule knowledge sources and workflow steps use too.
    for check in (browser_services.url_check, lambda url: web_url(url, error=KnowledgeInputError)):
        assert check("example.com/page?q=1") == "https://example.com/page?q=1"
        assert check("docs.example.org:8443") == "https://docs.example.org:8443"
        with pytest.raises(ValueError, match=r"url: ftp: addresses cannot be fetched; only http:// and https://"):
            check("ftp://example.com/file")
