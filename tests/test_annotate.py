"""The annotate pipeline end to end: output schema, the gate, CSV, run.json, resume, duplicates."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from stance.annotate import annotate_corpus
from stance.cli import app
from stance.errors import RunError

pytestmark = [pytest.mark.model]
runner = CliRunner()


def read_predictions(run_dir):
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def default_run(seeds_run):
    """The README's main command: the offline default on seeds/, through the CLI (conftest's session run)."""
    return seeds_run


def test_default_run_writes_every_paragraph_with_every_target(default_run, default_config, seeds_dir):
    from stance.ingest import ProblemLog, ReadOptions, discover_inputs, iter_paragraphs

    out, output = default_run
    records = read_predictions(out)
    expected_ids = [p.id for p in iter_paragraphs(discover_inputs([seeds_dir]), default_config.ingest, ReadOptions(), ProblemLog())]
    assert [r["id"] for r in records] == expected_ids
    labels = set(default_config.all_label_names)
    from stance.training.model import StanceModel, resolve_model_dir

    head = StanceModel.from_pretrained(resolve_model_dir(default_config.model.name)).frame_head  # the default's frame head
    thresholds = dict(zip(head.frames, head.paragraph_thresholds, strict=True)) if head else {}
    for r in records:
        assert {"id", "doc_id", "index", "text", "date", "stance", "frames", "frame_labels", "model_version"} <= set(r)
        assert set(r["stance"]) == {"China", "Russia", "United States"}
        for result in r["stance"].values():
            assert result["label"] in labels
            assert set(result["scores"]) == labels
            assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-5)
            assert result["label"] == max(result["scores"], key=result["scores"].get)
        assert set(r["frames"]) == set(default_config.frame_names)
        passing = sorted((f for f, s in r["frames"].items() if f != "Other" and s >= thresholds.get(f, default_config.frames.threshold)),
                         key=lambda f: -r["frames"][f])  # each frame's calibrated threshold
        expected = set(passing[: default_config.frames.max_labels]) or {"Other"}  # at most 4; Other only when nothing else
        assert r["frame_labels"] == [f for f in default_config.frame_names if f in expected]
    assert "paragraphs" in output and "China" in output


def test_paragraph_without_a_targets_aliases_is_not_mentioned(default_run):
    out, _ = default_run
    by_text = {r["text"]: r for r in read_predictions(out)}
    nato = by_text["What is NATO expansion?"]
    for target in ("China", "Russia", "United States"):
        assert nato["stance"][target] == {
            "label": "not_mentioned",
            "scores": {"favorable": 0.0, "neutral": 0.0, "unfavorable": 0.0, "not_mentioned": 1.0},
            "mentioned": False,
            "why": "no alias found",  # the gate decided, not the model: reviewers can tell
        }
    talks = by_text["What are the main issues in the talks between China and the US?"]
    assert talks["stance"]["China"]["mentioned"] and talks["stance"]["United States"]["mentioned"]
    assert talks["stance"]["China"]["label"] != "not_mentioned"
    assert talks["stance"]["Russia"]["label"] == "not_mentioned"


def test_csv_has_one_row_per_paragraph_and_target(default_run):
    out, _ = default_run
    records = read_predictions(out)
    with (out / "predictions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * len(records)
    first = rows[0]
    assert first["id"] == records[0]["id"] and first["target"] == "China"
    assert first["label"] == records[0]["stance"]["China"]["label"]
    assert float(first["score_unfavorable"]) == records[0]["stance"]["China"]["scores"]["unfavorable"]
    assert first["text"] == records[0]["text"]


def test_run_json_describes_the_run(default_run, seeds_dir):
    out, _ = default_run
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    records = read_predictions(out)
    assert run["status"] == "complete"
    assert run["counts"]["paragraphs"] == len(records) and run["counts"]["documents"] == 5
    assert [f["path"].rsplit("/", 1)[-1] for f in run["inputs"]] == sorted(p.name for p in seeds_dir.glob("*.txt"))
    assert all(len(f["sha256"]) == 64 for f in run["inputs"])
    assert run["model"]["version"] == records[0]["model_version"]
    china = run["label_distribution"]["China"]
    assert sum(china.values()) == len(records)
    assert china["not_mentioned"] == sum(r["stance"]["China"]["label"] == "not_mentioned" for r in records)
    assert run["config"]["targets"][0]["name"] == "China"
    assert run["timings"]["seconds_this_session"] > 0


def test_completed_run_is_not_redone(default_run, seeds_dir):
    out, _ = default_run
    before = (out / "predictions.jsonl").read_bytes()
    result = runner.invoke(app, ["annotate", str(seeds_dir), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "0 scored" in result.output
    assert (out / "predictions.jsonl").read_bytes() == before


class FailingScorer:
    """Wraps a scorer and raises after a number of calls, like a crash mid-run."""

    def __init__(self, inner, fail_after: int):
        self.inner, self.calls, self.fail_after = inner, 0, fail_after

    def __getattr__(self, name):  # model_version, scores_frames, ...: the inner scorer's
        return getattr(self.inner, name)

    def score(self, texts, targets, **options):
        self.calls += 1
        if self.calls > self.fail_after:
            raise KeyboardInterrupt("simulated crash")
        return self.inner.score(texts, targets, **options)


def test_interrupted_run_resumes_to_the_same_output(tmp_path, tiny_nli_config, seeds_dir):
    from stance.scoring.nli import NLIScorer

    scorer = NLIScorer(tiny_nli_config)
    full = annotate_corpus([seeds_dir], tmp_path / "full", tiny_nli_config, chunk_size=8, progress=False, scorer=scorer)
    assert full.scored_now == full.paragraphs
    with pytest.raises(KeyboardInterrupt):
        annotate_corpus([seeds_dir], tmp_path / "cut", tiny_nli_config, chunk_size=8, progress=False, scorer=FailingScorer(scorer, 3))
    written = (tmp_path / "cut" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(written) == 24
    # a half-written line, as a kill in the middle of a write leaves it
    with (tmp_path / "cut" / "predictions.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"id": "half')
    resumed = annotate_corpus([seeds_dir], tmp_path / "cut", tiny_nli_config, chunk_size=8, progress=False, scorer=scorer)
    assert resumed.resumed_from == 24
    assert resumed.scored_now == full.paragraphs - 24
    assert (tmp_path / "cut" / "predictions.jsonl").read_bytes() == (tmp_path / "full" / "predictions.jsonl").read_bytes()
    assert (tmp_path / "cut" / "predictions.csv").read_bytes() == (tmp_path / "full" / "predictions.csv").read_bytes()


def test_a_different_run_in_the_same_directory_is_refused(tmp_path, tiny_nli_config, default_config, seeds_dir):
    from stance.scoring.nli import NLIScorer

    scorer = NLIScorer(tiny_nli_config)
    annotate_corpus([seeds_dir / "000_cb57af69ef8ae64e.txt"], tmp_path / "run", tiny_nli_config, progress=False, scorer=scorer)
    with pytest.raises(RunError, match=r"already holds predictions from a different run.*--overwrite"):
        annotate_corpus([seeds_dir], tmp_path / "run", tiny_nli_config, progress=False, scorer=scorer)
    again = annotate_corpus([seeds_dir], tmp_path / "run", tiny_nli_config, progress=False, scorer=scorer, overwrite=True)
    assert again.paragraphs == len(read_predictions(tmp_path / "run")) == 44


def test_identical_paragraphs_are_scored_once(tmp_path, tiny_nli_config, seeds_dir):
    from stance.scoring.nli import NLIScorer

    source = (seeds_dir / "000_cb57af69ef8ae64e.txt").read_text(encoding="utf-8")
    corpus = tmp_path / "syndicated"
    corpus.mkdir()
    for name in ("wire", "outlet_a", "outlet_b"):
        (corpus / f"{name}.txt").write_text(source, encoding="utf-8")
    result = annotate_corpus([corpus], tmp_path / "run", tiny_nli_config, progress=False, scorer=NLIScorer(tiny_nli_config))
    assert result.paragraphs == 21 and result.scored_now == 7 and result.copied_duplicates == 14
    records = read_predictions(tmp_path / "run")
    for copy in records[7:]:
        original = records[copy["index"]]
        assert copy["stance"] == original["stance"] and copy["frames"] == original["frames"]
        assert copy["doc_id"] != original["doc_id"]
    assert len({r["id"] for r in records}) == 21


def test_skip_mode_lists_problems_in_run_json(tmp_path, tiny_nli_config):
    from stance.scoring.nli import NLIScorer

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.txt").write_text("Moscow replied.", encoding="utf-8")
    (tmp_path / "in" / "bad.jsonl").write_text('{"id": 1}\n', encoding="utf-8")
    from stance.ingest import ReadOptions

    result = annotate_corpus(
        [tmp_path / "in"], tmp_path / "run", tiny_nli_config, progress=False, scorer=NLIScorer(tiny_nli_config),
        options=ReadOptions(on_error="skip"),
    )
    assert result.paragraphs == 1
    run = json.loads((tmp_path / "run" / "run.json").read_text(encoding="utf-8"))
    assert run["problems"][0]["where"].endswith("bad.jsonl:1") and "has no 'text' field" in run["problems"][0]["message"]
