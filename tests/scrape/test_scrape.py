"""Scraping a page in real Chromium: readable text without boilerplate, links, metadata, screenshot, PDF,
waiting for JavaScript, JavaScript off, limits on time and size, options checked before anything runs."""

from __future__ import annotations

import time

import pytest

from browser.errors import Cancelled, JobTimeout, OptionError, TooLarge
from browser.scrape import read_page, scrape
from tests.fixtures.web import Reply, html

pytestmark = pytest.mark.browser

ARTICLE_HEAD = """<title>The heron of the marshes</title>
<meta name="description" content="All about grey herons.">
<meta property="og:title" content="Herons">
<meta property="og:type" content="article">
<meta property="og:image" content="/img/heron.jpg">
<link rel="canonical" href="/articles/heron">"""

ARTICLE_BODY = """<nav>NAV-BOILERPLATE <a href="/">Home</a> <a href="/about#team">About</a></nav>
<main><article><h1>The heron of the marshes</h1>
<p>The grey heron stands motionless in shallow water for long periods, waiting for fish to come close.</p>
<p>It nests in colonies called heronries, usually high in trees near lakes, rivers and estuaries.</p>
<p>See <a href="/about">about us</a>, <a href="https://example.org/birds?kind=heron#top">birds</a>,
<a href="mailto:someone@example.org">mail</a>, <a href="javascript:void(0)">js</a>, <a href="#comments">comments</a>
and <a href="/about">about us again</a>.</p>
</article></main>
<footer>FOOTER-BOILERPLATE Copyright 2026 Example Inc. <a href="/privacy">Privacy</a></footer>"""


@pytest.fixture
def article(site):
    site.routes["/articles/heron"] = lambda h: Reply(body=html(ARTICLE_BODY, head=ARTICLE_HEAD, lang="en-GB"))
    return site.url("/articles/heron")


def test_scrape_returns_main_text_links_and_metadata(article, site, pool, tmp_path):
    stages = []
    result = scrape(article, out_dir=tmp_path, pool=pool, on_progress=lambda f, m: stages.append((f, m)))
    base = site.url("")
    assert result["final_url"] == article
    assert result["status"] == 200
    assert result["title"] == "The heron of the marshes"
    assert "grey heron stands motionless" in result["text"]
    assert "heronries" in result["text"]
    assert "NAV-BOILERPLATE" not in result["text"] and "FOOTER-BOILERPLATE" not in result["text"]
    assert result["text_source"] == "trafilatura"
    assert result["links"] == [
        f"{base}/",
        f"{base}/about",
        "https://example.org/birds?kind=heron",
        f"{base}/articles/heron",
        f"{base}/privacy",
    ]
    assert result["meta"] == {
        "description": "All about grey herons.",
        "og": {"og:title": "Herons", "og:type": "article", "og:image": "/img/heron.jpg"},
        "canonical": f"{base}/articles/heron",
        "lang": "en-GB",
    }
    assert result["screenshot"] is None and result["pdf"] is None
    assert result["blocked"] == [] and result["truncated"] is False
    assert {"load_ms", "read_ms", "extract_ms", "total_ms"} <= set(result["timings"])
    assert stages[0] == (0.0, f"loading {article}") and stages[-1] == (1.0, "done")
    assert list(tmp_path.iterdir()) == []  # nothing written unless asked


def test_screenshot_and_pdf_are_written_to_the_output_folder(article, pool, tmp_path):
    result = scrape(
        article,
        out_dir=tmp_path / "job",
        options={"screenshot": True, "pdf": True, "viewport": {"width": 800, "height": 600}},
        pool=pool,
    )
    png, pdf = (tmp_path / "job" / "screenshot.png"), (tmp_path / "job" / "page.pdf")
    assert result["screenshot"] == str(png) and result["pdf"] == str(pdf)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < png.stat().st_size < 5_000_000
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    assert width == 800  # the viewport option was used
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert 1_000 < pdf.stat().st_size < 5_000_000
    assert {"screenshot_ms", "pdf_ms"} <= set(result["timings"])


LATE_PAGE = html(
    """<h1>Static heading</h1><div id="box"></div><script>
    document.getElementById("box").append("ADDED-BY-JS");
    setTimeout(() => { const p = document.createElement("p"); p.id = "late"; p.textContent = "ADDED-LATE";
                       document.body.append(p); }, 400);
    </script>"""
)


def test_wait_for_selector_waits_for_an_element_added_by_javascript(site, pool, tmp_path):
    site.routes["/late"] = lambda h: Reply(body=LATE_PAGE)
    result = scrape(site.url("/late"), out_dir=tmp_path, options={"wait_for_selector": "#late"}, pool=pool)
    assert "ADDED-LATE" in result["text"] and "ADDED-BY-JS" in result["text"]
    assert "wait_ms" in result["timings"]


def test_with_javascript_off_script_content_is_absent(site, pool, tmp_path):
    site.routes["/late"] = lambda h: Reply(body=LATE_PAGE)
    result = scrape(site.url("/late"), out_dir=tmp_path, options={"javascript": False}, pool=pool)
    assert "Static heading" in result["text"]
    assert "ADDED-BY-JS" not in result["text"] and "ADDED-LATE" not in result["text"]


def test_final_url_follows_redirects(article, site, pool, tmp_path):
    site.routes["/old"] = lambda h: Reply(301, headers={"Location": "/articles/heron"})
    result = scrape(site.url("/old"), out_dir=tmp_path, pool=pool)
    assert result["final_url"] == article
    assert result["status"] == 200
    assert site.paths()[:2] == ["/old", "/articles/heron"]


def test_a_page_that_never_finishes_times_out_quickly(site, pool, tmp_path):
    def hang(handler):
        handler.server.release.wait(60)
        return Reply(body="too late")

    site.routes["/hang"] = hang
    started = time.monotonic()
    with pytest.raises(JobTimeout, match=r"did not finish loading within the job's 2 s"):
        scrape(site.url("/hang"), out_dir=tmp_path, options={"timeout_s": 2}, pool=pool)
    assert time.monotonic() - started < 6
    site.routes["/ok"] = lambda h: Reply(body=html("<p>fine</p>"))
    assert scrape(site.url("/ok"), out_dir=tmp_path, pool=pool)["text"] == "fine"


def test_a_page_whose_images_never_finish_times_out_waiting_for_load(site, pool, tmp_path):
    def hang(handler):
        handler.server.release.wait(60)
        return Reply(body=b"", content_type="image/png")

    site.routes["/slow.png"] = hang
    site.routes["/"] = lambda h: Reply(body=html('<p>text</p><img src="/slow.png">'))
    with pytest.raises(JobTimeout):
        scrape(site.url("/"), out_dir=tmp_path, options={"timeout_s": 2}, pool=pool)
    # Not waiting for the images works.
    result = scrape(
        site.url("/"), out_dir=tmp_path, options={"timeout_s": 5, "wait_until": "domcontentloaded"}, pool=pool
    )
    assert result["text"] == "text"


def test_a_page_over_max_bytes_is_an_error_and_a_large_image_is_cut_off(site, pool, tmp_path):
    site.routes["/huge"] = lambda h: Reply(body=html("<p>" + "x" * 300_000 + "</p>"))
    with pytest.raises(TooLarge, match=r"larger than the job's download limit \(max_bytes=100000\)"):
        scrape(site.url("/huge"), out_dir=tmp_path, options={"max_bytes": 100_000}, pool=pool)

    site.routes["/big.png"] = lambda h: Reply(body=b"\x89PNG" + b"0" * 300_000, content_type="image/png")
    site.routes["/"] = lambda h: Reply(body=html('<p>small page</p><img src="/big.png">'))
    result = scrape(site.url("/"), out_dir=tmp_path, options={"max_bytes": 100_000}, pool=pool)
    assert result["text"] == "small page"
    assert result["truncated"] is True
    assert result["blocked"] == [
        {"url": site.url("/big.png"), "reason": "the job's download limit (max_bytes=100000) was reached"}
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"colour": "red"}, 'unknown option "colour"'),
        ({"wait_until": "idle"}, 'option "wait_until" must be one of load, domcontentloaded, networkidle'),
        ({"viewport": {"width": 10, "height": 600}}, 'option "viewport": width must be an integer from 200'),
        ({"viewport": {"width": 800}}, 'option "viewport" must be an object with exactly "width" and "height"'),
        ({"javascript": "no"}, 'option "javascript" must be true or false'),
        ({"screenshot": 1}, 'option "screenshot" must be true or false'),
        ({"max_bytes": 10}, 'option "max_bytes" must be an integer from 1024'),
        ({"timeout_s": 0}, 'option "timeout_s" must be a number from 1'),
        ({"timeout_s": 10_000}, 'option "timeout_s" must be a number from 1 to 600'),
        ({"wait_for_selector": ""}, 'option "wait_for_selector" must be a non-empty CSS selector string'),
    ],
)
def test_bad_options_are_refused_before_anything_runs(options, message, site, pool, tmp_path):
    with pytest.raises(OptionError) as caught:
        scrape(site.url("/"), out_dir=tmp_path, options=options, pool=pool)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert site.seen == []


def test_cancelling_stops_between_stages(article, site, pool, tmp_path):
    checks = iter([False, True])
    with pytest.raises(Cancelled, match="cancelled before reading the page"):
        scrape(article, out_dir=tmp_path, options={}, cancelled=lambda: next(checks), pool=pool)
    assert site.paths()[:1] == ["/articles/heron"]


def test_text_falls_back_to_the_visible_text_and_links_respect_base_href():
    page = read_page(
        '<html><head><base href="https://other.example/dir/"></head><body><a href="x">x</a>'
        '<a href="//cdn.example/y">y</a><a href="ftp://f/">f</a></body></html>',
        base_url="http://site.example/page",
    )
    assert page["links"] == ["https://other.example/dir/x", "https://cdn.example/y"]
    assert read_page("", base_url="http://x/") == {
        "meta": {"description": None, "og": {}, "canonical": None, "lang": None},
        "links": [],
    }
