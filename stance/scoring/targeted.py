"""Target-conditioned classification: one model input per (text, target), shared by training,
the fine-tuned scorer and the shipped adapter.

The input is a text pair: the target's name first, then the text with every mention of the
target wrapped in markers (`@ Beijing @`). The mentions are what the alias gate finds (or the
annotated span, as in NewsMTSC), so one model serves every target, including targets it never
saw in training: the name tells it what to judge, the markers where the target is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from stance.config import StanceConfig, Target
from stance.errors import ModelError
from stance.mentions import MentionGate
from stance.scoring.base import ParagraphScores
from stance.scoring.batching import run_batched, token_cap
from stance.scoring.versions import model_version

MARKER = "@"
INPUT_FORMAT = {"kind": "text-pair", "first": "target name", "second": "text, mentions wrapped in '@ ... @'", "version": 1}


def gate_for(config: StanceConfig, targets: Sequence[Target] = ()) -> MentionGate:
    """The alias gate with the config's dateline and demonym settings (what marks mentions)."""
    return MentionGate(targets, dateline=config.gate.dateline, demonyms=config.gate.demonyms)


def mention_spans(text: str, target: Target, gate: MentionGate, span: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Character spans of the target's mentions: the given span, else what the gate finds."""
    if span is not None:
        return [span]
    return gate.spans(text, target)


def mark_mentions(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` with each span wrapped in markers (overlapping spans are merged)."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, cursor = [], 0
    for start, end in merged:
        pieces.append(text[cursor:start])
        pieces.append(f"{MARKER} {text[start:end]} {MARKER}")
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def model_inputs(text: str, target: Target, gate: MentionGate, span: tuple[int, int] | None = None) -> tuple[str, str, bool]:
    """(first segment, second segment, whether a mention was found) for one (text, target)."""
    spans = mention_spans(text, target, gate, span)
    return target.name, mark_mentions(text, spans), bool(spans)


def encode_pairs(tokenizer: Any, firsts: Sequence[str], seconds: Sequence[str], max_length: int) -> list[dict[str, list[int]]]:
    """Tokenized pairs, unpadded; only the text side is truncated."""
    if not firsts:
        return []
    encoded = tokenizer(list(firsts), list(seconds), truncation="only_second", max_length=max_length)
    return [{k: encoded[k][i] for k in encoded} for i in range(len(firsts))]


def check_labels(config: StanceConfig, model_labels: Sequence[str], where: str) -> None:
    """The model must predict exactly the config's stance labels."""
    if set(model_labels) != set(config.stance_label_names):
        raise ModelError(
            f"{where} predicts the labels {list(model_labels)} but the config's stance labels are"
            f" {list(config.stance_label_names)}; use the config the model was trained with (its stance_config.yaml)"
        )


class TargetedScorer:
    """The Scorer protocol over a target-conditioned sequence classifier.

    Subclasses set `model`, `tokenizer`, `labels` (model output order), `device`, `max_length`,
    `backend`, `name` and `weights` (digests), then call `_set_version()`. The model has no frame
    head: frames come from a separate frame scorer (see `stance.scoring.factory`).
    """

    scores_frames = False
    config: StanceConfig
    model: Any
    tokenizer: Any
    labels: list[str]
    device: Any
    max_length: int
    backend: str
    name: str
    weights: tuple[str, ...]
    model_version: str

    def _set_version(self) -> None:
        from stance.scoring.runtime import forward_for

        self.gate = gate_for(self.config)
        self.model_version = model_version(self.backend, self.name, list(self.weights), self.config)
        m = self.config.model
        key = hashlib.sha256("\n".join(self.weights).encode()).hexdigest()[:16]  # the weights' identity names the ONNX export
        self._forward = forward_for(self.model, m.runtime, m.quantize, key, self.device)

    def probabilities(self, firsts: Sequence[str], seconds: Sequence[str]) -> Any:
        """A (n, len(labels)) tensor of class probabilities."""
        import torch

        features = encode_pairs(self.tokenizer, firsts, seconds, self.max_length)
        if not features:
            return torch.empty(0, len(self.labels))
        logits = run_batched(
            features,
            max_batch=self.config.model.batch_size,
            max_tokens=token_cap(self.config.model.max_tokens_per_batch, self.device),
            tokenizer=self.tokenizer,
            device=self.device,
            forward=self._forward,
        )
        return torch.softmax(logits.double(), dim=-1)

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], *, frames: bool = True) -> list[ParagraphScores]:
        """Stance scores only (`frames` is ignored: this model scores none)."""
        not_mentioned = self.config.not_mentioned.name
        with_not_mentioned = not self.config.gate.enabled
        firsts, seconds, owners, absent = [], [], [], []
        for i, (text, text_targets) in enumerate(zip(texts, targets, strict=True)):
            for target in text_targets:
                first, second, found = model_inputs(text, target, self.gate)
                if with_not_mentioned and not found:
                    # the model has no not_mentioned class: with the gate off, the alias gate still
                    # decides it here rather than inventing a stance for an absent target
                    absent.append((i, target.name))
                    continue
                firsts.append(first)
                seconds.append(second)
                owners.append((i, target.name))
        probs = self.probabilities(firsts, seconds).tolist()
        results = [ParagraphScores(stance={}, frames={}) for _ in texts]
        for (i, name), row in zip(owners, probs, strict=True):
            scores = dict(zip(self.labels, row, strict=True))
            ordered = {label: scores[label] for label in self.config.stance_label_names}
            if with_not_mentioned:
                ordered[not_mentioned] = 0.0
            results[i].stance[name] = ordered
        for i, name in absent:
            results[i].stance[name] = {**dict.fromkeys(self.config.stance_label_names, 0.0), not_mentioned: 1.0}
        return results
