"""Push and pull against a real Label Studio server: tasks, predictions, corrections, idempotence, errors."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from conftest import write_config
from labelstudio_fixture import make_client, read_predictions, typed, unique_title, write_run
from typer.testing import CliRunner

from stance.cli import app
from stance.config import load_config
from stance.errors import LabelStudioAuthError, LabelStudioError, LabelStudioUnreachableError
from stance.labelstudio.pull import format_pull_summary, pull_project, summary_path_for
from stance.labelstudio.push import push_run
from stance.labelstudio.server import free_port
from stance.labelstudio.tasks import prediction_result, review_score, task_for
from stance.labelstudio.xml import control_names, labeling_config

pytestmark = [pytest.mark.server, pytest.mark.slow]


def tasks_by_paragraph(client, project_id: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for task in client.list_tasks(project_id):
        found.setdefault(task.para_id, []).append(task.id)
    return found


def test_push_creates_one_task_per_paragraph_with_its_prediction_and_data(ls_client, ls_seeds_run, default_config):
    records = read_predictions(ls_seeds_run)
    title = unique_title("seeds")
    result = push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    assert result.created_project and result.new_tasks == len(records) == result.tasks_in_project
    assert result.invalid == [] and result.duplicates_removed == 0
    project = ls_client.get_project(result.project_id)
    assert project["model_version"] == records[0]["model_version"]  # annotators see these predictions pre-selected
    assert project["sampling"] == "Uncertainty sampling"  # lowest score (least certain) first
    assert project["label_config"].strip() == labeling_config(default_config).strip()
    index = tasks_by_paragraph(ls_client, result.project_id)
    assert sorted(index) == sorted(r["id"] for r in records) and all(len(ids) == 1 for ids in index.values())
    for record in records:
        task = ls_client.get_task(index[record["id"]][0])
        data = task["data"]
        assert (data["text"], data["para_id"], data["doc_id"], data["date"], data["source"]) == (
            record["text"], record["id"], record["doc_id"], record["date"], record["source"])
        assert data["context"].endswith(f"{record['date']} · (no source)")
        [prediction] = task["predictions"]
        assert prediction["model_version"] == record["model_version"]
        assert prediction["score"] == pytest.approx(review_score(typed(record)), abs=1e-4)
        choices = [r for r in prediction["result"] if r["type"] == "choices"]
        assert choices == prediction_result(typed(record), default_config)
        assert [r["value"]["choices"][0] for r in choices[:3]] == [record["stance"][t.name]["label"] for t in default_config.targets]
        marks = [r for r in prediction["result"] if r["type"] == "labels"]  # the mentions the screen marks, one region each
        assert all(record["text"][m["value"]["start"]:m["value"]["end"]] == m["value"]["text"] for m in marks if record["text"].isascii())
        assert {m["value"]["labels"][0] for m in marks} == {t for t, s in record["stance"].items() if s["mentioned"]}


def test_pushing_again_and_after_an_interruption_keeps_one_task_per_paragraph(ls_client, ls_seeds_run, default_config):
    records = read_predictions(ls_seeds_run)
    title = unique_title("interrupted")

    class Interrupted(Exception):
        pass

    def stop_after_two_batches(batch_no: int) -> None:
        if batch_no == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        push_run(ls_seeds_run, default_config, ls_client, title, batch_size=10, progress=False, on_batch=stop_after_two_batches)
    project_id = ls_client.find_projects(title)[0]["id"]
    assert len(ls_client.list_tasks(project_id)) == 20
    # an import whose answer was lost: the tasks are in the project, the pusher never learnt it
    lost = [r for r in records if r["id"] not in tasks_by_paragraph(ls_client, project_id)][:5]
    ls_client.import_tasks(project_id, [task_for(typed(r), default_config, None, None) for r in lost])
    resumed = push_run(ls_seeds_run, default_config, ls_client, title, batch_size=10, progress=False)
    assert resumed.new_tasks == len(records) - 25 and resumed.already_present == 25
    again = push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    assert (again.new_tasks, again.predictions_added, again.already_present) == (0, 0, len(records))
    index = tasks_by_paragraph(ls_client, project_id)
    assert len(ls_client.list_tasks(project_id)) == len(records) == len(index)
    assert all(len(ids) == 1 for ids in index.values())
    # a duplicate that a late import left behind is removed (nobody annotated it)
    ls_client.import_tasks(project_id, [task_for(typed(records[0]), default_config, None, None)])
    cleaned = push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    assert cleaned.duplicates_removed == 1 and cleaned.tasks_in_project == len(records)


def test_limit_sends_the_least_certain_paragraphs_first(ls_client, ls_seeds_run, default_config):
    records = read_predictions(ls_seeds_run)
    title = unique_title("limit")
    ranked = sorted(records, key=lambda r: review_score(typed(r)))
    first = push_run(ls_seeds_run, default_config, ls_client, title, limit=5, order="uncertainty", progress=False)
    assert first.new_tasks == 5 and first.left_for_later == len(records) - 5
    assert set(tasks_by_paragraph(ls_client, first.project_id)) == {r["id"] for r in ranked[:5]}
    second = push_run(ls_seeds_run, default_config, ls_client, title, limit=5, order="uncertainty", progress=False)
    assert second.new_tasks == 5 and set(tasks_by_paragraph(ls_client, first.project_id)) == {r["id"] for r in ranked[:10]}
    document = push_run(ls_seeds_run, default_config, ls_client, unique_title("doc-order"), limit=3, order="document", progress=False)
    assert set(tasks_by_paragraph(ls_client, document.project_id)) == {r["id"] for r in records[:3]}


def _annotation_from(record, config, changes: dict[str, str | None], frames=None) -> list[dict]:
    """What the labeling UI saves: the pre-selected prediction with some choices changed (None: cleared)."""
    names = control_names(config)
    result = []
    for item in prediction_result(typed(record), config):
        target = next((t for t, n in names.items() if n == item["from_name"]), None)
        if target in changes:
            if changes[target] is None:
                continue
            item = {**item, "value": {"choices": [changes[target]]}}
        result.append(item)
    if frames is not None:
        result = [r for r in result if r["from_name"] != "frames"]
        result.append({"from_name": "frames", "to_name": "text", "type": "choices", "value": {"choices": frames}})
    return result


def test_corrections_made_through_the_api_come_back_exactly(ls_client, ls_seeds_run, default_config, tmp_path):
    records = read_predictions(ls_seeds_run)
    title = unique_title("review")
    pushed = push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    index = tasks_by_paragraph(ls_client, pushed.project_id)
    second_id = ls_client.create_user(f"{unique_title('second')}@example.com", "second-password-1")
    users = ls_client.users()
    admin, second = users[ls_client.whoami()["id"]], users[second_id]
    other = {"favorable": "unfavorable", "neutral": "favorable", "unfavorable": "neutral", "not_mentioned": "neutral"}
    expected = set()

    def annotate(record, changes, frames=None, completed_by=None, person=admin):
        task_id = index[record["id"]][0]
        [prediction] = ls_client.get_task(task_id)["predictions"]  # the form opens with it, as in the labeling UI
        ls_client.create_annotation(task_id, _annotation_from(record, default_config, changes, frames), completed_by=completed_by,
                                    lead_time=4.2, parent_prediction=prediction["id"])
        chosen_frames = frames if frames is not None else record["frame_labels"]
        chosen_frames = tuple(chosen_frames) if chosen_frames else None  # no frame chosen: no frames item at all
        for target in default_config.targets:
            if target.name in changes and changes[target.name] is None:
                continue  # cleared: not a label
            label = changes.get(target.name, record["stance"][target.name]["label"])
            expected.add((record["id"], target.name, label, person, chosen_frames, record["stance"][target.name]["label"], record["model_version"]))

    for i, record in enumerate(records[:12]):
        china = record["stance"]["China"]["label"]
        changes = {"China": other[china]} if i % 2 == 0 else {}
        annotate(record, changes, frames=["Political"] if i % 4 == 0 else None)
        if i < 6:  # a second person on half of them, disagreeing on China once
            annotate(record, {"China": other[china]} if i in (0, 1) else {"China": changes.get("China", china)}, completed_by=second_id, person=second)
    annotate(records[12], {"Russia": None})  # Russia left blank: no Russia record
    skipped = records[13]
    ls_client.create_annotation(index[skipped["id"]][0], [], was_cancelled=True)
    bad = records[14]
    bad_prediction = ls_client.get_task(index[bad["id"]][0])["predictions"][0]["id"]
    ls_client.create_annotation(index[bad["id"]][0], _annotation_from(bad, default_config, {"China": "maybe"}), parent_prediction=bad_prediction)
    for target in ("Russia", "United States"):  # the rest of that annotation is still good
        label = bad["stance"][target]["label"]
        expected.add((bad["id"], target, label, admin, tuple(bad["frame_labels"]) or None, label, bad["model_version"]))
    # a label made on a blank form (no prediction shown): no model label, and not a correction, however it differs
    blank = records[15]
    ls_client.create_annotation(index[blank["id"]][0], _annotation_from(blank, default_config, {"China": other[blank["stance"]["China"]["label"]]}))
    for target in default_config.targets:
        label = other[blank["stance"]["China"]["label"]] if target.name == "China" else blank["stance"][target.name]["label"]
        expected.add((blank["id"], target.name, label, admin, tuple(blank["frame_labels"]) or None, None, None))

    out = tmp_path / "reviewed.jsonl"
    pulled = pull_project(default_config, ls_client, title, out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    got = {(r["id"], r["target"], r["label"], r["annotator"], tuple(r["frames"]) if r["frames"] else None, r["model_label"], r["model_version"]) for r in lines}
    assert got == expected and len(lines) == len(expected)  # every label exactly, each once
    by_id = {r["id"]: r for r in records}
    assert all(r["text"] == by_id[r["id"]]["text"] and r["doc_id"] == by_id[r["id"]]["doc_id"] and r["updated_at"] for r in lines)
    assert pulled.skipped_tasks == 1 and pulled.cancelled_annotations == 1 and pulled.unlabelled_targets == 1
    [problem] = pulled.invalid
    assert f"task {index[bad['id']][0]}" in problem and "'maybe'" in problem and "'China'" in problem
    assert sorted(pulled.annotators) == sorted([admin, second])

    china = pulled.per_target["China"]
    changed = sum(1 for key in expected if key[1] == "China" and key[5] is not None and key[2] != key[5])
    compared = sum(1 for key in expected if key[1] == "China" and key[5] is not None)
    assert china["correction_rate"] == pytest.approx(changed / compared, abs=1e-4) and china["blank_form"] == 1
    assert pulled.from_prediction == pulled.annotations - 1
    from sklearn.metrics import cohen_kappa_score

    pairs = {}
    for key in expected:
        if key[1] == "China":
            pairs.setdefault(key[0], {})[key[3]] = key[2]
    both = [(p[admin], p[second]) for p in pairs.values() if len(p) == 2]
    assert china["paragraphs_with_several_annotators"] == len(both) == 6
    assert china["cohen_kappa"] == pytest.approx(cohen_kappa_score([a for a, _ in both], [b for _, b in both]), abs=1e-3)
    assert china["krippendorff_alpha"] is not None

    # who said what, wherever two people disagree: here only records[1] on China (the others agreed)
    china1 = records[1]["stance"]["China"]["label"]
    assert [(d["id"], d["target"], d["labels"], d["decided"]) for d in pulled.disagreements] == [
        (records[1]["id"], "China", {admin: china1, second: other[china1]}, None)]
    assert f"China | {records[1]['id']} | " in format_pull_summary(pulled)

    summary = json.loads(summary_path_for(out).read_text(encoding="utf-8"))
    assert summary["records"] == len(expected) and summary["per_target"]["China"]["corrected"] == changed
    before = out.read_bytes()
    with pytest.raises(LabelStudioError, match="already exists"):
        pull_project(default_config, ls_client, title, out)
    assert out.read_bytes() == before
    pull_project(default_config, ls_client, title, out, overwrite=True)
    assert out.read_bytes() == before  # same annotations, same file


def test_a_project_with_other_labels_is_refused_with_the_differences(ls_client, ls_seeds_run, default_config, tmp_path):
    title = unique_title("mismatch")
    other = load_config(write_config(tmp_path / "other.yaml", "targets:\n  - name: China\n  - name: NATO\n"))
    records = read_predictions(ls_seeds_run)[:3]
    for record in records:
        record["stance"] = {"China": record["stance"]["China"], "NATO": record["stance"]["Russia"]}
    created = push_run(write_run(tmp_path / "nato", records), other, ls_client, title, progress=False)
    with pytest.raises(LabelStudioError) as error:
        push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    message = str(error.value)
    assert "nothing was imported" in message
    assert "choice group 'stance_russia' is missing from the project" in message
    assert "the project has a choice group 'stance_nato' that the config does not define" in message
    assert len(ls_client.list_tasks(created.project_id)) == 3


def test_invalid_predictions_are_named_and_the_rest_is_pushed(ls_client, ls_seeds_run, default_config, tmp_path):
    records = read_predictions(ls_seeds_run)[:6]
    records[2]["stance"]["Russia"]["label"] = "hostile"
    run = write_run(tmp_path / "bad", records)
    with (run / "predictions.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"id": "half a line from a kill\n')
    result = push_run(run, default_config, ls_client, unique_title("invalid"), progress=False)
    assert result.new_tasks == 5
    [problem, broken] = result.invalid
    assert "predictions.jsonl:3" in problem and records[2]["id"] in problem and "'hostile'" in problem and "'Russia'" in problem
    assert "predictions.jsonl:7: not a JSON object" in broken


def test_wrong_token_and_unreachable_server_give_clear_errors(labelstudio_server, ls_seeds_run, default_config, monkeypatch, tmp_path):
    bad_key = "not-the-right-token-0123456789"
    with pytest.raises(LabelStudioAuthError) as error:
        make_client(labelstudio_server, bad_key).whoami()
    assert f"Label Studio at {labelstudio_server.url} rejected the API key from the test key" in str(error.value)
    assert bad_key not in str(error.value)
    forged = jwt.encode({"exp": int(time.time()) + 3600, "token_type": "refresh", "user_id": 1}, "not-the-server-secret-but-32-bytes-long", algorithm="HS256")
    with pytest.raises(LabelStudioAuthError, match="rejected the API key"):
        make_client(labelstudio_server, forged).whoami()

    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(LabelStudioUnreachableError, match=f"cannot reach Label Studio at {nowhere}"):
        make_client(nowhere, "any-key", max_retries=2, backoff=0.05).whoami()
    assert time.monotonic() - started < 30  # bounded retries, not a hang

    # through the command line: the message and exit code 2, no stack trace, no key
    runner = CliRunner()
    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", bad_key)
    result = runner.invoke(app, ["push", str(ls_seeds_run), "--project", "x", "--no-progress"])
    assert result.exit_code == 2 and "rejected the API key from the environment variable LABEL_STUDIO_API_KEY" in result.output
    assert "Traceback" not in result.output and bad_key not in result.output
    monkeypatch.setenv("LABEL_STUDIO_URL", nowhere)
    impatient = write_config(tmp_path / "impatient.yaml", "labelstudio:\n  max_retries: 1\n")
    result = runner.invoke(app, ["pull", "--project", "x", "--out", str(tmp_path / "never.jsonl"), "-c", str(impatient)])
    assert result.exit_code == 2 and f"cannot reach Label Studio at {nowhere}" in result.output and "Traceback" not in result.output


def test_a_personal_access_token_works_like_a_legacy_token(labelstudio_server, ls_seeds_run, default_config, tmp_path):
    token = labelstudio_server.create_personal_access_token()
    assert token.count(".") == 2  # a JWT refresh token
    client = make_client(labelstudio_server, token)
    assert client.whoami()["email"] == labelstudio_server.username
    run = write_run(tmp_path / "pat", read_predictions(ls_seeds_run)[:4])
    assert push_run(run, default_config, client, unique_title("pat"), progress=False).new_tasks == 4


def test_labelstudio_config_command_prints_the_generated_xml(default_config):
    result = CliRunner().invoke(app, ["labelstudio", "config"])
    assert result.exit_code == 0 and result.output == labeling_config(default_config)
