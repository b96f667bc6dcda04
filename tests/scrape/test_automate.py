"""Automation scripts in real Chromium: a form filled in and submitted, results extracted, a failing step
stopping the script, cancellation between steps, and malformed scripts refused before anything runs."""

from __future__ import annotations

import html as html_lib

import pytest

from browser.automate import run_script, validate_automation_options, validate_script
from browser.errors import OptionError, ScriptError
from tests.fixtures.web import Reply, html

pytestmark = pytest.mark.browser

FORM = html(
    """<h1>Greeter</h1>
    <form method="post" action="/greet">
      <label>Name <input id="name" name="name"></label>
      <button type="submit">Greet</button>
    </form>
    <input id="live"><p id="echo"></p>
    <ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
    <a id="more" href="/greet?name=link" data-kind="internal">more</a>
    <script>
      document.getElementById("live").addEventListener("keydown", (e) => {
        if (e.key === "Enter") document.getElementById("echo").textContent = "JS says: " + e.target.value;
      });
    </script>"""
)


@pytest.fixture
def form_site(site):
    site.routes["/form"] = lambda h: Reply(body=FORM)
    site.routes["/greet"] = lambda h: Reply(
        body=html(f'<p id="reply">Hello, {html_lib.escape(h.query().get("name", "nobody"))}!</p>')
    )
    return site


def test_a_form_is_filled_in_submitted_and_the_reply_extracted(form_site, pool, tmp_path):
    progress = []
    result = run_script(
        [
            {"action": "goto", "url": form_site.url("/form")},
            {"action": "extract", "selector": ".item", "as": "list"},
            {"action": "extract", "selector": "#more", "as": "attribute", "name": "data-kind"},
            {"action": "type", "selector": "#live", "text": "typed"},
            {"action": "press", "selector": "#live", "key": "Enter"},
            {"action": "extract", "selector": "#echo"},
            {"action": "type", "selector": "#name", "text": "Ada"},
            {"action": "click", "selector": "button[type=submit]"},
            {"action": "wait_for", "selector": "#reply"},
            {"action": "extract", "selector": "#reply", "as": "text"},
            {"action": "extract", "selector": "#reply", "as": "html"},
            {"action": "screenshot"},
            {"action": "pdf"},
        ],
        out_dir=tmp_path,
        on_progress=lambda index, total, step: progress.append((index, total, step["status"])),
        pool=pool,
    )
    assert result["status"] == "ok" and result["error"] is None and result["cancelled"] is False
    steps = result["steps"]
    assert [s["status"] for s in steps] == ["ok"] * 13
    assert [s["index"] for s in steps] == list(range(13))
    assert steps[0]["result"] == {"url": form_site.url("/form"), "status": 200}
    assert steps[1]["result"] == ["one", "two", "three"]
    assert steps[2]["result"] == "internal"
    assert steps[5]["result"] == "JS says: typed"
    assert steps[9]["result"] == "Hello, Ada!"
    assert steps[10]["result"] == '<p id="reply">Hello, Ada!</p>'
    assert all(isinstance(s["ms"], int) for s in steps)
    posted = [s for s in form_site.seen if s.method == "POST"]
    assert [(s.path, s.body) for s in posted] == [("/greet", b"name=Ada")]  # the form body went through the proxy
    png, pdf = tmp_path / "step-12.png", tmp_path / "step-13.pdf"
    assert steps[11]["result"] == {"screenshot": str(png)} and steps[12]["result"] == {"pdf": str(pdf)}
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    assert result["files"] == [str(png), str(pdf)]
    assert result["final_url"] == form_site.url("/greet") and result["blocked"] == []
    assert progress == [(i, 13, "ok") for i in range(13)]


def test_a_failing_step_stops_the_script_and_later_steps_are_skipped(form_site, pool, tmp_path):
    result = run_script(
        [
            {"action": "goto", "url": form_site.url("/form")},
            {"action": "click", "selector": "#does-not-exist"},
            {"action": "extract", "selector": "h1"},
        ],
        out_dir=tmp_path,
        options={"timeout_s": 2},
        pool=pool,
    )
    assert result["status"] == "failed"
    assert [s["status"] for s in result["steps"]] == ["ok", "failed", "skipped"]
    assert '"#does-not-exist"' in result["steps"][1]["error"]
    assert result["error"].startswith("step 2 (click): timed out waiting for")
    assert "result" not in result["steps"][2]


def test_a_goto_to_an_internal_address_fails_its_step(form_site, target, pool, tmp_path):
    result = run_script(
        [
            {"action": "goto", "url": form_site.url("/form")},
            {"action": "goto", "url": target.url("/secret")},
            {"action": "extract", "selector": "body"},
        ],
        out_dir=tmp_path,
        pool=pool,
    )
    assert [s["status"] for s in result["steps"]] == ["ok", "failed", "skipped"]
    assert "127.0.0.2 is a loopback address" in result["steps"][1]["error"]
    assert target.seen == []


def test_a_click_that_navigates_to_an_internal_address_is_refused(site, target, pool, tmp_path):
    site.routes["/"] = lambda h: Reply(body=html(f'<a id="go" href="{target.url("/secret")}">internal</a>'))
    result = run_script(
        [
            {"action": "goto", "url": site.url("/")},
            {"action": "click", "selector": "#go"},
            {"action": "wait_for", "ms": 300},
        ],
        out_dir=tmp_path,
        pool=pool,
    )
    assert result["blocked"][0]["url"] == target.url("/secret")
    assert target.seen == []


def test_cancelling_between_steps_skips_the_rest(form_site, pool, tmp_path):
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2  # checked before each step: steps 1 and 2 run

    result = run_script(
        [
            {"action": "goto", "url": form_site.url("/form")},
            {"action": "extract", "selector": "h1"},
            {"action": "click", "selector": "button"},
            {"action": "extract", "selector": "#reply"},
        ],
        out_dir=tmp_path,
        cancelled=cancelled,
        pool=pool,
    )
    assert result["status"] == "cancelled" and result["cancelled"] is True
    assert result["error"] == "cancelled before step 3 (click)"
    assert [s["status"] for s in result["steps"]] == ["ok", "ok", "skipped", "skipped"]
    assert [s.method for s in form_site.seen if s.path == "/greet"] == []


GOTO = {"action": "goto", "url": "http://example.com/"}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("goto", "a script is a list of steps, not str"),
        ([], "the script has no steps"),
        ([GOTO, "click"], 'step 2: each step must be an object with an "action"'),
        ([GOTO, {"action": "hover", "selector": "a"}], 'step 2: unknown action "hover"; the actions are: goto, click'),
        ([GOTO, {"action": "wait_for", "ms": 10}, {"action": "click"}], 'step 3 (click): "selector" is required'),
        (
            [GOTO, {"action": "click", "selector": "a", "force": True}],
            'step 2 (click): unknown argument "force"; click takes "selector"',
        ),
        ([GOTO, {"action": "type", "selector": "#q", "text": 5}], 'step 2 (type): "text" must be a string, not 5'),
        ([GOTO, {"action": "wait_for", "ms": "100"}], "step 2 (wait_for): \"ms\" must be an integer, not '100'"),
        ([GOTO, {"action": "wait_for", "ms": True}], 'step 2 (wait_for): "ms" must be an integer, not True'),
        ([GOTO, {"action": "wait_for"}], 'step 2 (wait_for): give either "selector" or "ms"'),
        (
            [GOTO, {"action": "wait_for", "ms": 10, "selector": "a"}],
            'step 2 (wait_for): give either "selector" or "ms"',
        ),
        ([GOTO, {"action": "wait_for", "ms": 999_999}], 'step 2 (wait_for): "ms" must be from 0 to 60000'),
        (
            [GOTO, {"action": "extract", "selector": "a", "as": "json"}],
            'step 2 (extract): "as" must be one of text, attribute, list, html',
        ),
        (
            [GOTO, {"action": "extract", "selector": "a", "as": "attribute"}],
            'step 2 (extract): "name" (the attribute to read) goes with "as": "attribute"',
        ),
        (
            [GOTO, {"action": "screenshot", "full_page": "yes"}],
            'step 2 (screenshot): "full_page" must be true or false',
        ),
        (
            [GOTO, {"action": "pdf", "path": "/etc/x.pdf"}],
            'step 2 (pdf): unknown argument "path"; pdf takes no arguments',
        ),
        ([GOTO, {"action": "click", "selector": " "}], 'step 2 (click): "selector" must not be empty'),
        ([{"action": "click", "selector": "a"}], "step 1 (click): a script must start with a goto step"),
        ([{"action": "goto"}], 'step 1 (goto): "url" is required'),
        ([{"action": "goto", "url": "file:///etc/passwd"}], "step 1 (goto): file: URLs cannot be fetched"),
        ([{"action": "goto", "url": "http://example.com:25/"}], "step 1 (goto): port 25 is blocked"),
        (
            [{"action": "goto", "url": "http://example.com/", "wait_until": "idle"}],
            'step 1 (goto): "wait_until" must be one of',
        ),
        ([GOTO] * 101, "the script has 101 steps; at most 100 are allowed (BROWSER_MAX_SCRIPT_STEPS)"),
    ],
)
def test_malformed_scripts_are_refused_naming_the_step(steps, message, site, pool, tmp_path):
    with pytest.raises(ScriptError) as caught:
        validate_script(steps)
    assert str(caught.value).startswith(message)
    launches = pool.stats()["launches"]
    with pytest.raises(ScriptError):
        run_script(steps, out_dir=tmp_path, pool=pool)
    assert pool.stats()["launches"] == launches and site.seen == []


def test_validated_steps_can_be_run_as_they_are(form_site, pool, tmp_path):
    steps = validate_script(
        [{"action": "goto", "url": form_site.url("/form")}, {"action": "extract", "selector": "h1"}]
    )
    result = run_script(steps, out_dir=tmp_path, pool=pool)
    assert result["steps"][1]["result"] == "Greeter"


def test_automation_options_are_checked(tmp_path):
    assert validate_automation_options({"javascript": False}).javascript is False
    with pytest.raises(OptionError, match='unknown option "screenshot"'):
        validate_automation_options({"screenshot": True})
