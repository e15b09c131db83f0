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
# the one-pass model's input (stance.scoring.onepass): one encoding per paragraph, every scored target marked
ONE_PASS_FORMAT = {
    "kind": "one-pass", "text": "the paragraph, every scored target's mentions wrapped in '@ ... @'",
    "stance": "mean of the target's mention tokens, the paragraph's tokens attended from them, the paragraph's mean", "frames": "the paragraph's mean-pooled unit vector",
    "version": 1,
}


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


STANCE_PASS = "stance-pass"  # the `encoder` of a frame head on the stance model's own pass (see TargetedScorer)


class TargetedScorer:
    """The Scorer protocol over a target-conditioned sequence classifier.

    Subclasses set `model`, `tokenizer`, `labels` (model output order), `device`, `max_length`,
    `backend`, `name`, `weights` (digests) and `head` (a frame head, or None), then call
    `_set_version()`. A head whose encoder is `STANCE_PASS` reads the frames from the stance pass
    itself: a paragraph's vector is the mean of its pairs' text-segment vectors
    (`stance.scoring.runtime.segment_vectors`, the head's `layers`; one pass with an empty first
    segment when it names no target), so frames cost no second encoder;
    `scores_frames` is then true. Any other head is run by a separate frame scorer
    (`stance.scoring.factory`).
    """

    scores_frames = False
    head: Any = None
    want_vectors = False  # the forward pass also returns the text-segment vectors (set when training a head on them)
    thresholds: dict[str, float]
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
        from stance.scoring.runtime import forward_for, stance_pass_layers

        self.gate = gate_for(self.config)
        self.scores_frames = self.head is not None and self.head.encoder == STANCE_PASS
        layers = self.head.info.get("layers") if self.scores_frames else None
        self.vector_layers = tuple(layers or stance_pass_layers(int(self.model.config.num_hidden_layers)))
        self.thresholds = dict(zip(self.head.frames, self.head.paragraph_thresholds, strict=True)) if self.scores_frames else {}
        self.model_version = model_version(self.backend, self.name, list(self.weights), self.config)
        m = self.config.model
        key = hashlib.sha256("\n".join(self.weights).encode()).hexdigest()[:16]  # the weights' identity names the ONNX export
        vectors = self.vector_layers if self.scores_frames or self.want_vectors else None
        self._forward = forward_for(self.model, m.runtime, m.quantize, key, self.device, vectors=vectors)

    def run(self, firsts: Sequence[str], seconds: Sequence[str]) -> tuple[Any, Any]:
        """(a (n, len(labels)) tensor of class probabilities, the pairs' text-segment vectors or None)."""
        import torch

        features = encode_pairs(self.tokenizer, firsts, seconds, self.max_length)
        if not features:
            return torch.empty(0, len(self.labels)), None
        out = run_batched(
            features,
            max_batch=self.config.model.batch_size,
            max_tokens=token_cap(self.config.model.max_tokens_per_batch, self.device),
            tokenizer=self.tokenizer,
            device=self.device,
            forward=self._forward,
        )
        n = len(self.labels)
        return torch.softmax(out[:, :n].double(), dim=-1), (out[:, n:] if out.shape[1] > n else None)

    def probabilities(self, firsts: Sequence[str], seconds: Sequence[str]) -> Any:
        """A (n, len(labels)) tensor of class probabilities."""
        return self.run(firsts, seconds)[0]

    def _pairs(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], with_frames: bool) -> tuple[list[str], list[str], list[tuple[int, str | None]], list[tuple[int, str]]]:
        """(firsts, seconds, owner (text, target; None: a frames-only pass) of each pair, absent (text, target))."""
        with_not_mentioned = not self.config.gate.enabled
        firsts, seconds, owners, absent = [], [], [], []
        for i, (text, text_targets) in enumerate(zip(texts, targets, strict=True)):
            paired = False
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
                paired = True
            if with_frames and not paired:
                firsts.append("")
                seconds.append(text)
                owners.append((i, None))
        return firsts, seconds, owners, absent

    def frame_vectors(self, texts: Sequence[str], targets: Sequence[Sequence[Target]]) -> Any:
        """Each text's frame vector from the stance pass: the normalised mean of its pairs' text-segment vectors."""
        firsts, seconds, owners, _ = self._pairs(texts, targets, True)
        _, vectors = self.run(firsts, seconds)
        if vectors is None:
            raise ModelError("this model's forward pass returns no vectors; a frame head on the stance pass needs `vectors=True`")
        return _paragraph_vectors(len(texts), owners, vectors)

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], *, frames: bool = True) -> list[ParagraphScores]:
        """Stance scores; frames too when asked and the frame head reads the stance pass (`scores_frames`)."""
        from stance.prompts import with_residual_frame

        not_mentioned = self.config.not_mentioned.name
        with_not_mentioned = not self.config.gate.enabled
        want_frames = frames and self.scores_frames
        firsts, seconds, owners, absent = self._pairs(texts, targets, want_frames)
        probs, vectors = self.run(firsts, seconds)
        results = [ParagraphScores(stance={}, frames={}) for _ in texts]
        for (i, name), row in zip(owners, probs.tolist(), strict=True):
            if name is None:
                continue
            scores = dict(zip(self.labels, row, strict=True))
            ordered = {label: scores[label] for label in self.config.stance_label_names}
            if with_not_mentioned:
                ordered[not_mentioned] = 0.0
            results[i].stance[name] = ordered
        for i, name in absent:
            results[i].stance[name] = {**dict.fromkeys(self.config.stance_label_names, 0.0), not_mentioned: 1.0}
        if want_frames and vectors is not None and owners:
            rows = self.head.probabilities(_paragraph_vectors(len(texts), owners, vectors).numpy())
            for i, row in enumerate(rows):
                results[i].frames.update(with_residual_frame(self.config, dict(zip(self.head.frames, map(float, row), strict=True))))
        return results


def _paragraph_vectors(n: int, owners: Sequence[tuple[int, str | None]], vectors: Any) -> Any:
    """(n, dim) unit vectors: per text, the normalised sum of its pairs' vectors."""
    import torch

    sums = torch.zeros(n, vectors.shape[1])
    sums.index_add_(0, torch.tensor([i for i, _ in owners], dtype=torch.long), vectors.float())
    return torch.nn.functional.normalize(sums, dim=-1)
