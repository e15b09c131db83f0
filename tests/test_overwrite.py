"""`--overwrite` never destroys a finished run before its replacement is complete.

The new run is written to OUT/.next-run/ and moved over the old files only at the end: a model
that cannot load, a crash or Ctrl-C half way, even a kill while the files are moved, leave the old
run (or the finished new one) whole, and the same command again finishes the job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stance.annotate import annotate_corpus
from stance.cli import app

pytestmark = [pytest.mark.model]
ROOT = Path(__file__).resolve().parent.parent


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) under `directory`, by relative path."""
    return {str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None) for p in sorted(directory.rglob("*"))}


class FailingScorer:
    """Wraps a scorer and raises after a number of calls, like Ctrl-C or a crash mid-run."""

    def __init__(self, inner, fail_after: int):
        self.inner, self.calls, self.fail_after = inner, 0, fail_after

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def score(self, texts, targets, **options):
        self.calls += 1
        if self.calls > self.fail_after:
            raise KeyboardInterrupt("simulated Ctrl-C")
        return self.inner.score(texts, targets, **options)


def test_overwrite_with_a_model_that_cannot_load_keeps_the_old_run_byte_for_byte(seeds_run, seeds_dir, tmp_path):
    run = tmp_path / "seeds"
    shutil.copytree(seeds_run[0], run)
    before = snapshot(run)
    runner = CliRunner()

    mistyped = runner.invoke(app, ["annotate", str(seeds_dir), "--out", str(run), "--overwrite", "--model", str(tmp_path / "modles" / "v2"),
                                   "--no-progress"])
    assert mistyped.exit_code == 2, mistyped.output
    assert "does not exist" in mistyped.output and "Traceback" not in mistyped.output
    assert snapshot(run) == before

    # configs/nli.yaml names a hub model; the tests run without network (HF_HUB_OFFLINE)
    offline = runner.invoke(app, ["annotate", str(seeds_dir), "--out", str(run), "--overwrite", "--config", str(ROOT / "configs" / "nli.yaml"),
                                  "--no-progress"])
    assert offline.exit_code == 2, offline.output
    assert "hf download" in offline.output and "huggingface-cli" not in offline.output  # the CLI that is installed
    assert snapshot(run) == before


def test_an_interrupted_overwrite_keeps_the_old_run_and_the_same_command_resumes_it(tmp_path, tiny_nli_config, seeds_dir):
    from stance.scoring.nli import NLIScorer

    scorer = NLIScorer(tiny_nli_config)
    full = annotate_corpus([seeds_dir], tmp_path / "full", tiny_nli_config, chunk_size=8, progress=False, scorer=scorer)
    run = tmp_path / "run"
    annotate_corpus([seeds_dir / "000_cb57af69ef8ae64e.txt"], run, tiny_nli_config, progress=False, scorer=scorer)
    (run / "notes.txt").write_text("the reviewer's own notes", encoding="utf-8")
    before = snapshot(run)

    with pytest.raises(KeyboardInterrupt):
        annotate_corpus([seeds_dir], run, tiny_nli_config, chunk_size=8, progress=False, overwrite=True, scorer=FailingScorer(scorer, 3))
    assert {k: v for k, v in snapshot(run).items() if not k.startswith(".next-run")} == before
    assert len((run / ".next-run" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()) == 24

    resumed = annotate_corpus([seeds_dir], run, tiny_nli_config, chunk_size=8, progress=False, overwrite=True, scorer=scorer)
    assert resumed.resumed_from == 24 and resumed.scored_now == full.paragraphs - 24
    for name in ("predictions.jsonl", "predictions.csv", "documents.jsonl"):
        assert (run / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    assert not (run / ".next-run").exists()
    assert (run / "notes.txt").read_text(encoding="utf-8") == "the reviewer's own notes"  # only the run's files are replaced


def test_a_kill_while_the_new_run_is_moved_into_place_is_finished_by_the_same_command(tmp_path, tiny_nli_config, seeds_dir, monkeypatch):
    import os

    import stance.annotate
    from stance.scoring.nli import NLIScorer

    scorer = NLIScorer(tiny_nli_config)
    full = annotate_corpus([seeds_dir], tmp_path / "full", tiny_nli_config, progress=False, scorer=scorer)
    run = tmp_path / "run"
    annotate_corpus([seeds_dir / "000_cb57af69ef8ae64e.txt"], run, tiny_nli_config, progress=False, scorer=scorer)

    def move_one_file_then_die(old_run, new_run):
        os.replace(new_run.predictions, old_run.predictions)
        raise KeyboardInterrupt("killed while moving the new run into place")

    monkeypatch.setattr(stance.annotate, "replace_run", move_one_file_then_die)
    with pytest.raises(KeyboardInterrupt):
        annotate_corpus([seeds_dir], run, tiny_nli_config, progress=False, overwrite=True, scorer=scorer)
    monkeypatch.undo()
    assert (run / ".next-run" / "run.json").is_file()  # the complete new run is still (partly) there

    again = annotate_corpus([seeds_dir], run, tiny_nli_config, progress=False, overwrite=True, scorer=scorer)
    assert again.scored_now == 0 and again.paragraphs == full.paragraphs
    for name in ("predictions.jsonl", "predictions.csv", "documents.jsonl"):
        assert (run / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    assert not (run / ".next-run").exists()


def test_overwrite_of_a_directory_without_a_run_writes_there_directly(tmp_path, tiny_nli_config, seeds_dir):
    from stance.scoring.nli import NLIScorer

    run = tmp_path / "fresh"
    result = annotate_corpus([seeds_dir / "000_cb57af69ef8ae64e.txt"], run, tiny_nli_config, progress=False, overwrite=True,
                             scorer=NLIScorer(tiny_nli_config))
    assert result.out_dir == run and (run / "run.json").is_file() and not (run / ".next-run").exists()
