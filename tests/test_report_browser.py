"""The report in headless Chromium: the seeds' report and a multi-outlet corpus (the team's
synthetic sources, many invented outlets over 2022-2025, plus the seeds) after two review rounds.

Checked as a reader would: the sections and their table of contents, the outlet comparison's
intervals against the numbers the report computed, the CSV files the page links, no label or
title wider than its box (scrollWidth <= clientWidth), no sideways scrolling at laptop widths,
every image decoded, nothing requested but the page, and a `<script>` in a paragraph shown as
text. Screenshots go to test-output/; with STANCE_UPDATE_DOCS=1 the README's (report-seeds.png,
report-outlets.png, report-review.png) also to docs/images/. The page heights at 1280 px and the
multi-outlet render time go to test-output/report-measures.json.

The multi-outlet corpus is annotated by the real pipeline (ingest, gate, document context,
documents.jsonl) with a keyword scorer written here, so the test needs no model and takes seconds.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import ROOT
from test_report import SCRIPT_TEXT, _hand_annotations, runner
from test_report_review import OLD_MODEL, two_review_rounds

from stance.cli import app
from stance.report import build_report, collect
from stance.report.render import interval, signed
from stance.scoring.base import ParagraphScores

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
DOCS_IMAGES = ROOT / "docs" / "images"
SECTIONS = ["articles", "outlets", "over-time", "paragraphs", "frames", "confident", "uncertain", "review", "run"]
# elements whose text must fit their box: headings, table cells, summaries, captions, legend entries, chips, links
FITTING = "h1, h2, h3, h4, th, td, summary, figcaption, .legend li, .chip, nav.toc a, .facts li, td.tone-cell span, ul.frames li"


class KeywordScorer:
    """A stand-in model: stance from counts of praising and accusing words in the paragraph, frames
    from topic words. Deterministic and instant; the pipeline around it is the real one."""

    model_version = "keyword-test:1"
    scores_frames = True
    POSITIVE = re.compile(r"\b(prais\w*|welcom\w*|support\w*|cooperat\w*|partner\w*|success\w*|constructive|friend\w*|help\w*)\b", re.I)
    NEGATIVE = re.compile(r"\b(accus\w*|condemn\w*|threat\w*|aggress\w*|criticis\w*|sanction\w*|attack\w*|blam\w*|warn\w*|illegal)\b", re.I)
    TOPICS = {"Economic": r"econom|trade|market|tariff|price|invest|export", "Security and defense": r"military|missile|defen[cs]e|troops|war\b|drone",
              "Political": r"election|parliament|president|party|minister", "Public opinion": r"poll|survey|voters|protest"}

    def __init__(self, config) -> None:
        self.frames = list(config.frame_names)

    def score(self, texts, targets, *, frames=True):
        out = []
        for text, names in zip(texts, targets, strict=True):
            pos, neg = len(self.POSITIVE.findall(text)), len(self.NEGATIVE.findall(text))
            raw = {"favorable": 1.0 + 2.2 * pos, "neutral": 3.0, "unfavorable": 1.0 + 2.2 * neg}
            total = sum(raw.values())
            found = {f: (0.8 if re.search(self.TOPICS[f], text, re.I) else 0.1) for f in self.frames if f in self.TOPICS}
            out.append(ParagraphScores({t.name: {k: v / total for k, v in raw.items()} for t in names},
                                       {f: found.get(f, 0.05) for f in self.frames} if frames else {}))
        return out


@pytest.fixture(scope="module")
def multi_outlet_run(tmp_path_factory):
    """data/sources/synthetic/ and seeds/ with configs/corpus.yaml (nine targets), scored by the keyword scorer."""
    from stance.annotate import annotate_corpus
    from stance.config import load_config

    config = load_config(ROOT / "configs" / "corpus.yaml")
    out = tmp_path_factory.mktemp("multi-outlet") / "corpus"
    annotate_corpus([ROOT / "data" / "sources" / "synthetic", ROOT / "seeds"], out, config, progress=False, scorer=KeywordScorer(config))
    return out


@pytest.fixture(scope="module")
def seeds_run_dir(seeds_run):
    return seeds_run[0]


def _launch(playwright):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])


def _open(browser, path: Path, width: int, height: int):
    """Open a report with every request intercepted: only the page itself may load, anything else is aborted and recorded."""
    page = browser.new_page(viewport={"width": width, "height": height})
    url = path.resolve().as_uri()
    requests: list[str] = []
    problems: list[str] = []

    def route(route):
        requests.append(route.request.url)
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", route)
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}") if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, url, requests, problems


def _check_page(page, url, requests, problems, width, files: str):
    """Offline, no sideways scrolling, every image decoded (details opened), no text wider than its box."""
    assert requests == [url], f"the page requested more than itself: {requests}"
    assert problems == []
    refs = page.evaluate(
        "() => Array.from(document.querySelectorAll('[src],[href],link,script,iframe,object,embed'))"
        ".map(e => [e.tagName, e.getAttribute('src') || e.getAttribute('href') || ''])"
    )
    for tag, ref in refs:
        assert ((tag == "IMG" and ref.startswith("data:image/png;base64,")) or (tag == "A" and ref.startswith("#"))
                or (tag == "A" and ref.startswith(f"{files}/") and ref.endswith(".csv"))), (tag, ref[:80])
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.locator("meta[http-equiv='Content-Security-Policy']").count() == 1
    height = page.evaluate("document.documentElement.scrollHeight")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width])")
    assert images and all(complete and natural > 0 and 0 < shown <= width for complete, natural, shown in images), images
    assert _clipped(page) == [], _clipped(page)
    if width >= 1280:  # a laptop: tables fit without scrolling inside their box either
        wide = page.evaluate("() => Array.from(document.querySelectorAll('.table-wrap')).filter(e => e.scrollWidth > e.clientWidth + 1)"
                             ".map(e => e.querySelector('table') && e.querySelector('table').id)")
        assert wide == [], wide
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = false)")
    return height, len(images)


CLIPPED = """(selector) => Array.from(document.querySelectorAll(selector))
    .filter(e => getComputedStyle(e).display !== 'inline' && e.getClientRects().length && e.scrollWidth > e.clientWidth + 1)
    .map(e => [e.tagName, e.className, e.innerText.slice(0, 60), e.scrollWidth, e.clientWidth])"""


def _clipped(page) -> list:
    """Elements of FITTING whose content is wider than their box (cut off, or spilling over a neighbour)."""
    return page.evaluate(CLIPPED, FITTING)


def test_the_clipping_check_sees_a_title_wider_than_its_box(tmp_path):
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "clip.html"
    page_file.write_text("<table><tr><th style='width:40px;max-width:40px;overflow:hidden;white-space:nowrap'>a title far too long</th>"
                         "<td>fits</td></tr></table><h3 style='width:60px;white-space:nowrap'>another long heading</h3>", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 600})
            page.goto(page_file.resolve().as_uri())
            assert sorted(c[2] for c in _clipped(page)) == ["a title far too long", "another long heading"]
        finally:
            browser.close()


def _sections_and_contents(page):
    sections = page.eval_on_selector_all("main > section", "els => els.map(e => [e.id, e.querySelector('h2').innerText])")
    assert [s[0] for s in sections] == SECTIONS
    links = page.eval_on_selector_all("nav.toc a", "els => els.map(e => [e.getAttribute('href'), e.innerText])")
    assert links == [[f"#{sid}", title] for sid, title in sections]  # the contents name every section, in order


def _measure(test_output: Path, name: str, value) -> None:
    path = test_output / "report-measures.json"
    measures = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    measures[name] = value
    path.write_text(json.dumps(measures, indent=2) + "\n", encoding="utf-8")


def _keep(test_output: Path, shot: Path) -> None:
    if os.environ.get("STANCE_UPDATE_DOCS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGES / shot.name)


@pytest.mark.model
def test_seeds_report_in_chromium(seeds_run_dir, tmp_path, test_output):
    from playwright.sync_api import sync_playwright

    _hand_annotations(seeds_run_dir, tmp_path / "reviewed.jsonl")
    result = runner.invoke(app, ["report", str(seeds_run_dir), "--out", str(tmp_path / "seeds.html"), "--annotations", str(tmp_path / "reviewed.jsonl")])
    assert result.exit_code == 0, result.output
    data = collect(seeds_run_dir, None, tmp_path / "reviewed.jsonl")
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            for width, height in ((1280, 900), (1366, 768), (1024, 700)):  # the brief's 1280 px, a laptop, a small window
                page, url, requests, problems = _open(browser, tmp_path / "seeds.html", width, height)
                page_height, images = _check_page(page, url, requests, problems, width, "seeds_files")
                if width == 1280:
                    _sections_and_contents(page)
                    assert images == 3  # over time, frame heat map, confusion matrices
                    text = page.inner_text("body")
                    assert "no sources" in text and "there are no outlets to compare" in text  # the seeds have dates but no outlets
                    assert "calendar months" in text and "2023-09-18 to 2024-09-20" in text
                    assert data.info.model_version in text and "44 paragraphs" in text.replace("\n", " ")
                    table = page.inner_text("#agreement-table")
                    for entry in data.agreement.targets:
                        assert f"{entry.accuracy:.1%}" in table and f"{entry.kappa:.3f}" in table
                    assert len(page.locator("#article-documents tbody tr").all()) == 5  # one row per seed article
                    page.locator("#confident details").first.evaluate("d => d.open = true")
                    assert page.locator("#confident .card mark").count() > 0  # mentions highlighted
                    _measure(test_output, "seeds_height_1280", page_height)
                    page.evaluate("() => document.querySelector('#confident details').open = false")
                    page.set_viewport_size({"width": 1280, "height": 1500})
                    shot = test_output / "report-seeds.png"
                    page.screenshot(path=str(shot))
                    _keep(test_output, shot)
                page.close()
        finally:
            browser.close()
    assert (test_output / "report-seeds.png").stat().st_size > 50_000


def test_multi_outlet_report_after_two_review_rounds_in_chromium(multi_outlet_run, tmp_path, test_output):
    from playwright.sync_api import sync_playwright

    two_review_rounds(multi_outlet_run, tmp_path / "reviewed.jsonl")
    started = time.perf_counter()
    out = build_report(multi_outlet_run, tmp_path / "corpus.html", annotations=tmp_path / "reviewed.jsonl")
    _measure(test_output, "multi_outlet_render_seconds", round(time.perf_counter() - started, 2))
    data = collect(multi_outlet_run, annotations=tmp_path / "reviewed.jsonl")
    comparison = data.outlets
    assert comparison is not None and len(comparison.shown) >= 8 and comparison.outlets_total > 50
    assert data.time_unit == "quarter" and len(data.targets) == 9
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            for width, height in ((1280, 900), (1366, 768), (1024, 700)):
                page, url, requests, problems = _open(browser, out, width, height)
                page_height, images = _check_page(page, url, requests, problems, width, "corpus_files")
                if width != 1280:
                    page.close()
                    continue
                _sections_and_contents(page)
                _measure(test_output, "multi_outlet_height_1280", page_height)
                assert page_height < 9500  # the old page of this corpus: over 11,000 px
                # the outlet comparison: one row per shown outlet, each cell's difference and interval as computed
                rows = page.locator("#outlet-table tbody tr")
                assert rows.count() == len(comparison.shown) + 1  # and the row of all outlets
                first = comparison.shown[0]
                cells = rows.nth(0).locator("td")
                for column, target in enumerate(data.targets):
                    cell = comparison.cells[(first, target)]
                    text = cells.nth(column).inner_text()
                    if cell.versus_rest.has_interval:
                        assert interval(cell.versus_rest) in text and "Δ" in text
                        assert f"{cell.articles} art." in text
                assert "2000 resamples" in page.inner_text("#outlets") and "seed 17" in page.inner_text("#outlets")
                # every CSV the page links is beside it, and the outlet comparison's holds the intervals shown
                hrefs = page.eval_on_selector_all("a.csv", "els => [...new Set(els.map(e => e.getAttribute('href')))]")
                assert len(hrefs) >= 15 and all((out.parent / h).is_file() for h in hrefs)
                with (out.parent / "corpus_files" / "outlet-comparison.csv").open(encoding="utf-8") as handle:
                    table = {(r["outlet"], r["target"]): r for r in csv.DictReader(handle)}
                for target in data.targets:
                    cell = comparison.cells[(first, target)]
                    if cell.versus_rest.has_interval:
                        assert float(table[(first, target)]["difference_high"]) == pytest.approx(cell.versus_rest.high, abs=1e-4)
                # over time: counts on every bin (CSV), small bins marked in the table
                assert page.locator("#time-table td.tone-cell.small").count() > 0
                # the review rounds, per model version, oldest first
                rounds = page.inner_text("#rounds-table")
                assert OLD_MODEL in rounds and data.review.rounds[1].model_version in rounds
                for r in data.review.rounds:
                    assert f"{r.rate.value:.1%}" in rounds
                verdict = page.inner_text("#rounds-verdict")  # round 2 was corrected far less often than round 1
                change = data.review.rounds[1].change
                assert "reduced" in verdict and f"[{signed(change.low * 100, 1)}, {signed(change.high * 100, 1)}] points" in verdict
                assert page.locator("#annotator-pairs tbody tr").count() == 1
                for name, selector in (("report-outlets.png", "#outlets"), ("report-review.png", "#review")):
                    shot = test_output / name
                    page.locator(selector).screenshot(path=str(shot))
                    _keep(test_output, shot)
                page.evaluate("window.scrollTo(0, 0)")
                page.set_viewport_size({"width": 1280, "height": 1500})
                page.screenshot(path=str(test_output / "report-corpus.png"))
                page.close()
        finally:
            browser.close()


@pytest.mark.model
def test_script_in_a_paragraph_shows_as_text_and_never_runs(seeds_run_dir, tmp_path, test_output):
    from playwright.sync_api import sync_playwright

    run = tmp_path / "escaped"
    shutil.copytree(seeds_run_dir, run)
    lines = (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["text"] = f"China praised the talks. {SCRIPT_TEXT}"
    record["title"] = "<script>window.__pwned = 3</script>Title"
    record["source"] = "<b onmouseover=alert(1)>Outlet</b>"
    record["stance"]["China"] = {"label": "favorable", "mentioned": True,
                                 "scores": {"favorable": 0.99, "neutral": 0.005, "unfavorable": 0.005, "not_mentioned": 0.0}}
    lines[0] = json.dumps(record)
    (run / "predictions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (run / "documents.jsonl").unlink()  # summaries computed from the changed predictions
    out = build_report(run, None)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page, url, requests, problems = _open(browser, out, 1280, 900)
            _check_page(page, url, requests, problems, 1280, "report_files")
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.title() == "Stance report: escaped"
            page.locator("#confident details").first.evaluate("d => d.open = true")
            card = page.locator("#confident .card", has_text="China praised the talks").first
            assert SCRIPT_TEXT in card.inner_text()
            assert card.locator("mark", has_text="China").count() == 1  # the mention is marked, the markup around it stays text
            assert "<script>window.__pwned = 3</script>Title" in card.inner_text()
            assert "<b onmouseover=alert(1)>Outlet</b>" in card.inner_text()
            assert page.evaluate("document.querySelectorAll('[onerror],[onmouseover]').length") == 0
            card.screenshot(path=str(test_output / "report-escaped-card.png"))
        finally:
            browser.close()
