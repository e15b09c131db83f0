"""Which model version a project pre-selects: set by the first push, changed only on request, and never
leaving an unreviewed task without a prediction of it (against the real server)."""

from __future__ import annotations

import json

import pytest
from labelstudio_fixture import read_predictions, unique_title, write_run
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import LabelStudioError
from stance.labelstudio.push import format_push_summary, push_run
from stance.labelstudio.tasks import prediction_result
from stance.labelstudio.versions import use_version

pytestmark = [pytest.mark.server, pytest.mark.slow]


def as_version(records: list[dict], version: str, flip: bool = False) -> list[dict]:
    out = []
    for i, record in enumerate(records):
        record = json.loads(json.dumps(record))
        record["model_version"] = version
        if flip and i % 3 == 0 and record["stance"]["China"]["label"] != "not_mentioned":
            record["stance"]["China"]["label"] = "favorable" if record["stance"]["China"]["label"] != "favorable" else "neutral"
        out.append(record)
    return out


def unreviewed_without(client, project_id: int, version: str) -> int:
    """Unreviewed tasks that have no prediction of `version` (they would open blank)."""
    return sum(1 for t in client.list_tasks(project_id)
               if t.total_annotations + t.cancelled_annotations == 0 and version not in t.model_versions)


def test_three_pushes_of_two_models_never_leave_an_unreviewed_task_blank(ls_client, ls_seeds_run, default_config, tmp_path, test_output):
    records = read_predictions(ls_seeds_run)
    first_part, rest = records[:30], records[30:]
    model_a = write_run(tmp_path / "a-part", as_version(first_part, "model-a"))
    model_b = write_run(tmp_path / "b-all", as_version(records, "model-b", flip=True))
    model_a_all = write_run(tmp_path / "a-all", as_version(records, "model-a"))
    title = unique_title("versions")
    printed = []

    first = push_run(model_a, default_config, ls_client, title, progress=False)
    printed.append(format_push_summary(first))
    pid = first.project_id
    assert (first.shown_before, first.shown_version, first.new_tasks) == ("", "model-a", 30)
    index = {t.para_id: t.id for t in ls_client.list_tasks(pid)}
    for record in first_part[:5]:  # five reviewed before the new model comes
        task = ls_client.get_task(index[record["id"]])
        ls_client.create_annotation(task["id"], prediction_result_of(record, default_config), parent_prediction=task["predictions"][0]["id"])

    second = push_run(model_b, default_config, ls_client, title, progress=False)  # a newer model, more paragraphs
    printed.append(format_push_summary(second))
    assert (second.shown_before, second.shown_version) == ("model-a", "model-a")  # not switched by a push
    assert (second.new_tasks, second.held_back, second.predictions_added) == (0, len(rest), 30)
    assert ls_client.get_project(pid)["model_version"] == "model-a" and unreviewed_without(ls_client, pid, "model-a") == 0
    assert any("held back" in line for line in second.version_lines)

    third = push_run(model_a_all, default_config, ls_client, title, progress=False)  # the shown model's run of every paragraph
    printed.append(format_push_summary(third))
    assert (third.shown_version, third.new_tasks, third.predictions_added, third.tasks_in_project) == ("model-a", len(rest), 0, len(records))
    assert ls_client.get_project(pid)["model_version"] == "model-a" and unreviewed_without(ls_client, pid, "model-a") == 0
    assert third.version_lines[0] == "the project shows model-a: unchanged"

    # the switch is the user's, and only when nothing would open blank: the 14 newest tasks have no model-b yet
    with pytest.raises(LabelStudioError, match=rf"{len(rest)} unreviewed task\(s\) .* have no prediction of 'model-b'.* nothing changed"):
        use_version(default_config, ls_client, title, "model-b")
    assert ls_client.get_project(pid)["model_version"] == "model-a"
    again = push_run(model_b, default_config, ls_client, title, progress=False)
    assert (again.predictions_added, again.held_back) == (len(rest), 0)
    switch = use_version(default_config, ls_client, title, "model-b")
    assert (switch.report.shown_before, switch.report.shown_after, switch.report.unreviewed_without_shown) == ("model-a", "model-b", 0)
    assert unreviewed_without(ls_client, pid, "model-b") == 0 and ls_client.get_project(pid)["model_version"] == "model-b"
    after = push_run(model_a_all, default_config, ls_client, title, progress=False)  # an older run pushed again adds nothing, switches nothing
    assert (after.new_tasks, after.predictions_added, after.shown_version) == (0, 0, "model-b")
    text = "\n\n".join(f"push {i}:\n{p}" for i, p in enumerate(printed, 1))
    (test_output / "versions-three-pushes.txt").write_text(text + "\n", encoding="utf-8")
    print(text)


def prediction_result_of(record, config):
    from labelstudio_fixture import typed

    return prediction_result(typed(record), config)


def test_use_version_with_a_model_predicts_the_tasks_that_lack_it_as_annotate_would(ls_client, ls_seeds_run, default_config, tmp_path):
    records = read_predictions(ls_seeds_run)  # the config's model: what `stance annotate seeds/` gave
    title = unique_title("use-model")
    other = write_run(tmp_path / "other", as_version(records, "some-older-model", flip=True))
    pushed = push_run(other, default_config, ls_client, title, progress=False)
    switch = use_version(default_config, ls_client, title, model=default_config.model.name)
    version = records[0]["model_version"]
    assert (switch.report.shown_after, switch.report.predicted, switch.versions[version]) == (version, len(records), len(records))
    index = {t.para_id: t.id for t in ls_client.list_tasks(pushed.project_id)}
    for record in records:
        [prediction] = [p for p in ls_client.get_task(index[record["id"]])["predictions"] if p["model_version"] == version]
        chosen = [r["value"]["choices"] for r in prediction["result"] if r["type"] == "choices"]
        assert chosen == [r["value"]["choices"] for r in prediction_result_of(record, default_config)], record["id"]  # with its document's context

    # the command line: list the versions; a refused switch exits 2 and says why
    runner = CliRunner()
    env = {"LABEL_STUDIO_URL": ls_client.url, "LABEL_STUDIO_API_KEY": ls_client.credentials.api_key}
    listing = runner.invoke(app, ["labelstudio", "use-version", "-p", title], env=env)
    assert listing.exit_code == 0 and f"* {version}: {len(records)} task(s)" in listing.output and "some-older-model" in listing.output
    missing = runner.invoke(app, ["labelstudio", "use-version", "no-such-version", "-p", title], env=env)
    assert missing.exit_code == 2 and "have no prediction of 'no-such-version'" in missing.output and "Traceback" not in missing.output
