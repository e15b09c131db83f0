"""Disagreements between two annotators, their adjudication (`stance labelstudio review`), and the exit codes
a script relies on: an empty project and rejected predictions (against the real server)."""

from __future__ import annotations

import json

import pytest
from labelstudio_fixture import read_predictions, typed, unique_title, write_run
from typer.testing import CliRunner

from stance.cli import app
from stance.labelstudio.pull import pull_project
from stance.labelstudio.push import push_run
from stance.labelstudio.tasks import prediction_result
from stance.labelstudio.xml import control_names

pytestmark = [pytest.mark.server, pytest.mark.slow]
OTHER = {"favorable": "unfavorable", "neutral": "favorable", "unfavorable": "neutral", "not_mentioned": "neutral"}


def result_with(record, config, china=None, unsure=False, comment=None):
    result = prediction_result(typed(record), config)
    if china:
        name = control_names(config)["China"]
        result = [{**r, "value": {"choices": [china]}} if r["from_name"] == name else r for r in result]
    if unsure:
        result.append({"from_name": "unsure", "to_name": "text", "type": "choices", "value": {"choices": ["unsure"]}})
    if comment:
        result.append({"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": [comment]}})
    return result


def test_two_annotators_disagree_a_reviewer_decides_and_pull_says_who_said_what(ls_client, ls_seeds_run, default_config, tmp_path):
    records = [r for r in read_predictions(ls_seeds_run) if r["stance"]["China"]["label"] != "not_mentioned"][:4]
    title = unique_title("review")
    pushed = push_run(write_run(tmp_path / "run", records), default_config, ls_client, title, progress=False)
    task_of = {t.para_id: t.id for t in ls_client.list_tasks(pushed.project_id)}
    second_id = ls_client.create_user(f"{unique_title('second')}@example.com", "second-password-1")
    users = ls_client.users()
    admin, second = users[ls_client.whoami()["id"]], users[second_id]
    for i, record in enumerate(records):
        task = ls_client.get_task(task_of[record["id"]])
        parent = task["predictions"][0]["id"]
        ls_client.create_annotation(task["id"], result_with(record, default_config), parent_prediction=parent)
        china = OTHER[record["stance"]["China"]["label"]] if i in (0, 2) else None
        ls_client.create_annotation(task["id"], result_with(record, default_config, china, unsure=i == 3, comment="sarcasm?" if i == 3 else None),
                                    completed_by=second_id, parent_prediction=parent)

    pulled = pull_project(default_config, ls_client, title, tmp_path / "reviewed.jsonl")
    label = {i: r["stance"]["China"]["label"] for i, r in enumerate(records)}
    assert sorted((d["id"], d["target"], tuple(sorted(d["labels"].items())), d["decided"]) for d in pulled.disagreements) == sorted([
        (records[0]["id"], "China", tuple(sorted({admin: label[0], second: OTHER[label[0]]}.items())), None),
        (records[2]["id"], "China", tuple(sorted({admin: label[2], second: OTHER[label[2]]}.items())), None),
    ])
    lines = [json.loads(x) for x in (tmp_path / "reviewed.jsonl").read_text(encoding="utf-8").splitlines()]
    flagged = [x for x in lines if x.get("unsure")]
    assert {x["id"] for x in flagged} == {records[3]["id"]} and {x["comment"] for x in flagged} == {"sarcasm?"} and pulled.unsure == 1

    # one decision from a file; the other (and the unsure paragraph) stay open
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text(json.dumps({"id": records[0]["id"], "target": "China", "label": "neutral"}) + "\n", encoding="utf-8")
    runner = CliRunner()
    env = {"LABEL_STUDIO_URL": ls_client.url, "LABEL_STUDIO_API_KEY": ls_client.credentials.api_key}
    done = runner.invoke(app, ["labelstudio", "review", "-p", title, "--decisions", str(decisions)], env=env)
    assert done.exit_code == 0, done.output
    assert "1 decision(s) saved in 1 reviewer annotation(s)" in done.output
    again = runner.invoke(app, ["labelstudio", "review", "-p", title, "--decisions", str(decisions)], env=env)
    assert "0 decision(s) saved" in again.output and "1 decided before" in again.output  # decided once, not asked again

    # on the terminal: the text and who said what; "2" picks the second label (for the open disagreement and the
    # unsure paragraph's targets), then "q" stops
    asked = runner.invoke(app, ["labelstudio", "review", "-p", title], env=env, input="2\n" * 4 + "q\n")
    assert asked.exit_code == 0, asked.output
    assert f"{admin}: {label[2]}" in asked.output and f"{second}: {OTHER[label[2]]}" in asked.output
    assert records[2]["text"][:40] in " ".join(asked.output.split())
    labels = list(default_config.all_label_names)

    after = pull_project(default_config, ls_client, title, tmp_path / "reviewed.jsonl", overwrite=True)
    decided = {(d["id"], d["target"]): (d["decided"], d["decided_by"]) for d in after.disagreements}
    assert decided == {(records[0]["id"], "China"): ("neutral", admin), (records[2]["id"], "China"): (labels[1], admin)}
    lines = [json.loads(x) for x in (tmp_path / "reviewed.jsonl").read_text(encoding="utf-8").splitlines()]
    adjudicated = [x for x in lines if x.get("adjudicated")]
    assert {(x["id"], x["target"], x["label"]) for x in adjudicated if x["target"] == "China"} == {
        (records[0]["id"], "China", "neutral"), (records[2]["id"], "China", labels[1]), (records[3]["id"], "China", labels[1])}
    # the reviewer's annotation carries the agreed labels of the other targets, and no model label (not a correction)
    assert all(x["model_label"] is None for x in adjudicated)
    assert after.per_target["China"]["paragraphs_with_several_annotators"] == 4  # the two annotators; the reviewer is not a third


def test_an_empty_project_and_rejected_predictions_exit_non_zero(ls_client, ls_seeds_run, default_config, tmp_path):
    runner = CliRunner()
    env = {"LABEL_STUDIO_URL": ls_client.url, "LABEL_STUDIO_API_KEY": ls_client.credentials.api_key}
    records = read_predictions(ls_seeds_run)[:5]
    title = unique_title("empty")
    push_run(write_run(tmp_path / "run", records), default_config, ls_client, title, progress=False)
    out = tmp_path / "reviewed.jsonl"
    empty = runner.invoke(app, ["pull", "-p", title, "--out", str(out)], env=env)
    assert empty.exit_code == 2 and "has no labels to pull yet (5 task(s), none annotated); nothing written" in empty.output
    assert not out.exists() and list(tmp_path.glob("reviewed*")) == []

    # a run made with another config: every prediction is rejected, and the command says so with exit code 2
    other = [{**r, "stance": {"NATO": r["stance"]["China"], **{t: s for t, s in r["stance"].items() if t != "China"}}} for r in records]
    rejected = runner.invoke(app, ["push", str(write_run(tmp_path / "other", other)), "-p", title, "--no-progress"], env=env)
    assert rejected.exit_code == 2, rejected.output
    assert "error: 5 of 5 prediction(s) were rejected" in rejected.output and "no prediction for target 'China'" in rejected.output
