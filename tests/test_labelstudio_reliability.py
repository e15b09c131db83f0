"""Label Studio push and pull under faults: resets, 5xx, slow answers, a restarted server, a killed
push, and secrets that must never leak; markup that must round-trip unchanged."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT, write_config
from labelstudio_fixture import (
    MARKUP_TARGET,
    MARKUP_TEXT,
    make_client,
    markup_config,
    markup_records,
    read_predictions,
    typed,
    unique_title,
    write_run,
)
from ls_fault_proxy import FaultProxy, Rule

from stance.config import load_config
from stance.errors import LabelStudioError, LabelStudioUnreachableError
from stance.labelstudio.pull import pull_project
from stance.labelstudio.push import push_run
from stance.labelstudio.tasks import prediction_result
from stance.labelstudio.xml import control_names

pytestmark = [pytest.mark.server, pytest.mark.slow]
STANCE = [sys.executable, "-m", "stance"]
IMPORT = r"/api/projects/\d+/import"
IMPORT_PREDICTIONS = r"/api/projects/\d+/import/predictions"


def assert_each_paragraph_once(client, project_id: int, records: list[dict], versions_per_task: int = 1) -> None:
    tasks = client.list_tasks(project_id)
    per_paragraph = Counter(t.para_id for t in tasks)
    assert sorted(per_paragraph) == sorted(r["id"] for r in records), "a paragraph is missing or unknown"
    assert set(per_paragraph.values()) == {1}, f"duplicated: {[p for p, n in per_paragraph.items() if n > 1]}"
    predictions = Counter(task for task, _ in client.list_prediction_versions(project_id))
    assert set(predictions.values()) == {versions_per_task} and len(predictions) == len(records)


def synthetic_run(records: list[dict], copies: int) -> list[dict]:
    """`copies` x the seeds, each paragraph with its own document and id."""
    out = []
    for k in range(copies):
        for record in records:
            record = json.loads(json.dumps(record))
            record["doc_id"] = f"{record['doc_id']}-copy{k}"
            record["id"] = f"{record['doc_id']}:{record['index']}:{k:08x}"
            record["text"] = f"{record['text']} [{k}]"
            out.append(record)
    return out


def test_faults_during_push_and_pull_lose_and_duplicate_nothing(labelstudio_server, ls_seeds_run, default_config, tmp_path):
    records = read_predictions(ls_seeds_run)
    title = unique_title("faults")
    rules = [
        Rule("POST", r"/api/projects/", "reset_after"),  # the project is created, the answer is lost
        Rule("POST", IMPORT, "reset_after", nth=1),  # tasks imported, answer lost
        Rule("POST", IMPORT, "503_before", nth=3),
        Rule("POST", IMPORT, "slow_after", nth=5),  # imported, answer later than the timeout
        Rule("POST", IMPORT, "502_after", nth=7),
        Rule("POST", IMPORT, "reset_before", nth=9),
        Rule("GET", r"/api/tasks/", "503_before", nth=2),
        Rule("GET", r"/api/tasks/", "reset_before", nth=4),
        Rule("GET", r"/api/tasks/", "slow_after", nth=6),
    ]
    with FaultProxy(labelstudio_server.url, rules, slow_seconds=7) as proxy:
        client = make_client(proxy.url, labelstudio_server.api_key, timeout=5, max_retries=4, backoff=0.2)
        result = push_run(ls_seeds_run, default_config, client, title, batch_size=5, progress=False)
        assert proxy.unfired() == [] and sum(proxy.injected.values()) == len(rules)
    direct = make_client(labelstudio_server)
    assert len(direct.find_projects(title)) == 1
    assert_each_paragraph_once(direct, result.project_id, records)
    assert result.retries >= len(rules) and result.tasks_in_project == len(records)  # at least one retry per fault (a slow machine may add some)

    # a newer model version through the same kind of trouble: predictions added once each
    newer = [{**r, "model_version": "v-faults-2"} for r in records]
    rules = [Rule("POST", IMPORT_PREDICTIONS, f, nth=n) for f, n in (("reset_after", 1), ("503_before", 3), ("slow_after", 5))]
    with FaultProxy(labelstudio_server.url, rules, slow_seconds=7) as proxy:
        client = make_client(proxy.url, labelstudio_server.api_key, timeout=5, max_retries=4, backoff=0.2)
        second = push_run(write_run(tmp_path / "v2", newer), default_config, client, title, batch_size=10, progress=False)
        assert proxy.unfired() == []
    assert (second.new_tasks, second.predictions_added) == (0, len(records))
    assert_each_paragraph_once(direct, result.project_id, records, versions_per_task=2)

    # annotations made directly; the pull goes through faults and gets each exactly once
    index = {t.para_id: t.id for t in direct.list_tasks(result.project_id)}
    annotated = records[:10]
    for record in annotated:
        direct.create_annotation(index[record["id"]], prediction_result(typed(record), default_config))
    rules = [
        Rule("POST", r"/api/projects/\d+/exports/", "503_before"),
        Rule("POST", r"/api/projects/\d+/exports/", "reset_after", nth=2),
        Rule("GET", r"/api/projects/\d+/exports/\d+/download", "slow_after"),
        Rule("GET", r"/api/projects/\d+/exports/\d+/download", "reset_before", nth=2),
        Rule("GET", r"/api/projects/\d+/exports/\d+/download", "502_after", nth=3),
    ]
    with FaultProxy(labelstudio_server.url, rules, slow_seconds=7) as proxy:
        client = make_client(proxy.url, labelstudio_server.api_key, timeout=5, max_retries=5, backoff=0.2)
        pulled = pull_project(default_config, client, title, tmp_path / "reviewed.jsonl")
        assert proxy.unfired() == []
    lines = [json.loads(line) for line in (tmp_path / "reviewed.jsonl").read_text(encoding="utf-8").splitlines()]
    keys = Counter((r["id"], r["target"], r["annotation_id"]) for r in lines)
    assert set(keys.values()) == {1} and len(keys) == len(annotated) * len(default_config.targets)
    assert {r["id"] for r in lines} == {r["id"] for r in annotated} and pulled.annotations == len(annotated)


def test_server_stopped_and_restarted_mid_push(labelstudio_server, ls_seeds_run, default_config):
    records = read_predictions(ls_seeds_run)
    client = make_client(labelstudio_server, max_retries=2, backoff=0.2)

    # 1. stopped for good: the push fails with the URL named; the re-run after a restart completes
    title = unique_title("stopped")

    def stop_server(batch_no: int) -> None:
        if batch_no == 1:
            labelstudio_server.stop()

    try:
        with pytest.raises(LabelStudioUnreachableError, match=f"cannot reach Label Studio at {labelstudio_server.url}"):
            push_run(ls_seeds_run, default_config, client, title, batch_size=5, progress=False, on_batch=stop_server)
    finally:
        labelstudio_server.start()
    result = push_run(ls_seeds_run, default_config, client, title, batch_size=5, progress=False)
    assert result.already_present == 10 and result.new_tasks == len(records) - 10
    assert_each_paragraph_once(client, result.project_id, records)

    # 2. killed (SIGKILL) and back within the retry window: the same push carries on by itself
    title = unique_title("killed")
    patient = make_client(labelstudio_server, max_retries=7, backoff=1.0)
    restarter: list[threading.Thread] = []

    def kill_and_restart(batch_no: int) -> None:
        if batch_no == 1:
            labelstudio_server.kill()
            restarter.append(threading.Thread(target=labelstudio_server.start))
            restarter[0].start()

    try:
        result = push_run(ls_seeds_run, default_config, patient, title, batch_size=5, progress=False, on_batch=kill_and_restart)
    finally:
        for thread in restarter:
            thread.join(600)
        if not labelstudio_server.is_running():
            labelstudio_server.start()
    assert result.retries >= 1 and result.new_tasks == len(records)
    assert_each_paragraph_once(patient, result.project_id, records)


def test_a_killed_push_process_is_completed_by_running_it_again(labelstudio_server, ls_seeds_run, default_config, tmp_path):
    records = synthetic_run(read_predictions(ls_seeds_run), 10)  # 440 paragraphs
    run = write_run(tmp_path / "big", records)
    config_path = write_config(tmp_path / "small-batches.yaml", "labelstudio:\n  batch_size: 20\n")
    title = unique_title("sigkill")
    env = {**os.environ, "LABEL_STUDIO_URL": labelstudio_server.url, "LABEL_STUDIO_API_KEY": labelstudio_server.api_key}
    client = make_client(labelstudio_server)
    process = subprocess.Popen(
        [*STANCE, "push", str(run), "--project", title, "-c", str(config_path), "--no-progress"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    killed_at = None
    deadline = time.monotonic() + 300
    try:
        while process.poll() is None and time.monotonic() < deadline:
            found = client.find_projects(title)
            count = len(client.list_tasks(found[0]["id"])) if found else 0
            if count >= 40:
                process.send_signal(signal.SIGKILL)
                killed_at = count
                break
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(60)
    assert killed_at is not None and killed_at < len(records), "the push finished before it could be killed"
    result = push_run(run, load_config(config_path), client, title, progress=False)
    assert result.tasks_in_project == len(records) and result.already_present >= killed_at
    assert_each_paragraph_once(client, result.project_id, records)


def test_the_api_key_never_appears_in_files_output_errors_or_logs(labelstudio_server, seeds_dir, default_config, tmp_path, caplog):
    key = labelstudio_server.api_key
    env = {**os.environ, "LABEL_STUDIO_URL": labelstudio_server.url, "LABEL_STUDIO_API_KEY": key}
    run = tmp_path / "run"
    title = unique_title("secrets")
    outputs = []

    def stance(*args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        process = subprocess.Popen([*STANCE, *args], env={**env, **(extra_env or {})}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert key not in Path(f"/proc/{process.pid}/cmdline").read_bytes().decode("utf-8", "replace")  # what `ps` shows
        stdout, stderr = process.communicate(timeout=600)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout.decode(), stderr.decode())
        outputs.append(done.stdout + done.stderr)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    stance("annotate", str(seeds_dir), "--out", str(run), "--no-progress")
    stance("push", str(run), "--project", title, "--no-progress")
    client = make_client(labelstudio_server)
    task = client.list_tasks(client.find_projects(title)[0]["id"])[0]
    client.create_annotation(task.id, prediction_result(typed(read_predictions(run)[0]), default_config))
    stance("pull", "--project", title, "--out", str(run / "reviewed.jsonl"))
    # errors: a server that is not there, and this key offered to it; a rejected key (the key is the wrong one)
    impatient = write_config(tmp_path / "impatient.yaml", "labelstudio:\n  max_retries: 1\n")
    failed = stance(
        "pull", "--project", title, "--out", str(tmp_path / "x.jsonl"), "-c", str(impatient), check=False,
        extra_env={"LABEL_STUDIO_URL": "http://127.0.0.1:9"},
    )
    assert failed.returncode == 2 and "cannot reach Label Studio at http://127.0.0.1:9" in failed.stderr
    rejected = stance("push", str(run), "--project", title, check=False, extra_env={"LABEL_STUDIO_API_KEY": key + "x"})
    assert rejected.returncode == 2 and "rejected the API key" in rejected.stderr and key not in rejected.stderr

    written = [p for p in run.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"predictions.jsonl", "run.json", "labelstudio-push.json", "reviewed.jsonl", "reviewed.summary.json"}
    for path in written:
        assert key.encode() not in path.read_bytes(), f"the API key is in {path}"
    for output in outputs:
        assert key not in output

    # in-process: exceptions (with their traceback and chain) and debug logs of the SDK and httpx
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LabelStudioError) as error:
        make_client(labelstudio_server, key + "x", max_retries=0).whoami()
    text = "".join(traceback.format_exception(error.value)) + repr(error.value)
    assert key not in text and error.value.__context__ is None and error.value.__cause__ is None
    push_run(run, default_config, make_client(labelstudio_server), title, progress=False)
    assert caplog.records and key not in caplog.text


def test_markup_in_text_and_target_names_round_trips_unchanged(ls_client, tmp_path):
    config = markup_config(tmp_path)
    records = markup_records(config)
    title = unique_title("markup <&> \"title\"")
    result = push_run(write_run(tmp_path / "markup-run", records), config, ls_client, title, progress=False)
    assert result.new_tasks == 2 and result.invalid == []
    index = {t.para_id: t.id for t in ls_client.list_tasks(result.project_id)}
    task = ls_client.get_task(index[records[0]["id"]])
    assert task["data"]["text"] == MARKUP_TEXT and task["data"]["title"] == records[0]["title"]
    assert [r for r in task["predictions"][0]["result"] if r["type"] == "choices"] == prediction_result(typed(records[0]), config)
    assert [r["value"]["text"] for r in task["predictions"][0]["result"] if r["type"] == "labels"] == ["AT&T"]  # its mention, marked
    name = control_names(config)[MARKUP_TARGET]
    result_items = [
        {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": ["favorable"]}},
        {"from_name": "frames", "to_name": "text", "type": "choices", "value": {"choices": config.frame_names}},
    ]
    ls_client.create_annotation(index[records[0]["id"]], result_items, parent_prediction=task["predictions"][0]["id"])
    pulled = pull_project(config, ls_client, title, tmp_path / "markup.jsonl")
    [line] = [json.loads(x) for x in (tmp_path / "markup.jsonl").read_text(encoding="utf-8").splitlines()]
    assert line["text"] == MARKUP_TEXT and line["target"] == MARKUP_TARGET and line["label"] == "favorable"
    assert line["frames"] == list(config.frame_names) and line["model_label"] == "unfavorable"
    assert pulled.per_target[MARKUP_TARGET]["correction_rate"] == 1.0 and pulled.unlabelled_targets == 1  # China left blank
