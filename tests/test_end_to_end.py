"""The whole loop, as a user runs it (tier 4): README command 1 on seeds/, push to a real Label
Studio, corrections through the API as a person makes them in the labelling screen (starting from
the pre-selected prediction), pull, train (a warm start), evaluate, make the project show the new
model, annotate the next batch with it, push again."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import ROOT
from labelstudio_fixture import unique_title
from typer.testing import CliRunner

from stance.cli import app

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.model]
runner = CliRunner()


def stance(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"stance {' '.join(args)}:\n{result.output}"
    return result.output


def test_the_whole_loop(labelstudio_server, ls_client, seeds_run, default_config, tmp_path, monkeypatch):
    from stance.labelstudio.xml import control_names

    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", labelstudio_server.api_key)
    run, _ = seeds_run
    project = unique_title("e2e")
    assert "the project shows" in stance("push", str(run), "--project", project, "--no-progress")

    # a person reviews 30 paragraphs: most pre-labels accepted, China corrected where the model said favorable
    found = ls_client.find_projects(project)[0]
    names = control_names(default_config)
    corrected = 0
    for ref in sorted(ls_client.list_tasks(found["id"]), key=lambda t: t.id)[:30]:
        task = ls_client.get_task(ref.id)
        prediction = task["predictions"][0]
        result = [dict(item) for item in prediction["result"] if item.get("type") == "choices"]
        for item in result:
            if item["from_name"] == names["China"] and item["value"]["choices"] == ["favorable"]:
                item["value"] = {"choices": ["neutral"]}
                corrected += 1
        ls_client.create_annotation(ref.id, result, parent_prediction=prediction["id"], lead_time=20.0)
    reviewed = tmp_path / "reviewed.jsonl"
    summary = stance("pull", "--project", project, "--out", str(reviewed))
    records = [json.loads(line) for line in reviewed.read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in records}) == 30 and {r["target"] for r in records} == {"China", "Russia", "United States"}
    china = [r for r in records if r["target"] == "China"]
    assert sum(r["label"] != r["model_label"] for r in china) == corrected  # the corrections came back, one for one
    assert "started from a prediction" in summary or "changed from the model's label" in summary

    # retrain from the model that made the pre-labels, then evaluate it against the shipped default
    model = tmp_path / "models" / "v2"
    output = stance("train", str(reviewed), "--out", str(model), "--models-dir", str(tmp_path / "models"), "--max-steps", "6", "--no-progress")
    assert "warm start" in output
    info = json.loads((model / "stance_model.json").read_text())
    assert info["stance"]["started_from"] == default_config.model.name
    stance("evaluate", str(model), "--gold", str(ROOT / "tests" / "fixtures" / "seed_gold.jsonl"), "--against", "config",
           "--out", str(tmp_path / "eval"), "--no-progress")
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["model"]["model_version"] == info["model_version"] and metrics["against"]["overall"]["n"] == 107

    # the project shows the new model (its unreviewed tasks predicted first), and the next batch is pre-annotated with it
    stance("labelstudio", "use-version", info["model_version"], "--project", project, "--model", str(model))
    batch = tmp_path / "batch2"
    batch.mkdir()
    articles = [json.loads(line) for line in (ROOT / "data" / "sources" / "synthetic" / "w1-wire.jsonl").read_text().splitlines()[:2]]
    (batch / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    run2 = tmp_path / "run2"
    stance("annotate", str(batch), "--model", str(model), "--out", str(run2), "--no-progress")
    new = [json.loads(line) for line in (run2 / "predictions.jsonl").read_text().splitlines()]
    assert {p["model_version"] for p in new} == {info["model_version"]}
    output = stance("push", str(run2), "--project", project, "--no-progress")
    assert f"the project shows {info['model_version']}" in output
    tasks = ls_client.list_tasks(found["id"])
    by_paragraph = {t.para_id for t in tasks}
    assert {p["id"] for p in new} <= by_paragraph and len(tasks) == len(by_paragraph)  # one task per paragraph
    unreviewed = [t for t in tasks if not t.total_annotations]
    assert all(info["model_version"] in t.model_versions for t in unreviewed)  # none opens blank
    if os.environ.get("STANCE_KEEP_E2E"):
        shutil.copytree(tmp_path, ROOT / "test-output" / "e2e", dirs_exist_ok=True)
