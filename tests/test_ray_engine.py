"""`stance annotate --engine ray` on a local Ray with 2 CPUs writes what the local engine writes,
record by record, and finishes an interrupted local run the same way."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stance.cli import app
from stance.errors import RunError

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _corpus(seeds_dir: Path, path: Path) -> Path:
    """The seed articles plus NewsMTSC sentences as JSONL articles of four paragraphs (a few hundred paragraphs)."""
    from stance.ingest import discover_inputs

    lines = []
    for seed in discover_inputs([seeds_dir]):
        lines.append({"id": seed.stem, "text": seed.read_text(encoding="utf-8-sig")})
    texts = list(dict.fromkeys(json.loads(line)["text"] for line in (FIXTURES / "newsmtsc_train_sample.jsonl").open(encoding="utf-8")))
    for start in range(0, len(texts), 4):
        lines.append({"id": f"newsmtsc-{start // 4}", "text": "\n\n".join(texts[start : start + 4])})
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


def _assert_same_predictions(ray_run: Path, local_run: Path) -> None:
    ray_records, local_records = _records(ray_run), _records(local_run)
    assert [r["id"] for r in ray_records] == [r["id"] for r in local_records]
    for mine, theirs in zip(ray_records, local_records, strict=True):
        assert mine["frame_labels"] == theirs["frame_labels"], mine["id"]
        assert mine["model_version"] == theirs["model_version"]
        for target, entry in theirs["stance"].items():
            assert mine["stance"][target]["label"] == entry["label"], (mine["id"], target)
            assert mine["stance"][target]["mentioned"] == entry["mentioned"]
            for label, score in entry["scores"].items():
                assert mine["stance"][target]["scores"][label] == pytest.approx(score, abs=1e-5)
        for frame, score in theirs["frames"].items():
            assert mine["frames"][frame] == pytest.approx(score, abs=1e-5)


@pytest.fixture
def ray_env(monkeypatch):
    """A local Ray of 2 CPUs started (and stopped) by the engine; 2 chunks per replica in flight, so that
    the driver plans and writes chunks while the actors score later ones."""
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("STANCE_RAY_NUM_CPUS", "2")
    monkeypatch.setenv("STANCE_RAY_WINDOW", "2")
    yield
    import ray

    assert not ray.is_initialized(), "the engine must stop the Ray it started"


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.ray
def test_ray_engine_writes_what_the_local_engine_writes(tmp_path, seeds_dir, tiny_nli_model_dir, ray_env):
    from conftest import write_config

    config = write_config(tmp_path / "tiny.yaml", f"model:\n  backend: nli\n  name: {tiny_nli_model_dir}\n  max_length: 128\n")
    corpus = _corpus(seeds_dir, tmp_path / "corpus.jsonl")
    common = [str(corpus), "--config", str(config), "--chunk-size", "16", "--no-progress"]
    runner = CliRunner()

    local = runner.invoke(app, ["annotate", *common, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    distributed = runner.invoke(app, ["annotate", *common, "--out", str(tmp_path / "ray"), "--engine", "ray"])
    assert distributed.exit_code == 0, distributed.output

    records = _records(tmp_path / "local")
    assert len(records) > 16 * 2 * 2 * 4  # four times more chunks than the 2 replicas x 2 chunks in flight
    _assert_same_predictions(tmp_path / "ray", tmp_path / "local")
    run = json.loads((tmp_path / "ray" / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "ray" and run["status"] == "complete" and run["counts"]["paragraphs"] == len(records)

    # an interrupted local run (two chunks and a half-written line kept) is finished by the Ray engine
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "local", resumed)
    lines = (resumed / "predictions.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (resumed / "predictions.jsonl").write_text("".join(lines[:37]) + lines[37][:25], encoding="utf-8")
    again = runner.invoke(app, ["annotate", *common, "--out", str(resumed), "--engine", "ray"])
    assert again.exit_code == 0, again.output
    assert "32 kept from an earlier session" in again.output.replace("\n", " ")
    _assert_same_predictions(resumed, tmp_path / "local")


@pytest.mark.slow
@pytest.mark.ray
def test_a_failure_on_a_worker_names_the_chunk_and_keeps_the_message(tmp_path, default_config, ray_env):
    from stance.engine_ray import RayChunkScorer
    from stance.records import Paragraph

    chunks = [[Paragraph(id=f"doc-{i}:0", doc_id=f"doc-{i}", index=0, text="China and Russia.", start=0, end=17)] for i in range(3)]
    missing = tmp_path / "no-such-model"  # exists on the driver's side of no node: every actor fails to load it
    with pytest.raises(RunError) as failure:
        list(RayChunkScorer(default_config, str(missing))(iter(chunks)))
    message = str(failure.value)
    assert "chunk 0 (first paragraph doc-0:0)" in message
    assert "loading the model on a Ray worker failed" in message and "no-such-model" in message


def test_missing_ray_says_how_to_install_it(monkeypatch):
    from stance.engine_ray import ray_chunk_scorer_factory

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RunError, match=r"pip install -c constraints.txt -e '\.\[ray\]'"):
        ray_chunk_scorer_factory(None, None)  # type: ignore[arg-type]


def test_bad_ray_sizing_variables_are_named(monkeypatch, default_config):
    pytest.importorskip("ray")
    from stance.engine_ray import RayChunkScorer
    from stance.errors import ConfigError

    monkeypatch.setenv("STANCE_RAY_CPUS_PER_REPLICA", "two")
    with pytest.raises(ConfigError, match="STANCE_RAY_CPUS_PER_REPLICA='two' is not a number"):
        RayChunkScorer(default_config, None)
