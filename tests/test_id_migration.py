"""Runs and Label Studio projects made with legacy, position-based ids (`<doc_id>:<index>:<8 hex>`)
meet content ids (`<doc_id>:<12 hex>[-n]`): matched by document and text, nothing orphaned,
nothing reviewed twice.

- push: a project of legacy tasks takes a content-id run of the same articles without a single
  new task (and the reverse); its reviews stay on their tasks;
- pull: the records of legacy tasks come back with the run's content ids (`legacy_id` keeps the old one);
- annotate: the same command on a legacy run rewrites its ids and scores nothing again;
- evaluate: a legacy gold file and a content-id gold file of the same paragraphs give the same report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stance.annotate import annotate_corpus
from stance.idmap import is_legacy_id, legacy_paragraph_id, parse_paragraph_id, relabel_legacy_ids, under_run_ids
from stance.records import LabelledRecord, paragraph_ids

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def as_legacy(record: dict) -> dict:
    """A prediction (or gold) record as a run before content ids had it."""
    return {**record, "id": legacy_paragraph_id(record["doc_id"], record["index"], record["text"])}


def test_legacy_tasks_are_filed_under_the_runs_content_ids():
    texts = ["China said so.", "Advertisement.", "Russia agreed.", "Advertisement.", "The US objected."]
    legacy = {legacy_paragraph_id("d", i, t): [100 + i] for i, t in enumerate(texts)}
    run = paragraph_ids("d", texts)
    present = under_run_ids(legacy, run)
    assert {pid: present[pid] for pid in run} == {run[i]: [100 + i] for i in range(len(texts))}  # the repeats in their order
    assert len(present) == len(texts)  # nothing left over under a legacy id, nothing twice

    # the article changed: a line inserted at the top, one paragraph edited; the rest keeps its task
    changed = ["Updated at 14:00.", *texts]
    changed[3] = "Russia agreed on Tuesday."
    present = under_run_ids(legacy, paragraph_ids("d", changed))
    new_ids = paragraph_ids("d", changed)
    assert new_ids[0] not in present and new_ids[3] not in present  # these two are new paragraphs: new tasks
    assert [present[new_ids[i]] for i in (1, 2, 4, 5)] == [[100], [101], [103], [104]]
    assert present[legacy_paragraph_id("d", 2, texts[2])] == [102]  # the edited paragraph's old task: kept, not matched

    # the reverse: a legacy run pushed into a project of content ids
    assert under_run_ids({pid: [i] for i, pid in enumerate(run)}, list(legacy)) == {pid: [i] for i, pid in enumerate(legacy)}
    # an id the run holds verbatim wins over a match of the other style
    both = {run[0]: [1], legacy_paragraph_id("d", 0, texts[0]): [2]}
    assert under_run_ids(both, run[:1])[run[0]] == [1]


def test_pulled_records_of_legacy_tasks_get_content_ids():
    texts = ["China said so.", "Advertisement.", "Russia agreed.", "Advertisement."]
    legacy_ids = [legacy_paragraph_id("d", i, t) for i, t in enumerate(texts)]
    calls = []

    def project_ids():
        calls.append(1)
        return legacy_ids

    records = [LabelledRecord(id=legacy_ids[i], text=texts[i], target="China", label="neutral", doc_id="d") for i in (3, 0, 1)]
    pulled = list(relabel_legacy_ids(records, project_ids))
    content = paragraph_ids("d", texts)
    assert [r.id for r in pulled] == [content[3], content[0], content[1]]
    assert [r.extra["legacy_id"] for r in pulled] == [legacy_ids[3], legacy_ids[0], legacy_ids[1]]
    assert pulled[0].to_json()["legacy_id"] == legacy_ids[3]
    assert calls == [1]  # the project's ids are read once

    fresh = [LabelledRecord(id=content[0], text=texts[0], target="China", label="neutral", doc_id="d")]
    assert list(relabel_legacy_ids(fresh, project_ids)) == fresh and calls == [1]  # a content-id project costs nothing


@pytest.mark.model
def test_the_same_command_on_a_legacy_run_gives_it_content_ids_and_scores_nothing_again(tmp_path, tiny_nli_config, seeds_dir):
    from stance.scoring.nli import NLIScorer

    scorer = NLIScorer(tiny_nli_config)
    fresh = tmp_path / "fresh"
    annotate_corpus([seeds_dir], fresh, tiny_nli_config, chunk_size=8, progress=False, scorer=scorer)
    expected = (fresh / "predictions.jsonl").read_bytes()

    for kept, name in ((None, "complete"), (24, "interrupted")):
        run = tmp_path / name
        run.mkdir()
        (run / "run.json").write_bytes((fresh / "run.json").read_bytes())
        lines = [json.dumps(as_legacy(json.loads(line)), ensure_ascii=False) + "\n" for line in expected.decode("utf-8").splitlines()]
        assert all(is_legacy_id(json.loads(line)["id"]) for line in lines)
        (run / "predictions.jsonl").write_text("".join(lines[:kept]), encoding="utf-8")
        result = annotate_corpus([seeds_dir], run, tiny_nli_config, chunk_size=8, progress=False, scorer=scorer)
        assert result.resumed_from == (kept or len(lines))
        assert result.scored_now == len(lines) - (kept or len(lines))  # the kept lines are not scored again
        assert (run / "predictions.jsonl").read_bytes() == expected, name
        assert (run / "predictions.csv").read_bytes() == (fresh / "predictions.csv").read_bytes(), name


@pytest.mark.model
@pytest.mark.slow
def test_legacy_and_content_gold_give_the_same_evaluation(seeds_run, default_config, tmp_path):
    from stance.evaluate import evaluate_files

    configured = {t.name for t in default_config.targets}
    gold, legacy = tmp_path / "seed_gold.jsonl", tmp_path / "seed_gold_legacy.jsonl"
    with gold.open("w", encoding="utf-8") as content_file, legacy.open("w", encoding="utf-8") as legacy_file:
        for line in (FIXTURES / "seed_gold.jsonl").read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["target"] not in configured:
                continue  # a run has predictions for the config's targets only
            content_file.write(line + "\n")
            old = as_legacy(record)
            del old["index"]  # a legacy id says where the paragraph is
            legacy_file.write(json.dumps(old, ensure_ascii=False) + "\n")
    run = seeds_run[0]
    from_content = evaluate_files(str(run), [gold], default_config, progress=False).metrics["model"]
    from_legacy = evaluate_files(str(run), [legacy], default_config, progress=False)
    assert from_legacy.metrics["model"]["overall"] == from_content["overall"]
    assert any("matched the run's paragraphs by document and text" in note for note in from_legacy.metrics["model"].get("notes", []))
    # a model on the gold texts: the document context (surnames after the full name) comes from the legacy
    # id's index or the content record's `index`, and is the same
    model_content = evaluate_files("embedding", [gold], default_config, progress=False).metrics["model"]["overall"]
    model_legacy = evaluate_files("embedding", [legacy], default_config, progress=False).metrics["model"]["overall"]
    assert model_legacy["confusion"] == model_content["confusion"]


# ------------------------------------------------------------------------------- a real server


@pytest.mark.server
@pytest.mark.slow
def test_a_legacy_project_takes_a_content_id_run_without_duplicates_and_keeps_every_review(ls_client, ls_seeds_run, default_config, tmp_path):
    from labelstudio_fixture import read_predictions, typed, unique_title, write_run

    from stance.labelstudio.pull import pull_project
    from stance.labelstudio.push import push_run
    from stance.labelstudio.tasks import prediction_result

    records = read_predictions(ls_seeds_run)  # content ids: the run of today
    legacy_run = write_run(tmp_path / "legacy", [as_legacy(r) for r in records])  # the same articles, run before
    title = unique_title("legacy")
    first = push_run(legacy_run, default_config, ls_client, title, progress=False)
    assert first.new_tasks == len(records)
    task_of = {t.para_id: t.id for t in ls_client.list_tasks(first.project_id)}
    reviewed = records[:8]
    other = {"favorable": "unfavorable", "neutral": "favorable", "unfavorable": "neutral", "not_mentioned": "neutral"}
    for i, record in enumerate(reviewed):
        corrected = json.loads(json.dumps(record))
        if i % 2:
            corrected["stance"]["China"]["label"] = other[record["stance"]["China"]["label"]]
        ls_client.create_annotation(task_of[as_legacy(record)["id"]], prediction_result(typed(corrected), default_config))

    second = push_run(ls_seeds_run, default_config, ls_client, title, progress=False)
    assert (second.new_tasks, second.already_present, second.tasks_in_project) == (0, len(records), len(records))
    tasks = ls_client.list_tasks(first.project_id)
    assert len(tasks) == len(records) and sorted(t.id for t in tasks) == sorted(task_of.values())  # no duplicate, none replaced

    # an article re-ingested with a line inserted at the top: one new task, every other paragraph keeps its task
    doc = records[0]["doc_id"]
    inserted = json.loads(json.dumps(records[0]))
    inserted.update(text="Updated at 14:00: the ministry confirmed the visit.", index=0,
                    id=paragraph_ids(doc, ["Updated at 14:00: the ministry confirmed the visit."])[0])
    changed = [inserted] + [{**r, "index": r["index"] + 1} if r["doc_id"] == doc else r for r in records]
    third = push_run(write_run(tmp_path / "changed", changed), default_config, ls_client, title, progress=False)
    assert (third.new_tasks, third.already_present, third.tasks_in_project) == (1, len(records), len(records) + 1)

    pulled = pull_project(default_config, ls_client, title, tmp_path / "reviewed.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "reviewed.jsonl").read_text(encoding="utf-8").splitlines()]
    assert pulled.records == len(lines) == len(reviewed) * len(default_config.targets)  # every review, once
    assert {r["id"] for r in lines} == {r["id"] for r in reviewed}  # the run's content ids
    assert {r["legacy_id"] for r in lines} == {as_legacy(r)["id"] for r in reviewed}
    by_id = {r["id"]: r for r in reviewed}
    for line in lines:
        assert parse_paragraph_id(line["id"]).doc == line["doc_id"] and line["text"] == by_id[line["id"]]["text"]
        assert line["index"] == by_id[line["id"]]["index"]  # a content id holds no position: evaluate's document context needs it
        if line["target"] == "China":
            position = reviewed.index(by_id[line["id"]])
            changed = line["label"] != by_id[line["id"]]["stance"]["China"]["label"]
            assert changed == bool(position % 2)  # the corrections, on the right paragraphs
