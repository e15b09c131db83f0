"""Headless Chromium (Debian's) logs in to the real server and looks at the review screen."""

from __future__ import annotations

import re
import shutil

import pytest
from labelstudio_fixture import MARKUP_TEXT, markup_config, markup_records, read_predictions, typed, unique_title, write_run

from stance.labelstudio.push import push_run
from stance.labelstudio.tasks import review_score

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture()
def page(labelstudio_server):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
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


def checked_choices(page) -> list[str]:
    """The ticked choices of the labeling form, in page order, without the hotkey hints ("neutral[6]")."""
    labels = page.eval_on_selector_all(
        "[class*='choices'] input:checked", "els => els.map(e => (e.closest('label') || e.parentElement).innerText.trim())"
    )
    return [re.sub(r"\[[^\]]*\]$", "", label).strip() for label in labels if label]


def test_annotators_get_the_least_certain_paragraph_with_its_prediction_preselected(page, labelstudio_server, ls_client, ls_seeds_run, default_config, test_output):
    records = read_predictions(ls_seeds_run)
    result = push_run(ls_seeds_run, default_config, ls_client, unique_title("browser"), progress=False)
    page.goto(f"{labelstudio_server.url}/projects/{result.project_id}/data?labeling=1")  # "Label All Tasks"
    page.wait_for_selector("[class*='choices'] input:checked")
    page.wait_for_timeout(1500)  # let the form settle before the picture
    page.screenshot(path=str(test_output / "labelstudio-review.png"))
    # the <Text> objects in config order: context line, previous paragraph, the paragraph, next paragraph
    paragraph = " ".join(page.locator(".lsf-object.lsf-richtext").nth(2).inner_text().split())
    [record] = [r for r in records if " ".join(r["text"].split()) == paragraph]
    # Uncertainty sampling: the lowest score first (Label Studio draws among the lowest N+1 when N people may annotate)
    candidates = len(ls_client.users()) + 1
    threshold = sorted(review_score(typed(r)) for r in records)[candidates - 1]
    assert review_score(typed(record)) <= threshold
    expected = [record["stance"][t.name]["label"] for t in default_config.targets] + list(record["frame_labels"])
    assert checked_choices(page) == expected


def test_markup_in_a_paragraph_is_shown_as_text_and_never_runs(page, labelstudio_server, ls_client, tmp_path):
    config = markup_config(tmp_path)
    records = markup_records(config)
    result = push_run(write_run(tmp_path / "markup", records), config, ls_client, unique_title("browser-markup"), progress=False)
    task_id = next(t.id for t in ls_client.list_tasks(result.project_id) if t.para_id == records[0]["id"])
    page.goto(f"{labelstudio_server.url}/projects/{result.project_id}/data?task={task_id}")
    page.wait_for_selector("[class*='choices'] input:checked")
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__pwned") is None  # the <script> in the text did not run
    assert "<script>window.__pwned = 1</script>" in page.inner_text("body")  # it is shown, literally
    assert MARKUP_TEXT.split(" <b>")[0] in page.inner_text("body")
    assert "Stance toward AT&T <Inc>" in page.inner_text("body")
    assert checked_choices(page)[:2] == ["unfavorable", "not_mentioned"]
