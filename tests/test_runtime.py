"""`model.runtime: onnx` and `model.quantize: int8` on a real trained model (the previous shipped
default, MiniLM-sized): ONNX Runtime gives the torch scores, int8 says it changes labels, and both
enter the model version (they are label settings)."""

from __future__ import annotations

import pytest
from tiny_encoder import SEED_GOLD

pytestmark = [pytest.mark.slow, pytest.mark.model]
MODEL = "shipped:minilm-newsmtsc-lora"


def _scorer(config, runtime: str, quantize: str):
    from stance.scoring.trained import TrainedScorer
    from stance.training.model import resolve_model_dir

    config = config.model_copy(update={"model": config.model.model_copy(update={"runtime": runtime, "quantize": quantize, "device": "cpu"})})
    return TrainedScorer(config, str(resolve_model_dir(MODEL)))


@pytest.fixture(scope="module")
def pairs(default_config):
    from stance.labelled import read_labelled
    from stance.scoring.targeted import gate_for, mark_mentions

    records, _ = read_labelled([SEED_GOLD], default_config)
    gate = gate_for(default_config, default_config.targets)
    by_name = {t.name: t for t in default_config.targets}
    out = []
    for record in records:
        target = by_name.get(record.target)
        spans = gate.spans(record.text, target) if target else []
        if spans:
            out.append((target.name, mark_mentions(record.text, spans)))
    assert len(out) >= 40
    return out


def test_onnx_runtime_gives_the_torch_scores(default_config, pairs, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("STANCE_CACHE", str(tmp_path))
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    torch_scorer = _scorer(default_config, "torch", "none")
    onnx_scorer = _scorer(default_config, "onnx", "none")
    expected = torch_scorer.probabilities(firsts, seconds)
    got = onnx_scorer.probabilities(firsts, seconds)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) < 1e-4
    assert (got.argmax(-1) == expected.argmax(-1)).all()
    assert list(tmp_path.rglob("*.onnx")), "the export is cached under STANCE_CACHE"
    assert onnx_scorer.model_version != torch_scorer.model_version  # a label setting: its own version


def test_int8_warns_that_it_changes_labels_and_still_scores(default_config, pairs):
    firsts, seconds = [a for a, _ in pairs], [b for _, b in pairs]
    with pytest.warns(UserWarning, match="int8 changed"):
        scorer = _scorer(default_config, "torch", "int8")
    probabilities = scorer.probabilities(firsts, seconds)
    assert probabilities.shape == (len(pairs), 3)
    assert float(probabilities.sum(-1).sub(1).abs().max()) < 1e-6
    assert scorer.model_version != _scorer(default_config, "torch", "none").model_version
