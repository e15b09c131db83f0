"""The scorer of a model directory written by `stance train` (or shipped in the package).

The directory (see `stance.training.model`) holds a target-conditioned classifier, fully
fine-tuned or a LoRA adapter merged into its base at load time, and maybe a frame head. The input
is (target name, text with the target's mentions marked); frames come from the frame head when
there is one (read from the stance pass itself when the head was trained on it, `stance train
--frame-vectors stance-pass`), else from the configured frame scorer (`stance.scoring.factory`).
"""

from __future__ import annotations

from stance.config import StanceConfig
from stance.errors import ModelError
from stance.scoring.loading import pick_device
from stance.scoring.targeted import STANCE_PASS, TargetedScorer, check_labels
from stance.training.model import StanceModel


class TrainedScorer(TargetedScorer):
    """Stance from a trained target-conditioned classifier; its frame head (if any) for frames."""

    def __init__(self, config: StanceConfig, model_dir: str, *, vectors: bool = False) -> None:
        self.config = config
        self.want_vectors = vectors
        self.stance_model = StanceModel.from_pretrained(model_dir)
        self.frame_head = self.stance_model.frame_head
        self.labels = self.stance_model.labels
        check_labels(config, self.labels, f"the model in {model_dir}")
        self.device = pick_device(config.model.device)
        self.model, self.tokenizer = self.stance_model.load_classifier()
        id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        if [id2label.get(i) for i in range(len(self.labels))] != self.labels:
            raise ModelError(f"{model_dir}: the classifier's id2label {id2label} disagrees with {self.labels} in stance_model.json")
        self.model.to(self.device)
        # paragraphs may be longer than the training sentences: the config's limit applies, capped by the model
        self.max_length = min(config.model.max_length, int(getattr(self.model.config, "max_position_embeddings", 512)))
        self.backend = "adapter" if self.stance_model.kind == "lora" else "finetuned"
        self.name = self.stance_model.name
        self.weights = tuple(self.stance_model.weights_digests())
        if self.frame_head is not None and self.frame_head.encoder == STANCE_PASS:
            self.head = self.frame_head  # frames from the stance pass: the head is part of what makes the labels
            self.weights = (*self.weights, self.frame_head.digest(self.stance_model.directory))
        self._set_version()
