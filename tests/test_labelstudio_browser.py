"""Headless Chromium (Debian's) logs in to the real server and looks at the review screen at 1280x720."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import ROOT
from labelstudio_fixture import MARKUP_TEXT, markup_config, markup_records, read_predictions, typed, unique_title, write_run

from stance.labelstudio.push import push_run
from stance.labelstudio.tasks import review_score

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 720
SCREENSHOT = ROOT / "docs" / "images" / "labelstudio-review.png"


@pytest.fixture()
def page(labelstudio_server):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.set_default_timeout(90_000)
            page.goto(f"{labelstudio_server.url}/user/login/")
            page.fill('input[name="email"]', labelstudio_server.username)
            page.fill('input[name="password"]', labelstudio_server.password)
            page.click('button[type="submit"], input[type="submit"]')
            page.wait_for_load_state("networkidle")
            assert "/user/login" not in page.url, "the login form did not accept the user"
            yield page
        finally:
            browser.close()


def open_stream(page, url: str) -> str:
    """Open the labeling stream; the project's instructions come first: their text, then closed."""
    page.goto(url)
    page.wait_for_selector("text=Stance and framing review")
    instructions = page.inner_text("body")
    page.keyboard.press("Escape")
    page.wait_for_selector(".lsf-choices label[class*='wrapper-checked']")
    page.wait_for_timeout(1500)  # let the form settle before the picture
    return instructions


def checked_choices(page) -> list[str]:
    """The ticked choices of the labeling form, in page order, without the hotkey hints ("neutral[6]")."""
    labels = page.eval_on_selector_all(".lsf-choices label[class*='wrapper-checked']", "els => els.map(e => e.innerText.trim())")
    return [re.sub(r"\[[^\]]*\]$", "", label).strip() for label in labels if label]


def on_screen(page, locator) -> bool:
    """Whether the element is inside the 1280x720 window without scrolling."""
    box = locator.bounding_box()
    return box is not None and box["width"] > 0 and box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT and box["x"] + box["width"] <= WIDTH


def titled(records: list[dict]) -> list[dict]:
    """The seeds with the title, source and URL an article feed has."""
    return [{**r, "title": f"Diplomacy round-up {r['doc_id'][:3]}", "source": "Example Wire",
             "url": f"https://example.org/news/{r['doc_id']}"} for r in records]


def test_the_screen_shows_every_target_its_scores_and_marked_mentions_at_1280x720(page, labelstudio_server, ls_client, ls_seeds_run,
                                                                                   default_config, tmp_path, test_output):
    records = titled(read_predictions(ls_seeds_run))
    result = push_run(write_run(tmp_path / "titled", records), default_config, ls_client, unique_title("browser"), progress=False)
    instructions = open_stream(page, f"{labelstudio_server.url}/projects/{result.project_id}/data?labeling=1")  # "Label All Tasks"
    assert all(label.description in instructions for label in default_config.labels)
    page.screenshot(path=str(SCREENSHOT))
    page.screenshot(path=str(test_output / "labelstudio-review.png"))

    paragraph = page.locator(".lsf-richtext").first
    [record] = [r for r in records if " ".join(r["text"].split()) == " ".join(paragraph.inner_text().split())]
    # Uncertainty sampling: the lowest score first (Label Studio draws among the lowest N+1 when N people may annotate)
    candidates = len(ls_client.users()) + 1
    assert review_score(typed(record)) <= sorted(review_score(typed(r)) for r in records)[candidates - 1]
    expected = [record["stance"][t.name]["label"] for t in default_config.targets] + list(record["frame_labels"])
    assert checked_choices(page) == expected

    link = page.locator(f"a[href='{record['url']}']")
    assert link.get_attribute("target") == "_blank" and on_screen(page, link) and record["title"] in link.inner_text()
    for target in default_config.targets:  # every target, its choices and the model's view of it, without scrolling
        stance = record["stance"][target.name]
        row = page.locator(".lsf-choices").filter(has_text="not_mentioned").nth(
            [t.name for t in default_config.targets].index(target.name))
        assert on_screen(page, row), target.name
        expected_view = "no alias found by the gate" if stance.get("why") == "no alias found" else f"model: {stance['label']} {100 * stance['scores'][stance['label']]:.0f}%"
        view = page.get_by_text(expected_view).nth(0)
        assert on_screen(page, view), expected_view
    assert on_screen(page, page.get_by_text("frames pre-ticked:"))
    task = ls_client.get_task(next(t.id for t in ls_client.list_tasks(result.project_id) if t.para_id == record["id"]))
    [prediction] = task["predictions"]
    regions = [r["value"]["text"] for r in prediction["result"] if r["type"] == "labels"]
    marks = paragraph.locator(".htx-highlight")
    assert regions and sorted(marks.all_inner_texts()) == sorted(regions)  # each mention marked, in the paragraph
    assert all(on_screen(page, marks.nth(i)) for i in range(marks.count()))

    # submitting the pre-selected form: Label Studio records the prediction it started from (what the correction rate counts)
    page.get_by_test_id("bottombar-submit-button").click()
    for _ in range(100):
        annotations = ls_client.get_task(task["id"])["annotations"]
        if annotations:
            break
        page.wait_for_timeout(200)
    [annotation] = annotations
    assert annotation["parent_prediction"] == prediction["id"]


def test_a_target_left_blank_cannot_be_submitted(page, labelstudio_server, ls_client, default_config):
    from stance.labelstudio.xml import checked_labeling_config

    project = ls_client.create_project(unique_title("required"), checked_labeling_config(default_config))
    [task_id] = ls_client.import_tasks(project["id"], [{"data": {"text": "China and Russia held talks in Moscow."}}])  # no prediction: a blank form
    page.goto(f"{labelstudio_server.url}/projects/{project['id']}/data?task={task_id}")
    page.wait_for_selector("[class*='choices'] input")
    page.wait_for_timeout(1000)
    page.locator("label", has_text="neutral").first.click()  # China only
    page.get_by_test_id("bottombar-submit-button").click()
    page.wait_for_selector("text=Choose a stance toward Russia")
    assert ls_client.get_task(task_id)["annotations"] == []


def test_markup_in_a_paragraph_is_shown_as_text_and_never_runs(page, labelstudio_server, ls_client, tmp_path):
    config = markup_config(tmp_path)
    records = markup_records(config)
    records[0]["url"] = "javascript:window.__pwned=2"
    result = push_run(write_run(tmp_path / "markup", records), config, ls_client, unique_title("browser-markup"), progress=False)
    task_id = next(t.id for t in ls_client.list_tasks(result.project_id) if t.para_id == records[0]["id"])
    page.goto(f"{labelstudio_server.url}/projects/{result.project_id}/data?task={task_id}")
    page.wait_for_selector(".lsf-choices label[class*='wrapper-checked']")
    page.wait_for_timeout(1000)
    body = page.inner_text("body")
    assert page.evaluate("window.__pwned") is None  # the <script> in the text did not run
    assert "<script>window.__pwned = 1</script>" in body  # it is shown, literally
    assert MARKUP_TEXT.split(" <b>")[0] in body
    assert '<h1>Title & "co"</h1>' in body and "<Source>" in body  # the head line's markup is text too
    assert page.locator("h1", has_text="Title").count() == 0 and page.locator("a[href^='javascript']").count() == 0
    assert "AT&T <Inc>" in body
    assert checked_choices(page)[:2] == ["unfavorable", "not_mentioned"]
