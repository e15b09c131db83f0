"""`stance train` for real on a tiny BERT: a complete model directory, then `annotate --model` and
`evaluate` with it; the dev split grouped by document; clear errors for bad training data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_encoder import HELDOUT_SAMPLE, TRAIN_SAMPLE, build_tiny_bert
from typer.testing import CliRunner

from stance.cli import app
from stance.config import load_config
from stance.fileio import file_sha256
from stance.labelled import document_groups, document_key, grouped_split, read_labelled
from stance.records import LabelledRecord

runner = CliRunner()

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, bundled_model_dir) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-base"), bundled_model_dir)


def train(files: list[Path], out: Path, base: Path, *extra: str):
    args = ["train", *map(str, files), "--out", str(out), "--base", str(base), "--no-progress", *extra]
    return runner.invoke(app, args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_base) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny-stance"
    result = train([TRAIN_SAMPLE], out, tiny_base, "--max-steps", "12", "--batch-size", "16", "--learning-rate", "1e-3")
    assert result.exit_code == 0, result.output
    return out


def test_model_directory_is_complete_and_self_describing(trained):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "stance_model.json", "stance_config.yaml",
                 "README.md", "training_log.json", "eval/metrics.json", "eval/report.md", "eval/confusion.png",
                 "eval/predictions.jsonl"):
        assert (trained / name).is_file(), name
    info = json.loads((trained / "stance_model.json").read_text())
    assert info["labels"] == ["favorable", "neutral", "unfavorable"]
    assert info["model_version"].startswith("finetuned:tiny-stance:")
    assert info["stance"]["weights_sha256"] == file_sha256(trained / "model.safetensors")
    assert info["stance"]["kind"] == "full" and "cold start" in info["start"]
    assert json.loads((trained / "config.json").read_text())["id2label"] == {"0": "favorable", "1": "neutral", "2": "unfavorable"}
    data = info["data"]
    assert data["train_files"][0]["sha256"] == file_sha256(TRAIN_SAMPLE)
    assert data["train_records"] + data["dev_records"] == 300
    assert 0 < data["dev_records"] < 60
    assert info["training"]["steps"] == 12
    assert info["settings"]["seed"] == 42
    card = (trained / "README.md").read_text()
    assert file_sha256(TRAIN_SAMPLE)[:16] in card and "macro-F1" in card and "| 300 |" in card
    # the dev report is the one `stance evaluate` writes, on exactly the dev records
    metrics = json.loads((trained / "eval/metrics.json").read_text())
    assert metrics["gold"]["records"] == data["dev_records"]
    assert info["dev_metrics"]["macro_f1"] == pytest.approx(metrics["model"]["overall"]["macro_f1"], abs=1e-4)
    # the config used travels with the model and loads
    assert load_config(trained / "stance_config.yaml").stance_label_names == ("favorable", "neutral", "unfavorable")


def test_annotate_uses_the_trained_model(trained, seeds_dir, tmp_path, default_config):
    out = tmp_path / "run"
    result = runner.invoke(app, ["annotate", str(seeds_dir), "--model", str(trained), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    version = json.loads((trained / "stance_model.json").read_text())["model_version"]
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 44
    assert {line["model_version"] for line in lines} == {version}
    scored = [s for line in lines for s in line["stance"].values() if s["mentioned"]]
    assert scored and all(s["label"] in default_config.stance_label_names for s in scored)
    assert all(sum(s["scores"].values()) == pytest.approx(1.0, abs=1e-4) for s in scored)
    assert all(len(line["frames"]) == len(default_config.frame_names) for line in lines)  # frames: embedding scorer
    assert json.loads((out / "run.json").read_text())["model"]["version"] == version


def test_evaluate_trained_model_against_the_default(trained, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score

    out = tmp_path / "report"
    result = runner.invoke(
        app, ["evaluate", str(trained), "--gold", str(HELDOUT_SAMPLE), "--out", str(out), "--against", "embedding", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output
    for name in ("metrics.json", "report.md", "confusion.png", "against_confusion.png", "predictions.jsonl", "predictions_against.jsonl"):
        assert (out / name).is_file(), name
    gold = [json.loads(line) for line in HELDOUT_SAMPLE.read_text().splitlines()]
    metrics = json.loads((out / "metrics.json").read_text())
    for name, key in (("predictions.jsonl", "model"), ("predictions_against.jsonl", "against")):
        rows = [json.loads(line) for line in (out / name).read_text().splitlines()]
        assert [(r["id"], r["target"], r["gold"]) for r in rows] == [(g["id"], g["target"], g["label"]) for g in gold]
        y_true, y_pred = [r["gold"] for r in rows], [r["label"] for r in rows]
        overall = metrics[key]["overall"]
        assert overall["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
        assert overall["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
        # every NewsMTSC record names its target at target_start/end: the gate lets all through
        assert all(r["mentioned"] for r in rows)
    report = (out / "report.md").read_text()
    assert "model - against" in report and str(trained) in report


def test_same_seed_gives_the_same_model(tiny_base, tmp_path):
    digests = []
    for name in ("a", "b"):
        result = train([TRAIN_SAMPLE], tmp_path / name, tiny_base, "--max-steps", "3", "--batch-size", "8")
        assert result.exit_code == 0, result.output
        digests.append(file_sha256(tmp_path / name / "model.safetensors"))
    assert digests[0] == digests[1]


def test_dev_file_leaves_out_training_records_of_the_same_documents(tiny_base, tmp_path):
    rows = [json.loads(line) for line in TRAIN_SAMPLE.read_text().splitlines()]
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in rows[:20]))
    result = train([TRAIN_SAMPLE], tmp_path / "m", tiny_base, "--dev", str(dev), "--max-steps", "2", "--batch-size", "8")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m" / "stance_model.json").read_text())["data"]
    assert data["dev_records"] == 20
    assert data["left_out_sharing_a_document_with_dev"] >= 20
    assert data["train_records"] == 300 - data["left_out_sharing_a_document_with_dev"]


def test_not_mentioned_records_are_left_out_and_counted(tiny_base, tmp_path):
    rows = [json.loads(line) for line in TRAIN_SAMPLE.read_text().splitlines()][:60]
    rows += [{"id": f"x:{i}:0000000{i}", "text": "Nothing about it here.", "target": "China", "label": "not_mentioned"} for i in range(5)]
    path = tmp_path / "with_nm.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = train([path], tmp_path / "m", tiny_base, "--max-steps", "1", "--batch-size", "8")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m" / "stance_model.json").read_text())["data"]
    assert data["left_out_not_mentioned"] == 5
    assert data["train_records"] + data["dev_records"] == 60


# ------------------------------------------------------------------------------- clear errors


def test_unknown_label_names_file_line_label_and_expected(tmp_path, tiny_base):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"id": "a:0:00000000", "text": "China wins.", "target": "China", "label": "favorable"}) + "\n"
        + json.dumps({"id": "a:1:00000000", "text": "China loses.", "target": "China", "label": "positive"}) + "\n"
    )
    result = train([path], tmp_path / "m", tiny_base)
    assert result.exit_code == 2
    assert f"{path}:2" in result.output and "'positive'" in result.output
    assert "favorable, neutral, unfavorable, not_mentioned" in result.output
    assert not (tmp_path / "m").exists()


def test_empty_training_file_is_refused(tmp_path, tiny_base):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    result = train([path], tmp_path / "m", tiny_base)
    assert result.exit_code == 2
    assert f"{path}: the file has no records" in result.output


def test_missing_base_path_is_refused_before_reading_data(tmp_path):
    result = train([TRAIN_SAMPLE], tmp_path / "m", tmp_path / "no-such-model")
    assert result.exit_code == 2
    assert "does not exist" in result.output and "no-such-model" in result.output


def test_existing_output_needs_overwrite(tmp_path, tiny_base):
    out = tmp_path / "m"
    out.mkdir()
    (out / "something").write_text("x")
    result = train([TRAIN_SAMPLE], out, tiny_base)
    assert result.exit_code == 2 and "--overwrite" in result.output


# ------------------------------------------------------------------------- the grouped split


def test_document_key_reads_paragraph_and_newsmtsc_ids():
    def key(id_: str, doc_id: str | None = None) -> str:
        return document_key(LabelledRecord(id=id_, text="t", target="x", label="neutral", source="", doc_id=doc_id))

    assert key("003_ec5e55c82fc7c8bb:4:676f7dc7") == "003_ec5e55c82fc7c8bb"
    assert key("reuters:2023:11:7:0a1b2c3d") == "reuters:2023:11"
    assert key("newsmtsc:allsides_1000_401_25_Reality Leigh Winner_0_6") == "allsides_1000_401"
    assert key("newsmtsc:polusa_v1_59576418_-1_41_CNN correspondent Jim Acosta_15_21") == "polusa_v1_59576418_-1"
    assert key("anything", doc_id="doc-7") == "doc-7"
    assert key("opaque-id") == "opaque-id"


def test_grouped_split_keeps_documents_and_texts_on_one_side(default_config):
    records, _ = read_labelled([TRAIN_SAMPLE], default_config)
    # two records with the same text under different documents must stay together too
    twin = LabelledRecord(id="other:0:12345678", text=records[0].text, target="x", label="neutral", source="")
    records.append(twin)
    train_idx, dev_idx = grouped_split(records, 0.2, seed=7)
    assert sorted(train_idx + dev_idx) == list(range(len(records)))
    train_docs = {document_key(records[i]) for i in train_idx}
    dev_docs = {document_key(records[i]) for i in dev_idx}
    assert not train_docs & dev_docs
    assert not {records[i].text for i in train_idx} & {records[i].text for i in dev_idx}
    assert 0.15 * len(records) <= len(dev_idx) <= 0.3 * len(records)
    assert grouped_split(records, 0.2, seed=7) == (train_idx, dev_idx)  # deterministic
    assert grouped_split(records, 0.2, seed=8) != (train_idx, dev_idx)
    groups = document_groups(records)
    assert groups[0] == groups[-1]
