"""The retraining loop: train, compare with the current model on a held-out file, promote only if better."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_encoder import HELDOUT_SAMPLE, TRAIN_SAMPLE, build_tiny_bert

from stance.errors import TrainingError
from stance.training.retrain import CURRENT, current_model, promotions, retrain_and_promote
from stance.training.train import TrainSettings

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, bundled_model_dir) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-base"), bundled_model_dir)


def test_promotes_only_a_better_model(tmp_path, tiny_base, default_config):
    models = tmp_path / "models"
    settings = TrainSettings(base=str(tiny_base), max_steps=2, batch_size=8)
    assert current_model(models) == "config"
    # min_gain -1: any model beats the zero-shot default by more than -1
    first = retrain_and_promote([TRAIN_SAMPLE], HELDOUT_SAMPLE, models, default_config, settings, name="v1", min_gain=-1.0, progress=False)
    assert first.promoted and first.previous == "config"
    assert (models / CURRENT).resolve() == (models / "v1").resolve()
    assert (models / CURRENT / "stance_model.json").is_file()
    # min_gain +1: no model can add a whole macro-F1 point; the current model stays
    second = retrain_and_promote([TRAIN_SAMPLE], HELDOUT_SAMPLE, models, default_config, settings, name="v2", min_gain=1.0, progress=False)
    assert not second.promoted
    assert second.previous == str((models / "v1").resolve())
    assert (models / CURRENT).resolve() == (models / "v1").resolve()
    metrics = json.loads((models / "v2" / "heldout" / "metrics.json").read_text())
    assert metrics["against"]["spec"] == str((models / "v1").resolve())
    assert metrics["model"]["overall"]["macro_f1"] == pytest.approx(second.new_macro_f1)
    log = promotions(models)
    assert [entry["promoted"] for entry in log] == [True, False]
    assert log[1]["previous_macro_f1"] == pytest.approx(first.new_macro_f1, abs=1e-4)


def test_heldout_that_shares_documents_with_training_is_refused(tmp_path, tiny_base, default_config):
    with pytest.raises(TrainingError, match="shares .* document"):
        retrain_and_promote([TRAIN_SAMPLE], TRAIN_SAMPLE, tmp_path / "models", default_config,
                            TrainSettings(base=str(tiny_base), max_steps=1), progress=False)
    assert not (tmp_path / "models" / CURRENT).exists()
