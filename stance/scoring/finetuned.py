"""The scorer for a model directory written by `stance train`.

The directory holds a sequence-classification model and its tokenizer (Hugging Face format),
`stance_model.json` (labels, input format, model version, training summary), the config used,
a model card and the evaluation report. The model has no frame head: frames come from a separate
frame scorer (see README, "Retraining and evaluation").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import ModelError
from stance.scoring.loading import FINETUNED_MARKER, load_pretrained, pick_device
from stance.scoring.targeted import INPUT_FORMAT, TargetedScorer, check_labels
from stance.scoring.versions import weights_digest

STANCE_MODEL_FORMAT = "stance-finetuned"


def read_model_info(model_dir: str | Path) -> dict[str, Any]:
    """The parsed `stance_model.json` of a fine-tuned model directory."""
    path = Path(model_dir) / FINETUNED_MARKER
    if not path.is_file():
        raise ModelError(f"{model_dir} has no {FINETUNED_MARKER}; expected a directory written by `stance train`")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc.msg}); the model directory is damaged, train it again") from None
    for key in ("labels", "model_version", "input_format"):
        if key not in info:
            raise ModelError(f"{path}: key {key!r} is missing; expected a file written by `stance train`")
    if info["input_format"].get("version") != INPUT_FORMAT["version"]:
        raise ModelError(f"{path}: input format {info['input_format']} is not the one this stance reads ({INPUT_FORMAT})")
    return info


class FinetunedScorer(TargetedScorer):
    """Stance from a fine-tuned target-conditioned classifier."""

    def __init__(self, config: StanceConfig, model_dir: str) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.config = config
        self.model_dir = str(model_dir)
        self.info = read_model_info(model_dir)
        self.labels = list(self.info["labels"])
        check_labels(config, self.labels, f"the model in {model_dir}")
        self.device = pick_device(config.model.device)
        self.tokenizer = load_pretrained(AutoTokenizer, self.model_dir, "tokenizer")
        self.model = load_pretrained(AutoModelForSequenceClassification, self.model_dir, "fine-tuned model")
        id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        if [id2label.get(i) for i in range(len(self.labels))] != self.labels:
            raise ModelError(f"{model_dir}: config.json's id2label {id2label} disagrees with {self.labels} in stance_model.json")
        self.model.to(self.device).eval()
        # paragraphs may be longer than the training sentences: the config's limit applies, capped by the model
        self.max_length = min(config.model.max_length, int(getattr(self.model.config, "max_position_embeddings", 512)))
        self.backend = "finetuned"
        self.name = Path(self.model_dir).resolve().name
        self.weights = (weights_digest(self.model_dir),)
        self._set_version()
