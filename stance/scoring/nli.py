"""Zero-shot stance and frame scoring with any Hugging Face NLI sequence-classification model.

All (paragraph, hypothesis) pairs of a call, for every target and frame, go through the model
together, sorted by length and dynamically padded. The numbers are those of the `transformers`
zero-shot-classification pipeline with the same hypotheses: stance is a softmax over the labels'
entailment logits (`multi_label=False`); each frame is entailment vs contradiction (`multi_label=True`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stance.config import StanceConfig, Target
from stance.errors import ModelError
from stance.prompts import frame_hypotheses, stance_hypotheses, with_residual_frame
from stance.scoring.base import ParagraphScores
from stance.scoring.batching import run_batched, token_cap
from stance.scoring.loading import load_pretrained, pick_device, resolve_model_source, short_model_name
from stance.scoring.versions import model_version, weights_digest


def nli_label_ids(id2label: Mapping[int, str]) -> tuple[int, int]:
    """(entailment index, contradiction index) read from the model's `id2label`.

    The contradiction index follows the zero-shot pipeline: a label starting with "contra" or
    "not_entail" if there is one, else index 0 (or the last index when entailment is 0).
    """
    labels = {int(i): str(label).lower() for i, label in id2label.items()}
    entailment = next((i for i, label in labels.items() if label.startswith("entail")), None)
    if entailment is None:
        raise ModelError(
            f"the model's id2label {dict(id2label)} has no 'entailment' label; expected an NLI model"
            " (e.g. MoritzLaurer/deberta-v3-base-zeroshot-v2.0) whose config names its labels"
        )
    contradiction = next((i for i, label in labels.items() if label.startswith(("contra", "not_entail", "not entail"))), None)
    if contradiction is None:
        contradiction = len(labels) - 1 if entailment == 0 else 0
    return entailment, contradiction


class NLIScorer:
    """Scores stance toward each target and frames by entailment of generated hypotheses."""

    scores_frames = True

    def __init__(self, config: StanceConfig, model_name: str | None = None, *, tokenizer: Any = None, model: Any = None) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.config = config
        self.model_name = model_name or config.model.name
        self.device = pick_device(config.model.device)
        self.tokenizer = tokenizer or load_pretrained(AutoTokenizer, self.model_name, "tokenizer")
        self.model = model or load_pretrained(AutoModelForSequenceClassification, self.model_name, "NLI model")
        self.model.to(self.device).eval()
        self.entailment_id, self.contradiction_id = nli_label_ids(self.model.config.id2label)
        self.max_length = min(config.model.max_length, _model_max_length(self.tokenizer, self.model))
        self.include_not_mentioned = not config.gate.enabled
        self._frames = frame_hypotheses(config)
        digest = weights_digest(resolve_model_source(self.model_name))
        self.backend, self.name, self.weights = "nli", short_model_name(self.model_name), (digest,)
        self.model_version = model_version(self.backend, self.name, [digest], config)

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], *, frames: bool = True) -> list[ParagraphScores]:
        premises: list[str] = []
        hypotheses: list[str] = []
        layout: list[tuple[list[tuple[str, list[tuple[str, int]]]], list[tuple[str, int]]]] = []
        for text, text_targets in zip(texts, targets, strict=True):
            stance_rows = []
            for target in text_targets:
                rows = []
                for label, hypothesis in stance_hypotheses(self.config, target, self.include_not_mentioned):
                    rows.append((label, len(hypotheses)))
                    premises.append(text)
                    hypotheses.append(hypothesis)
                stance_rows.append((target.name, rows))
            frame_rows = []
            for frame, hypothesis in self._frames if frames else ():
                frame_rows.append((frame, len(hypotheses)))
                premises.append(text)
                hypotheses.append(hypothesis)
            layout.append((stance_rows, frame_rows))
        logits = self.pair_logits(premises, hypotheses)
        return [self._assemble(stance_rows, frame_rows, logits) for stance_rows, frame_rows in layout]

    def pair_logits(self, premises: Sequence[str], hypotheses: Sequence[str]) -> Any:
        """The model's logits for each (premise, hypothesis) pair, in input order."""
        if not premises:
            return None
        encoded = self.tokenizer(list(premises), list(hypotheses), truncation="only_first", max_length=self.max_length)
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(premises))]
        return run_batched(
            features,
            max_batch=self.config.model.batch_size,
            max_tokens=token_cap(self.config.model.max_tokens_per_batch, self.device),
            tokenizer=self.tokenizer,
            device=self.device,
            forward=lambda batch: self.model(**batch).logits,
        )

    def _assemble(self, stance_rows: list, frame_rows: list, logits: Any) -> ParagraphScores:
        import torch

        stance: dict[str, dict[str, float]] = {}
        for target_name, rows in stance_rows:
            entail = logits[[i for _, i in rows], self.entailment_id]
            probs = torch.softmax(entail.double(), dim=0).tolist()
            stance[target_name] = {label: p for (label, _), p in zip(rows, probs, strict=True)}
        frames: dict[str, float] = {}
        if frame_rows:
            pair = logits[[i for _, i in frame_rows]][:, [self.contradiction_id, self.entailment_id]]
            probs = torch.softmax(pair.double(), dim=1)[:, 1].tolist()
            frames = with_residual_frame(self.config, {name: p for (name, _), p in zip(frame_rows, probs, strict=True)})
        return ParagraphScores(stance=stance, frames=frames)


def _model_max_length(tokenizer: Any, model: Any) -> int:
    limits = [getattr(model.config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    usable = [int(x) for x in limits if isinstance(x, int) and 0 < x < 100_000]
    return min(usable) if usable else 512
