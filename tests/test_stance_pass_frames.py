"""Frames from the stance pass: a frame head on the target-conditioned model's own pass, so frames cost no second encoder.

Real training runs of a tiny BERT: a model trained with `--frame-vectors stance-pass`, the pass
count at annotation, stance scores untouched by the frames, ONNX Runtime giving the same frames, and
the frames-only recipe of the shipped default (the stance classifier kept byte for byte).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from tiny_encoder import build_tiny_bert, synthetic_rows
from typer.testing import CliRunner

from stance.cli import app

pytestmark = [pytest.mark.model]
runner = CliRunner()
CORPUS_CONFIG = ROOT / "configs" / "corpus.yaml"


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stance_pass_model(tmp_path_factory, bundled_model_dir) -> tuple[Path, list[dict]]:
    work = tmp_path_factory.mktemp("stance-pass")
    tiny = build_tiny_bert(work / "tiny", bundled_model_dir)
    rows = synthetic_rows(120, untargeted=40)
    out = work / "model"
    result = runner.invoke(app, ["train", str(write(work / "train.jsonl", rows)), "--base", str(tiny), "--frame-vectors", "stance-pass",
                                 "--max-steps", "30", "--out", str(out), "--config", str(CORPUS_CONFIG), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out, rows


def annotator_for(model: Path, **model_settings):
    from stance.annotator import Annotator
    from stance.config import load_config
    from stance.scoring import build_scorer

    config = load_config(CORPUS_CONFIG)
    if model_settings:
        config = config.model_copy(update={"model": config.model.model_copy(update=model_settings)})
    return Annotator(config, build_scorer(config, str(model)))


def paragraphs_of(rows: list[dict]):
    from stance.records import Paragraph

    texts = list(dict.fromkeys(r["text"] for r in rows))
    return [Paragraph(id=f"p{i}", doc_id=f"p{i}", index=0, text=t, start=0, end=len(t)) for i, t in enumerate(texts)]


def test_frames_come_from_the_stance_pass(stance_pass_model):
    out, rows = stance_pass_model
    head = json.loads((out / "frame_head.json").read_text())
    assert head["encoder"] == "stance-pass" and head["layers"] == [1, 2]  # a third, two thirds, all of the tiny 2-layer BERT
    annotator = annotator_for(out)
    assert annotator.frame_scorer is None and annotator.frame_source is annotator.scorer  # no second model loaded
    seen = []
    forward = annotator.scorer._forward

    def counting(batch):
        seen.append(int(batch["input_ids"].shape[0]))
        return forward(batch)

    annotator.scorer._forward = counting
    paragraphs = paragraphs_of(rows[:90])  # both kinds: paragraphs naming two targets, paragraphs naming none
    predicted = annotator.predict(paragraphs)
    pairs = sum(len([t for t in p.stance.values() if t.mentioned]) for p in predicted)
    untargeted = sum(not any(t.mentioned for t in p.stance.values()) for p in predicted)
    assert untargeted > 0 and pairs > 0
    assert sum(seen) == pairs + untargeted  # one pass per mentioned pair, one per paragraph naming none; none for frames
    assert all({"Economic", "Security and defense"} <= set(p.frames) for p in predicted)


def test_the_frames_are_learned_and_leave_the_stance_alone(stance_pass_model):
    out, rows = stance_pass_model
    annotator = annotator_for(out)
    seen = {r["text"] for r in rows}
    held_out = [r for r in synthetic_rows(120, seed=5, untargeted=40) if "frames" in r and r["text"] not in seen]
    predicted = annotator.predict(paragraphs_of(held_out))
    gold = {r["text"]: r["frames"][0] for r in held_out}
    right = sum(gold[p.text] in p.frame_labels for p in predicted)
    assert len(predicted) >= 20
    assert right / len(predicted) >= 0.8, f"{right}/{len(predicted)}: the head on the stance pass did not learn the topics"
    without = annotator.predict(paragraphs_of(held_out), frames=False)
    assert [p.stance for p in predicted] == [p.stance for p in without]


def test_onnx_runtime_gives_the_same_frames(stance_pass_model, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("STANCE_CACHE", str(tmp_path / "cache"))
    out, rows = stance_pass_model
    paragraphs = paragraphs_of(rows[:30])
    torch_run = annotator_for(out).predict(paragraphs)
    onnx_run = annotator_for(out, runtime="onnx").predict(paragraphs)
    for a, b in zip(torch_run, onnx_run, strict=True):
        assert a.frames.keys() == b.frames.keys()
        assert max(abs(a.frames[k] - b.frames[k]) for k in a.frames) < 1e-4
        assert [s.label for s in a.stance.values()] == [s.label for s in b.stance.values()]


def test_a_frames_only_run_keeps_the_stance_classifier(stance_pass_model, tmp_path):
    """The shipped default's recipe: frame records only, from a model: its stance weights copied, a new stance-pass head."""
    out, rows = stance_pass_model
    frames_only = write(tmp_path / "frames.jsonl", [r for r in rows if "target" not in r])
    new = tmp_path / "new"
    result = runner.invoke(app, ["train", str(frames_only), "--base", str(out), "--out", str(new), "--config", str(CORPUS_CONFIG),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"kept the stance classifier of {out}; trained the frame head" in " ".join(result.output.split())
    assert (new / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    assert json.loads((new / "frame_head.json").read_text())["encoder"] == "stance-pass"  # auto: what the start's head read
    paragraphs = paragraphs_of(rows[:20])
    assert [p.stance for p in annotator_for(new).predict(paragraphs)] == [p.stance for p in annotator_for(out).predict(paragraphs)]


def test_stance_pass_needs_a_stance_classifier(tmp_path, bundled_model_dir):
    rows = [r for r in synthetic_rows(30, untargeted=10) if "target" not in r]
    result = runner.invoke(app, ["train", str(write(tmp_path / "f.jsonl", rows)), "--base", str(bundled_model_dir), "--frame-vectors",
                                 "stance-pass", "--out", str(tmp_path / "m"), "--config", str(CORPUS_CONFIG), "--no-progress"])
    assert result.exit_code != 0
    assert "needs a stance classifier" in result.output
