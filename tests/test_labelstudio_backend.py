"""The ML backend: Label Studio's protocol (health, setup, predict, webhook) served by Starlette; against
the real server, a task imported by hand gets the predictions `stance annotate` gives the same text."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from labelstudio_fixture import unique_title
from typer.testing import CliRunner

from stance.annotator import Annotator
from stance.cli import app
from stance.labelstudio.backend import BackendState, create_app, retrain_job
from stance.labelstudio.live import LiveModel, Retrainer, paragraph_of_task
from stance.labelstudio.server import free_port
from stance.labelstudio.versions import use_version
from stance.labelstudio.xml import checked_labeling_config, labeling_config
from stance.records import Prediction

starlette_testclient = pytest.importorskip("starlette.testclient")


class FixedScorerAnnotator:
    """An annotator whose labels depend on its model path only (so a reload is visible), through the real
    decision code: everything mentioned is neutral, and the version names the path."""

    def __init__(self, config, target):
        self.config, self.target = config, target
        self.model_version = f"fake:{Path(target).name if target else 'config'}"
        self.seen = []

    def predict(self, paragraphs):
        self.seen.extend(paragraphs)
        label = "favorable" if self.target and self.target.endswith("v2") else "neutral"
        out = []
        for p in paragraphs:
            stance = {}
            for t in self.config.targets:
                scores = {label: 0.7, "unfavorable": 0.3} if t.name in p.text else None
                stance[t.name] = Annotator.decide(self, scores, scores is not None)
            out.append(Prediction.for_paragraph(p, stance, {"Economic": 0.9}, ["Economic"], self.model_version))
        return out


def fake_live(config, model, **kwargs):
    return LiveModel(config, model, load=lambda cfg, target: FixedScorerAnnotator(cfg, target), **kwargs)


def test_the_protocol_health_setup_predict_and_a_refused_schema(default_config, tmp_path):
    state = BackendState(default_config, fake_live(default_config, None))
    client = starlette_testclient.TestClient(create_app(state))
    health = client.get("/health").json()
    assert health["status"] == "UP" and health["model_version"] == "fake:config" and health["training"] is None
    assert client.get("/").json()["status"] == "UP"
    xml = labeling_config(default_config)
    assert client.post("/setup", json={"project": "3.1700000000", "schema": xml}).json() == {"model_version": "fake:config"}
    tasks = [
        {"id": 11, "data": {"text": "China and Russia talked."}},
        {"id": 12, "data": {"other": "no text here"}},
        {"id": 13, "data": {"text": "Nothing about anyone.", "para_id": "d:0:abc", "doc_id": "d", "index": 4, "short_forms": ["Wang"]}},
    ]
    answer = client.post("/predict", json={"tasks": tasks, "label_config": xml, "project": "3.1700000000", "params": {}}).json()
    first, missing, third = answer["results"]
    assert missing == []  # no text: no prediction for that task (Label Studio stores none)
    assert first["model_version"] == "fake:config" and first["score"] == pytest.approx(0.4)
    choices = {r["from_name"]: r["value"].get("choices") for r in first["result"] if r["type"] == "choices"}
    assert choices == {"stance_china": ["neutral"], "stance_russia": ["neutral"], "stance_united_states": ["not_mentioned"], "frames": ["Economic"]}
    assert [r["value"]["text"] for r in first["result"] if r["type"] == "labels"] == ["China", "Russia"]  # the mentions, marked
    assert {r["from_name"] for r in third["result"]} == {"stance_china", "stance_russia", "stance_united_states", "frames"}
    seen = state.live.annotator().seen[-1]
    assert (seen.id, seen.doc_id, seen.index, seen.meta) == ("d:0:abc", "d", 4, {"short_forms": ["Wang"]})  # push's document context
    # a project whose labels are not the config's: refused, with the differences
    other = xml.replace('<Choice value="neutral"', '<Choice value="mixed"', 1)
    refused = client.post("/predict", json={"tasks": tasks[:1], "label_config": other})
    assert refused.status_code == 400 and "lacks 'neutral'" in refused.json()["error"]
    assert client.post("/setup", json={"project": "3.1", "schema": other}).status_code == 400
    assert client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 3}}).json() == {"status": "Unknown event"}
    assert client.post("/train", json={"project": "3.1"}).status_code == 400  # training is off


def test_a_promotion_is_served_when_the_current_link_moves(default_config, tmp_path):
    models = tmp_path / "models"
    (models / "stance-v1").mkdir(parents=True)
    (models / "stance-v2").mkdir()
    live = fake_live(default_config, models / "current", optional=True)
    assert live.model_version == "fake:config"  # no promotion yet: the config's own model
    (models / "current").symlink_to("stance-v1")
    assert live.model_version == "fake:stance-v1"
    (models / "current.new").symlink_to("stance-v2")
    (models / "current.new").replace(models / "current")  # what retrain does on a promotion
    [prediction] = live.predict_tasks([{"id": 1, "data": {"text": "China."}}])
    assert prediction["model_version"] == "fake:stance-v2" and prediction["result"][0]["value"]["choices"] == ["favorable"]


def test_annotations_trigger_bounded_retrains_in_the_background(default_config):
    release = threading.Event()
    started = []

    def job(project):
        started.append(project)
        release.wait(30)
        return f"round {len(started)}"

    retrainer = Retrainer(job, min_annotations=3)
    state = BackendState(default_config, fake_live(default_config, None), retrainer)
    client = starlette_testclient.TestClient(create_app(state))

    def annotate():
        return client.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 5, "title": "p"}})

    assert [annotate().json()["result"] for _ in range(2)] == [
        "waiting: 1 of 3 annotation(s) before the next retrain", "waiting: 2 of 3 annotation(s) before the next retrain"]
    third = annotate()
    assert third.status_code == 201 and third.json() == {"status": "ok", "result": "started a retrain in the background"}
    for _ in range(7):  # a burst while it runs: one more run queued, not seven
        annotate()
    assert client.get("/health").json()["training"]["busy"] is True
    release.set()
    assert retrainer.wait(30)
    assert retrainer.runs == ["round 1", "round 2"] and len(started) == 2
    assert client.post("/webhook", json={"action": "PROJECT_UPDATED", "project": {"id": 5}}).json() == {"status": "Unknown event"}
    assert client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 5}}).json()["result"].startswith("started")
    assert retrainer.wait(30) and len(retrainer.runs) == 3


def test_a_task_of_a_hand_import_is_a_paragraph_of_its_own():
    paragraph = paragraph_of_task(9, {"text": "Xi met Putin."})
    assert (paragraph.id, paragraph.doc_id, paragraph.index, paragraph.meta) == ("task-9", "task-9", 0, {})
    assert paragraph_of_task(9, {"text": "  "}) is None and paragraph_of_task(9, {}) is None


# ------------------------------------------------------------------------------------- real server


@pytest.fixture()
def running_backend(default_config):
    """The backend with the config's real model, served by uvicorn on a free port of 127.0.0.1."""
    import uvicorn

    live = LiveModel(default_config, None)
    version = live.model_version  # loaded before Label Studio calls: its /setup waits 3 s at most
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(BackendState(default_config, live)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "the backend did not start"
    yield f"http://127.0.0.1:{port}", version
    server.should_exit = True
    thread.join(30)


@pytest.mark.server
@pytest.mark.slow
def test_label_studio_gets_the_annotate_labels_for_a_task_imported_by_hand(running_backend, ls_client, default_config, tmp_path, test_output):
    url, version = running_backend
    text = ("Chinese Foreign Minister Wang Yi praised the talks in Moscow, while Washington warned that the deal"
            " would undermine sanctions on Russia.")
    article = tmp_path / "article.txt"
    article.write_text(text + "\n", encoding="utf-8")
    run = tmp_path / "run"
    done = CliRunner().invoke(app, ["annotate", str(article), "--out", str(run), "--no-progress"])
    assert done.exit_code == 0, done.output
    [annotated] = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert annotated["model_version"] == version

    project = ls_client.create_project(unique_title("backend"), checked_labeling_config(default_config), show_collab_predictions=True)
    pid = project["id"]
    [task_id, opened_id] = ls_client.import_tasks(pid, [{"data": {"text": text}}, {"data": {"text": text}}])  # by hand: only a text
    backend_id = ls_client.connect_ml_backend(pid, url, "stance")
    [backend] = ls_client.ml_backends(pid)
    assert (backend["id"], backend["state"], backend["model_version"]) == (backend_id, "CO", version)
    assert ls_client.get_project(pid)["model_version"] == "stance"  # a project that showed nothing now shows the live model
    switch = use_version(default_config, ls_client, project["title"], "stance")
    assert switch.report.live and switch.report.lines() == ["the project shows stance (a live ML backend): unchanged"]

    started = time.monotonic()
    ls_client.retrieve_predictions(pid, [task_id])  # Data Manager > Retrieve Predictions: synchronous in Community
    round_trip = time.monotonic() - started
    [prediction] = ls_client.get_task(task_id)["predictions"]
    assert prediction["model_version"] == version
    chosen = {r["from_name"]: r["value"]["choices"] for r in prediction["result"] if r["type"] == "choices"}
    expected = {f"stance_{t.lower().replace(' ', '_')}": [annotated["stance"][t]["label"]] for t in annotated["stance"]}
    assert {k: v for k, v in chosen.items() if k != "frames"} == expected
    assert chosen.get("frames", []) == annotated["frame_labels"]
    marked = sorted(r["value"]["text"] for r in prediction["result"] if r["type"] == "labels")
    assert marked == sorted(["Chinese", "Wang Yi", "Moscow", "Washington", "Russia"])

    started = time.monotonic()
    opened = ls_client.get_task(opened_id)  # opening a task without predictions asks the backend too
    open_trip = time.monotonic() - started
    assert [p["model_version"] for p in opened["predictions"]] == [version]
    (test_output / "backend-roundtrip.txt").write_text(
        f"retrieve predictions for one task: {round_trip:.2f} s; open a task without predictions: {open_trip:.2f} s\n", encoding="utf-8")
    print(f"backend round trip for one task: retrieve {round_trip:.2f} s, open {open_trip:.2f} s")


@pytest.mark.server
@pytest.mark.slow
def test_an_annotation_in_label_studio_reaches_the_retrainer_through_the_webhook(ls_client, default_config, tmp_path, monkeypatch):
    import uvicorn

    import stance.training.retrain as retrain

    calls = []

    def fake_retrain(files, heldout, models_dir, config, settings, **kwargs):
        calls.append([Path(f).read_text(encoding="utf-8") for f in files])
        return retrain.RetrainResult(models_dir / "new", "config", 0.5, 0.6, False, None, "test", 1)

    monkeypatch.setattr(retrain, "retrain_and_promote", fake_retrain)
    retrainer = Retrainer(retrain_job(default_config, models_dir=tmp_path, work_dir=tmp_path, client=ls_client), min_annotations=1)
    live = fake_live(default_config, None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(BackendState(default_config, live, retrainer)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        project = ls_client.create_project(unique_title("webhook"), checked_labeling_config(default_config))
        [task_id] = ls_client.import_tasks(project["id"], [{"data": {"text": "China and Russia talked.", "para_id": "w:0:00000000"}}])
        ls_client.connect_ml_backend(project["id"], f"http://127.0.0.1:{port}", "stance")
        result = [{"from_name": "stance_china", "to_name": "text", "type": "choices", "value": {"choices": ["favorable"]}}]
        ls_client.create_annotation(task_id, result)
        for _ in range(300):  # Label Studio posts the webhook, the retrainer pulls and "retrains" in the background
            if retrainer.runs:
                break
            time.sleep(0.1)
        assert retrainer.wait(60) and len(retrainer.runs) == 1, retrainer.runs
        [[pulled]] = calls
        assert json.loads(pulled.splitlines()[0])["label"] == "favorable"  # the annotation, pulled through stance pull
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.mark.slow
def test_the_backend_command_serves_the_config_model_until_sigterm(default_config):
    import signal
    import subprocess
    import sys

    import httpx
    from conftest import ROOT

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "stance", "labelstudio", "backend", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    health = None
    try:
        for _ in range(900):  # the model loads first (seconds)
            if process.poll() is not None:
                break
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None, process.stdout.read() if process.poll() is not None else "no answer"
        assert health["status"] == "UP" and health["model_version"].startswith(f"{default_config.model.backend}:")
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"tasks": [{"id": 1, "data": {"text": "Russia and China."}}]}, timeout=60)
        [prediction] = answer.json()["results"]
        assert prediction["model_version"] == health["model_version"] and len(prediction["result"]) >= 3
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert "Connect Model" in output and "Traceback" not in output
